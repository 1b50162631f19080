"""``dsdt install-hooks`` and the hidden ``dsdt hook`` the installed hooks run."""

import sys
from typing import Annotated

import typer

INSTALL = "install-hooks"
HOOK = "hook"


def install(force: Annotated[bool, typer.Option(
        "-f", "--force", help="Replace pre-push, post-checkout or post-merge hooks that dsdt "
        "did not write.")] = False) -> None:
    """Install git hooks so that git push carries the data too (like 'dvc install').

    pre-push pushes, to each context's remote, the data of every committed
    bundle the pushed commits add, and stops the git push if that fails
    (git push --no-verify skips it). post-checkout and post-merge keep the
    index fresh. The hooks run this Python (python -m dsdt hook).

    \b
    Examples:
      dsdt install-hooks
      dsdt install-hooks --force       # replace hooks dsdt did not write
    """
    from dsdt import api

    for path in api.install_hooks(force=force):
        typer.echo(f"Installed {path}")


def hook(name: Annotated[str, typer.Argument(metavar="NAME")],
         args: Annotated[list[str] | None, typer.Argument(metavar="ARGS...")] = None) -> None:
    """Run git hook NAME (the hooks 'dsdt install-hooks' writes call this)."""
    from dsdt import api

    lines = sys.stdin.read().splitlines() if name == "pre-push" else []
    report = api.run_hook(name, args or [], lines)
    if report is not None:
        for ctx, uuids in report.pushed.items():
            if uuids:
                typer.echo(f"dsdt: pushed the data of {len(uuids)} bundle(s) of {ctx}",
                           err=True)
        if report.uncommitted:
            typer.echo(f"dsdt: warning: {len(report.uncommitted)} uncommitted bundle(s) in "
                       f"these commits (first: {report.uncommitted[0]}) have data only here; "
                       "teammates will find it nowhere (dsdt commit, then dsdt push)", err=True)
        if report.foreign:
            typer.echo(f"dsdt: {len(report.foreign)} bundle(s) in these commits were made by "
                       "someone else; their own push sends the data", err=True)
