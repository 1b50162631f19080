"""Test data for ``benchmarks/run.py``: random files, small-file trees, repositories, frames.

Everything here is set-up, never timed. The 100k-bundle fixture is written
directly in dsdt's on-disk format (records and membership refs made with
dsdt's own classes, without fsync) because closing 100,000 bundles through
the API would take far longer than the figure it prepares.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 8 << 20
FIXTURE_VERSION = 2  # 2: records written as JSON


def make_random_file(path: Path, size: int, seed: int = 0) -> Path:
    """Write ``size`` random bytes to ``path`` (incompressible, so no filesystem tricks)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, _CHUNK)
            f.write(rng.bytes(n))
            left -= n
    return path


def make_small_files(root: Path, count: int, size: int, seed: int = 1) -> Path:
    """Create ``count`` files of ``size`` random bytes in the flat directory ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    per = max(1, (16 << 20) // size)  # 16 MiB at a time: the process stays small (a child
    for first in range(0, count, per):  # started later inherits its peak memory figure)
        n = min(per, count - first)
        blob = rng.bytes(n * size)
        for i in range(n):
            with open(root / f"f{first + i:06d}.bin", "wb") as f:
                f.write(blob[i * size:(i + 1) * size])
    return root


def read_through(path: Path) -> None:
    """Read a file once so that it sits in the page cache."""
    with open(path, "rb") as f:
        while f.read(_CHUNK):
            pass


def count_blobs(project: Path) -> int:
    """Number of files under ``<project>/.dsdt/cache/blobs``."""
    return sum(len(files) for _, _, files in os.walk(project / ".dsdt" / "cache" / "blobs"))


def new_repo(project: Path) -> Path:
    """Create a fresh dsdt repository (with context ``default``) in ``project``."""
    from dsdt.repo import Repository

    if project.exists():
        remove(project)
    Repository.init(project)
    return project


def remove(path: Path) -> None:
    """Delete a file or a directory tree (blobs are read-only files: fine on POSIX)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def make_frame(rows: int, cols: int = 10, seed: int = 2):  # type: ignore[no-untyped-def]
    """A ``rows x cols`` float64 DataFrame with columns ``c0..``."""
    import pandas as pd

    data = np.random.default_rng(seed).random((rows, cols))
    return pd.DataFrame(data, columns=[f"c{i}" for i in range(cols)])


# --- the many-bundles fixture ------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """A repository holding ``bundles`` bundles under ``names`` names in context ``default``."""

    project: Path
    bundles: int
    names: int

    @property
    def marker(self) -> Path:
        """File written once the fixture is complete and verified."""
        return self.project / "fixture.json"

    def spec(self) -> dict[str, int]:
        """What the marker must say for the fixture to be reused."""
        return {"version": FIXTURE_VERSION, "bundles": self.bundles, "names": self.names}

    def name_of(self, i: int) -> str:
        """Name of bundle number ``i``."""
        return f"series-{i % self.names:05d}"


