"""``dsdt log``: every version of a bundle name, newest first."""

from typing import TYPE_CHECKING, Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    context_or_current,
    fmt_bytes,
    fmt_pairs,
    padded,
    print_json,
    text_date,
)

if TYPE_CHECKING:
    from dsdt.ops.history import LogEntry

NAME = "log"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Bundle name ('*' matches any characters), or the uuid (or a "
             "unique uuid prefix) of one of its versions.")] = None,
    all_bundles: Annotated[bool, typer.Option(
        "--all", help="Every bundle of the context, not one name.")] = False,
    max_count: Annotated[int | None, typer.Option(
        "-n", "--max-count", metavar="N", min=1,
        help="Only the N newest versions (as git log -n).")] = None,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show every version of bundle NAME (or, with --all, every bundle), newest first.

    One line per version: uuid, date (local time, ISO 8601), committed mark,
    size of its data, git commit of the code that made it, and user tags
    (--json: dates in UTC). Data is never read.

    \b
    Examples:
      dsdt log scores -n 5               # the five newest versions
      dsdt log 1a2b3c4d                  # the versions of that bundle's name
      dsdt log --all --json
    """
    from dsdt import api
    from dsdt.errors import BundleNotFoundError

    ctx = context_or_current(context)
    entries = api.log(ctx, name, all=all_bundles)
    if not entries and name is not None:
        raise BundleNotFoundError(f"no bundle named {name!r} in context {ctx!r}")
    entries = entries[:max_count]
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    lines = padded(_rows(entries, all_bundles or (name is not None and "*" in name)))
    if len(lines) > 1:
        typer.echo("\n".join(lines))


def _rows(entries: "list[LogEntry]", with_name: bool) -> list[list[str]]:
    """The header and one row per version."""
    head = ["UUID", "DATE", "COMMITTED", "SIZE", "CODE COMMIT", "TAGS"]
    rows = [(["NAME"] if with_name else []) + head]
    for e in entries:
        row = [e.uuid, text_date(e.created), "yes" if e.committed else "no", fmt_bytes(e.size),
               e.code_commit[:10] or "-", fmt_pairs(e.tags)]
        rows.append(([e.name] if with_name else []) + row)
    return rows
