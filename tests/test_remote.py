"""Push, pull, localize, delocalize and rmr against a directory remote and a real S3 server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import (
    BundleStateError,
    ConflictError,
    CorruptObjectError,
    NoRemoteError,
    RemoteError,
    UsageError,
)
from dsdt.remote import push, sync
from dsdt.remote.layout import blob_key, context_key, decode_ref
from dsdt.remote.open import open_transport
from dsdt.repo import Repository


class Repos:
    """Two repositories (two people's clones), one current at a time."""

    def __init__(self, a: Path, b: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths = {"a": a, "b": b}
        self.mp = monkeypatch

    def use(self, who: str) -> None:
        self.mp.chdir(self.paths[who])


@pytest.fixture
def repos(project: Path, tmp_path_factory: pytest.TempPathFactory,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Repos]:
    other = tmp_path_factory.mktemp("clone")
    api.init(other)
    yield Repos(project, other, monkeypatch)


def bind(remote_url: str, ctx: str = "default") -> None:
    api.remote(ctx, "shared", remote_url)


def test_binding(project: Path, remote_url: str, tmp_path: Path) -> None:
    bind(remote_url)
    assert api.contexts()[0].remote_url == remote_url.rstrip("/")
    bind(remote_url)  # the same binding again is fine
    with pytest.raises(UsageError, match="force"):
        api.remote("default", "other", remote_url)
    api.remote("default", "other", remote_url, force=True)
    with pytest.raises(RemoteError):
        api.remote("default", "x", str(tmp_path / "missing-dir"))


def test_missing_bucket_is_a_clear_error(project: Path, s3_bucket: tuple[str, str]) -> None:
    with pytest.raises(RemoteError, match="bucket"):
        api.remote("default", "x", "s3://no-such-bucket-dsdt/x")


def test_push_needs_a_remote_and_a_commit(project: Path, remote_url: str) -> None:
    api.Bundle("default", name="x", data=1)
    with pytest.raises(NoRemoteError, match="no remote"):
        api.push("default", "x")
    bind(remote_url)
    with pytest.raises(BundleStateError, match="not committed"):
        api.push("default", "x")


def test_push_then_pull_into_a_second_repository(repos: Repos, remote_url: str) -> None:
    raw = repos.paths["a"] / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.txt").write_text("A")
    (raw / "sub" / "b.txt").write_text("B")
    bind(remote_url)
    df = pd.DataFrame({"x": [1.5, 2.5]}, index=pd.Index(["p", "q"], name="k"))
    scores = api.Bundle("default", name="scores", data={"df": df, "n": 3}).commit()
    files = api.add("default", "raw", str(raw)).commit()
    first = api.push("default")
    assert sorted(first.bundles) == sorted([scores.uuid, files.uuid]) and first.blobs >= 3
    assert api.push("default").bundles == []  # nothing new: a no-op

    repos.use("b")
    bind(remote_url)
    got = api.pull("default")
    assert sorted(got.bundles) == sorted([scores.uuid, files.uuid])
    b_scores = api.get("default", "scores")
    assert b_scores.is_committed
    value = b_scores.data  # loads transparently from the remote
    pd.testing.assert_frame_equal(value["df"], df)
    paths = api.get("default", "raw").data
    if remote_url.startswith("s3://"):
        assert all(p.startswith(remote_url.rstrip("/")) for p in paths)  # files stay remote
    else:  # a directory remote's paths are never handed out: a write would reach the team
        assert all(".dsdt/cache/views/" in p for p in paths)
    assert_fsck_clean()
    api.pull("default", "raw", localize=True)
    local = api.get("default", "raw").data
    assert sorted(Path(p).read_text() for p in local) == ["A", "B"]
    assert sorted(Path(p).name for p in local) == ["a.txt", "b.txt"]
    assert_fsck_clean()


def test_pull_by_name_and_uuid(repos: Repos, remote_url: str) -> None:
    bind(remote_url)
    one = api.Bundle("default", name="one", data=1).commit()
    api.Bundle("default", name="two", data=2).commit()
    api.push("default")
    repos.use("b")
    bind(remote_url)
    assert api.pull("default", "on*").bundles == [one.uuid]
    assert [b.name for b in api.search("default")] == ["one"]
    two = api.pull("default", uuid=None, bundle_name="two").bundles
    assert len(two) == 1 and api.cat("default", "two") == 2


def test_bundle_push_pull_localize_delocalize(repos: Repos, remote_url: str) -> None:
    bind(remote_url)
    f = repos.paths["a"] / "model.bin"
    f.write_bytes(b"weights" * 1000)
    b = api.add("default", "model", str(f)).commit()
    b.push(delocalize=True)
    repo = Repository.current()
    blob = b.record.data["blob"]
    assert not repo.blobs.has(blob)
    if remote_url.startswith("s3://"):
        assert b.data == f"{remote_url.rstrip('/')}/{blob_key(blob)}"
        b.delocalize(b.data)  # by its remote URL: nothing local, nothing to do
    b.localize()
    assert Path(b.data).read_bytes() == b"weights" * 1000
    b.delocalize(b.data)
    assert not repo.blobs.has(blob)
    assert_fsck_clean()


def test_delocalize_refuses_what_the_remote_lacks(project: Path, remote_url: str) -> None:
    bind(remote_url)
    b = api.Bundle("default", name="x", data=b"z" * 10_000).commit()
    with pytest.raises(UsageError, match="push"):
        b.delocalize()


def test_delocalize_keeps_data_other_local_bundles_need(project: Path, remote_url: str) -> None:
    bind(remote_url)
    shared = b"s" * 10_000
    b = api.Bundle("default", name="pushed", data=shared).commit()
    api.context("elsewhere")
    api.Bundle("elsewhere", name="local", data=shared)  # same bytes, same blob, no remote
    b.push(delocalize=True)
    assert api.cat("elsewhere", "local") == shared
    assert_fsck_clean()


def test_corrupt_remote_blob_is_detected(loose: None, repos: Repos, remote_url: str) -> None:
    bind(remote_url)
    b = api.Bundle("default", name="x", data=b"good" * 5000).commit()
    b.push()
    tr = open_transport(remote_url)
    key = blob_key(b.record.data["blob"])
    tr.delete(key)
    tr.put(key, b"evil" * 5000)
    repos.use("b")
    bind(remote_url)
    with pytest.raises(CorruptObjectError, match="corrupt"):
        api.pull("default", localize=True)
    assert not Repository.current().blobs.has(b.record.data["blob"])  # nothing corrupt got in
    with pytest.raises(CorruptObjectError):
        api.cat("default", "x")


def test_pull_never_overwrites_a_different_local_bundle(repos: Repos, remote_url: str) -> None:
    bind(remote_url)
    b = api.Bundle("default", name="x", data=1).commit()
    b.push()
    tr = open_transport(remote_url)
    got = tr.read_versioned(context_key("shared"))
    members = decode_ref(got.data, "ref")
    members[b.uuid] = members[b.uuid].__class__("0" * 64, "x", members[b.uuid].created)
    from dsdt.remote.layout import encode_ref

    tr.swap(context_key("shared"), got.token, encode_ref(members))
    with pytest.raises(ConflictError, match="differs"):
        api.pull("default")
    assert api.cat("default", "x") == 1


def test_a_remote_record_that_differs_from_a_local_one_holds_back_only_itself(
        repos: Repos, remote_url: str) -> None:
    """One hostile entry in the remote's ref must not stop every pull; fsck names it."""
    bind(remote_url)
    x = api.Bundle("default", name="x", data=1).commit()
    api.push("default")
    api.pull("default")  # x's record is pulled beside the checked-in one
    y = api.Bundle("default", name="y", data=2).commit()
    api.push("default")
    api.rm("default", uuid=y.uuid, force=True)  # y is now on the remote only
    tr = open_transport(remote_url)
    got = tr.read_versioned(context_key("shared"))
    members = decode_ref(got.data, "ref")
    members[x.uuid] = members[x.uuid].__class__("0" * 64, "x", members[x.uuid].created)
    from dsdt.remote.layout import encode_ref

    tr.swap(context_key("shared"), got.token, encode_ref(members))
    with pytest.raises(ConflictError, match=f"local bundle {x.uuid} differs.*pulled 1 bundle"):
        api.pull("default")
    assert api.cat("default", "x") == 1 and api.cat("default", "y") == 2
    assert [e for e in api.fsck().errors if x.uuid in e and "another record" in e]


def test_interrupted_push_resumes(loose: None, repos: Repos, remote_url: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bind(remote_url)
    d = repos.paths["a"] / "d"
    d.mkdir()
    for i in range(12):
        (d / f"f{i}.txt").write_text(f"file {i}")
    b = api.add("default", "d", str(d)).commit()
    calls = {"n": 0}
    original = sync.Remote.__init__

    def failing_transport(self: sync.Remote, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        put = self.transport.put

        def flaky(key: str, data: bytes, *, if_absent: bool = False) -> str | None:
            if key.startswith("blobs/"):  # data uploads; records and the ref pass
                calls["n"] += 1
                if calls["n"] == 6:
                    raise RemoteError("injected: connection reset")
            return put(key, data, if_absent=if_absent)

        self.transport.put = flaky  # type: ignore[method-assign]

    monkeypatch.setattr(sync.Remote, "__init__", failing_transport)
    with pytest.raises(RemoteError, match="injected"):
        api.push("default", jobs=1)
    tr = open_transport(remote_url)
    assert b.uuid not in decode_ref(tr.read_versioned(context_key("shared")).data, "r")
    monkeypatch.setattr(sync.Remote, "__init__", original)
    sent = calls["n"] - 1
    report = api.push("default")
    assert report.bundles == [b.uuid]
    assert report.blobs == 13 - sent  # 12 files + the tree, minus what already arrived
    repos.use("b")
    bind(remote_url)
    api.pull("default", localize=True)
    assert sorted(Path(p).read_text() for p in api.cat("default", "d")) == sorted(
        f"file {i}" for i in range(12))


def test_concurrent_pushes_to_one_remote_context(repos: Repos, remote_url: str) -> None:
    made = {}
    for who in ("a", "b"):
        repos.use(who)
        bind(remote_url)
        made[who] = [api.Bundle("default", name=f"{who}{i}", data=i).commit().uuid
                     for i in range(5)]
    errors: list[BaseException] = []
    repo_of = {who: Repository(repos.paths[who] / ".dsdt") for who in made}

    def push_all(who: str) -> None:
        try:
            remote = sync.open_remote(repo_of[who], "default")
            push.push(remote, made[who], jobs=2)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=push_all, args=(w,)) for w in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    members = decode_ref(open_transport(remote_url).read_versioned(
        context_key("shared")).data, "r")
    assert set(members) == set(made["a"]) | set(made["b"])


def test_rmr_keeps_blobs_other_remote_bundles_use(loose: None, repos: Repos,
                                                  remote_url: str) -> None:
    bind(remote_url)
    shared = b"q" * 10_000
    gone = api.Bundle("default", name="gone", data=shared).commit()
    kept = api.Bundle("default", name="kept", data=[shared, b"r" * 10_000]).commit()
    api.push("default")
    assert api.rmr("default", "gone", dryrun=True) == [gone.uuid]
    assert api.rmr("default", "gone") == [gone.uuid]
    tr = open_transport(remote_url)
    assert tr.size(blob_key(gone.record.data["blob"])) == 10_000  # still used by "kept"
    repos.use("b")
    bind(remote_url)
    api.pull("default", localize=True)
    assert [b.name for b in api.search("default")] == ["kept"]
    assert api.cat("default", "kept")[0] == shared
    assert kept.uuid in [b.uuid for b in api.search("default")]


def test_delete_context_with_remote(project: Path, remote_url: str) -> None:
    bind(remote_url)
    api.Bundle("default", name="x", data=b"w" * 10_000).commit().push()
    with pytest.raises(UsageError, match="force"):
        api.delete_context("default", remote=True)
    api.delete_context("default", remote=True, force=True)
    tr = open_transport(remote_url)
    assert decode_ref(tr.read_versioned(context_key("shared")).data, "r") == {}
    assert list(tr.list("blobs/")) == []


def test_remote_output_file_and_directory(repos: Repos, remote_url: str) -> None:
    with api.Bundle("default", "nope") as b, pytest.raises(NoRemoteError, match="no remote"):
        b.get_remote_file("x.csv")
    bind(remote_url)
    tr = open_transport(remote_url)
    with api.Bundle("default", "spark") as b:
        f = b.get_remote_file("part/out.csv")
        d = b.get_remote_directory("shards")
        prefix = remote_url.rstrip("/")
        assert f.startswith(prefix + "/staging/")
        # what an external writer (Spark, aws s3 cp) would do:
        tr.put(f[len(prefix) + 1:], b"a,b\n1,2\n")
        for i in range(3):
            tr.put(f"{d[len(prefix) + 1:]}/s{i}.txt", f"shard {i}".encode())
        b.add_data({"csv": f, "dir": d})
    data = api.cat("default", "spark")
    assert Path(data["csv"]).read_bytes() == b"a,b\n1,2\n" and data["csv"].endswith("out.csv")
    assert sorted(p.read_text() for p in Path(data["dir"]).iterdir()) == [
        "shard 0", "shard 1", "shard 2"]
    assert list(tr.list("staging/")) == []  # staging copies are gone once the bundle is written
    assert_fsck_clean()


def test_interrupted_pull_resumes(loose: None, repos: Repos, remote_url: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bind(remote_url)
    blobs = [api.Bundle("default", name=f"b{i}", data=bytes([i]) * 9000).commit()
             for i in range(6)]
    api.push("default")
    repos.use("b")
    bind(remote_url)
    calls = {"n": 0}
    init = sync.Remote.__init__

    def flaky_remote(self: sync.Remote, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)
        get = self.transport.get

        def flaky(key: str, limit: int | None = None) -> bytes:
            if key.startswith("blobs/"):  # data downloads; records and refs pass
                calls["n"] += 1
                if calls["n"] == 4:
                    raise RemoteError("injected: timeout")
            return get(key, limit)

        self.transport.get = flaky  # type: ignore[method-assign]

    monkeypatch.setattr(sync.Remote, "__init__", flaky_remote)
    with pytest.raises(RemoteError, match="injected"):
        api.pull("default", localize=True, jobs=1)
    monkeypatch.setattr(sync.Remote, "__init__", init)
    report = api.pull("default", localize=True)
    assert report.blobs == 6 - 3  # three arrived before the failure
    assert sorted(api.cat("default", f"b{i}")[0] for i in range(6)) == list(range(6))
    assert api.fsck(remote=True).ok
    assert len(blobs) == 6


def test_killed_push_then_retry_leaves_both_sides_consistent(repos: Repos, remote_url: str,
                                                             tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    bind(remote_url)
    d = repos.paths["a"] / "many"
    d.mkdir()
    for i in range(300):
        (d / f"f{i}.bin").write_bytes(os.urandom(2048))
    api.add("default", "many", str(d)).commit()
    code = "import dsdt.api as api; api.push('default', jobs=1)"
    for delay in (0.05, 0.15, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=repos.paths["a"])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert api.fsck(remote=True).ok  # whatever arrived, nothing is listed half-there
    api.push("default")
    assert api.fsck(remote=True).ok
    repos.use("b")
    bind(remote_url)
    api.pull("default", localize=True)
    assert sorted(Path(p).read_bytes() for p in api.cat("default", "many")) == sorted(
        p.read_bytes() for p in d.iterdir())
    assert_fsck_clean()


def test_no_credential_is_written_anywhere(project: Path, s3_bucket: tuple[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "dsdt-secret-4f9a1c"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADSDTTESTKEY00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bucket, _ = s3_bucket
    api.remote("default", "shared", f"s3://{bucket}/p")
    api.Bundle("default", name="x", data={"a": 1}).commit().push()
    for path in (project / ".dsdt").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and b"AKIADSDTTESTKEY00001" not in data, path


def test_aws_profile_is_used(project: Path, s3_bucket: tuple[str, str]) -> None:
    bucket, _ = s3_bucket
    api.set_aws_profile("no-such-profile-dsdt")
    with pytest.raises(RemoteError, match="no-such-profile-dsdt"):
        api.remote("default", "shared", f"s3://{bucket}/p")


def test_remote_gc_with_two_repositories(loose: None, repos: Repos, remote_url: str) -> None:
    from test_gc import set_config

    shared = b"g" * 10_000
    bind(remote_url)
    x = api.Bundle("default", name="x", data=shared).commit()
    y = api.Bundle("default", name="y", data=b"h" * 10_000).commit()
    api.push("default")
    repos.use("b")
    bind(remote_url)
    api.context("mine")
    api.remote("mine", "theirs", remote_url)  # another remote context, same remote
    z = api.Bundle("mine", name="z", data=[shared]).commit()
    api.push("mine")
    repos.use("a")
    tr = open_transport(remote_url)
    tr.delete(context_key("shared"))  # drop x and y from the remote context by hand
    tr.put(context_key("shared"), b'{"bundles": {}, "format": 1}')
    [young] = api.gc(remote=True)
    assert young.blobs == [] and young.young >= 3  # within the grace period: nothing goes
    set_config(repos.paths["a"], "remote_gc_grace", "0")
    [dry] = api.gc(remote=True, dry_run=True)
    assert dry.blobs == [y.record.data["blob"]] and sorted(dry.records) == sorted(
        [x.uuid, y.uuid])
    [done] = api.gc(remote=True)
    assert done.blobs == dry.blobs and tr.size(blob_key(x.record.data["blob"])) == 10_000
    assert tr.size(blob_key(y.record.data["blob"])) is None
    repos.use("b")
    assert api.fsck(remote=True).ok
    assert api.cat("mine", "z") == [shared] and z.uuid