def ensure_fixture(base: Path, bundles: int, names: int) -> Fixture:
    """Return the fixture under ``base``, building (and verifying) it if needed."""
    fx = Fixture(base / f"bundles-{bundles}-{names}", bundles, names)
    try:
        if json.loads(fx.marker.read_text()) == fx.spec():
            return fx
    except (OSError, ValueError):
        pass
    t0 = time.perf_counter()
    new_repo(fx.project)
    expected = _write_bundles(fx)
    _wait_until_settled(fx.project / ".dsdt" / "refs")
    _verify(fx, expected)
    fx.marker.write_text(json.dumps(fx.spec()))
    print(f"# built fixture {fx.project} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return fx


def _write_bundles(fx: Fixture) -> dict[str, tuple[str, int]]:
    """Write the records and membership refs; return the latest ``(uuid, value)`` per name."""
    from dsdt.bundle import default_processing_name
    from dsdt.objects.ids import new_uuid, sha256_bytes
    from dsdt.objects.record import BundleRecord, Lineage
    from dsdt.repo import Repository

    repo = Repository(fx.project / ".dsdt")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    latest: dict[str, tuple[str, int]] = {}
    made_dirs: set[Path] = set()
    for i in range(fx.bundles):
        name, uuid = fx.name_of(i), new_uuid()
        rec = BundleRecord(
            uuid=uuid, name=name, processing_name=default_processing_name(name, "", {}, ()),
            owner="bench", created=(start + timedelta(seconds=i)).isoformat(
                timespec="microseconds"),
            data={"type": "int", "value": i}, presentation="SCALAR", lineage=Lineage())
        data = rec.to_yaml()
        _write(repo.record_path(uuid), data, 0o444, made_dirs)
        ref = repo.refs.path(Repository.member_ref("default", uuid))
        _write(ref, (sha256_bytes(data) + "\n").encode(), 0o644, made_dirs)
        latest[name] = (uuid, i)
    return latest


def _write(path: Path, data: bytes, mode: int, made_dirs: set[Path]) -> None:
    if path.parent not in made_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        made_dirs.add(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _wait_until_settled(refs: Path, age_s: float = 2.1) -> None:
    """Wait until every shard directory is older than the index's racy window (2 s).

    A user's ``ls`` happens long after the bundles were made; an index built
    sooner would re-read the youngest shards on the next query.
    """
    newest = max(os.stat(d).st_mtime for d, _, _ in os.walk(refs))
    delay = newest + age_s - time.time()
    if delay > 0:
        time.sleep(delay)


def _verify(fx: Fixture, expected: dict[str, tuple[str, int]]) -> None:
    """Check a few names through the public API (this also builds the index)."""
    code = (
        "import json, sys\n"
        "from dsdt import api\n"
        "for name, (uuid, value) in json.loads(sys.argv[1]).items():\n"
        "    b = api.get('default', name)\n"
        "    assert b is not None and b.uuid == uuid and b.data == value, (name, b)\n"
    )
    names = sorted(expected)
    sample = {n: expected[n] for n in (names[0], names[len(names) // 2], names[-1])}
    env = {**os.environ, "DSDT_DIR": str(fx.project / ".dsdt")}
    subprocess.run([sys.executable, "-c", code, json.dumps(sample)], env=env, check=True,
                   cwd=fx.project)


HEAVY = {"add_1gib", "index_rebuild"}  # timed once by default (their limits still use 3 runs)
SETTLE_S = 0.2  # wait after creating files, so dsdt's stat cache may trust their mtimes


@dataclass
class Env:
    """Sizes, directories and data shared between figures (made lazily, once)."""

    scratch: Path
    fixtures: Path
    sizes: dict[str, int]
    runs: int | None
    cache: dict[str, Any] = field(default_factory=dict)

    def runs_for(self, name: str) -> int:
        """How many timed runs a figure gets."""
        return self.runs or (1 if name in HEAVY else 3)

    def big_file(self) -> Path:
        """The large random file of ``add_1gib``."""
        if "big" not in self.cache:
            self.cache["big"] = make_random_file(self.scratch / "big.bin", self.sizes["big"])
        return self.cache["big"]

    def small_dir(self) -> Path:
        """The directory of many small files, at least ``SETTLE_S`` old."""
        if "small" not in self.cache:
            d = make_small_files(self.scratch / "small", self.sizes["files"],
                                 self.sizes["file_size"])
            self.cache["small"], self.cache["small_t"] = d, time.time()
        time.sleep(max(0.0, self.cache["small_t"] + SETTLE_S - time.time()))
        return self.cache["small"]

    def frame(self) -> Any:
        """The float64 DataFrame of the ``df_*`` figures."""
        if "frame" not in self.cache:
            self.cache["frame"] = make_frame(self.sizes["rows"])
        return self.cache["frame"]
