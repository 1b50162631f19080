"""Benchmark of ``dsdt apply``: planning a reusable DAG and the per-task cost of bundles.

Usage::

    python benchmarks/pipe_bench.py [--tasks N] [--runs N]

Two figures, each printed beside its bar:

* ``noop_apply``: ``api.apply`` of a chain of ``--tasks`` (50) PipeTasks whose
  bundles are all up to date (nothing runs: planning, reuse checks and the
  luigi build). Bar: under 2 s.
* ``per_task``: ``api.apply(force_all=True)`` of the same chain (every task
  makes a bundle) minus a bare luigi build of the same chain (tasks that do
  nothing), divided by the number of tasks. Bar: under 20 ms per task.

Medians of ``--runs`` runs each, in a fresh repository in a temp directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import luigi

import dsdt.api as api
from dsdt.pipe import PipeTask

NOOP_BAR_S = 2.0
PER_TASK_BAR_S = 0.020

#: Bare tasks that are done (reset before each bare build).
_DONE: set[int] = set()


class Chain(PipeTask):
    """Link ``i`` of a chain: depends on link ``i - 1``."""

    i = luigi.IntParameter()

    def pipe_requires(self) -> None:
        if self.i > 0:
            self.add_dependency("prev", Chain, {"i": self.i - 1})

    def pipe_run(self, prev: int = 0) -> int:
        return prev + 1


class BareChain(luigi.Task):
    """The same chain as plain luigi tasks that do nothing."""

    i = luigi.IntParameter()

    def requires(self) -> list[luigi.Task]:
        return [BareChain(i=self.i - 1)] if self.i > 0 else []

    def complete(self) -> bool:
        return self.i in _DONE

    def run(self) -> None:
        _DONE.add(self.i)


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``fn``."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bare_build(n: int) -> None:
    """A bare luigi build of the chain (local scheduler, one worker)."""
    _DONE.clear()
    assert luigi.build([BareChain(i=n - 1)], local_scheduler=True, workers=1,
                       log_level="WARNING")


def line(name: str, value: float, bar: float, note: str) -> str:
    result = "ok" if value < bar else "FAIL"
    return f"{name:<12} {value * 1000:9.1f} ms   bar < {bar * 1000:7.1f} ms   {result:<4}  {note}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n = args.tasks
    work = Path(tempfile.mkdtemp(prefix="dsdt-pipe-bench-"))
    cwd = os.getcwd()
    try:
        os.chdir(work)
        os.environ.pop("DSDT_DIR", None)
        api.init(work)
        root = Chain
        first = api.apply("default", root, params={"i": n - 1})
        assert first["did_work"], first
        noop = timed(lambda: api.apply("default", root, params={"i": n - 1}), args.runs)
        assert api.apply("default", root, params={"i": n - 1})["did_work"] is False
        forced = timed(lambda: api.apply("default", root, params={"i": n - 1},
                                         force_all=True), args.runs)
        bare = timed(lambda: bare_build(n), args.runs)
        per_task = (forced - bare) / n
        assert api.fsck().ok
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    print(line("noop_apply", noop, NOOP_BAR_S, f"{n} tasks, all reused"))
    print(line("per_task", per_task, PER_TASK_BAR_S,
               f"apply force_all {forced:.3f}s - bare luigi {bare:.3f}s, over {n} tasks"))
    return 0 if noop < NOOP_BAR_S and per_task < PER_TASK_BAR_S else 1


if __name__ == "__main__":
    sys.exit(main())
