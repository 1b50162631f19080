"""One contract suite for every remote transport (a directory, S3 via a moto server)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dsdt.errors import ConflictError, CorruptObjectError, NotFoundError, RemoteError, UsageError
from dsdt.remote.local import LocalTransport
from dsdt.remote.open import canonical_url, open_transport, parse_url
from dsdt.remote.s3 import MiB, S3Transport
from dsdt.remote.transport import Transport


@pytest.fixture(params=["local", "s3"])
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Transport:
    """A transport on an empty remote: a directory, or a prefix in a fresh moto bucket."""
    if request.param == "local":
        root = tmp_path / "remote"
        root.mkdir()
        return LocalTransport(root)
    bucket, _endpoint = request.getfixturevalue("s3_bucket")
    # No endpoint_url: boto3 must pick up AWS_ENDPOINT_URL by itself.
    return S3Transport(bucket, "some/prefix/", multipart_threshold=5 * MiB)


def _missing(transport: Transport, tmp_path: Path) -> Transport:
    """A transport of the same kind whose root (directory, bucket) does not exist."""
    if isinstance(transport, LocalTransport):
        return LocalTransport(tmp_path / "does-not-exist")
    return S3Transport("dsdt-no-such-bucket", "")


# -- small objects ---------------------------------------------------------------


def test_put_get_size_delete(transport: Transport) -> None:
    first = transport.put("a/b/c.yaml", b"hello")
    assert first and transport.stamp("a/b/c.yaml") == first
    assert transport.get("a/b/c.yaml") == b"hello"
    assert transport.size("a/b/c.yaml") == 5
    second = transport.put("a/b/c.yaml", b"bye")  # plain put overwrites
    assert second and second != first and transport.stamp("a/b/c.yaml") == second
    assert transport.get("a/b/c.yaml") == b"bye"
    assert transport.put("empty", b"")
    assert transport.get("empty") == b""
    assert transport.size("empty") == 0
    transport.delete("a/b/c.yaml")
    assert transport.size("a/b/c.yaml") is None
    assert transport.stamp("a/b/c.yaml") is None
    transport.delete("a/b/c.yaml")  # already gone: no error


def test_get_range_reads_exactly_the_bytes_asked(transport: Transport) -> None:
    transport.put("packs/p", bytes(range(200)))
    assert transport.get_range("packs/p", 10, 5) == bytes(range(10, 15))
    assert transport.get_range("packs/p", 0, 200) == bytes(range(200))
    assert transport.get_range("packs/p", 199, 1) == b"\xc7"
    assert transport.get_range("packs/p", 50, 0) == b""
    for offset, length in [(150, 51), (200, 1), (500, 10)]:  # past the end: truncated
        with pytest.raises(CorruptObjectError, match="ends before"):
            transport.get_range("packs/p", offset, length)
    with pytest.raises(NotFoundError):
        transport.get_range("packs/missing", 0, 1)


def test_stamp_changes_with_any_write_of_the_same_size(transport: Transport) -> None:
    """A stamp proves the bytes are the ones written then: a same-size overwrite changes it."""
    stamp = transport.put("blobs/x", b"good bytes")
    transport.put("blobs/x", b"evil bytes")
    assert transport.stamp("blobs/x") not in (None, stamp)


def test_reads_are_capped(transport: Transport, tmp_path: Path) -> None:
    transport.put("blobs/big", b"x" * 1000)
    assert transport.get("blobs/big", limit=1000) == b"x" * 1000
    with pytest.raises(CorruptObjectError, match="larger than the 999 bytes"):
        transport.get("blobs/big", limit=999)
    dest = tmp_path / "dl" / "big"
    dest.parent.mkdir()
    with pytest.raises(CorruptObjectError):
        transport.get_file("blobs/big", dest, limit=10)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    with pytest.raises(CorruptObjectError):
        transport.sha256("blobs/big", limit=10)


def test_sha256_reads_the_bytes(transport: Transport) -> None:
    import hashlib

    transport.put("blobs/h", b"content")
    assert transport.sha256("blobs/h") == hashlib.sha256(b"content").hexdigest()
    with pytest.raises(NotFoundError):
        transport.sha256("blobs/none")


def test_missing_key(transport: Transport, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        transport.get("nope/x")
    assert transport.size("nope/x") is None
    dest = tmp_path / "dl" / "x"
    dest.parent.mkdir()
    with pytest.raises(NotFoundError):
        transport.get_file("nope/x", dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temporary file left behind
    v = transport.read_versioned("nope/x")
    assert (v.data, v.token) == (None, None)
    assert list(transport.list("nope/")) == []


def test_list(transport: Transport) -> None:
    keys = ["ctx/a/1", "ctx/a/2", "ctx/ab/3", "ctx/b/deep/er/4", "other/5", "top"]
    for k in keys:
        transport.put(k, k.encode())
    assert sorted(transport.list("")) == keys
    assert sorted(transport.list("ctx/")) == keys[:4]
    assert sorted(transport.list("ctx/a/")) == ["ctx/a/1", "ctx/a/2"]
    assert sorted(transport.list("ctx/a")) == ["ctx/a/1", "ctx/a/2", "ctx/ab/3"]
    assert sorted(transport.list("ctx/b/")) == ["ctx/b/deep/er/4"]
    assert list(transport.list("zzz/")) == []


def test_put_if_absent(transport: Transport) -> None:
    assert transport.put("obj/x", b"one", if_absent=True)
    assert transport.put("obj/x", b"two", if_absent=True) is None
    assert transport.get("obj/x") == b"one"


# -- compare-and-swap ------------------------------------------------------------


def test_swap_semantics(transport: Transport) -> None:
    t1 = transport.swap("refs/r", None, b"v1")
    v = transport.read_versioned("refs/r")
    assert (v.data, v.token) == (b"v1", t1)
    with pytest.raises(ConflictError):
        transport.swap("refs/r", None, b"again")  # creating an existing key
    t2 = transport.swap("refs/r", t1, b"v2")
    assert t2 != t1
    assert transport.read_versioned("refs/r").token == t2
    with pytest.raises(ConflictError):
        transport.swap("refs/r", t1, b"stale")  # stale token
    assert transport.get("refs/r") == b"v2"
    with pytest.raises(ConflictError):
        transport.swap("refs/missing", t2, b"x")  # expected a version, none exists
    assert transport.size("refs/missing") is None


def _increment(transport: Transport, key: str, times: int) -> int:
    """Add 1 to the counter ``times`` times with read/swap/retry; returns the conflicts seen."""
    conflicts = 0
    done = 0
    while done < times:
        v = transport.read_versioned(key)
        try:
            transport.swap(key, v.token, str(int(v.data or b"0") + 1).encode())
        except ConflictError:
            conflicts += 1
            continue
        done += 1
    return conflicts


def test_concurrent_swap_counter(transport: Transport) -> None:
    """8 threads increment one counter at once with retry on conflict; none is lost.

    For S3 this relies on the moto_server fixture serialising moto's object
    writes (moto alone checks If-Match and stores without a lock; S3 is atomic).
    """
    threads, per_thread = 8, 10
    conflicts: list[int] = []
    pool = [
        threading.Thread(
            target=lambda: conflicts.append(_increment(transport, "refs/counter", per_thread))
        )
        for _ in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(conflicts) == threads  # no thread died
    assert transport.get("refs/counter") == str(threads * per_thread).encode()


def test_interleaved_swaps_conflict(transport: Transport) -> None:
    """Two writers that read the same version: exactly one swap wins."""
    transport.swap("refs/c", None, b"0")
    a = transport.read_versioned("refs/c")
    b = transport.read_versioned("refs/c")
    transport.swap("refs/c", a.token, b"a")
    with pytest.raises(ConflictError):
        transport.swap("refs/c", b.token, b"b")
    assert transport.get("refs/c") == b"a"


# -- files -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1000, 12 * MiB + 123])
def test_put_file_get_file(transport: Transport, tmp_path: Path, size: int) -> None:
    src = tmp_path / "src.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    up: list[int] = []
    transport.put_file("blobs/f", src, up.append)
    assert sum(up) == size
    assert transport.size("blobs/f") == size
    dest = tmp_path / "out" / "f.bin"
    down: list[int] = []
    transport.get_file("blobs/f", dest, down.append)
    assert sum(down) == size
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["f.bin"]
    if size > 5 * MiB and isinstance(transport, S3Transport):
        head = transport.client.head_object(Bucket=transport.bucket, Key="some/prefix/blobs/f")
        assert head["ETag"].endswith('-3"')  # went up in three parts
    transport.get_file("blobs/f", dest)  # no progress callback; replaces dest
    assert dest.read_bytes() == data


# -- reachability --------------------------------------------------------------


def test_check(transport: Transport, tmp_path: Path) -> None:
    transport.check()
    with pytest.raises(RemoteError, match="does not exist"):
        _missing(transport, tmp_path).check()


def test_local_root_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(RemoteError, match="not a directory"):
        LocalTransport(tmp_path / "f").check()


def test_local_hides_temp_and_lock_files(tmp_path: Path) -> None:
    t = LocalTransport(tmp_path)
    t.put("refs/r", b"x")
    (tmp_path / "refs" / "r.lock").write_text("1@host")
    (tmp_path / "refs" / ".r.0123456789ab.tmp").write_text("partial")
    assert list(t.list("")) == ["refs/r"]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "x.lock", "a\0b"])
def test_local_rejects_bad_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(UsageError):
        LocalTransport(tmp_path).put(key, b"x")


def test_local_never_follows_symlinks(tmp_path: Path) -> None:
    """Whoever writes to a directory remote cannot make dsdt read or write outside it."""
    root, outside = tmp_path / "remote", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"private")
    t = LocalTransport(root)
    (root / "blobs").mkdir()
    (root / "blobs" / "ab").symlink_to(outside)  # a planted directory symlink
    (root / "blobs" / "cd").mkdir()
    (root / "blobs" / "cd" / "file").symlink_to(outside / "secret")
    (root / "blobs" / "cd" / "zero").symlink_to("/dev/zero")
    for key in ("blobs/ab/secret", "blobs/cd/file", "blobs/cd/zero"):
        with pytest.raises(CorruptObjectError, match="symlink"):
            t.get(key)
        assert t.size(key) is None and t.stamp(key) is None
    with pytest.raises(CorruptObjectError, match="symlink"):
        t.put("blobs/ab/new", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    t.put("blobs/cd/file", b"replaced")  # the link itself is replaced, not its target
    assert (outside / "secret").read_bytes() == b"private"
    assert t.get("blobs/cd/file") == b"replaced"
    assert sorted(t.list("")) == ["blobs/cd/file"]


def test_misplaced_names_what_stands_where_a_directory_belongs(transport: Transport,
                                                               tmp_path: Path) -> None:
    transport.put("records/ab/x.yaml", b"x")
    transport.put("locks/push-1.json", b"{}")
    transport.put("blobs", b"an object of that name is a key like any other")
    if isinstance(transport, LocalTransport):
        (tmp_path / "elsewhere").mkdir()
        (transport.root / "locks").rename(tmp_path / "elsewhere" / "locks")
        (transport.root / "locks").symlink_to(tmp_path / "elsewhere" / "locks")
        (transport.root / "packs").symlink_to("/dev/zero")
    names = ["blobs", "packs", "records", "contexts", "locks"]
    expected = ["blobs", "packs", "locks"] if isinstance(transport, LocalTransport) else []
    assert transport.misplaced(names) == expected


def test_leftovers_of_killed_writers(transport: Transport, tmp_path: Path) -> None:
    assert list(transport.leftovers()) == []
    if isinstance(transport, LocalTransport):
        (transport.root / "blobs" / "ab").mkdir(parents=True)
        (transport.root / "blobs" / "ab" / ".abc.0123456789ab.tmp").write_bytes(b"part")
    else:
        transport.client.create_multipart_upload(Bucket=transport.bucket,
                                                 Key="some/prefix/blobs/ab/abc")
    [left] = transport.leftovers()
    assert left.name.startswith("blobs/ab/")
    assert list(transport.list("")) == []  # never a key
    transport.remove_leftover(left)
    assert list(transport.leftovers()) == []


def test_s3_prefix_isolation(s3_bucket: tuple[str, str]) -> None:
    bucket, _ = s3_bucket
    a = S3Transport(bucket, "p")
    b = S3Transport(bucket, "p2")
    a.put("k", b"a")
    b.put("k", b"b")
    assert list(a.list("")) == ["k"]
    assert a.get("k") == b"a"
    assert S3Transport(bucket, "").get("p2/k") == b"b"


def test_s3_explicit_endpoint(s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, endpoint = s3_bucket
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    t = S3Transport(bucket, "x", endpoint_url=endpoint)
    t.check()
    assert t.put("k", b"v", if_absent=True) is not None


def test_s3_no_credentials(s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, _ = s3_bucket
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    with pytest.raises(RemoteError, match="no AWS credentials"):
        S3Transport(bucket, "").check()


def test_s3_unknown_profile(s3_bucket: tuple[str, str]) -> None:
    bucket, _ = s3_bucket
    with pytest.raises(RemoteError, match="profile"):
        S3Transport(bucket, "", profile="dsdt-no-such-profile").check()


# -- URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "parsed", "canonical"),
    [
        ("s3://bkt", ("s3", "bkt", ""), "s3://bkt"),
        ("s3://bkt/", ("s3", "bkt", ""), "s3://bkt"),
        ("s3://bkt/some/prefix/", ("s3", "bkt", "some/prefix"), "s3://bkt/some/prefix"),
        ("S3://bkt//a//b", ("s3", "bkt", "a/b"), "s3://bkt/a/b"),
        ("file:///srv/remote/", ("file", "", "/srv/remote"), "/srv/remote"),
        ("file://localhost/srv/a%20b", ("file", "", "/srv/a b"), "/srv/a b"),
        ("/srv/remote/", ("file", "", "/srv/remote"), "/srv/remote"),
        ("/srv/x/../remote", ("file", "", "/srv/remote"), "/srv/remote"),
    ],
)
def test_parse_url(url: str, parsed: tuple[str, str, str], canonical: str) -> None:
    assert parse_url(url) == parsed
    assert canonical_url(url) == canonical


def test_parse_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_url("remote/dir/") == ("file", "", str(tmp_path / "remote" / "dir"))


@pytest.mark.parametrize(
    "url", ["", "  ", "gs://b/p", "https://host/x", "s3://", "s3:///p", "s3:bkt", "file://nas/x"]
)
def test_parse_url_rejects(url: str) -> None:
    with pytest.raises(UsageError):
        parse_url(url)


def test_open_transport(tmp_path: Path) -> None:
    t = open_transport(f"file://{tmp_path}/")
    assert isinstance(t, LocalTransport)
    assert t.url == str(tmp_path)
    s = open_transport("s3://bkt/pre/", endpoint_url="http://127.0.0.1:1")
    assert isinstance(s, S3Transport)
    assert s.url == "s3://bkt/pre"


def test_boto3_is_imported_lazily() -> None:
    code = "import sys, dsdt.remote.open; sys.exit('boto3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_s3_clients_are_shared_until_the_aws_settings_change(
        s3_bucket: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.remote.s3 import S3Transport

    bucket, endpoint = s3_bucket
    first = S3Transport(bucket, "a", endpoint_url=endpoint).client
    assert S3Transport(bucket, "b", endpoint_url=endpoint).client is first
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "other")
    changed = S3Transport(bucket, "a", endpoint_url=endpoint).client
    assert changed is not first
    creds = tmp_path / "credentials"
    creds.write_text("[default]\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    with_file = S3Transport(bucket, "a", endpoint_url=endpoint).client
    os.utime(creds, ns=(1, 1))  # the file was rewritten (aws sso login, aws configure)
    assert S3Transport(bucket, "a", endpoint_url=endpoint).client is not with_file
