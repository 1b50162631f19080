"""``dsdt push``: send committed bundles to the context's remote."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    TagsOpt,
    UuidOpt,
    context_or_current,
    parse_tags,
    print_json,
)

if TYPE_CHECKING:
    from dsdt.remote.sync import Report

NAME = "push"

JobsOpt = Annotated[int, typer.Option(
    "-j", "--jobs", metavar="N", min=1, help="Parallel transfers.")]


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Bundle name (its latest version is pushed; it must be committed).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    delocalize: Annotated[bool, typer.Option(
        "-d", "--delocalize",
        help="Afterwards remove the local copies of the pushed data (it loads from the "
             "remote when used).")] = False,
    jobs: JobsOpt = 8,
    ours: Annotated[bool, typer.Option(
        "--ours", help="Also push bundles whose records came through git (only if you made "
                       "them: a committed record could name your private data).")] = False,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Push committed bundles to the remote bound with 'dsdt remote'.

    With NAME, -u UUID or -t tags, pushes the latest matching bundle, which
    must be committed. With none, pushes every committed bundle not yet on the
    remote. Only committed bundles are pushed. The data goes first, then the
    bundle records, and the remote context's ref moves last, so a bundle never
    shows on the remote before all its data is there. Bundles whose records
    arrived through git are left for the clone that made them (see --ours).

    --json prints {"context", "remote": {"context", "url"}, "pushed": [uuids],
    "skipped": [uuids already there], "foreign": [uuids left to their
    authors], "blobs", "bytes", "delocalized"}.

    \b
    Examples:
      dsdt push                          # every committed bundle not on the remote
      dsdt push scores -d                # then drop the local copies
      dsdt push -u 1a2b3c4d --json
    """
    from dsdt import api
    from dsdt.commands._progress import transfer_progress
    from dsdt.commands._render import fmt_bytes
    from dsdt.commands.remote import binding

    ctx = context_or_current(context)
    tags = parse_tags(tag)
    with transfer_progress("push") as sink:
        report = api.push(ctx, name, tags or None, uuid, delocalize, jobs=jobs, progress=sink,
                          ours=ours)
    if as_json:
        print_json(transfer_dict(ctx, report, "pushed"))
        return
    where = binding(ctx)
    if report.bundles:
        line = (f"Pushed {len(report.bundles)} bundle(s), {report.blobs} blob(s), "
                f"{fmt_bytes(report.bytes)} to {where}")
        if report.skipped:
            line += f"; {len(report.skipped)} already there"
        typer.echo(line)
    elif report.skipped:
        typer.echo(f"Nothing to push: {len(report.skipped)} bundle(s) already on {where}")
    else:
        typer.echo("Nothing to push: no committed bundles")
    if report.foreign:
        typer.echo(f"Left {len(report.foreign)} bundle(s) whose records came through git for "
                   "their authors to push (--ours pushes them from here)", err=True)
    if delocalize and (report.bundles or report.skipped):
        n = len(report.bundles) + len(report.skipped)
        kept = "" if report.delocalized else " (other local bundles still use it all)"
        typer.echo(f"Removed {report.delocalized} local blob(s) of {n} bundle(s){kept}")


def transfer_dict(ctx: str | None, report: "Report", verb: str) -> dict[str, Any]:
    """The ``--json`` of push and pull: what moved, what was there, and the remote."""
    from dsdt.commands.remote import remote_dict

    out: dict[str, Any] = {"context": ctx, "remote": remote_dict(ctx), verb: report.bundles,
                           "skipped": report.skipped, "blobs": report.blobs,
                           "bytes": report.bytes}
    if verb == "pushed":
        out |= {"foreign": report.foreign, "delocalized": report.delocalized}
    else:
        out["refused"] = report.refused
    return out
