"""Running the ``dsdt`` CLI in process for tests: exit code, stdout and stderr apart."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from typer.testing import CliRunner

from dsdt.commands.app import main

runner = CliRunner()


@dataclass
class Run:
    """What one ``dsdt`` invocation did."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def dsdt_cli(*args: str) -> Run:
    """Run ``main(args)`` in process, capturing stdout, stderr and the exit code."""
    code: int = 0
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return Run(code, stdout, stderr)


def ok(*args: str) -> Run:
    """Run and require success."""
    r = dsdt_cli(*args)
    assert r.code == 0, (r.code, r.out, r.err)
    return r


def fails(code: int, *args: str) -> str:
    """Run, require exit ``code`` and a one-line ``dsdt: error:`` message; return it."""
    r = dsdt_cli(*args)
    assert r.code == code, (r.code, r.out, r.err)
    assert r.err.count("\n") == 1 and r.err.startswith("dsdt: error: "), r.err
    assert "Traceback" not in r.err
    return r.err


def fsck_ok() -> None:
    """End of a flow: the repository is consistent."""
    r = ok("fsck")
    assert r.lines[-1] == "ok"
