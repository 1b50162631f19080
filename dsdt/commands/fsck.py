"""``dsdt fsck``: verify the repository."""

import typer

from dsdt.commands._render import JsonOpt, print_json

NAME = "fsck"


def run(as_json: JsonOpt = False) -> None:
    """Verify every ref, record and blob of the repository.

    Prints what was checked, each error and warning, then 'ok' or the number
    of errors. Exits with status 1 when there is any error (warnings are
    harmless leftovers that gc removes).
    """
    from dsdt import api

    report = api.fsck()
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
