"""Pipelines with several luigi worker processes and with a real central scheduler (luigid)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pipe_tasks as pt
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import UsageError
from dsdt.repo import Repository


def _check_fan(ctx: str) -> dict[int, str]:
    fan = api.get(ctx, "Fan")
    assert fan.data["total"] == sum(i * i for i in range(6))
    leaves = {b.data["i"]: b.uuid for b in reversed(api.search(ctx, "Leaf"))}  # newest wins
    assert sorted(leaves) == list(range(6))
    assert {a: u for a, (_p, u) in fan.dependencies.items()} == {
        f"leaf{i}": leaves[i] for i in range(6)}
    return leaves


def test_two_workers_run_every_task_in_forked_processes(ctx: str) -> None:
    out = api.apply(ctx, pt.Fan, workers=2)
    assert out == {"success": True, "did_work": True}
    _check_fan(ctx)
    assert os.getpid() not in api.get(ctx, "Fan").data["pids"]
    assert pt.RUNS == {}  # every task ran in a child process
    assert_fsck_clean()
    assert api.apply(ctx, pt.Fan, workers=2)["did_work"] is False
    out = api.apply(ctx, pt.Fan, workers=3, force_all=True)
    assert out["did_work"] is True and len(api.search(ctx, "Leaf")) == 12
    _check_fan(ctx)
    assert_fsck_clean()


def test_failure_in_a_worker_process_is_reported(ctx: str) -> None:
    with pytest.raises(api.ApplyError, match="Fails"):
        api.apply(ctx, pt.Fails, workers=2)
    assert [b.name for b in api.search(ctx)] == ["A"]
    assert_fsck_clean()


def test_bad_workers(ctx: str) -> None:
    with pytest.raises(UsageError, match="workers"):
        api.apply(ctx, pt.A, workers=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def luigid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real luigid on a free loopback port; yields the port, stops it at teardown."""
    work = tmp_path_factory.mktemp("luigid")
    (work / "log").mkdir()
    port = _free_port()
    cmd = [sys.executable, "-c", "from luigi.cmdline import luigid; luigid()",
           "--port", str(port), "--address", "127.0.0.1", "--logdir", str(work / "log"),
           "--state-path", str(work / "state.pickle")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "luigid exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "luigid did not start in 30 s"
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_central_scheduler_runs_then_reuses(ctx: str, luigid: int) -> None:
    from dsdt.pipe.apply import apply

    repo = Repository.current()
    out = apply(repo, ctx, pt.Fan, central_scheduler=True, scheduler_host="127.0.0.1",
                scheduler_port=luigid, workers=2)
    assert out == {"success": True, "did_work": True}
    leaves = _check_fan(ctx)
    out = apply(repo, ctx, pt.Fan, central_scheduler=True, scheduler_host="127.0.0.1",
                scheduler_port=luigid)
    assert out == {"success": True, "did_work": False}
    assert _check_fan(ctx) == leaves
    assert_fsck_clean()


def test_central_scheduler_from_the_cli(ctx: str, luigid: int, project: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import luigi.configuration
    from clirun import dsdt_cli

    cfg = luigi.configuration.get_config()
    monkeypatch.setattr(cfg, "get", _override(cfg.get, {("core", "scheduler_port"): luigid,
                                                        ("core", "scheduler_host"): "127.0.0.1"}))
    api.switch(ctx)
    r = dsdt_cli("apply", "pipe_tasks.Sum", "-cs")
    assert r.code == 0, r.err
    assert api.get(ctx, "Sum").data["x"] == 1 and pt.RUNS == {"A": 1, "B": 1, "Sum": 1}
    r = dsdt_cli("apply", "pipe_tasks.Sum", "--central-scheduler")
    assert r.code == 0 and "up to date" in r.out
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 1}


def _override(get: object, values: dict[tuple[str, str], object]) -> object:
    def patched(section: str, option: str, *args: object, **kwargs: object) -> object:
        if (section, option) in values:
            return values[section, option]
        return get(section, option, *args, **kwargs)  # type: ignore[operator]

    return patched
