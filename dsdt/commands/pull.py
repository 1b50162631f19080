"""``dsdt pull``: bring bundles from the context's remote into the context."""

from typing import Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import ContextOpt, JsonOpt, UuidOpt, context_or_current, print_json
from dsdt.commands.push import JobsOpt

NAME = "pull"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Only bundles with this name ('*' matches anything; default: all).")] = None,
    uuid: UuidOpt = None,
    localize: Annotated[bool, typer.Option(
        "-l", "--localize",
        help="Also download the bundles' data (each file verified by sha256).")] = False,
    jobs: JobsOpt = 8,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pull bundles from the remote bound with 'dsdt remote' (all, NAME, or -u UUID).

    Only metadata comes down unless --localize: DataFrames, other values and
    a directory remote's files download on first use, and files on an S3
    remote show as s3:// URLs. With --localize the data comes down now.
    Every downloaded object is verified by sha256. A local bundle is never
    overwritten. Pulled bundles are kept in .dsdt/cache, apart from what git
    tracks ('dsdt adopt' checks them in).

    --json prints {"context", "remote": {"context", "url"}, "pulled": [uuids],
    "skipped": [uuids already here], "refused": {uuid: why}, "blobs", "bytes"}.

    \b
    Examples:
      dsdt pull                          # metadata of every remote bundle
      dsdt pull scores -l                # and the data of 'scores'
      dsdt pull --json
    """
    from dsdt import api
    from dsdt.commands._progress import transfer_progress
    from dsdt.commands._render import fmt_bytes
    from dsdt.commands.remote import binding

    ctx = context_or_current(context)
    with transfer_progress("pull") as sink:
        report = api.pull(ctx, name, uuid, localize, jobs=jobs, progress=sink)
    if name and not (report.bundles or report.skipped or report.refused):
        from dsdt.errors import BundleNotFoundError

        raise BundleNotFoundError(f"no bundle named {name!r} on the remote of context {ctx!r} "
                                  f"({binding(ctx)})")
    if as_json:
        from dsdt.commands.push import transfer_dict

        print_json(transfer_dict(ctx, report, "pulled"))
        return
    line = f"Pulled {len(report.bundles)} bundle(s)"
    if localize:
        line += f", {report.blobs} blob(s), {fmt_bytes(report.bytes)}"
    line += f" from {binding(ctx)}"
    if report.skipped:
        line += f"; {len(report.skipped)} already here"
    typer.echo(line)
