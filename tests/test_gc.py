"""gc keeps everything reachable and removes the rest, also while others write; du."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import CorruptObjectError
from dsdt.repo import Repository


def set_config(project: Path, key: str, value: str) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    lines = [f"{key}: {value}" if line.startswith(f"{key}:") else line
             for line in cfg.read_text().splitlines()]
    cfg.write_text("\n".join(lines) + "\n")
    Repository.forget()


def make_some(ctx: str, project: Path) -> dict[str, api.Bundle]:
    d = project / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("A" * 5000)
    (d / "sub" / "b.txt").write_text("B" * 5000)
    old = api.Bundle(ctx, name="bytes", data=b"old" * 9000)
    return {
        "frame": api.Bundle(ctx, name="frame", data=pd.DataFrame({"x": np.arange(1000)})),
        "dir": api.add(ctx, "dir", str(d)),
        "big": api.Bundle(ctx, name="big", data={f"k{i}": list(range(30)) for i in range(900)}),
        "old": old,
        "bytes": api.Bundle(ctx, name="bytes", data=b"q" * 9000),
    }


def test_gc_keeps_reachable_removes_the_rest(ctx: str, project: Path) -> None:
    made = make_some(ctx, project)
    assert api.gc().blobs == []  # nothing unreferenced yet
    api.rm(ctx, "bytes", rm_old_only=True)
    api.rm(ctx, "frame")
    dry = api.gc(dry_run=True)
    assert dry.dry_run and len(dry.blobs) == 2 and dry.bytes >= 27_000
    assert sorted(dry.records) == sorted([made["old"].uuid, made["frame"].uuid])
    # a dry run removes nothing
    assert Repository.current().blobs.has(made["old"].record.data["blob"])
    done = api.gc()
    assert sorted(done.blobs) == sorted(dry.blobs) and done.bytes == dry.bytes
    assert not Repository.current().blobs.has(made["old"].record.data["blob"])
    report = api.fsck()
    assert report.ok and report.warnings == [], report.warnings
    assert sorted(Path(p).read_text()[:1] for p in api.cat(ctx, "dir")) == ["A", "B"]
    assert api.cat(ctx, "big")["k3"] == list(range(30))  # a packed value and its blob survive
    assert api.cat(ctx, "bytes") == b"q" * 9000


def test_shared_data_survives(ctx: str) -> None:
    shared = b"s" * 9000
    gone = api.Bundle(ctx, name="gone", data=shared)
    api.context("other")
    api.Bundle("other", name="kept", data=[shared])
    api.rm(ctx, "gone")
    report = api.gc()
    assert report.blobs == [] and report.records == [gone.uuid]
    assert api.cat("other", "kept") == [shared]


def test_open_bundle_survives_gc(ctx: str) -> None:
    with api.Bundle(ctx, "open") as b:
        path = Path(b.get_file("work.txt"))
        path.write_text("in progress")
        api.gc()
        assert path.read_text() == "in progress"
        b.add_data(str(path))
    assert Path(api.cat(ctx, "open")).read_text() == "in progress"
    assert_fsck_clean()


def test_an_open_bundles_local_dir_survives_gc_and_a_bundle_of_values_makes_none(
        ctx: str, project: Path) -> None:
    cache = project / ".dsdt" / "cache"
    with api.Bundle(ctx, "open") as b:
        path = Path(b.local_dir) / "direct.txt"  # Disdat code writes there directly
        path.write_text("in progress")
        api.gc()
        assert path.read_text() == "in progress"
        b.add_data(str(path))
    assert Path(api.cat(ctx, "open")).read_text() == "in progress"
    values = api.Bundle(ctx, name="values", data={"a": [1, 2]})
    assert not (cache / "views" / values.uuid).exists()  # nothing to present: no view made
    assert list((cache / "open").iterdir()) == []
    assert_fsck_clean()


def test_gc_refuses_with_a_corrupt_member(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=b"x" * 5000)
    rec = project / ".dsdt" / "records" / b.uuid[:2] / f"{b.uuid}.yaml"
    rec.chmod(0o644)
    rec.write_text(rec.read_text() + "\n# edited\n")
    with pytest.raises(CorruptObjectError, match="fsck"):
        api.gc()
    assert Repository.current().blobs.has(b.record.data["blob"])


def test_gc_after_rm(ctx: str, project: Path) -> None:
    set_config(project, "gc_after_rm", "true")
    b = api.Bundle(ctx, name="x", data=b"z" * 9000)
    api.rm(ctx, "x")
    assert not Repository.current().blobs.has(b.record.data["blob"])


def test_du(ctx: str) -> None:
    shared = b"d" * 10_000
    api.Bundle(ctx, name="a", data=shared)
    api.Bundle(ctx, name="a", data=[shared, b"e" * 5000])
    api.Bundle(ctx, name="b", data=b"f" * 5000)
    api.Bundle(ctx, name="c", data=b"inline")  # small bytes live in the record: no blob
    usage = api.du(ctx)
    names = {u.name: u for u in usage.names}
    assert (names["a"].bundles, names["a"].apparent, names["a"].unique) == (2, 25_000, 15_000)
    assert names["b"].unique == 5000 and names["c"].unique == 0
    [total] = usage.contexts
    assert (total.bundles, total.apparent, total.unique) == (4, 30_000, 20_000)
    assert usage.total_unique == 20_000


def test_du_counts_only_what_is_here(ctx: str, tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    api.remote(ctx, "shared", str(remote))
    api.Bundle(ctx, name="big", data=b"b" * 20_000).commit()
    api.push(ctx, delocalize=True)
    [total] = api.du(ctx).contexts
    assert (total.apparent, total.unique) == (20_000, 0)  # on the remote, not on this disk


def _writer(root: str, ctx: str, worker: int, count: int) -> None:
    os.environ["DSDT_DIR"] = root
    Repository.forget()
    for i in range(count):
        b = api.Bundle(ctx, name=f"w{worker}", data={"i": i, "blob": bytes([worker, i]) * 3000})
        if i % 3 == 0:
            api.rm(ctx, uuid=b.uuid)  # some garbage for gc to find


@pytest.mark.slow
def test_gc_racing_four_writers_loses_nothing(ctx: str, project: Path) -> None:
    root = str(project / ".dsdt")
    mp = multiprocessing.get_context("fork")
    procs = [mp.Process(target=_writer, args=(root, ctx, w, 30)) for w in range(4)]
    for p in procs:
        p.start()
    rounds = 0
    while any(p.is_alive() for p in procs) and rounds < 500:
        api.gc()
        rounds += 1
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    api.gc()
    assert rounds > 0
    found = api.search(ctx)
    assert len(found) == 4 * 20
    for b in found:
        data = b.data
        assert data["blob"] == bytes([int(b.name[1:]), data["i"]]) * 3000
    report = api.fsck()
    assert report.ok and report.warnings == [], (report.errors, report.warnings)


def test_gc_removes_ref_temp_files_a_dead_writer_left(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    shard = project / ".dsdt" / "refs" / "contexts" / ctx / "bundles" / b.uuid[:2]
    dead, live = shard / f".{b.uuid}.0a1b2c3d4e5f.tmp", shard / f".{b.uuid}.9f8e7d6c5b4a.tmp"
    dead.write_text("x\n")
    live.write_text("x\n")
    os.utime(dead, (time.time() - 7200,) * 2)  # a writer killed two hours ago
    api.gc()
    assert not dead.exists() and live.exists()  # a writer may still be linking this one
    assert api.get(ctx, "x").data == 1
