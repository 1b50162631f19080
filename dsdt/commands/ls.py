"""``dsdt ls``: list the bundles of a context (Disdat's flags)."""

from typing import TYPE_CHECKING, Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    TagsOpt,
    bundle_dict,
    context_or_current,
    fmt_pairs,
    padded,
    parse_tags,
    print_json,
    text_date,
)
from dsdt.objects.gate import printable

if TYPE_CHECKING:
    from dsdt.bundle import Bundle

NAME = "ls"
HEADER = ["NAME", "PROC_NAME", "OWNER", "DATE", "COMMITTED", "UUID", "TAGS"]


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME_PATTERN", autocompletion=_complete.bundle_names,
        help="Bundle name; '*' matches any characters.")] = None,
    print_args: Annotated[bool, typer.Option(
        "-a", "--print-args", help="Print each bundle's parameters.")] = False,
    print_tags: Annotated[bool, typer.Option(
        "-p", "--print-tags", help="Print user tags.")] = False,
    intermediates: Annotated[bool, typer.Option(
        "-i", "--intermediates", help="Only intermediate (non-root) bundles.")] = False,
    roots: Annotated[bool, typer.Option(
        "-r", "--roots", help="Only outputs of pipeline root tasks.")] = False,
    committed: Annotated[bool, typer.Option(
        "--committed", help="Only committed bundles (long form only: -c is --context on "
                            "every verb).")] = False,
    uncommitted: Annotated[bool, typer.Option(
        "--uncommitted", help="Only uncommitted bundles.")] = False,
    print_uuid: Annotated[bool, typer.Option(
        "-u", "--uuid", help="Print uuids, one bundle per line.")] = False,
    latest: Annotated[bool, typer.Option(
        "-l", "--latest-by-date",
        help="With -v, -u or --json: only the latest bundle of each name.")] = False,
    after: Annotated[str | None, typer.Option(
        "-A", "--after", metavar="DATE",
        help="Created at or after DATE: ISO 8601 (2026-12-06, 2026-12-06T13:31:19, with or "
             "without an offset such as +01:00 or Z), MM-DD-YYYY or 'MM-DD-YYYY HH:MM:SS'; "
             "local time unless it has an offset.")] = None,
    before: Annotated[str | None, typer.Option(
        "-B", "--before", metavar="DATE", help="Created before DATE (same formats).")] = None,
    verbose: Annotated[bool, typer.Option(
        "-v", "--verbose", help="One padded row per bundle: name, processing name, owner, "
                                "date, committed, uuid (and tags with -p).")] = False,
    data: Annotated[bool, typer.Option(
        "-d", "--data", help="With -v: a DATA column saying where each bundle's data is "
        "(local, remote, nowhere, unknown; see 'dsdt status'). Implies -v.")] = False,
    tag: TagsOpt = None,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List bundles, newest first.

    By default prints the unique bundle names. -v prints one row per bundle
    (every version unless -l) with its date in local time, -u prints uuids,
    --json prints metadata (every version unless -l, dates in UTC) including
    where each bundle's data is. Data is never loaded and nothing remote is
    read.

    \b
    Examples:
      dsdt ls                            # the names
      dsdt ls -v -l 'sc*'                # latest version of each name starting 'sc'
      dsdt ls -p -t stage:dev -A 2026-11-01
    """
    from dsdt import api
    from dsdt.errors import UsageError

    if committed and uncommitted:
        raise UsageError("-c/--committed and --uncommitted exclude each other")
    verbose = verbose or data
    per_bundle = verbose or print_uuid or as_json
    ctx = context_or_current(context)
    found = api.search(
        ctx, search_name=name, search_tags=parse_tags(tag) or None,
        is_committed=True if committed else (False if uncommitted else None),
        find_intermediates=intermediates, find_roots=roots, before=before, after=after,
        latest_per_name=latest or not per_bundle)
    where = ({u: s.where for u, s in api.data_states(ctx, [b.uuid for b in found]).items()}
             if as_json or data else None)
    if as_json:
        print_json([bundle_dict(b) | {"data": where[b.uuid]} for b in found])
        return
    if verbose:
        lines = _verbose(found, print_tags, print_args, where)
    else:
        lines = [ln for b in found
                 for ln in _line(b.uuid if print_uuid else b.name, b, print_tags, print_args)]
    if lines:
        typer.echo("\n".join(lines))


def _line(first: str, b: "Bundle", print_tags: bool, print_args: bool) -> list[str]:
    """One bundle's output line (plus its ARGS line with -a)."""
    tags = fmt_pairs(b.user_tags) if print_tags else ""
    out = [f"{first}  {tags}".rstrip()]
    if print_args and b.params:
        out.append(f"\t ARGS: {fmt_pairs(b.params)}")
    return out


def _verbose(found: "list[Bundle]", print_tags: bool, print_args: bool,
             where: dict[str, str] | None) -> list[str]:
    """The header and one padded row per bundle (plus ARGS lines with -a)."""
    rows = [HEADER if where is None else [*HEADER[:5], "DATA", *HEADER[5:]]]
    for b in found:
        row = [b.name, printable(b.processing_name), printable(b.owner),
               text_date(b.creation_date), str(b.is_committed), b.uuid,
               fmt_pairs(b.user_tags) if print_tags else ""]
        rows.append(row if where is None else [*row[:5], where[b.uuid], *row[5:]])
    out = []
    for i, line in enumerate(padded(rows)):
        out.append(line)
        if print_args and i and found[i - 1].params:
            out.append(f"\t ARGS: {fmt_pairs(found[i - 1].params)}")
    return out
