"""Benchmark of ``dsdt diff`` and of the cost of the column summaries it relies on.

Usage::

    python benchmarks/diff_bench.py [--rows N] [--runs N] [--workdir DIR]

Two figures, each printed beside its bar from the project issue:

* ``diff_1e6``: ``dsdt diff`` of two 1e6-row x 10-column DataFrame bundles (the
  second with one column changed), timed as a whole process (interpreter
  start-up included), median of ``--runs``. Bar: under 0.2 s. ``dsdt --version``
  (no repository access) and ``dsdt ls scores`` (the same imports and index
  query, no record read) are timed alongside as start-up floors.
* ``stats_write``: what the summary adds to writing that frame: closing a
  bundle of it (``api.Bundle(..., data=df)``) with and without summaries, runs
  alternating, medians of ``--runs`` each. Bar: under 15 %. The same ratio for
  ``write_frame`` alone (into the blob store) is shown as a note.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import make_frame, new_repo, remove  # helpers next to this script
from _timing import dsdt, med

from dsdt.repo import Repository

DIFF_BAR_S = 0.2
OVERHEAD_BAR = 0.15


def time_cli(args: list[str], cwd: Path, runs: int) -> list[float]:
    """Wall times of ``dsdt *args`` as a whole process (after one untimed warm-up)."""
    dsdt(*args, cwd=cwd)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        dsdt(*args, cwd=cwd)
        times.append(time.perf_counter() - t0)
    return times


def alternating(plain: Callable[[int], object], summarised: Callable[[int], object],
                runs: int) -> tuple[list[float], list[float]]:
    """Wall times of two variants of one job, alternating ABBA so that drift hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        order = [(plain, a), (summarised, b)] if i % 2 == 0 else [(summarised, b), (plain, a)]
        for fn, times in order:
            os.sync()
            t0 = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t0)
    return a, b


def write_jobs(rows: int) -> dict[str, tuple[Callable[[int], object], Callable[[int], object]]]:
    """(without summary, with summary) writers: a whole bundle, and ``write_frame`` alone."""
    import dsdt.api as api
    from dsdt.objects import frames

    df = make_frame(rows)
    original = frames.write_frame
    repo = Repository.current()

    def frame(i: int, summary: bool) -> None:
        df.iloc[0, 0] = float(i)  # new bytes each run
        with repo.blobs.writer() as out:
            original(df, out, summary=summary)

    def bundle(i: int, summary: bool) -> None:
        df.iloc[0, 0] = float(i)
        frames.write_frame = functools.partial(original, summary=summary)
        try:
            api.Bundle("default", name="w", data=df)
        finally:
            frames.write_frame = original

    return {name: (functools.partial(fn, summary=False), functools.partial(fn, summary=True))
            for name, fn in (("bundle", bundle), ("write_frame", frame))}


def line(name: str, measured: str, bar: str, passed: bool, note: str) -> str:
    verdict = "PASS" if passed else "FAIL"
    return f"{name:<12} {measured:>9}  {bar:<7} {verdict}  {note}"


def main() -> int:
    """Run both figures; exit status 1 if either misses its bar."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dsdt-diff-bench-", dir=opts.workdir))
    try:
        return run(work, opts.rows, opts.runs)
    finally:
        remove(work)


def run(work: Path, rows: int, runs: int) -> int:
    """Build the repository in ``work``, time both figures, print them."""
    import dsdt.api as api

    project = new_repo(work / "project")
    os.chdir(project)
    os.environ.pop("DSDT_DIR", None)
    df = make_frame(rows)
    api.Bundle("default", name="scores", data=df)
    api.Bundle("default", name="scores", data=df.assign(c3=df["c3"] * 2))
    shown = dsdt("diff", "scores", cwd=project)
    assert "column c3" in shown, shown
    diff_times = time_cli(["diff", "scores"], project, runs)
    floor = med(time_cli(["--version"], project, runs))
    ls_s = med(time_cli(["ls", "scores"], project, runs))
    diff_s = med(diff_times)

    jobs = write_jobs(rows)
    bundle_plain, bundle_stats = alternating(*jobs["bundle"], runs)
    frame_plain, frame_stats = alternating(*jobs["write_frame"], runs)
    ratio = med(bundle_stats) / med(bundle_plain) - 1
    frame_ratio = med(frame_stats) / med(frame_plain) - 1

    print(f"{rows:,} rows x 10 float64 columns, {runs} runs, medians")
    print(line("diff_1e6", f"{diff_s:.3f}s", f"<{DIFF_BAR_S:g}s", diff_s < DIFF_BAR_S,
               f"start-up floor: dsdt --version {floor:.3f}s, dsdt ls {ls_s:.3f}s; runs "
               + " ".join(f"{t:.3f}" for t in diff_times)))
    print(line("stats_write", f"{ratio:+.1%}", f"<{OVERHEAD_BAR:.0%}", ratio < OVERHEAD_BAR,
               f"bundle write {med(bundle_plain):.3f}s -> {med(bundle_stats):.3f}s; "
               f"write_frame {med(frame_plain):.3f}s -> {med(frame_stats):.3f}s "
               f"({frame_ratio:+.1%})"))
    return 0 if diff_s < DIFF_BAR_S and ratio < OVERHEAD_BAR else 1


if __name__ == "__main__":
    sys.exit(main())
