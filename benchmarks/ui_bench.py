"""Benchmark of ``dsdt ui``: its pages rendered server side (no HTTP, no browser).

Usage::

    python benchmarks/ui_bench.py [--bundles N] [--names N] [--runs N] [--workdir DIR]

Two figures, each printed beside its bar from the project issue:

* ``ui_list_100k``: the first page of a context's bundle names (50 names with
  their latest version, versions, tags, committed state, size and data state)
  in a context of 100,000 bundles under 1,000 names (the fixture of
  ``benchmarks/run.py``, index warm). Bar: under 0.2 s.
* ``ui_bundle_lineage50``: a bundle page (record, files, preview, lineage graph
  laid out as SVG, diff with the version before) whose lineage holds 50
  bundles (a chain of 49 inputs). Bar: under 0.3 s.

Medians of ``--runs`` timed calls after one warm-up call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import ensure_fixture, new_repo


def median_time(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``fn`` over ``runs`` calls, after one untimed call."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _in(project: Path, fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        os.environ["DSDT_DIR"] = str(project / ".dsdt")
        return fn()
    return call


def chain(project: Path, length: int) -> str:
    """A chain of ``length`` bundles, each made from the one before; the last one's uuid."""
    import pandas as pd

    from dsdt import api

    new_repo(project)
    os.environ["DSDT_DIR"] = str(project / ".dsdt")
    prev = None
    for i in range(length):
        with api.Bundle("default", f"step{i:02d}") as b:
            b.add_data(pd.DataFrame({"x": range(1000), "y": [i] * 1000}))
            if prev is not None:
                b.add_dependencies(prev, ["input"])
        prev = b
    with api.Bundle("default", f"step{length - 1:02d}") as b:  # a second version: a diff
        b.add_data(pd.DataFrame({"x": range(1000), "y": [0] * 1000}))
        b.add_dependencies(api.get("default", f"step{length - 2:02d}"), ["input"])
    return b.uuid


def report(name: str, seconds: float, bar: float, note: str) -> bool:
    """Print one figure; True if it meets its bar."""
    ok = seconds < bar
    print(f"{name:<22} {seconds * 1000:8.1f} ms   bar <{bar * 1000:.0f} ms   "
          f"{'PASS' if ok else 'FAIL'}  {note}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Build the fixtures, time both pages, print the figures; 1 if one fails its bar."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundles", type=int, default=100_000)
    p.add_argument("--names", type=int, default=1_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--workdir", type=Path, help="keep the fixtures here (default: a temp dir)")
    args = p.parse_args(argv)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="dsdt-ui-bench-"))
    from dsdt import api
    from dsdt.repo import Repository
    from dsdt.ui.pages import Site

    site = Site()
    fx = ensure_fixture(base / "fixtures", args.bundles, args.names)
    api.catalog  # noqa: B018 - imported before timing
    list_s = median_time(_in(fx.project, lambda: site.bundles("default")), args.runs)
    Repository.forget()
    last = chain(base / "lineage50", 50)
    page = site.bundle("default", last)
    nodes = page.count('<g class="node')
    bundle_s = median_time(_in(base / "lineage50", lambda: site.bundle("default", last)),
                           args.runs)
    ok = report("ui_list_100k", list_s, 0.2, f"{args.bundles:,} bundles, {args.names:,} names")
    ok &= report("ui_bundle_lineage50", bundle_s, 0.3, f"{nodes} bundles in the graph")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
