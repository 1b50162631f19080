"""Timing and process helpers of ``benchmarks/run.py``."""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _data import read_through

PY = sys.executable


@dataclass
class Job:
    """Something to time: ``fn``, ``runs`` times; ``before``/``after`` run untimed around it."""

    fn: Callable[[], object]
    runs: int
    before: Callable[[], object] | None = None
    after: Callable[[], object] | None = None

    def once(self) -> float:
        """One timed run (wall clock)."""
        if self.before:
            self.before()
        t0 = time.perf_counter()
        self.fn()
        elapsed = time.perf_counter() - t0
        if self.after:
            self.after()
        return elapsed


def interleaved(*jobs: Job) -> list[list[float]]:
    """Wall times of each job, run round-robin so that changes in machine load hit all alike."""
    out: list[list[float]] = [[] for _ in jobs]
    for i in range(max(j.runs for j in jobs)):
        for job, times in zip(jobs, out, strict=True):
            if i < job.runs:
                times.append(job.once())
    return out


def child_env(pycache: Path) -> dict[str, str]:
    """Environment of timed processes: no ``DSDT_DIR``, and bytecode caching on.

    ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes) would make every CLI
    call recompile dsdt; users have ``.pyc`` files, so the children write them
    under ``pycache`` (``PYTHONPYCACHEPREFIX``), never into the source tree.
    """
    drop = {"DSDT_DIR", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


CHILD_ENV = child_env(Path(tempfile.gettempdir()) / "dsdt-bench-pycache")


def run_cmd(args: list[str | os.PathLike[str]], cwd: Path | None = None) -> str:
    """Run a process in ``CHILD_ENV``; return its stdout, raise on failure."""
    p = subprocess.run([str(a) for a in args], cwd=cwd, env=CHILD_ENV, capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr[-2000:]}")
    return p.stdout


def dsdt_exe() -> str:
    """The ``dsdt`` console script of this interpreter's environment."""
    here = Path(PY).parent / "dsdt"
    return str(here) if here.exists() else (shutil.which("dsdt") or "dsdt")


def dsdt(*args: str | os.PathLike[str], cwd: Path) -> str:
    """Run the dsdt CLI in project ``cwd``."""
    return run_cmd([dsdt_exe(), *args], cwd=cwd)


def med(xs: list[float]) -> float:
    """Median."""
    return statistics.median(xs)


def warm(path: Path) -> None:
    """Flush dirty pages (so no run pays for an earlier one's writes) and cache ``path``."""
    os.sync()
    read_through(path)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB chunks (the hashing limit)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


# --- results ---------------------------------------------------------------------------


@dataclass
class Result:
    """One figure: medians, the bar it is judged by, and the raw samples."""

    name: str
    measured: float
    limit: float
    bar: str
    passed: bool
    samples: list[float]
    limit_samples: dict[str, list[float]]
    note: str = ""

    @property
    def ratio(self) -> float:
        """``measured / limit``."""
        return self.measured / self.limit if self.limit > 0 else float("inf")

    def line(self) -> str:
        """The printed table row."""
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{self.name:<14} {self.measured:>8.3f}s {self.limit:>8.3f}s "
                f"{self.ratio:>6.2f}x  {self.bar:<8} {verdict}  {self.note}").rstrip()


def by_ratio(name: str, runs: list[float], limits: dict[str, list[float]], bar: float,
             note: str) -> Result:
    """A figure judged by ``measured / limit <= bar``; the limit is the slowest component."""
    limit = max(med(xs) for xs in limits.values())
    return Result(name, med(runs), limit, f"<={bar}x", med(runs) <= bar * limit, runs, limits,
                  note)


def by_time(name: str, runs: list[float], limits: dict[str, list[float]], bar: float,
            note: str) -> Result:
    """A figure judged by ``measured < bar`` seconds; the limit is informative."""
    limit = max(med(xs) for xs in limits.values())
    return Result(name, med(runs), limit, f"<{bar:g}s", med(runs) < bar, runs, limits, note)
