"""``dsdt apply`` through the CLI: task params parsed by luigi, flags, exit codes, --explain."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pipe_tasks as pt
import pytest
from clirun import dsdt_cli, fails, ok
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
    train = api.get(ctx, "Train")
    assert r.lines == [f"Applied Train: made bundle Train {train.uuid} (and 1 upstream)"]
    assert train.params == {"day": "2026-11-01", "lr": "0.2"}
    r = dsdt_cli("apply", "pipe_tasks.Train", "--day=2026-11-01", "--lr", "0.2")
    assert r.code == 0
    assert r.lines == [f"Applied Train: bundle Train {train.uuid} was up to date"]
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
    assert [row[0] for row in rows[1:]] == ["A(n=1)", "B(n=2)", "Sum(swap=True)"]
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 1}


@pytest.mark.parametrize(("args", "message"), [
    (["pipe_tasks.Train", "--dayz", "d"], "Train has no parameter --dayz"),
    (["pipe_tasks.Train", "--force_all", "d"], "no parameter"),
    (["pipe_tasks.Train"], "Train needs a value for its day parameter (--day on"),
    (["pipe_tasks.A", "--n", "x"], "bad value 'x' for --n"),
    (["pipe_tasks.A", "--n"], "needs a value"),
    (["pipe_tasks.A", "stray"], "unexpected argument"),
    (["pipe_tasks.Nope"], "no class 'Nope'"),
    (["pipe_tasks.NotATask"], "pipe_tasks.NotATask is not a dsdt PipeTask"),
    (["pipe_tasks.A", "--nope", "1"], "A has no parameter --nope (it has: --n, --force-me)"),
    (["pipe_tasks.A", "--n", "1", "--n", "2"], "parameter --n is given twice"),
    (["--nope", "pipe_tasks.A"], "unknown option --nope: put the task class first"),
    (["pipe_tasks.A", "--n", "abc"], "bad value 'abc' for --n"),
    (["pipe_tasks.Described", "--day", "11/01/2026"], "bad value '11/01/2026' for --day"),
    (["pipe_tasks.Described"], "Described needs a value for its day parameter (--day"),
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
    err = fails(1, "apply", "pipe_tasks.Fails")
    assert err == "dsdt: error: pipeline Fails failed: task Fails() raised RuntimeError: boom\n"
    assert [b.name for b in api.search(ctx)] == ["A"]
    err = fails(1, "apply", "pipe_tasks.Train", "--day", "d")  # an input missing when needed
    assert err.startswith("dsdt: error: pipeline Train failed: external dependency 'labels' ")
    assert_fsck_clean()


def test_apply_help_lists_the_task_parameters(ctx: str) -> None:
    plain = ok("apply", "--help").out
    assert "Parameters of" not in plain
    assert plain.splitlines()[-4:] == [  # help ends with examples
        "  Examples:", "    dsdt apply mypipe.tasks.Train --help",
        "    dsdt apply mypipe.tasks.Train --day 2026-11-01 --lr 0.2 -o model",
        "    dsdt apply mypipe.tasks.Train --day 2026-11-01 --explain --json"]
    r = ok("apply", "pipe_tasks.Described", "--help")
    assert r.out.startswith(plain)  # the usual help first
    assert r.lines[-4:] == [
        "Parameters of pipe_tasks.Described:",
        "  --day        DateParameter, required. The day to load, as YYYY-MM-DD.",
        "  --n          IntParameter, default: 3",
        "  --name-part  Parameter, default: x",
    ]
    # Other options before --help change nothing; the task's own flags are skipped.
    assert ok("apply", "-c", ctx, "pipe_tasks.Train", "--day", "d", "-h").lines[-3:] == [
        "Parameters of pipe_tasks.Train:", "  --day  Parameter, required",
        "  --lr   FloatParameter, default: 0.1"]
    assert ok("apply", "pipe_tasks.Nope", "--help").lines[-1] == (
        "(cannot list the parameters of pipe_tasks.Nope: module 'pipe_tasks' has no class "
        "'Nope')")
    assert pt.RUNS == {} and api.search(ctx) == []


def test_apply_json(ctx: str) -> None:
    r = ok("apply", "pipe_tasks.Sum", "--swap", "-o", "total", "--json")
    out = json.loads(r.out)  # nothing else on stdout
    total = api.get(ctx, "total")
    assert out["success"] is True and out["did_work"] is True and out["context"] == ctx
    assert out["output"] == {"name": "total", "uuid": total.uuid,
                             "processing_name": total.processing_name, "action": "run"}
    assert [b["name"] for b in out["bundles"]] == ["A", "B", "total"]
    assert out["bundles"][-1] == {k: v for k, v in out["output"].items() if k != "action"}
    again = json.loads(ok("apply", "pipe_tasks.Sum", "--swap", "-o", "total", "--json").out)
    assert again["did_work"] is False and again["bundles"] == []
    assert again["output"] == out["output"] | {"action": "reuse"}
    plan = json.loads(ok("apply", "pipe_tasks.Sum", "--explain", "--json").out)
    assert plan["output"]["uuid"] is None and plan["output"]["action"] == "run"
    assert [(p["task"], p["action"], p["reason"]) for p in plan["plan"]] == [
        ("A(n=1)", "reuse", "reused"), ("B(n=2)", "reuse", "reused"),
        ("Sum(swap=False)", "run", "no bundle")]
    assert plan["plan"][0]["uuid"] == out["bundles"][0]["uuid"]
    assert "bundles" not in plan
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 1}


def test_apply_json_on_failure_prints_the_outcome(ctx: str) -> None:
    r = dsdt_cli("apply", "pipe_tasks.Fails", "--json")
    out = json.loads(r.out)
    assert r.code == 1 and out["success"] is False and out["context"] == ctx
    assert "raised RuntimeError: boom" in out["error"]
    assert re.fullmatch(r"dsdt: error: pipeline Fails failed: task Fails\(\) raised "
                        r"RuntimeError: boom\n", r.err)


def test_explain_shows_long_parameter_values_in_full(ctx: str) -> None:
    day = "2026-11-01-" + "x" * 60
    (Path.cwd() / "labels.csv").write_text("l1")
    api.add(ctx, "labels", Path.cwd() / "labels.csv")
    r = ok("apply", "pipe_tasks.Train", "--day", day, "--explain")
    labels = api.get(ctx, "labels").uuid
    assert r.lines[1].startswith(f"Clean(day={day})  ")
    assert r.lines[2].startswith(f"ExternalBundle(uuid={labels}, input 'labels' "
                                 "(BundleWrapperTask {'name': 'labels'}))  ")
    assert r.lines[3].startswith(f"Train(day={day}, lr=0.1)  ")
