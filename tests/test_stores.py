"""One contract suite for the ref stores and the blob stores: on disk and in memory."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from dsdt._fs import Confined
from dsdt.errors import ConflictError, CorruptObjectError, NotFoundError, PlantedPathError
from dsdt.objects import flushbatch
from dsdt.objects.blobs import Blobs, BlobStore, MemoryBlobStore
from dsdt.refs.store import MemoryRefStore, Refs, RefStore


@pytest.fixture(params=["disk", "memory"])
def refs(request: pytest.FixtureRequest, tmp_path: Path) -> Refs:
    return RefStore(tmp_path) if request.param == "disk" else MemoryRefStore()


@pytest.fixture(params=["disk", "memory"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    if request.param == "disk":
        return BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    return MemoryBlobStore()


# -- refs --------------------------------------------------------------------------------


def test_create_read_swap_delete(refs: Refs) -> None:
    assert refs.read("refs/a") is None
    refs.create("refs/a", "one")
    assert refs.read("refs/a") == "one"
    with pytest.raises(ConflictError):
        refs.create("refs/a", "again")
    refs.swap("refs/a", "one", "two")
    assert refs.read("refs/a") == "two"
    with pytest.raises(ConflictError):
        refs.swap("refs/a", "one", "three")  # a stale expected value
    assert refs.read("refs/a") == "two"
    with pytest.raises(ConflictError):
        refs.delete("refs/a", expected="one")
    assert refs.delete("refs/a", expected="two") is True
    assert refs.delete("refs/a") is False
    assert refs.read("refs/a") is None


def test_swap_to_none_deletes_and_from_none_creates(refs: Refs) -> None:
    refs.swap("HEAD", None, "main")
    refs.swap("HEAD", "main", None)
    assert refs.read("HEAD") is None
    with pytest.raises(ConflictError):
        refs.swap("HEAD", "main", "x")  # expected a value that is not there


def test_names_below_a_prefix(refs: Refs) -> None:
    for name in ("refs/contexts/a/bundles/ab/1", "refs/contexts/a/bundles/cd/2",
                 "refs/contexts/b/bundles/ab/3", "HEAD"):
        refs.create(name, "x")
    assert sorted(refs.names("refs/contexts/a/bundles")) == [
        "refs/contexts/a/bundles/ab/1", "refs/contexts/a/bundles/cd/2"]
    assert list(refs.names("refs/nothing")) == []


def test_concurrent_compare_and_swap_loses_nothing(refs: Refs) -> None:
    refs.create("refs/counter", "0")

    def add(times: int) -> None:
        done = 0
        while done < times:
            value = refs.read("refs/counter")
            try:
                refs.swap("refs/counter", value, str(int(value or 0) + 1))
            except ConflictError:
                continue
            done += 1

    threads = [threading.Thread(target=add, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refs.read("refs/counter") == "100"


def test_racing_creations_of_a_ref_leave_exactly_one_winner(refs: Refs) -> None:
    """A creation takes no lock: it must still lose to, and beat, locked changes fairly."""
    for round_ in range(20):
        name = f"refs/contexts/c/bundles/ab/{round_}"
        wins: list[str] = []
        start = threading.Barrier(4)

        def make(value: str, locked: bool, name: str = name, wins: list[str] = wins,
                 start: threading.Barrier = start) -> None:
            start.wait()
            try:
                if locked:
                    refs.swap(name, None, value)
                else:
                    refs.create(name, value)
                wins.append(value)
            except ConflictError:
                pass

        threads = [threading.Thread(target=make, args=(str(i), i % 2 == 0)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and refs.read(name) == wins[0]
        with pytest.raises(ConflictError):
            refs.create(name, "late")


# -- blobs -------------------------------------------------------------------------------


def test_put_is_by_content_and_idempotent(blobs: Blobs) -> None:
    blob_id = blobs.put_bytes(b"hello")
    assert blob_id == hashlib.sha256(b"hello").hexdigest()
    assert blobs.put_bytes(b"hello") == blob_id
    assert blobs.has(blob_id) and blobs.size(blob_id) == 5
    assert blobs.read(blob_id) == b"hello"
    assert list(blobs) == [blob_id]
    assert blobs.verify(blob_id)
    blobs.check(blob_id)


def test_reads_are_capped_and_missing_blobs_are_errors(blobs: Blobs) -> None:
    blob_id = blobs.put_bytes(b"x" * 100)
    assert blobs.read(blob_id, limit=100) == b"x" * 100
    with pytest.raises(CorruptObjectError):
        blobs.read(blob_id, limit=99)
    missing = "0" * 64
    assert not blobs.has(missing)
    with pytest.raises(NotFoundError):
        blobs.read(missing)
    with pytest.raises(NotFoundError):
        blobs.check(missing)


def test_put_verified_keeps_nothing_that_does_not_match(blobs: Blobs) -> None:
    good = hashlib.sha256(b"right").hexdigest()
    with pytest.raises(CorruptObjectError, match="arrived with sha256"):
        blobs.put_verified(b"wrong", good)
    assert not blobs.has(good) and list(blobs) == []
    blobs.put_verified(b"right", good)
    assert blobs.read(good) == b"right"


def test_concurrent_writers_of_one_blob(blobs: Blobs) -> None:
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(blobs.put_bytes(b"same" * 1000)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and list(blobs) == ids[:1]


# --- batched durability: sync=False writes ----------------------------------------------------


def test_a_batch_reaches_its_names_only_when_flushed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    ids = [store.put_bytes(f"blob {i}".encode(), sync=False) for i in range(50)]
    assert store.put_bytes(b"blob 7", sync=False) == ids[7]  # a duplicate in the batch
    assert all(store.has(b) for b in ids)
    assert not any(store.path(b).exists() for b in ids)  # nothing named before its flush
    assert store.size(ids[3]) == len(b"blob 3")  # asking flushes the batch first
    assert all(store.sealed(b) for b in ids) and sorted(store) == sorted(ids)
    assert [p for p in (tmp_path / "blobs").rglob(".*")] == []  # no temp file left


def test_every_file_of_a_batch_is_flushed_before_any_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    flushed: list[str] = []
    real = flushbatch.fsync_path
    monkeypatch.setattr(flushbatch, "fsync_path", lambda p: (real(p), flushed.append(str(p))))
    placed: list[int] = []
    rename = store._rename
    monkeypatch.setattr(store, "_rename", lambda b, t: (placed.append(len(flushed)),
                                                       rename(b, t))[1])
    ids = [store.put_bytes(f"blob {i}".encode(), sync=False) for i in range(37)]  # 2 chunks + 5
    store.sync()
    assert len(set(flushed)) == 37 and placed == [37] * 37  # all flushed, then all renamed
    assert all(store.sealed(b) for b in ids)


def test_reading_a_blob_of_the_batch_flushes_the_batch(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    first = store.put_bytes(b"first", sync=False)
    second = store.put_bytes(b"second", sync=False)
    assert store.read(first) == b"first"
    assert store.sealed(second)  # the whole batch went in


def test_a_failed_flush_puts_nothing_in_place(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import dsdt.objects.flushbatch as flushbatch

    def broken(path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(flushbatch, "fsync_path", broken)
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    blob = store.put_bytes(b"lost", sync=False)
    with pytest.raises(OSError, match="Input/output"):
        store.sync()
    assert not store.has(blob) and not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]


def test_a_forked_child_flushes_on_its_own_threads(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    store.put_bytes(b"parent", sync=False)
    store.sync()  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            store.sync()  # nothing pending: fine
            store.put_bytes(b"child", sync=False)
            store.sync()  # a pool inherited from the parent has no threads: it would hang
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child hung flushing its batch")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert store.has(hashlib.sha256(b"child").hexdigest())


def test_a_synced_write_of_a_blob_in_another_batch_waits_for_its_flush(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    blob = store.put_bytes(b"shared", sync=False)  # a batch writer's, not yet in place
    assert store.put_bytes(b"shared", sync=True) == blob
    assert store.sealed(blob)  # a synced writer returns only once the blob is durable


def test_readers_never_miss_a_blob_while_its_batch_is_flushed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dsdt.objects.flushbatch as flushbatch

    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    blobs = [store.put_bytes(f"b{i}".encode(), sync=False) for i in range(30)]
    slow = flushbatch.fsync_dir

    def slow_dir(path: Path) -> None:  # the window between renames and leaving the batch
        time.sleep(0.05)
        slow(path)

    monkeypatch.setattr(flushbatch, "fsync_dir", slow_dir)
    flusher = threading.Thread(target=store.sync)
    flusher.start()
    seen = [store.read(b) for b in blobs]  # each waits for the flush in progress, never fails
    flusher.join()
    assert seen == [f"b{i}".encode() for i in range(30)]
    assert all(store.size(b) == len(f"b{i}") for i, b in enumerate(blobs))


def test_a_forked_child_leaves_its_parents_batch_alone(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", tmp_path / "tmp")
    parents = store.put_bytes(b"the parent's", sync=False)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = parents not in store._batch and not store.has(parents)
            store.put_bytes(b"the child's", sync=False)
            store.sync()  # renames only the child's own file
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    store.sync()
    assert store.read(parents) == b"the parent's"
    assert store.read(hashlib.sha256(b"the child's").hexdigest()) == b"the child's"


# -- confined directories -----------------------------------------------------------------


def test_a_confined_directory_is_refused_through_a_symlink_however_it_is_reached(
        tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "records").mkdir(parents=True)
    outside.mkdir()
    confined = Confined(root)
    assert confined.dir(root / "records") == root / "records"
    (root / "records" / "ab").symlink_to(outside)  # below a checked directory
    with pytest.raises(CorruptObjectError, match="symlink"):
        confined.dir(root / "records" / "ab")
    absent = root / "cache" / "views"
    assert confined.dir(absent) == absent  # not there yet: nothing to follow
    (root / "cache").symlink_to(outside)  # made a symlink after that check
    with pytest.raises(CorruptObjectError, match="symlink"):
        confined.dir(absent)
    with pytest.raises(CorruptObjectError, match="symlink"):
        confined.dir(root / "records" / ".." / "..")  # out of the root


def test_a_file_with_the_inode_number_of_a_checked_directory_is_refused(tmp_path: Path) -> None:
    """A directory removed and a file made in its place may get its inode number back."""
    root = tmp_path / "root"
    shard = root / "records" / "ab"
    shard.mkdir(parents=True)
    confined = Confined(root)
    assert confined.dir(shard) == shard
    shard.rmdir()
    shard.write_text("planted\n")
    st = shard.stat()
    confined._checked[str(shard)] = (st.st_dev, st.st_ino)  # as if the number came back
    with pytest.raises(PlantedPathError, match=f"{shard} is not a directory"):
        confined.dir(shard)
