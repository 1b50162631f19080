"""Records, refs and blobs from git or a remote are untrusted input.

One test (or a few) per finding of the attack on a shared remote and a git
branch: nothing outside ``.dsdt/`` is touched, nothing hangs, nothing is
lost, and every failure is one line with its exit code.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clirun import dsdt_cli, fails, ok
from hostile import (
    bomb_record,
    dump,
    plant_local,
    plant_remote,
    put_blob,
    record,
    set_remote_entry,
    sha,
    snapshot,
    within,
)

import dsdt.api as api
from dsdt.errors import BundleStateError, CorruptObjectError, LockError
from dsdt.remote import push
from dsdt.remote.layout import ROOT_DIRS, SHARDED_DIRS
from dsdt.repo import Repository


@pytest.fixture
def victim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files outside the repository that an attacker would like to read, delete or overwrite."""
    d = tmp_path_factory.mktemp("victim")
    (d / "notes.txt").write_text("alice's private notes\n")
    (d / "keys").mkdir()
    (d / "keys" / "id").write_text("secret key\n")
    return d


@pytest.fixture
def remote_dir(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory remote bound to context ``default`` as remote context ``shared``."""
    d = tmp_path_factory.mktemp("remote")
    api.remote("default", "shared", str(d))
    return d


def _dsdt(project: Path) -> Path:
    return project / ".dsdt"


def _view(project: Path, uuid: str) -> Path:
    return _dsdt(project) / "cache" / "views" / uuid


def _local_blob(data: bytes) -> str:
    """Put bytes into the local blob store (the attacker's record can name them)."""
    return Repository.current().blobs.put_bytes(data)


# 1. path traversal -------------------------------------------------------------


def _traversal_records(project: Path, victim: Path) -> list[tuple[str, bytes]]:
    blob = _local_blob(b"attacker bytes")
    out = []
    for path in (os.path.relpath(victim / "notes.txt", _view(project, "x" * 36)),
                 str(victim / "notes.txt"), "sub/../../../x"):
        rec = record({"type": "file", "path": path, "blob": blob, "size": 14, "exec": False})
        out.append((rec["uuid"], dump(rec)))
    tree = json.dumps({"files": [[os.path.relpath(victim / "keys" / "id",
                                                  _view(project, "x" * 36) / "d"),
                                  blob, 14, False]], "dirs": []}).encode()
    tree_id = _local_blob(tree)
    rec = record({"type": "directory", "path": "d", "tree": tree_id, "files": 1, "size": 14,
                  "as": "path"})
    out.append((rec["uuid"], dump(rec)))
    return out


def test_path_traversal_from_git_touches_nothing_outside(project: Path, victim: Path) -> None:
    before = snapshot(victim)
    for uuid, text in _traversal_records(project, victim):
        plant_local(_dsdt(project), "default", text, uuid)
        assert dsdt_cli("cat", "-u", uuid).code != 0
        with pytest.raises(CorruptObjectError):
            api.get("default", None, uuid=uuid).data  # noqa: B018 - materialises the view
        assert any(uuid in e for e in api.fsck().errors)
    assert snapshot(victim) == before


def test_path_traversal_from_a_remote_is_refused(project: Path, victim: Path,
                                                 remote_dir: Path) -> None:
    before = snapshot(victim)
    api.Bundle("default", name="good", data=b"g" * 5000).commit()
    api.push("default")
    for uuid, text in _traversal_records(project, victim):
        plant_remote(remote_dir, "shared", text, uuid)
    assert "refused 4" in fails(9, "pull", "-l")
    assert snapshot(victim) == before
    assert api.get("default", "good").data == b"g" * 5000
    assert api.fsck().ok


# 2. blob ids are 64 hex -----------------------------------------------------------


def test_a_blob_id_never_names_a_local_file(project: Path, victim: Path) -> None:
    target = str(victim / "notes.txt")
    rec = record({"type": "bytes", "blob": target, "size": os.path.getsize(target)})
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    r = dsdt_cli("cat", "-u", rec["uuid"])
    assert r.code == 9 and "private notes" not in r.out
    assert "not 64 lower-case hex" in r.err


def test_planted_s3_key_and_push_d_delete_nothing_local(project: Path, victim: Path,
                                                        s3_bucket: tuple[str, str]) -> None:
    import boto3

    bucket, _ = s3_bucket
    api.remote("default", "shared", f"s3://{bucket}/team")
    target = str(victim / "notes.txt")
    rec = record({"type": "bytes", "blob": target, "size": os.path.getsize(target)})
    text = dump(rec)
    plant_local(_dsdt(project), "default", text, rec["uuid"])
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=f"team/blobs/{target[:2]}/{target}", Body=b"x" * 22)
    s3.put_object(Bucket=bucket, Key=f"team/records/{rec['uuid'][:2]}/{rec['uuid']}.yaml",
                  Body=text)
    ref = {"format": 1, "bundles": {rec["uuid"]: {"sha": sha(text), "name": "evil",
                                                  "created": rec["created"]}}}
    s3.put_object(Bucket=bucket, Key="team/contexts/shared/bundles.json",
                  Body=json.dumps(ref).encode())
    dsdt_cli("push", "-d")
    assert (victim / "notes.txt").read_text() == "alice's private notes\n"


# 3. push racing gc --remote -------------------------------------------------------


def _settings(project: Path, **values: object) -> None:
    cfg = _dsdt(project) / "config.yaml"
    text = cfg.read_text()
    for key, value in values.items():
        text = "\n".join(f"{key}: {value}" if line.startswith(f"{key}:") else line
                         for line in text.splitlines()) + "\n"
    cfg.write_text(text)


def _age(path: Path, seconds: float = 86_400) -> None:
    old = path.stat().st_mtime - seconds
    os.utime(path, (old, old))


def test_gc_remote_cannot_run_inside_a_push(project: Path, remote_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Push finds an old orphan blob and skips it; a gc forced in mid-push must not delete it."""
    _settings(project, lock_timeout=1, remote_gc_grace=60)
    data = b"d" * 9000
    orphan = remote_dir / "blobs" / sha(data)[:2] / sha(data)
    put_blob(remote_dir, data)
    _age(orphan)  # an orphan past the grace period: gc may collect it
    b = api.Bundle("default", name="x", data=data).commit()
    seen: list[BaseException] = []
    send_records = push._send_records

    def gc_in_the_middle(*args: object) -> None:
        try:
            api.gc(remote=True)
        except LockError as e:
            seen.append(e)
        send_records(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(push, "_send_records", gc_in_the_middle)
    api.push("default", uuid=b.uuid)
    assert orphan.exists() and len(seen) == 1 and "push" in str(seen[0])
    monkeypatch.setattr(push, "_send_records", send_records)
    api.gc(remote=True)  # after the push: the blob is referenced and stays
    assert orphan.exists() and api.fsck(remote=True).ok


def test_push_waits_for_a_running_gc_remote(project: Path, remote_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.remote import gc as remote_gc

    _settings(project, lock_timeout=1, remote_gc_grace=0)
    b = api.Bundle("default", name="x", data=b"e" * 9000).commit()
    pushed: list[BaseException] = []
    sweep = remote_gc._sweep

    def push_in_the_middle(*args: object) -> object:
        try:
            api.push("default", uuid=b.uuid)
        except LockError as e:
            pushed.append(e)
        return sweep(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(remote_gc, "_sweep", push_in_the_middle)
    api.gc(remote=True)
    assert len(pushed) == 2 and "gc or rmr" in str(pushed[0])  # one per swept prefix
    monkeypatch.setattr(remote_gc, "_sweep", sweep)
    api.push("default", uuid=b.uuid)
    assert api.fsck(remote=True).ok


def test_a_killed_lock_holder_blocks_nobody_for_long(project: Path, remote_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.remote import locks

    _settings(project, lock_timeout=1)
    stale = remote_dir / "locks" / "sweep-0123.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    b = api.Bundle("default", name="x", data=1).commit()
    with pytest.raises(LockError, match="busy"):
        api.push("default", uuid=b.uuid)
    _age(stale, locks.STALE + 60)
    api.push("default", uuid=b.uuid)
    api.gc(remote=True)
    assert not stale.exists()


def test_a_lock_dated_in_the_future_blocks_nobody(project: Path, remote_dir: Path) -> None:
    from dsdt.remote import locks

    _settings(project, lock_timeout=1)
    planted = remote_dir / "locks" / "sweep-0123.json"
    planted.parent.mkdir()
    planted.write_text("{}")
    _age(planted, -(locks.STALE + 60))  # "refreshed" half an hour from now: no clock is that far
    b = api.Bundle("default", name="x", data=1).commit()
    api.push("default", uuid=b.uuid)
    api.gc(remote=True)
    assert not planted.exists()


# 4. delocalize proves the remote bytes --------------------------------------------


def test_push_d_keeps_the_only_good_copy(loose: None, project: Path, remote_dir: Path) -> None:
    data = b"precious" * 1000
    put_blob(remote_dir, b"x" * len(data), sha(data))  # corrupt, same size, planted first
    api.Bundle("default", name="x", data=data).commit()
    assert "not its bytes" in fails(9, "push", "x", "-d")
    Repository.forget()
    assert api.get("default", "x").data == data
    r = dsdt_cli("fsck", "--remote", "--repair")  # upload the intact copy again
    assert r.code == 0 and any(line.startswith("repaired: blob ") for line in r.lines), r.out
    assert "Removed 1 local blob(s)" in ok("push", "x", "-d").out
    assert api.get("default", "x").data == data  # fetched back, intact


def test_push_d_trusts_a_blob_it_wrote_until_someone_rewrites_it(loose: None, project: Path,
                                                                  remote_dir: Path) -> None:
    data = b"mine" * 2000
    b = api.Bundle("default", name="x", data=data).commit()
    api.push("default", uuid=b.uuid)
    blob = remote_dir / "blobs" / sha(data)[:2] / sha(data)
    blob.chmod(0o644)
    blob.write_bytes(b"y" * len(data))  # rewritten in place after the push
    with pytest.raises(CorruptObjectError, match="not its bytes"):
        b.delocalize()
    blob.write_bytes(data)
    b.delocalize()  # read back, proven, dropped
    assert not Repository.current().blobs.has(sha(data))


# 5. YAML alias bombs ---------------------------------------------------------------


def test_alias_bomb_from_git_does_not_hang(project: Path) -> None:
    api.Bundle("default", name="good", data=[1, 2])
    uuid = "0f0f0f0f-0000-4000-8000-000000000001"
    assert len(bomb_record(uuid)) < 4096
    plant_local(_dsdt(project), "default", bomb_record(uuid), uuid)
    with within(20):
        assert ok("ls").lines == ["good"]
        r = dsdt_cli("fsck")
        assert r.code == 1 and "expands far beyond its size" in r.out + r.err
        assert dsdt_cli("gc").code == 9
        ok("du")
        assert dsdt_cli("cat", "-u", uuid).code == 9
        assert ok("cat", "good").out.split() == ["[", "1,", "2", "]"]


def test_alias_bomb_from_a_remote_does_not_hang(project: Path, remote_dir: Path) -> None:
    uuid = "0f0f0f0f-0000-4000-8000-000000000002"
    plant_remote(remote_dir, "shared", bomb_record(uuid), uuid, "bomb")
    with within(20):
        assert "refused 1" in fails(9, "pull")
        r = dsdt_cli("gc", "--remote")
        assert r.code == 9 and "expands far beyond its size" in r.err
        assert dsdt_cli("rmr", "-u", uuid).code == 9


# 6. downloads are capped -----------------------------------------------------------


def test_a_symlink_to_dev_zero_in_a_remote_is_refused(loose: None, project: Path, remote_dir: Path,
                                                      tmp_path: Path) -> None:
    d = tmp_path / "dir"
    d.mkdir()
    (d / "f").write_text("x")
    b = api.add("default", "d", str(d)).commit()
    api.push("default")
    [tree] = [blob for blob in Repository.current().index.member_blobs() if blob[4] == "tree"]
    shared = remote_dir / "blobs" / tree[2][:2] / tree[2]
    shared.unlink()
    shared.symlink_to("/dev/zero")
    api.rm("default", uuid=b.uuid, force=True)
    api.gc()
    with within(10):
        assert "symlink" in fails(9, "pull", "-l")
    assert sum(p.stat().st_size for p in (_dsdt(project) / "cache").rglob("*")
               if p.is_file()) < 10 << 20


def test_a_blob_larger_than_declared_is_refused(loose: None, project: Path,
                                                 remote_dir: Path) -> None:
    data = b"z" * 9000
    b = api.Bundle("default", name="x", data=data).commit()
    api.push("default", uuid=b.uuid)
    b.delocalize()
    blob = remote_dir / "blobs" / sha(data)[:2] / sha(data)
    blob.chmod(0o644)
    blob.write_bytes(data * 100)
    with pytest.raises(CorruptObjectError, match="larger than the 9000 bytes"):
        Repository.forget()
        api.get("default", "x").data  # noqa: B018 - reading it downloads


# 7. an interrupted pull resumes --------------------------------------------------------


class Killed(BaseException):
    """Stands for SIGKILL between two ref writes."""


def test_pull_killed_before_its_records_land_is_finished_by_the_next(
        project: Path, remote_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.remote import pull as pull_module

    b = api.Bundle("default", name="x", data=5).commit()
    api.push("default")
    other = tmp_path / "clone"
    api.init(other)
    monkeypatch.chdir(other)
    api.remote("default", "shared", str(remote_dir))
    fetch = pull_module._fetch_record

    def killed(*args: object) -> None:
        raise Killed

    monkeypatch.setattr(pull_module, "_fetch_record", killed)
    with pytest.raises(Killed):
        api.pull("default")
    assert api.get("default", None, uuid=b.uuid) is None  # seen on the remote, not yet pulled
    monkeypatch.setattr(pull_module, "_fetch_record", fetch)
    api.pull("default")
    pulled = api.get("default", None, uuid=b.uuid)
    assert pulled is not None and pulled.is_committed and pulled.data == 5


# 8. leftovers of killed pushes --------------------------------------------------------


def test_temp_files_of_killed_pushes_are_reported_and_collected(project: Path,
                                                                remote_dir: Path) -> None:
    _settings(project, remote_gc_grace=60)
    tmp = remote_dir / "blobs" / "ab" / ".abcd.0123456789ab.tmp"
    tmp.parent.mkdir(parents=True)
    tmp.write_bytes(b"half a blob")
    report = api.fsck(remote=True)
    assert report.ok and any("interrupted pushes" in w for w in report.warnings)
    api.gc(remote=True)
    assert tmp.exists()  # young: its push may still be running
    _age(tmp)
    [gone] = api.gc(remote=True)
    assert gone.leftovers == 1 and not tmp.exists()


# 9. one line, never a traceback -------------------------------------------------------


@pytest.mark.parametrize("name", ["index.sqlite", "stat.sqlite"])
def test_corrupt_derived_databases_rebuild_themselves(project: Path, tmp_path: Path,
                                                      name: str) -> None:
    (tmp_path / "f.txt").write_text("x")
    ok("add", "a", str(tmp_path / "f.txt"))
    ok("ls")
    repo = Repository.current()
    repo.index.close()
    repo.stat_cache._db.close()
    Repository.forget()
    from dsdt._db import cache_token

    cache = _dsdt(project) / "cache"
    db = cache / f"db-{cache_token(cache)}" / name
    db.write_bytes(b"this is not a database" * 100)
    ok("add", "b", str(tmp_path / "f.txt"))
    assert sorted(ok("ls").lines) == ["a", "b"]


def test_index_deleted_under_its_write_ahead_log(project: Path) -> None:
    api.Bundle("default", name="a", data=1)
    assert ok("ls").lines == ["a"]
    Repository.current().index.connect()  # this process keeps it open: its -wal and -shm stay
    Repository.current().index._db.path.unlink()  # the file itself, in cache/db-<token>/
    r = subprocess.run([sys.executable, "-m", "dsdt", "ls"], capture_output=True, text=True,
                       check=False, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "a\n", "")


def test_unreadable_file_in_add(project: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "secret.txt"
    f.write_text("x")
    real_open = os.open

    def denied(path: object, *args: object, **kwargs: object) -> int:
        if str(path) == str(f):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    assert "Permission denied" in fails(10, "add", "s", str(f))


def test_symlink_loops_in_add(project: Path, tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert "symlink loop" in fails(10, "add", "x", str(tmp_path / "loop"))
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").symlink_to(d / "b")
    (d / "b").symlink_to(d / "a")
    assert "symlink loop" in fails(10, "add", "x", str(d), "--follow-symlinks")


def test_deeply_nested_tree_refuses_one_bundle_not_the_pull(project: Path,
                                                            remote_dir: Path) -> None:
    deep = ('{"files": ' + "[" * 100_000 + "]" * 100_000 + ', "dirs": []}').encode()
    tree = put_blob(remote_dir, deep)
    rec = record({"type": "directory", "path": "d", "tree": tree, "files": 1, "size": 1,
                  "as": "path"})
    plant_remote(remote_dir, "shared", dump(rec), rec["uuid"])
    good = record({"type": "int", "value": 7}, name="good")
    plant_remote(remote_dir, "shared", dump(good), good["uuid"], "good")
    assert "refused 1" in fails(9, "pull")
    assert api.get("default", "good").data == 7


def test_a_non_string_name_in_a_remote_ref(project: Path, remote_dir: Path) -> None:
    rec = record()
    plant_remote(remote_dir, "shared", dump(rec), rec["uuid"])
    set_remote_entry(remote_dir, "shared", rec["uuid"],
                     {"sha": sha(dump(rec)), "name": 5, "created": rec["created"]})
    assert "corrupt or hostile" in fails(9, "pull")


def test_os_errors_are_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.objects.blobs import BlobStore

    fails(13, "init", "/proc/no-such-dir/x")

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(BlobStore, "put_bytes", full)
    (project / "f").write_text("x")
    assert "No space left on device" in fails(13, "add", "f", str(project / "f"))


def test_a_failed_lock_leaves_no_fd_and_no_flock(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt._locks import FileLock

    target = tmp_path / "ref"

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = fds()

    def denied(*_: object, **__: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(os, "link", denied)
        with pytest.raises(PermissionError):
            FileLock(target).acquire()
    assert fds() == before
    with FileLock(target, timeout=1):  # nothing held: the next taker gets it at once
        pass


# 10. the repository never stores itself -----------------------------------------------


def test_add_an_empty_path_or_the_project(project: Path) -> None:
    assert "empty path" in fails(10, "add", "x", "")
    (project / "data.txt").write_text("d")
    ok("add", "all", ".")
    paths = api.get("default", "all").data
    assert [Path(p).name for p in paths] == ["data.txt"]
    assert "inside dsdt's own repository" in fails(10, "add", "x", ".dsdt/config.yaml")


# 11. ints of any size ------------------------------------------------------------------


def test_huge_ints_round_trip_and_leave_nothing_behind(project: Path) -> None:
    value = [b"b" * 5000, 10**5000, -(7**9000)]
    b = api.Bundle("default", name="big", data=value)
    Repository.forget()
    assert api.get("default", None, uuid=b.uuid).data == value
    report = api.fsck()
    assert report.ok and not report.warnings


# 12. a corrupt record can be removed; the others stay visible ----------------------------


def test_rm_f_removes_a_bundle_whose_record_is_corrupt(project: Path) -> None:
    api.Bundle("default", name="good", data=1)
    rec = record(created="2026-11-26T12:17:19")  # no time zone
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    for db in (_dsdt(project) / "cache").glob("db-*/index.sqlite"):
        db.unlink()
    Repository.forget()
    assert ok("ls").lines == ["good"]
    assert not api.fsck().ok
    fails(7, "rm", "-u", rec["uuid"])  # committed: needs --force
    ok("rm", "-f", "-u", rec["uuid"])
    assert api.fsck().ok


# 13. names from a remote; secrets in URLs ------------------------------------------------


@pytest.mark.parametrize("name", ["\x1b[31mred", "../../x", "a/b", " lead"])
def test_remote_names_follow_the_name_rules(project: Path, remote_dir: Path, name: str) -> None:
    rec = record(name="fine")
    plant_remote(remote_dir, "shared", dump(rec), rec["uuid"], name)
    assert "bundle name" in fails(9, "pull")


def test_record_names_follow_the_name_rules(project: Path) -> None:
    rec = record(name="\x1b]0;owned\x07")
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    r = dsdt_cli("cat", "-u", rec["uuid"])
    assert r.code == 9 and "\x1b" not in r.err


def test_query_string_tokens_never_reach_a_record() -> None:
    from dsdt.gitinfo import without_credentials

    url = "https://gitlab.example.com/team/x.git?private_token=glpat-SECRET#frag"
    assert without_credentials(url) == "https://gitlab.example.com/team/x.git"


# 14. a FIFO does not hang add ----------------------------------------------------------


def test_add_of_a_fifo_is_refused_at_once(project: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with within(10):
        assert "not a regular file" in fails(10, "add", "y", str(fifo))
    api.Bundle("default", name="after", data=1)  # the gc fence was released


def test_a_blob_swapped_right_after_push_wrote_it_is_not_proven(
        loose: None, project: Path, remote_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer racing the push renames garbage over each new blob: push -d must keep the data."""
    import dsdt.remote.local as local

    real_link = os.link

    def link_then_swapped(src: str, dst: str, **kw: object) -> None:
        real_link(src, dst, **kw)  # type: ignore[arg-type]
        dst_dir_fd = kw.get("dst_dir_fd")
        if not isinstance(dst_dir_fd, int) or len(str(dst)) != 64:  # only blobs of the remote
            return
        size = os.stat(dst, dir_fd=dst_dir_fd).st_size
        fd = os.open(".evil", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dst_dir_fd)
        os.write(fd, b"G" * size)
        os.close(fd)
        os.replace(".evil", dst, src_dir_fd=dst_dir_fd, dst_dir_fd=dst_dir_fd)

    data = b"raced" * 1000  # a blob, not inline
    b = api.Bundle("default", name="x", data=data).commit()
    with monkeypatch.context() as m:
        m.setattr(local.os, "link", link_then_swapped)
        with pytest.raises(CorruptObjectError, match="not its bytes"):
            api.push("default", uuid=b.uuid, delocalize=True)
    Repository.forget()
    assert api.get("default", "x").data == data


# Found by an attacker's review --------------------------------------------------------


def test_symlinks_inside_dsdt_are_never_followed(project: Path, victim: Path) -> None:
    """git can carry symlinks: one at a record, a ref or a directory of .dsdt is refused."""
    dsdt = _dsdt(project)
    api.Bundle("default", name="good", data=1).commit()
    uuid = "5a000000-0000-4000-8000-000000000001"
    zero = dsdt / "records" / uuid[:2] / f"{uuid}.yaml"
    zero.parent.mkdir(parents=True, exist_ok=True)
    zero.symlink_to("/dev/zero")
    ref = dsdt / "refs" / "contexts" / "default" / "bundles" / uuid[:2] / uuid
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.symlink_to(victim / "notes.txt")  # fsck must not print the secret
    with within(10):
        assert ok("ls").lines == ["good"]
        r = dsdt_cli("fsck")
        assert r.code == 1 and "private notes" not in r.out + r.err
    evil = dsdt / "refs" / "contexts" / "evil"
    evil.symlink_to(victim / "keys")
    before = snapshot(victim)
    assert dsdt_cli("add", "x", str(dsdt / "config.yaml"), "-c", "evil").code != 0
    assert dsdt_cli("rm", "-c", "evil", "--all").code != 0
    assert snapshot(victim) == before


def test_a_planted_blob_is_checked_before_use(project: Path) -> None:
    """A blob file dsdt did not write (writable: git add -f of the cache) is hashed first."""
    b = api.Bundle("default", name="x", data=b"honest bytes" * 500)
    path = Repository.current().blobs.path(b.record.data["blob"])
    path.chmod(0o644)
    path.write_bytes(b"evil bytes!!" * 500)
    Repository.forget()
    with pytest.raises(CorruptObjectError, match="does not match its sha256"):
        api.get("default", "x").data  # noqa: B018


def test_push_does_not_upload_what_a_record_from_git_names(project: Path, remote_dir: Path,
                                                           tmp_path: Path) -> None:
    """A committed record naming this clone's private blob does not get it uploaded."""
    api.context("private")
    secret = api.Bundle("private", name="payroll", data=b"TOP SECRET PAYROLL " * 300)
    blob = secret.record.data["blob"]
    rec = record({"type": "bytes", "blob": blob, "size": 19 * 300})
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])  # as git checks it out
    report = api.push("default")
    assert report.foreign == [rec["uuid"]] and report.bundles == []
    assert not (remote_dir / "blobs" / blob[:2] / blob).exists()
    with pytest.raises(BundleStateError, match="came through git"):
        api.push("default", uuid=rec["uuid"])
    mine = api.Bundle("default", name="mine", data=b"m" * 5000).commit()
    assert api.push("default").bundles == [mine.uuid]


