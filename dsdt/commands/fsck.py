"""``dsdt fsck``: verify the repository."""

from typing import Annotated

import typer

from dsdt.commands._render import JsonOpt, print_json

NAME = "fsck"


def run(as_json: JsonOpt = False,
        remote: Annotated[bool, typer.Option(
            "--remote", help="Also check the remote context of every context bound to one: "
            "records match their hashes and every blob is there.")] = False) -> None:
    """Verify every ref, record and blob of the repository.

    Prints what was checked, each error and warning, then 'ok' or the number
    of errors. Exits with status 1 when there is any error (warnings are
    harmless leftovers that gc removes). Data that is only on a bound remote
    is not an error.
    """
    from dsdt import api

    report = api.fsck(remote=remote)
    if as_json:
        print_json({"ok": report.ok, "contexts": report.contexts, "refs": report.refs,
                    "records": report.records, "blobs": report.blobs,
                    "errors": report.errors, "warnings": report.warnings})
    else:
        typer.echo(f"checked {report.contexts} context(s), {report.refs} ref(s), "
                   f"{report.records} record(s), {report.blobs} blob(s)")
        for w in report.warnings:
            typer.echo(f"warning: {w}")
        for e in report.errors:
            typer.echo(f"error: {e}")
        typer.echo("ok" if report.ok else f"{len(report.errors)} error(s)")
    if not report.ok:
        raise typer.Exit(1)
