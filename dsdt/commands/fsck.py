"""``dsdt fsck``: verify the repository."""

from typing import Annotated

import typer

from dsdt.commands._render import JsonOpt, print_json

NAME = "fsck"


def run(as_json: JsonOpt = False,
        remote: Annotated[bool, typer.Option(
            "--remote", help="Also check the remote context of every context bound to one: "
            "records match their hashes and every blob is there.")] = False,
        repair: Annotated[bool, typer.Option(
            "--repair", help="Remove corrupt blobs from the cache and fetch them again from "
            "the contexts' remotes; with --remote, also upload again (from intact local "
            "copies) remote blobs that are missing or, read back, not their bytes.")
        ] = False) -> None:
    """Verify every ref, record and blob of the repository.

    Prints what was checked, each error and warning, then 'ok' or the number
    of problems. Data that is on a bound remote and not pulled yet is fine.
    Exits with status 1 when anything is corrupt or malformed, else 14 when
    some bundle's data is neither here nor on its remote (whoever made it has
    not pushed it: the message names them), else 0. Warnings are harmless
    leftovers that gc removes. The remote is read only if the remote-tracking
    state cannot tell where data is (a fresh clone), or with --remote.

    \b
    Examples:
      dsdt fsck
      dsdt fsck --repair                 # fetch corrupt blobs again from the remote
      dsdt fsck --remote
    """
    from dsdt import api
    from dsdt.errors import DataUnreachableError
    from dsdt.objects.gate import printable

    report = api.fsck(remote=remote, repair=repair)
    if as_json:
        print_json({"ok": report.ok, "contexts": report.contexts, "refs": report.refs,
                    "records": report.records, "blobs": report.blobs,
                    "not_pulled": report.not_pulled, "repaired": report.repaired,
                    "errors": report.errors,
                    "unreachable": report.unreachable, "warnings": report.warnings})
    else:
        typer.echo(f"checked {report.contexts} context(s), {report.refs} ref(s), "
                   f"{report.records} record(s), {report.blobs} local blob(s); "
                   f"{report.not_pulled} bundle(s) have data on their remote, not pulled")
        for blob_id in report.repaired:
            typer.echo(f"repaired: blob {blob_id}")
        for kind, lines in (("warning", report.warnings), ("error", report.errors),
                            ("unreachable", report.unreachable)):
            for line in lines:  # one line each, as messages are, even into a pipe
                typer.echo(f"{kind}: {printable(line)}")
        problems = len(report.errors) + len(report.unreachable)
        typer.echo("ok" if report.ok else f"{problems} problem(s)")
    if report.errors:
        raise typer.Exit(1)
    if report.unreachable:
        raise typer.Exit(DataUnreachableError.exit_code)