def test_a_relative_remote_url_in_a_checked_in_context_is_refused(project: Path) -> None:
    meta = _dsdt(project) / "refs" / "contexts" / "default" / "context.yaml"
    meta.write_text("remote_context: shared\nremote_url: ../elsewhere\n")
    api.Bundle("default", name="x", data=1).commit()
    assert "canonical" in fails(9, "push")


@pytest.mark.parametrize("kind", ["fifo", "symlink", "symlinked-dir"])
def test_remote_sweeps_stop_at_odd_context_refs(loose: None, project: Path, remote_dir: Path,
                                                kind: str) -> None:
    b = api.Bundle("default", name="x", data=b"k" * 5000).commit()
    api.push("default")
    _settings(project, remote_gc_grace=0)
    shared = remote_dir / "contexts" / "shared"
    if kind == "fifo":
        (shared / "bundles.json").unlink()
        os.mkfifo(shared / "bundles.json")
    elif kind == "symlink":
        copy = remote_dir / "elsewhere.json"
        (shared / "bundles.json").rename(copy)
        (shared / "bundles.json").symlink_to(copy)
    else:
        shared.rename(remote_dir / "moved")
        shared.symlink_to(remote_dir / "moved")
    with within(10):
        assert "symlink or special file" in fails(9, "gc", "--remote")
    blob = b.record.data["blob"]
    assert (remote_dir / "blobs" / blob[:2] / blob).exists()


