"""``dsdt apply`` through the CLI: task params parsed by luigi, flags, exit codes, --explain."""

from __future__ import annotations

from pathlib import Path

import pipe_tasks as pt
import pytest
from clirun import dsdt_cli
from conftest import assert_fsck_clean

import dsdt.api as api


@pytest.fixture
def ctx(ctx: str) -> str:
    """The test context, current (so the CLI uses it without -c)."""
    api.switch(ctx)
    return ctx


def test_apply_parses_task_params_with_luigi(ctx: str, project: Path) -> None:
    (project / "labels.csv").write_text("l1,l2")
    api.add(ctx, "labels", project / "labels.csv")
    r = dsdt_cli("apply", "pipe_tasks.Train", "--day", "2026-11-01", "--lr", "0.2")
    assert r.code == 0, r.err
    assert "new bundles" in r.out
    train = api.get(ctx, "Train")
    assert train.params == {"day": "2026-11-01", "lr": "0.2"}
    r = dsdt_cli("apply", "pipe_tasks.Train", "--day=2026-11-01", "--lr", "0.2")
    assert r.code == 0 and "up to date" in r.out
    assert pt.RUNS == {"Clean": 1, "Train": 1}
    assert_fsck_clean()


def test_apply_flags(ctx: str) -> None:
    r = dsdt_cli("apply", "pipe_tasks.Sum", "--swap", "-o", "total", "-ot", "run:a:1",
                 "-it", "batch:7", "-c", ctx)
    assert r.code == 0, r.err
    total = api.get(ctx, "total")
    assert total.data["x"] == 20 and total.user_tags["run"] == "a:1"
    assert api.get(ctx, "A", tags={"batch": "7"}) is not None
    assert dsdt_cli("apply", "pipe_tasks.Sum", "--swap", "-o", "total", "-ot", "run:a:1",
                    "-it", "batch:7", "-f").code == 0
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 2}
    assert dsdt_cli("apply", "pipe_tasks.Sum", "--force-all", "-w", "1").code == 0
    assert pt.RUNS == {"A": 2, "B": 2, "Sum": 3}
    assert_fsck_clean()


def test_explain_prints_the_plan(ctx: str) -> None:
    dsdt_cli("apply", "pipe_tasks.Sum")
    r = dsdt_cli("apply", "pipe_tasks.Sum", "--swap", "--explain")
    assert r.code == 0, r.err
    rows = [line.split() for line in r.lines]
    assert rows[0] == ["TASK", "ACTION", "REASON"]
    assert [row[1:] for row in rows[1:]] == [["reuse", "reused"], ["reuse", "reused"],
                                              ["run", "new", "params"]]
    assert rows[3][0].startswith("Sum_True")
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 1}


@pytest.mark.parametrize(("args", "message"), [
    (["pipe_tasks.Train", "--dayz", "d"], "Train has no parameter --dayz"),
    (["pipe_tasks.Train", "--force_all", "d"], "no parameter"),
    (["pipe_tasks.Train"], "Train needs a value for its day parameter (--day on"),
    (["pipe_tasks.A", "--n", "x"], "bad value 'x' for --n"),
    (["pipe_tasks.A", "--n"], "needs a value"),
    (["pipe_tasks.A", "stray"], "unexpected argument"),
    (["pipe_tasks.Nope"], "no class 'Nope'"),
    (["no_such_module_x.T"], "cannot import"),
    (["Bare"], "PKG.MOD.CLASS"),
])
def test_bad_task_arguments_are_one_line_usage_errors(ctx: str, args: list[str],
                                                      message: str) -> None:
    r = dsdt_cli("apply", *args)
    assert r.code == 2
    assert message in r.err and r.err.count("\n") == 1
    assert api.search(ctx) == []


def test_failing_pipeline_exits_non_zero(ctx: str) -> None:
    r = dsdt_cli("apply", "pipe_tasks.Fails")
    assert r.code == 1
    assert "dsdt: error: pipeline Fails failed" in r.err
    assert [b.name for b in api.search(ctx)] == ["A"]
    r = dsdt_cli("apply", "pipe_tasks.Train", "--day", "d")
    assert r.code == 4 and "labels" in r.err
    assert_fsck_clean()
