"""``dsdt gc --dry-run`` in a git project of 50 branches x 1,000 records (bar: under 3 s).

Builds (once, cached under ``--workdir``) a git project whose ``main`` holds
a fresh dsdt repository and whose 50 other branches each add 1,000 bundles
of their own (records and membership refs, written with ``git fast-import``);
every bundle's blob is in the local cache. gc must keep all of it, reading
git's objects without checking anything out. Times, as whole processes:
``dsdt ls`` on main (the floor: starting dsdt), the first ``dsdt gc
--dry-run`` (nothing cached) and the median of three more (the per-tree
answers cached).

Usage: python benchmarks/gitgc_bench.py [--branches 50] [--records 1000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gc_bench import timed  # next to this script

BAR_S = 3.0
DSDT = str(Path(sys.executable).parent / "dsdt")
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run git, returning stdout."""
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, input=stdin, check=True,
                          capture_output=True).stdout


def build(project: Path, branches: int, records: int) -> None:
    """The project: main with an empty repository, and ``branches`` branches of bundles."""
    from dsdt.objects.ids import new_uuid, sha256_bytes
    from dsdt.objects.record import BundleRecord, Lineage, now_iso
    from dsdt.repo import Repository

    project.mkdir(parents=True)
    git(project, "init", "-q", "-b", "main")
    repo = Repository.init(project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "init")
    stream = bytearray()
    for b in range(branches):
        message = f"branch {b}"
        stream += (f"commit refs/heads/b{b}\ncommitter b <b@b> 0 +0000\n"
                   f"data {len(message)}\n{message}\nfrom refs/heads/main^0\n").encode()
        for i in range(records):
            data = hashlib.sha256(f"{b}/{i}".encode()).digest() * 4
            blob = repo.blobs.put_bytes(data, sync=False)
            uuid = new_uuid()
            rec = BundleRecord(uuid=uuid, name=f"n{i % 100}", processing_name="p",
                               owner="bench", created=now_iso(),
                               data={"type": "bytes", "blob": blob, "size": len(data)},
                               presentation="SCALAR", lineage=Lineage())
            text = rec.to_yaml()
            ref = (sha256_bytes(text) + "\n").encode()
            for path, body in ((f".dsdt/records/{uuid[:2]}/{uuid}.yaml", text),
                               (f".dsdt/refs/contexts/default/bundles/{uuid[:2]}/{uuid}", ref)):
                stream += f"M 100644 inline {path}\ndata {len(body)}\n".encode() + body + b"\n"
    repo.blobs.sync()
    git(project, "fast-import", "--quiet", stdin=bytes(stream))


def main() -> int:
    """Build or reuse the project, time gc, print the figures beside the bar."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    opts = parser.parse_args()
    base = opts.workdir or Path(tempfile.mkdtemp(prefix="dsdt-gitgc-bench-"))
    project = base / f"gitgc-{opts.branches}x{opts.records}"
    if not (project / ".git").is_dir():
        t = time.perf_counter()
        build(project, opts.branches, opts.records)
        print(f"# built {project} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    for cached in (project / ".dsdt" / "cache").glob("db-*/gitlive.sqlite*"):
        cached.unlink()
    floor = statistics.median(timed(["ls"], project) for _ in range(3))
    first = timed(["gc", "--dry-run"], project)
    warm = statistics.median(timed(["gc", "--dry-run"], project) for _ in range(3))
    out = subprocess.run([DSDT, "gc", "--dry-run"], cwd=project, check=True,
                         capture_output=True, text=True).stdout.splitlines()[0]
    kept = opts.branches * opts.records
    ok = warm < BAR_S and f"kept {kept} blob(s)" in out and out.startswith("Would remove 0 blob")
    print(f"gitgc  {opts.branches} branches x {opts.records} records: dsdt ls {floor:.2f}s; "
          f"gc --dry-run first {first:.2f}s, then {warm:.2f}s (bar {BAR_S:.0f}s)  "
          f"{'PASS' if ok else 'FAIL'}  [{out}]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