@pytest.mark.parametrize("kind", ["symlink", "file"])
@pytest.mark.parametrize("where", ROOT_DIRS)
def test_fsck_remote_names_what_stands_at_a_directory_of_the_remote_root(
        project: Path, remote_dir: Path, tmp_path: Path, where: str,
        kind: str) -> None:
    """Each stops the pushes or pulls that reach it: ``fsck --remote`` must not say ok."""
    api.Bundle("default", name="x", data=b"k" * 5000).commit()
    api.push("default")
    assert api.fsck(remote=True).ok
    path = remote_dir / where
    if path.exists():
        path.rename(tmp_path / where)
    if kind == "symlink":
        (tmp_path / where).mkdir(exist_ok=True)
        path.symlink_to(tmp_path / where)
    else:
        path.write_text("planted\n")
    if where == "locks":
        api.Bundle("default", name="y", data=1).commit()
        assert "symlink" in fails(9, "push")  # push stops
    r = dsdt_cli("fsck", "--remote")
    assert r.code == 1, r.out + r.err
    assert f"{path} is a symlink or not a directory" in r.out and "remove it there" in r.out


@pytest.mark.parametrize("kind", ["symlink", "file", "fifo"])
@pytest.mark.parametrize("where", SHARDED_DIRS)
def test_fsck_remote_names_what_stands_at_a_shard_of_the_remote(
        project: Path, remote_dir: Path, tmp_path: Path, where: str, kind: str) -> None:
    """A shard (or a remote context's directory) that is not a directory stops what reaches
    it, as its parent would."""
    api.Bundle("default", name="x", data=b"k" * 5000).commit()
    api.Bundle("default", name="y", data=b"j" * (2 << 20)).commit()  # a blob of its own
    api.push("default")
    shard = min((remote_dir / where).iterdir())
    shard.rename(tmp_path / "moved")
    if kind == "symlink":
        shard.symlink_to(tmp_path / "moved")
    elif kind == "fifo":
        os.mkfifo(shard)
    else:
        shard.write_text("planted\n")
    with within(30):
        r = dsdt_cli("fsck", "--remote")
    assert r.code == 1, r.out + r.err
    assert f"{shard} is a symlink or not a directory" in r.out and "remove it there" in r.out


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
@pytest.mark.parametrize("what", ["blob", "pack", "index", "lock"])
def test_fsck_remote_names_what_stands_where_the_remote_keeps_a_file(
        project: Path, remote_dir: Path, what: str, kind: str) -> None:
    """It counts as missing; fsck --remote says what is in the way, once."""
    api.Bundle("default", name="x", data=b"k" * 5000).commit()
    api.Bundle("default", name="y", data=b"j" * (2 << 20)).commit()  # a blob of its own
    api.push("default")
    top = {"blob": "blobs", "lock": "locks"}.get(what, "packs")
    if what == "lock":
        (remote_dir / "locks" / "push-0123.json").write_text("{}")
    files = sorted(p for p in (remote_dir / top).rglob("*") if p.is_file())
    suffix = {"blob": "", "pack": ".pack", "index": ".idx", "lock": ".json"}[what]
    path = next(p for p in files if p.suffix == suffix)
    path.unlink()
    if kind == "symlink":
        path.symlink_to("/etc/passwd")
    else:
        os.mkfifo(path)
    with within(30):
        r = dsdt_cli("fsck", "--remote")
    assert r.code == 1, r.out + r.err
    assert r.out.count(f"{path} is a symlink or a special file") == 1, r.out


