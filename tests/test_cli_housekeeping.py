"""``dsdt gc`` and ``dsdt du`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsdt.commands.app import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSDT_DIR", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for i, size in enumerate((6000, 7000)):
        Path(f"f{i}.bin").write_bytes(bytes([i]) * size)
        assert runner.invoke(app, ["add", "data", f"f{i}.bin"]).exit_code == 0
    return runner


def test_gc_dry_run_then_gc(cli: CliRunner) -> None:
    assert cli.invoke(app, ["rm", "data", "--old"]).exit_code == 0
    dry = cli.invoke(app, ["gc", "--dry-run"])
    assert dry.exit_code == 0 and "Would remove 1 blob(s), 5.9 KiB" in dry.output
    assert "  blob   " in dry.output
    done = cli.invoke(app, ["gc", "--json"])
    report = json.loads(done.output)
    assert len(report["blobs"]) == 1 and report["bytes"] == 6000 and not report["dry_run"]
    assert "Removed 0 blob(s)" in cli.invoke(app, ["gc"]).output
    assert cli.invoke(app, ["fsck"]).exit_code == 0


def test_du(cli: CliRunner) -> None:
    out = cli.invoke(app, ["du"])
    assert out.exit_code == 0
    assert "default/data" in out.output and "12.7 KiB" in out.output
    usage = json.loads(cli.invoke(app, ["du", "--json", "-c", "default"]).output)
    assert usage["total_unique"] == 13_000 and usage["names"][0]["bundles"] == 2
    lines = out.output.splitlines()  # "default (all)" is longer than "default/data"
    assert len({len(line) for line in lines}) == 1, lines  # the columns line up


def test_gc_remote_without_remotes(cli: CliRunner) -> None:
    out = cli.invoke(app, ["gc", "--remote"])
    assert out.exit_code == 0 and "No context is bound to a remote." in out.output
