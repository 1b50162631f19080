"""The derived index stays correct whatever route records arrive by; git merges cleanly."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.refs.store import RefStore
from dsdt.repo import Repository


def copy_metadata(src: Path, dst: Path) -> None:
    """What a `git pull` does: bring in record and ref files (not the cache)."""
    for sub in ("records", "refs"):
        shutil.copytree(src / ".dsdt" / sub, dst / ".dsdt" / sub, dirs_exist_ok=True)


def test_records_copied_in_are_seen_at_once(project: Path,
                                            tmp_path_factory: pytest.TempPathFactory,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    api.Bundle("default", name="mine", data=1)
    assert [b.name for b in api.search("default")] == ["mine"]  # index built now
    other = tmp_path_factory.mktemp("other")
    monkeypatch.chdir(other)
    api.init(other)
    theirs = api.Bundle("default", name="theirs", data=2)
    monkeypatch.chdir(project)
    copy_metadata(other, project)
    assert sorted(b.name for b in api.search("default")) == ["mine", "theirs"]
    assert api.get("default", "theirs").uuid == theirs.uuid


def test_refs_removed_behind_its_back(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    assert api.get(ctx, "x") is not None
    RefStore(project / ".dsdt").delete(f"refs/contexts/{ctx}/bundles/{b.uuid[:2]}/{b.uuid}")
    assert api.get(ctx, "x") is None


def test_index_is_disposable(ctx: str, project: Path) -> None:
    for i in range(5):
        api.Bundle(ctx, name=f"n{i}", data=i)
    assert len(api.search(ctx)) == 5
    repo = Repository.current()
    repo.index.close()
    for p in (project / ".dsdt" / "cache").glob("db-*/index.sqlite*"):
        p.unlink()
    assert len(api.search(ctx)) == 5


def test_many_bundles_one_refresh(ctx: str) -> None:
    for i in range(300):
        api.Bundle(ctx, name=f"n{i % 7}", data=i)
    assert len(api.search(ctx)) == 300
    assert len(api.search(ctx, latest_per_name=True)) == 7
    assert_fsck_clean()


GIT = shutil.which("git")


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.skipif(GIT is None, reason="the git binary is only used to prove merges")
def test_two_branches_adding_bundles_merge_without_conflicts(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    api.Bundle("default", name="base", data=0)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "base")
    assert ".dsdt/cache" not in git(project, "ls-files")
    git(project, "checkout", "-qb", "alice")
    for i in range(3):
        api.Bundle("default", name="scores", data=i).commit()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "alice")
    git(project, "checkout", "-q", "main")
    for i in range(3):
        api.Bundle("default", name="scores", data=10 + i).commit()
    api.context("bobs")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "bob")
    git(project, "merge", "-q", "--no-edit", "alice")  # raises on a conflict
    assert len(api.search("default", "scores")) == 6
    assert len(api.search("default", "scores", is_committed=True)) == 6
    assert "bobs" in api.ls_contexts()
    assert_fsck_clean()


def test_threads_share_a_repository(ctx: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> int:
        api.Bundle(ctx, name=f"t{i % 3}", data=list(range(i)))
        return len(api.search(ctx))

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(work, range(40)))
    assert max(counts) == 40 and len(api.search(ctx)) == 40
    assert_fsck_clean()


def test_dependents_from_the_index(ctx: str) -> None:
    a = api.Bundle(ctx, name="a", data=1)
    with api.Bundle(ctx, "b") as b:
        b.add_data(2)
        b.add_dependencies(a, ["x"])
    with api.Bundle(ctx, "c") as c:
        c.add_data(3)
        c.add_dependencies([a, b], ["x", "y"])
    got = Repository.current().index.dependents(ctx, [a.uuid, b.uuid, c.uuid])
    assert sorted(got[a.uuid]) == sorted([b.uuid, c.uuid])
    assert got[b.uuid] == [c.uuid] and got[c.uuid] == []


# --- the first build of a fresh clone ---------------------------------------------------


def _drop_index(project: Path) -> None:
    Repository.current().index.close()
    for p in (project / ".dsdt" / "cache").glob("db-*/index.sqlite*"):
        p.unlink()


def _sql_indexes(repo: Repository) -> set[str]:
    rows = repo.index.connect().execute("SELECT name FROM sqlite_master WHERE type='index'")
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def test_a_first_build_makes_every_index_and_answers_alike(ctx: str, project: Path) -> None:
    import dsdt.index as index

    made = [api.Bundle(ctx, name=f"n{i % 3}", data=i, tags={"k": str(i % 2)}) for i in range(40)]
    before = [(b.uuid, b.name) for b in api.search(ctx)]
    _drop_index(project)
    assert [(b.uuid, b.name) for b in api.search(ctx)] == before
    assert _sql_indexes(Repository.current()) == set(index._INDEXES)
    assert {b.uuid for b in api.search(ctx, tags={"k": "1"})} == {
        b.uuid for i, b in enumerate(made) if i % 2}


def test_an_interrupted_first_build_leaves_the_index_whole(
        ctx: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import dsdt.index as index
    from dsdt.members import RecordReader

    for i in range(20):
        api.Bundle(ctx, name=f"n{i}", data=i)
    _drop_index(project)
    calls = 0
    real = RecordReader.read_checked

    def dies_midway(self: RecordReader, uuid: str, sha: str | None = None) -> dict[str, object]:
        nonlocal calls
        calls += 1
        if calls == 10:
            raise KeyboardInterrupt
        return real(self, uuid, sha)

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(RecordReader, "read_checked", dies_midway)
        api.search(ctx)
    assert gc.isenabled()  # paused for the build only
    assert _sql_indexes(Repository.current()) == set(index._INDEXES)  # the drops rolled back
    assert len(api.search(ctx)) == 20


def test_a_rebuild_reports_its_progress_to_the_end_also_when_it_fails(
        ctx: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.index import Index
    from dsdt.members import RecordReader

    for i in range(40):
        api.Bundle(ctx, name=f"n{i}", data=i)
    _drop_index(project)
    monkeypatch.setattr(Index, "progress", None)
    seen: list[tuple[int, int]] = []
    api.on_index_progress(lambda done, total: seen.append((done, total)))
    assert len(api.search(ctx)) == 40
    total = seen[-1][1]
    assert total >= 20 and seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    _drop_index(project)
    monkeypatch.setattr(RecordReader, "read_checked", lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        api.search(ctx)
    assert seen[0] == (0, total) and seen[-1] == (total, total)  # a bar drawn from it ends
    api.on_index_progress(None)
    assert Index.progress is None


@pytest.mark.parametrize("plant", ["fifo", "other shard", "not a uuid"])
def test_a_bad_ref_leaves_out_only_itself_not_its_shard(ctx: str, project: Path,
                                                         plant: str) -> None:
    import os
    import uuid

    good = api.Bundle(ctx, name="good", data=1)
    other = "0" if good.uuid[0] != "0" else "1"
    name = {"fifo": good.uuid[:2] + str(uuid.uuid4())[2:], "not a uuid": good.uuid[:2] + "x",
            "other shard": other + str(uuid.uuid4())[1:]}[plant]
    bad = project / ".dsdt/refs/contexts" / ctx / "bundles" / good.uuid[:2] / name
    if plant == "fifo":
        os.mkfifo(bad)
    else:
        bad.write_text("0" * 64 + "\n")
    _drop_index(project)
    assert [b.uuid for b in api.search(ctx)] == [good.uuid]
    assert any(name in e for e in api.fsck().errors)
    assert api.catalog(ctx).skipped == 1  # ui --export and the pages say one was left out


@pytest.mark.parametrize("plant", ["fifo", "directory", "symlink", "huge"])
def test_a_planted_ref_or_record_is_reported_never_read(
        ctx: str, project: Path, tmp_path: Path, plant: str) -> None:
    import os

    from hostile import within

    good = api.Bundle(ctx, name="good", data=1)
    bad = api.Bundle(ctx, name="bad", data=2)
    secret = tmp_path / "secret"
    secret.write_text("s" * 100)
    for path in (project / ".dsdt/records" / bad.uuid[:2] / f"{bad.uuid}.yaml",
                 project / ".dsdt/refs/contexts" / ctx / "bundles" / bad.uuid[:2] / bad.uuid):
        _drop_index(project)
        saved = path.read_bytes()
        path.unlink()
        {"fifo": lambda p=path: os.mkfifo(p), "directory": path.mkdir,
         "symlink": lambda p=path: p.symlink_to(secret),
         "huge": lambda p=path: p.write_bytes(b"{" + b" " * (9 << 20))}[plant]()
        with within(10):
            assert [b.uuid for b in api.search(ctx)] == [good.uuid]
            assert not api.fsck().ok
        (path.rmdir if plant == "directory" else path.unlink)()
        path.write_bytes(saved)
        _drop_index(project)
        assert {b.uuid for b in api.search(ctx)} == {good.uuid, bad.uuid}


def test_records_larger_than_one_read_are_read_whole(ctx: str, project: Path) -> None:
    tags = {f"t{i}": "v" * 200 for i in range(400)}  # an 80 KiB record
    b = api.Bundle(ctx, name="wide", data=1, tags=tags)
    _drop_index(project)
    assert api.get(ctx, "wide").uuid == b.uuid
    assert api.search(ctx, tags={"t399": "v" * 200})[0].uuid == b.uuid


def test_a_ref_in_the_wrong_shard_is_left_out_and_reported(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="evil", data=1)
    refs = project / ".dsdt/refs/contexts" / ctx / "bundles"
    other = "ff" if b.uuid[:2] != "ff" else "00"
    (refs / other).mkdir(exist_ok=True)
    (refs / b.uuid[:2] / b.uuid).rename(refs / other / b.uuid)
    _drop_index(project)
    assert api.search(ctx) == []
    assert api.get(ctx, "evil") is None
    assert any("not a bundle uuid of this shard" in e or "right shard" in e
               for e in api.fsck().errors)


def test_a_ref_rewritten_to_bad_content_drops_its_bundle_from_a_warm_index(
        ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    assert api.get(ctx, "x") is not None  # the index is warm
    ref = project / ".dsdt/refs/contexts" / ctx / "bundles" / b.uuid[:2] / b.uuid
    sha = ref.read_text().strip()
    tmp = ref.with_name(".tmp")
    tmp.write_text(f"sha256:{sha}\n")
    tmp.replace(ref)  # as git writes it: the shard directory changes
    assert api.get(ctx, "x") is None and api.search(ctx) == []


def test_threads_opening_a_new_index_together_wait_for_each_other(tmp_path: Path) -> None:
    """Making a new database WAL takes a lock SQLite refuses at once, without waiting."""
    import threading

    from dsdt._db import LocalConnection

    def setup(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS t(x)")

    errors: list[BaseException] = []
    for round_ in range(60):
        conn = LocalConnection(tmp_path / f"r{round_}" / "index.sqlite", setup)
        start = threading.Barrier(8)

        def open_it(conn: LocalConnection = conn, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                conn.get().execute("INSERT INTO t VALUES (1)")
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


@pytest.mark.parametrize("alone", [True, False])
def test_a_first_build_writes_pages_once_when_it_is_alone_and_leaves_wal_mode_on(
        ctx: str, project: Path, monkeypatch: pytest.MonkeyPatch, alone: bool) -> None:
    """Alone, a first build writes through a rollback journal (no log: each page once);
    beside another connection it cannot leave WAL mode and writes through the log."""
    import dsdt.index as index
    from dsdt.index import Index

    for i in range(30):
        api.Bundle(ctx, name=f"n{i}", data=i)
    _drop_index(project)
    monkeypatch.setattr(index, "_BULK_SHARDS", 3)  # 30 bundles: about 28 shards
    repo = Repository.current()
    repo.index.connect()  # the new database, without a build yet
    db_file = repo.index.handle.path
    other = None if alone else sqlite3.connect(db_file, isolation_level=None)
    if other is not None:
        other.execute("SELECT * FROM meta").fetchall()  # it has the file open
    logs: list[bool] = []
    monkeypatch.setattr(Index, "progress", lambda done, total: logs.append(
        Path(f"{db_file}-wal").exists()))
    assert len(api.search(ctx)) == 30
    assert logs and all(log is not alone for log in logs)
    mode = repo.index.connect().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    if other is not None:
        assert len(other.execute("SELECT * FROM members").fetchall()) == 30
        other.close()
