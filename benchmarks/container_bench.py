"""Benchmark of the container path: re-``dockerize`` and the entrypoint's own overhead.

Usage::

    python benchmarks/container_bench.py [--base-image IMAGE] [--runs N]

Two figures, each printed beside its bar and its limit:

* ``redockerize``: ``dsdt dockerize PKG`` of an unchanged package after a first
  build (wheels cached, every layer cached). Bar: under 5 s. Limit: the engine
  alone, ``docker build -q`` of the same context with a warm cache.
* ``entrypoint``: ``dsdt-container`` as a process against a moto S3 server in
  its own process (start, init a repository, bind the remote, pull metadata,
  run a one-task pipeline, commit and push its small bundle), each run to a
  fresh remote prefix. Bar: under 2 s. Limit: starting Python and importing
  what the entrypoint needs (``dsdt.api``, ``dsdt.pipe``, luigi, boto3).

Needs a Docker engine and the base image (default ``$DSDT_TEST_BASE_IMAGE``,
else ``dsdt-test-base:bookworm``, which ``scripts/_docker.sh`` builds offline).
Medians of ``--runs`` runs, interleaved with the limit's.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _remote import BUCKET, MotoServer
from _timing import CHILD_ENV, PY, Job, interleaved, run_cmd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from container_pkg import write_package  # the tests' sample package

REDOCKERIZE_BAR_S = 5.0
ENTRYPOINT_BAR_S = 2.0
BIN = Path(PY).parent

SMALL_TASK = '''
from dsdt.pipe import PipeTask


class Small(PipeTask):
    def pipe_run(self):
        return {"rows": 3}
'''


def _line(name: str, value: float, limit: float, bar: float) -> str:
    verdict = "met" if value < bar else "MISSED"
    return (f"{name:12s} {value:6.2f} s   limit {limit:5.2f} s ({value / limit:4.2f}x)   "
            f"bar < {bar:.0f} s: {verdict}")


def bench_redockerize(scratch: Path, base: str, runs: int) -> str:
    pkg = write_package(scratch / "pkg", name="dsdt_bench_churn")
    dockerize = [BIN / "dsdt", "dockerize", pkg, "--base-image", base, "-q"]
    run_cmd(dockerize)  # the first build: wheels and layers
    ctx = scratch / "ctx"
    run_cmd([*dockerize, "--no-build", "-o", ctx])
    run_cmd(["docker", "build", "-q", "-t", "dsdt-bench-limit", ctx])
    ours, limit = interleaved(Job(lambda: run_cmd(dockerize), runs),
                              Job(lambda: run_cmd(["docker", "build", "-q", "-t",
                                                   "dsdt-bench-limit", ctx]), runs))
    run_cmd(["docker", "image", "rm", "dsdt-bench-limit"])
    return _line("redockerize", statistics.median(ours), statistics.median(limit),
                 REDOCKERIZE_BAR_S)


def bench_entrypoint(scratch: Path, runs: int) -> str:
    server = MotoServer(scratch / "moto.log")
    try:
        CHILD_ENV.update(server.env())
        (scratch / "tasks").mkdir()
        (scratch / "tasks" / "small.py").write_text(SMALL_TASK)
        counter = itertools.count()

        def entrypoint() -> None:
            n = next(counter)
            run_cmd([BIN / "dsdt-container", "--context", f"bench/run{n}", "--remote",
                     f"s3://{BUCKET}/entrypoint-{n}", "--repo-dir", scratch / f"repo{n}",
                     "small.Small"], cwd=scratch / "tasks")

        floor = [PY, "-c", "import dsdt.api, dsdt.pipe, luigi, boto3"]
        ours, limit = interleaved(Job(entrypoint, runs), Job(lambda: run_cmd(floor), runs))
        pushed = server.count("entrypoint-")
        if pushed < runs:
            raise RuntimeError(f"the entrypoint pushed {pushed} objects in {runs} runs")
    finally:
        server.stop()
    return _line("entrypoint", statistics.median(ours), statistics.median(limit),
                 ENTRYPOINT_BAR_S)


def main() -> int:
    """Run both figures and print them; exit 1 when a bar is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-image",
                    default=os.environ.get("DSDT_TEST_BASE_IMAGE", "dsdt-test-base:bookworm"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dsdt-container-bench-"))
    CHILD_ENV["DSDT_CACHE_DIR"] = str(scratch / "cache")
    try:
        lines = [bench_redockerize(scratch, args.base_image, args.runs),
                 bench_entrypoint(scratch, args.runs)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n".join(lines))
    return 1 if any("MISSED" in ln for ln in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
