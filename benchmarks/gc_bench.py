"""``dsdt gc`` over a repository of 100,000 bundles (bar: under 10 s).

Builds (once, cached under ``--workdir``) a repository of N bundles in the
real on-disk format, each holding a 5 KiB blob of its own, and removes every
tenth bundle from its context so gc has garbage to find. Then times, as
whole processes: a warm ``dsdt ls`` (the index is built once first),
``dsdt gc --dry-run`` (median of 3) and one real ``dsdt gc``.

Usage: python benchmarks/gc_bench.py [--bundles 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BAR_S = 10.0
DSDT = str(Path(sys.executable).parent / "dsdt")


def build(project: Path, count: int) -> None:
    """A repository of ``count`` bundles with one blob each; every tenth one removed."""
    from dsdt.bundle import default_processing_name
    from dsdt.objects.ids import new_uuid, sha256_bytes
    from dsdt.objects.record import BundleRecord, Lineage
    from dsdt.repo import Repository

    repo = Repository.init(project)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made: set[Path] = set()
    for i in range(count):
        data = hashlib.sha256(str(i).encode()).digest() * 160  # 5 KiB, unique per bundle
        blob = hashlib.sha256(data).hexdigest()
        _write(repo.blobs.path(blob), data, made)
        name, uuid = f"name{i % 1000}", new_uuid()
        rec = BundleRecord(
            uuid=uuid, name=name, processing_name=default_processing_name(name, "", {}, ()),
            owner="bench", created=(start + timedelta(seconds=i)).isoformat(),
            data={"type": "bytes", "blob": blob, "size": len(data)}, presentation="SCALAR",
            lineage=Lineage())
        text = rec.to_yaml()
        _write(repo.record_path(uuid), text, made)
        if i % 10:
            ref = repo.refs.path(Repository.member_ref("default", uuid))
            _write(ref, (sha256_bytes(text) + "\n").encode(), made)
    time.sleep(2.1)  # let the shard directories age past the index's racy window


def _write(path: Path, data: bytes, made: set[Path]) -> None:
    if path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        made.add(path.parent)
    path.write_bytes(data)


def timed(args: list[str], cwd: Path) -> float:
    """Wall seconds of one dsdt process."""
    t = time.perf_counter()
    subprocess.run([DSDT, *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    """Build or reuse the fixture, time gc, print the figures beside the bar."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    opts = parser.parse_args()
    base = opts.workdir or Path(tempfile.mkdtemp(prefix="dsdt-gc-bench-"))
    project = base / f"gc-{opts.bundles}"
    if not (project / ".dsdt").is_dir():
        t = time.perf_counter()
        build(project, opts.bundles)
        print(f"# built {opts.bundles} bundles in {time.perf_counter() - t:.1f} s")
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(base / "pycache"))
    first = timed(["ls"], project)
    print(f"# first ls (index build from records): {first:.1f} s")
    ls = statistics.median(timed(["ls"], project) for _ in range(3))
    dry = statistics.median(timed(["gc", "--dry-run"], project) for _ in range(3))
    real = timed(["gc"], project)
    ok = max(dry, real) < BAR_S
    print(f"ls_{opts.bundles}      {ls:7.3f}s")
    print(f"gc_dry_run     {dry:7.3f}s  <{BAR_S:.0f}s  {'PASS' if dry < BAR_S else 'FAIL'}")
    print(f"gc             {real:7.3f}s  <{BAR_S:.0f}s  {'PASS' if real < BAR_S else 'FAIL'}"
          f"  (removed {opts.bundles // 10} bundles' blobs and records)")
    if opts.workdir is None:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