def test_a_fifo_planted_as_a_lock_file_does_not_hang(project: Path, remote_dir: Path) -> None:
    b = api.Bundle("default", name="x", data=1).commit()
    lock = remote_dir / "contexts" / "shared" / "bundles.json.lock"
    lock.parent.mkdir(parents=True)
    os.mkfifo(lock)
    with within(10):
        api.push("default", uuid=b.uuid)
    assert api.fsck(remote=True).ok


@pytest.mark.parametrize("node", [
    {"type": "npscalar", "dtype": "x", "hex": "00"},
    {"type": "npscalar", "dtype": "<f8", "hex": "zz"},
    {"type": "npscalar", "dtype": "|O", "hex": "00" * 8},
    {"type": "npscalar", "dtype": "<U1", "hex": "ffffff7f"},
    {"type": "npscalar", "dtype": "<U1", "hex": "00d80000"},
    {"type": "npscalar", "dtype": "<f8", "hex": "abc"},
    {"type": "npscalar", "dtype": "<i8", "hex": "00" * 4},  # too short for its dtype
    {"type": "npscalar", "dtype": "<f8", "hex": "00" * 16},  # two values: cat showed one
    {"type": "npscalar", "dtype": "<U2", "hex": "41000000"},
    {"type": "npscalar", "dtype": "<M8", "hex": "0100000000000000"},  # generic: NaT only
    {"type": "npscalar", "dtype": "<M8[generic]", "hex": "0100000000000000"},
    {"type": "npscalar", "dtype": "<m8[99999999999999999999ms]", "hex": "00" * 8},
    {"type": "npscalar", "dtype": "<U0", "hex": ""},
    {"type": "npscalar", "dtype": "|b1", "hex": "02"},
    {"type": "npscalar", "dtype": "<i1", "hex": "02"},  # numpy writes |i1
    {"type": "npscalar", "dtype": "<i3", "hex": "00" * 3},  # no such int
    {"type": "bytes", "b64": "not base64!"},
])
def test_malformed_inline_values_are_one_line(project: Path, node: dict) -> None:
    rec = record(node)
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    err = fails(9, "cat", "-u", rec["uuid"])
    assert "malformed" in err or "hex" in err
    assert any(rec["uuid"] in e for e in api.fsck().errors)  # fsck refuses what cat does


@pytest.mark.parametrize("when", [float("inf"), 1e300, -1.0])
def test_a_lineage_time_out_of_range_is_refused(project: Path, when: float) -> None:
    rec = record(lineage={"code_hash": "", "code_ref": "", "depends_on": [], "git": {},
                          "start_time": when, "stop_time": 0.0})
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    assert "between 1970 and 9000" in fails(9, "lineage", rec["uuid"])


def test_a_tree_path_with_a_lone_surrogate_is_refused(project: Path, remote_dir: Path) -> None:
    blob = _local_blob(b"x")
    tree = json.dumps({"files": [["a\ud800b", blob, 1, False]], "dirs": []}).encode()
    tree_id = put_blob(remote_dir, tree)
    rec = record({"type": "directory", "path": "d", "tree": tree_id, "files": 1, "size": 1,
                  "as": "path"})
    plant_remote(remote_dir, "shared", dump(rec), rec["uuid"])
    assert "not a valid file name" in fails(9, "pull")


def test_cat_prints_an_int_of_any_size(project: Path) -> None:
    api.Bundle("default", name="big", data=10**5000)
    assert ok("cat", "big").out.strip() == hex(10**5000)


def test_no_terminal_escape_from_a_record_reaches_a_terminal(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dsdt.commands.app as app

    rec = record({"type": "str", "value": "red \x1b[31mALERT\x1b[0m\x9b2J"}, name="esc",
                 tags={"t": "x\x1b]0;owned\x07"},
                 lineage={"code_hash": "", "code_ref": "", "depends_on": [],
                          "git": {"commit": "\x1b[2Jcommit"}, "start_time": 0.0,
                          "stop_time": 0.0})
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    monkeypatch.setattr(app, "_is_terminal", lambda stream: True)
    for args in (("cat", "esc"), ("ls", "-v", "-p"), ("log", "esc"), ("cat", "esc", "--json")):
        r = ok(*args)
        assert "\x1b" not in r.out and "\x07" not in r.out and "\x9b" not in r.out, args
    r = dsdt_cli("cat", "-u", rec["uuid"].replace("-", "\x1b-", 1))
    assert "\x1b" not in r.err


def test_two_entries_cannot_share_one_view_path(project: Path) -> None:
    one, two = _local_blob(b"first" * 1000), _local_blob(b"other" * 1000)
    files = [{"type": "file", "path": "same.txt", "blob": blob, "size": 5000, "exec": False}
             for blob in (one, two)]
    rec = record({"type": "list", "items": files})
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    assert "claim same.txt" in fails(9, "cat", "-u", rec["uuid"])


@pytest.mark.parametrize("label", [["bool", "False"], ["float", "1.5"], ["int", 7.0],
                                   ["timestamp", "now"], ["float", "0x1.0000000000000p+1024"],
                                   ["timedelta", -2**63], ["utf8b", "61"],
                                   ["utf8b", "ed a0 80"], ["timestamp", "2020-01-01T00:00:00123"],
                                   ["timestamp", "1500-01-01T00:00:00.000000001"]])
def test_a_frame_label_reads_as_written_or_everything_refuses_it(project: Path,
                                                                 label: list) -> None:
    """cat, diff and fsck refuse alike (diff showed ["float", "1.5"] as 1.3125, fsck passed
    all of these, and an overflowing float stopped cat with an internal error)."""
    import pandas as pd

    good = api.Bundle("default", name="frame", data=pd.DataFrame({"a": [1], True: [2]}))
    rec = good.record.to_dict()
    rec["uuid"], rec["name"] = str(__import__("uuid").uuid4()), "planted"
    rec["data"]["columns"]["labels"][0][1] = label
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    assert "label" in fails(9, "cat", "-u", rec["uuid"])
    assert "label" in fails(9, "diff", "-u", good.uuid, "-u", rec["uuid"])
    assert any(rec["uuid"] in e and "label" in e for e in api.fsck().errors)


@pytest.mark.parametrize("edit", [
    lambda d: d["index"].update(range=[0, 2**70, 1]),  # cat stopped with an internal error
    lambda d: d["columns"].update(kind="range", range=[0, 10**15, 1]),  # diff ran out of memory
    lambda d: d["columns"].update(kind="range", range=[0, 1, 0]),
    lambda d: d["columns"].update(kind="bogus"),
    lambda d: d["columns"]["labels"][0].append(["str", "extra"]),
    lambda d: d.update(shape=[5, 2]),  # diff said "rows: 2 -> 5"
    lambda d: d.update(dtypes=["int64"]),
    lambda d: d["columns"].update(dtypes=["bool"],  # cat showed True, False; diff showed ints
                                  labels=[[["int", 1], ["int", 0]]]),
])
def test_a_frame_node_whose_axes_do_not_fit_its_shape_is_refused_everywhere(
        project: Path, edit: Any) -> None:
    import pandas as pd

    good = api.Bundle("default", name="frame", data=pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    rec = good.record.to_dict()
    rec["uuid"], rec["name"] = str(__import__("uuid").uuid4()), "planted"
    edit(rec["data"])
    plant_local(_dsdt(project), "default", dump(rec), rec["uuid"])
    with within(20):
        assert "dataframe node is malformed" in fails(9, "cat", "-u", rec["uuid"])
        assert "dataframe node is malformed" in fails(9, "diff", "-u", good.uuid, "-u",
                                                       rec["uuid"])
        assert any(rec["uuid"] in e for e in api.fsck().errors)


def test_fsck_reports_a_hostile_file_name_on_one_line(project: Path) -> None:
    b = api.Bundle("default", name="x", data=1)
    shard = _dsdt(project) / "refs" / "contexts" / "default" / "bundles" / b.uuid[:2]
    (shard / "a\nerror: all is fine\x1b[2J").write_text("0" * 64)
    r = dsdt_cli("fsck")
    assert r.code == 1
    lines = r.out.splitlines()
    assert all(line.startswith(("checked ", "warning: ", "error: ", "unreachable: "))
               for line in lines[:-1]), lines
    assert not any(line.startswith("error: all is fine") for line in lines)
    assert "\x1b" not in r.out


def test_diff_shows_a_value_with_a_line_break_on_one_line(project: Path) -> None:
    api.Bundle("default", name="t", data=1, tags={"k": "v"})
    api.Bundle("default", name="t", data=2, tags={"k": "x\n+ tag injected: yes\x1b[2J"})
    r = ok("diff", "t")
    assert not any(line.startswith("+ tag injected") for line in r.out.splitlines()), r.out
    assert "\x1b" not in r.out


def test_a_bundle_left_out_as_unreadable_is_hinted_at_by_name(project: Path) -> None:
    b = api.Bundle("default", name="only", data=1)
    record = _dsdt(project) / "records" / b.uuid[:2] / f"{b.uuid}.yaml"
    record.chmod(0o644)
    record.write_text(record.read_text() + "# edited\n")
    Repository.forget()
    err = fails(4, "cat", "only")
    assert "no bundle named 'only'" in err and "1 bundle(s) of it could not be read" in err
    assert "could not be read" in fails(4, "diff", "only")


def test_ls_warns_once_about_refs_it_left_out(project: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    import uuid

    api.Bundle("default", name="x", data=1)
    bad = str(uuid.uuid4())
    shard = _dsdt(project) / "refs" / "contexts" / "default" / "bundles" / bad[:2]
    shard.mkdir(parents=True, exist_ok=True)
    os.mkfifo(shard / bad)
    p = subprocess.run([sys.executable, "-m", "dsdt", "ls"], cwd=project, capture_output=True,
                       text=True, check=True)
    assert p.stdout == "x\n"
    assert p.stderr == ("dsdt: warning: 1 ref(s) or record(s) could not be read; what they "
                        "name is left out (run dsdt fsck)\n")
    api.search("default")
    api.search("default")
    assert sum("could not be read" in r.message for r in caplog.records) == 1  # once a process
    p = subprocess.run([sys.executable, "-m", "dsdt", "fsck"], cwd=project, capture_output=True,
                       text=True)
    assert p.returncode == 1 and p.stderr == ""  # its report names the ref instead
