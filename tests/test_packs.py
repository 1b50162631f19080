"""Packs of small blobs on remotes: few objects, dedup from cached indexes, ranged pulls,
old loose remotes, repacking gc, interrupted pushes, and hostile indexes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import dsdt_cli, fails, ok
from conftest import assert_fsck_clean
from test_gc import set_config

import dsdt.api as api
from dsdt.errors import CorruptObjectError, RemoteError
from dsdt.objects.blobs import BlobStore
from dsdt.objects.ids import sha256_bytes
from dsdt.remote import pull, push, sync
from dsdt.remote.open import open_transport
from dsdt.remote.packindex import (
    MAX_INDEX_BYTES,
    PackEntry,
    PackIndex,
    decode_index,
    encode_index,
    index_key,
    pack_key,
    parse_key,
)
from dsdt.remote.transport import Transport
from dsdt.repo import Repository


@pytest.fixture
def other(project: Path, tmp_path_factory: pytest.TempPathFactory,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A second clone; ``monkeypatch.chdir`` to it to use it."""
    path = tmp_path_factory.mktemp("clone")
    api.init(path)
    yield path
    monkeypatch.chdir(project)
    Repository.forget()


@pytest.fixture
def dir_remote(tmp_path: Path) -> str:
    """A directory remote, bound to the default context as "shared"."""
    url = str(tmp_path / "remote")
    os.mkdir(url)
    api.remote("default", "shared", url)
    return url


def in_clone(other: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work in the second clone from now on, bound to the same remote context."""
    monkeypatch.chdir(other)
    Repository.forget()
    api.remote("default", "shared", url)


def files(root: Path, name: str, n: int, size: int = 4096) -> Path:
    d = root / name
    d.mkdir()
    for i in range(n):
        (d / f"f{i}.bin").write_bytes(os.urandom(size))
    return d


def objects(url: str) -> dict[str, list[str]]:
    """Keys on the remote by top-level directory (locks aside)."""
    out: dict[str, list[str]] = {}
    for key, _size, _mtime in open_transport(url).list_info(""):
        out.setdefault(key.split("/", 1)[0], []).append(key)
    out.pop("locks", None)
    return out


class Counting:
    """Wraps every Remote's transport, counting reads of packs and the bytes they bring."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ranges = 0
        self.whole = 0
        self.bytes = 0
        original = sync.Remote.__init__
        counter = self

        def wrapped(remote: sync.Remote, *args: object, **kwargs: object) -> None:
            original(remote, *args, **kwargs)
            tr: Transport = remote.transport
            get, get_range = tr.get, tr.get_range

            def counted_get(key: str, limit: int | None = None) -> bytes:
                data = get(key, limit)
                if key.endswith(".pack"):
                    counter.whole += 1
                    counter.bytes += len(data)
                return data

            def counted_range(key: str, offset: int, length: int) -> bytes:
                counter.ranges += 1
                counter.bytes += length
                return get_range(key, offset, length)

            tr.get = counted_get  # type: ignore[method-assign]
            tr.get_range = counted_range  # type: ignore[method-assign]

        monkeypatch.setattr(sync.Remote, "__init__", wrapped)


def test_many_small_files_go_up_in_one_pack_and_come_back(project: Path, other: Path,
                                                           remote_url: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    api.remote("default", "shared", remote_url)
    d = files(project, "d", 300)
    api.add("default", "d", str(d)).commit()
    report = api.push("default")
    assert report.blobs == 301  # 300 files and the directory's tree
    on = objects(remote_url)
    assert "blobs" not in on and len(on["packs"]) == 2  # one pack and its index
    assert sorted(k.rsplit(".", 1)[1] for k in on["packs"]) == ["idx", "pack"]
    assert api.fsck(remote=True).ok
    in_clone(other, remote_url, monkeypatch)
    api.pull("default", localize=True)
    assert sorted(Path(p).read_bytes() for p in api.cat("default", "d")) == sorted(
        p.read_bytes() for p in d.iterdir())
    assert_fsck_clean()


def test_a_long_pull_puts_what_it_fetched_in_place_as_it_goes(
        project: Path, other: Path, dir_remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs are flushed and named every CHECKPOINT seconds: a pull killed with kill -9
    (which runs no cleanup) starts again from there, not from nothing."""
    d = files(project, "d", 40, size=100)
    api.add("default", "d", str(d)).commit()
    api.push("default")
    in_clone(other, dir_remote, monkeypatch)
    monkeypatch.setattr(pull, "CHECKPOINT", 0.0)
    placed: list[int] = []
    flush = BlobStore.sync

    def counted(self: BlobStore) -> None:
        flush(self)
        placed.append(sum(1 for _ in self))

    monkeypatch.setattr(BlobStore, "sync", counted)
    api.pull("default", localize=True)
    assert len(placed) > 2 and placed[0] < placed[-1] == 41  # in place file by file
    assert_fsck_clean()


def test_a_second_push_of_the_same_data_writes_nothing(project: Path, remote_url: str) -> None:
    api.remote("default", "shared", remote_url)
    d = files(project, "d", 50)
    api.add("default", "d", str(d)).commit()
    api.push("default")
    before = objects(remote_url)
    api.add("default", "again", str(d)).commit()  # same files: same blobs, a new bundle
    for db in (project / ".dsdt" / "cache").glob("db-*/remote-packs.sqlite*"):
        db.unlink()  # the pack cache is rebuilt from the indexes on the remote
    report = api.push("default")
    assert report.bundles and report.blobs == 0
    after = objects(remote_url)
    assert after["packs"] == before["packs"] and "blobs" not in after


def test_a_pull_of_a_few_blobs_reads_ranges_and_of_most_reads_the_pack(
        project: Path, other: Path, remote_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api.remote("default", "shared", remote_url)
    api.add("default", "big", str(files(project, "big", 200))).commit()
    api.add("default", "few", str(files(project, "few", 5))).commit()
    api.push("default")
    pack_size = sum(s for k, s, _ in open_transport(remote_url).list_info("packs/")
                    if k.endswith(".pack"))
    in_clone(other, remote_url, monkeypatch)
    counting = Counting(monkeypatch)
    api.pull("default", "few", localize=True)
    assert counting.whole == 0 and 1 <= counting.ranges <= 3  # the tree, then the files
    assert counting.bytes < pack_size / 10
    assert len(api.cat("default", "few")) == 5
    counting.ranges = counting.bytes = 0
    api.pull("default", "big", localize=True)
    assert counting.whole == 1 and counting.bytes <= pack_size + 64 << 10
    assert len(api.cat("default", "big")) == 200
    assert_fsck_clean()


def test_a_remote_of_loose_blobs_stays_readable_and_writable(
        project: Path, other: Path, remote_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api.remote("default", "shared", remote_url)
    old = files(project, "old", 20)
    with monkeypatch.context() as m:
        m.setattr(push, "PACK_THRESHOLD", 0)  # as dsdt wrote remotes before packs
        api.add("default", "old", str(old)).commit()
        api.push("default")
    assert len(objects(remote_url)["blobs"]) == 21 and "packs" not in objects(remote_url)
    new = files(project, "new", 20)
    api.add("default", "new", str(new)).commit()
    assert api.push("default").blobs == 21
    assert len(objects(remote_url)["packs"]) == 2
    assert api.fsck(remote=True).ok
    in_clone(other, remote_url, monkeypatch)
    api.pull("default", localize=True)
    for name, src in (("old", old), ("new", new)):
        assert sorted(Path(p).read_bytes() for p in api.cat("default", name)) == sorted(
            p.read_bytes() for p in src.iterdir())


def test_gc_remote_rewrites_a_pack_that_is_mostly_garbage(project: Path, other: Path,
                                                          remote_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(project, "remote_gc_grace", "0")
    api.remote("default", "shared", remote_url)
    big = api.add("default", "big", str(files(project, "big", 100))).commit()
    small = files(project, "small", 5)
    api.add("default", "small", str(small)).commit()
    api.push("default")
    first = objects(remote_url)["packs"]
    api.rmr("default", uuid=big.uuid)
    out = ok("gc", "--remote").out
    assert "0 pack(s) removed whole, 1 rewritten" in out
    assert "Removed 101 blob(s)" in out
    now = objects(remote_url)["packs"]
    assert len(now) == 2 and not set(now) & set(first)
    size = sum(s for k, s, _ in open_transport(remote_url).list_info("packs/")
               if k.endswith(".pack"))
    assert size < 6 * 4096 + 1024  # the five files and the tree
    assert api.fsck(remote=True).ok
    in_clone(other, remote_url, monkeypatch)
    api.pull("default", localize=True)
    assert sorted(Path(p).read_bytes() for p in api.cat("default", "small")) == sorted(
        p.read_bytes() for p in small.iterdir())
    monkeypatch.chdir(project)
    Repository.forget()
    api.rmr("default", bundle_name="small")
    assert "1 pack(s) removed whole" in ok("gc", "--remote").out
    assert "packs" not in objects(remote_url)


def test_gc_remote_keeps_mostly_live_packs_and_young_ones(project: Path,
                                                          remote_url: str) -> None:
    set_config(project, "remote_gc_grace", "0")
    api.remote("default", "shared", remote_url)
    big = api.add("default", "big", str(files(project, "big", 50))).commit()
    few = api.add("default", "few", str(files(project, "few", 5))).commit()
    api.push("default")
    before = objects(remote_url)["packs"]
    api.rmr("default", uuid=few.uuid)
    ok("gc", "--remote")  # mostly live: left as it is
    assert objects(remote_url)["packs"] == before
    set_config(project, "remote_gc_grace", "3600")
    api.rmr("default", uuid=big.uuid)
    out = ok("gc", "--remote").out  # all garbage now, but young
    assert "1 unreferenced object(s) younger than the grace period" in out
    assert objects(remote_url)["packs"] == before


def test_a_push_interrupted_between_pack_and_index_resumes(
        project: Path, remote_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(project, "remote_gc_grace", "0")
    api.remote("default", "shared", remote_url)
    api.add("default", "d", str(files(project, "d", 30))).commit()
    original = sync.Remote.__init__

    def failing(remote: sync.Remote, *args: object, **kwargs: object) -> None:
        original(remote, *args, **kwargs)
        put = remote.transport.put

        def flaky(key: str, data: bytes, *, if_absent: bool = False) -> str | None:
            if key.endswith(".idx"):
                raise RemoteError("injected: connection reset")
            return put(key, data, if_absent=if_absent)

        remote.transport.put = flaky  # type: ignore[method-assign]

    with monkeypatch.context() as m:
        m.setattr(sync.Remote, "__init__", failing)
        with pytest.raises(RemoteError, match="injected"):
            api.push("default")
    on = objects(remote_url)
    assert [k for k in on["packs"] if k.endswith(".pack")] and "contexts" not in on
    assert api.push("default").bundles  # the pack is there; its index is written now
    assert api.fsck(remote=True).ok
    packs = objects(remote_url)["packs"]
    assert len(packs) == 2  # the same pack (same bytes, same name) and its index
    ok("gc", "--remote")
    assert objects(remote_url)["packs"] == packs


def test_a_pack_without_its_index_is_never_relied_on_and_gc_removes_it(
        project: Path, remote_url: str) -> None:
    api.remote("default", "shared", remote_url)
    d, tr, pid = _pushed_pack(project, remote_url, 10, 4096)
    tr.delete(index_key(pid))  # as if the push died before writing it
    api.add("default", "again", str(d)).commit()
    assert api.push("default").blobs == 11  # nothing is believed without an index
    assert tr.size(index_key(pid)) is not None  # the same pack again: its index is back
    lone = os.urandom(5000)
    lone_id = sha256_bytes(lone)
    tr.put(pack_key(lone_id), lone)  # a pack a killed push left without its index
    ok("gc", "--remote")
    assert tr.size(pack_key(lone_id)) == 5000  # younger than the grace period
    set_config(project, "remote_gc_grace", "0")
    ok("gc", "--remote")
    assert tr.size(pack_key(lone_id)) is None and tr.size(pack_key(pid)) is not None
    assert api.fsck(remote=True).ok


# -- hostile indexes ---------------------------------------------------------------------


def _index(size: int, *entries: tuple[str, int, int]) -> bytes:
    return encode_index(PackIndex("ab" * 32, size, tuple(PackEntry(*e) for e in entries)))


@pytest.mark.parametrize(("data", "why"), [
    (b"garbage", "not a pack index"),
    (_index(100, ("cd" * 32, 90, 20)), "outside"),  # past the pack's end
    (_index(100, ("cd" * 32, 0, 1 << 40)), "outside"),  # a huge length
    (_index(100, ("cd" * 32, 0, 50), ("ef" * 32, 40, 10)), "overlap"),
    (_index(100, ("cd" * 32, 0, 10), ("cd" * 32, 10, 10)), "twice"),
    (_index(1 << 40, ("cd" * 32, 0, 10)), "pack size"),
    (_index(100, ("CD" * 32, 0, 10)), "line 3"),
    (_index(100, ("cd" * 32, 0, 10)).replace(b"ab" * 32, b"ef" * 32, 1), "describe pack"),
    (_index(100, ("cd" * 32, 0, 10)) + b"x", "not a pack index"),
    (_index(100, ("../" * 21 + "x", 0, 10)), "line 3"),
    (b"x" * (MAX_INDEX_BYTES + 1), "larger"),
])
def test_a_hostile_index_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(CorruptObjectError, match=why):
        decode_index(data, "ab" * 32, "planted")


def _only_pack(url: str) -> tuple[Transport, str]:
    tr = open_transport(url)
    pid = next(parse_key(k)[0] for k in tr.list("packs/") if k.endswith(".idx"))  # type: ignore
    return tr, pid


def _pushed_pack(project: Path, url: str, n: int, size: int = 1000
                 ) -> tuple[Path, Transport, str]:
    """Push ``n`` new files as committed bundle ``d``: their directory, and the one pack."""
    d = files(project, "d", n, size)
    api.add("default", "d", str(d)).commit()
    api.push("default")
    return (d, *_only_pack(url))


def test_a_planted_index_or_pack_never_yields_wrong_bytes(project: Path, other: Path,
                                                          dir_remote: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = dir_remote
    d, tr, pid = _pushed_pack(project, url, 8)
    good_pack, good_index = tr.get(pack_key(pid)), tr.get(index_key(pid))
    index = decode_index(good_index, pid, "ours")
    in_clone(other, url, monkeypatch)
    api.pull("default")

    def attempt(pack: bytes, text: bytes) -> str:
        tr.put(pack_key(pid), pack)
        tr.put(index_key(pid), text)
        for db in (other / ".dsdt" / "cache").glob("db-*/remote-packs.sqlite*"):
            db.unlink()
        Repository.forget()
        out = fails(9, "pull", "-l")
        assert not any(p.is_file() for p in (other / ".dsdt/cache/blobs").rglob("*")
                       if p.stat().st_size == 1000)  # no file of the bundle was kept
        return out

    tree = api.get("default", "d").record.data["tree"]  # pulled already: flip a file's byte
    at = next(e.offset for e in index.entries if e.blob != tree)
    flipped = good_pack[:at] + bytes([good_pack[at] ^ 1]) + good_pack[at + 1:]
    out = attempt(flipped, good_index)  # a blob that does not hash to its id
    assert "does not match" in out or "corrupt" in out
    swapped = list(index.entries)
    swapped[0], swapped[1] = (PackEntry(swapped[1].blob, swapped[0].offset, swapped[0].length),
                              PackEntry(swapped[0].blob, swapped[1].offset, swapped[1].length))
    attempt(good_pack, encode_index(PackIndex(pid, index.size, tuple(swapped))))
    truncated = good_pack[:-500]  # a truncated pack whose index declares its old size
    tr.put(pack_key(pid), truncated)
    tr.put(index_key(pid), encode_index(PackIndex(pid, len(truncated), index.entries)))
    Repository.forget()
    for db in (other / ".dsdt" / "cache").glob("db-*/remote-packs.sqlite*"):
        db.unlink()
    run = dsdt_cli("fsck", "--remote")
    assert run.code == 1 and "was refused" in run.out and "outside the" in run.out
    tr.put(pack_key(pid), good_pack)
    tr.put(index_key(pid), good_index)
    Repository.forget()
    ok("pull", "-l")
    assert sorted(Path(p).read_bytes() for p in api.cat("default", "d")) == sorted(
        p.read_bytes() for p in d.iterdir())


def test_gc_never_drops_a_live_blob_because_a_planted_index_claims_it(
        project: Path, dir_remote: str) -> None:
    """An attacker plants a pack whose index lists the live blobs over garbage bytes: the
    mostly-garbage pack that really holds them must be rewritten, not dropped."""
    url = dir_remote
    set_config(project, "remote_gc_grace", "0")
    big = api.add("default", "big", str(files(project, "big", 60))).commit()
    small = files(project, "small", 3)
    api.add("default", "small", str(small)).commit()
    api.push("default")
    tr, pid = _only_pack(url)
    real = decode_index(tr.get(index_key(pid)), pid, "ours")
    wanted = {sha256_bytes(p.read_bytes()) for p in small.iterdir()}
    claims = [e for e in real.entries if e.blob in wanted]
    fake = b"\0" * sum(e.length for e in claims)  # the right lengths, the wrong bytes
    fid = sha256_bytes(fake)
    at, entries = 0, []
    for e in claims:
        entries.append(PackEntry(e.blob, at, e.length))
        at += e.length
    tr.put(pack_key(fid), fake)
    tr.put(index_key(fid), encode_index(PackIndex(fid, len(fake), tuple(entries))))
    api.rmr("default", uuid=big.uuid)
    ok("gc", "--remote")
    good = [decode_index(tr.get(k), parse_key(k)[0], "after")  # type: ignore[index]
            for k in tr.list("packs/") if k.endswith(".idx") and parse_key(k)[0] != fid]
    kept = {e.blob for i in good for e in i.entries}
    assert wanted <= kept  # every live blob still has a real copy


def test_a_lying_pack_listed_first_does_not_hide_the_good_one(
        project: Path, other: Path, dir_remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = dir_remote
    d, tr, pid = _pushed_pack(project, url, 6)
    real = decode_index(tr.get(index_key(pid)), pid, "ours")
    for n in range(1000):  # garbage whose pack id sorts first: it is the copy tried first
        fake = bytes([n % 256]) * real.size + n.to_bytes(4, "big")
        fid = sha256_bytes(fake)
        if fid < pid:
            break
    tr.put(pack_key(fid), fake)
    tr.put(index_key(fid), encode_index(PackIndex(fid, len(fake), real.entries)))
    in_clone(other, url, monkeypatch)
    api.pull("default", localize=True)  # the lying copies fail their hash; the good pack serves
    assert sorted(Path(p).read_bytes() for p in api.cat("default", "d")) == sorted(
        p.read_bytes() for p in d.iterdir())


def test_push_d_reads_an_index_rewritten_in_place_before_dropping_local_copies(
        project: Path, dir_remote: str) -> None:
    """The attacker rewrites an index under its own name (a fresh clone reads the new one):
    a cached reading of the old one proves nothing."""
    url = dir_remote
    d = files(project, "d", 4, 1000)
    a = api.add("default", "a", str(d)).commit()
    b = api.add("default", "b", [str(p) for p in sorted(d.iterdir())]).commit()
    api.push("default", uuid=a.uuid, delocalize=True)  # proves the blobs; b keeps them local
    tr, pid = _only_pack(url)
    index = decode_index(tr.get(index_key(pid)), pid, "ours")
    e = list(index.entries)
    files_ = [i for i, x in enumerate(e) if x.length == 1000][:2]
    i, j = files_
    e[i], e[j] = (PackEntry(e[j].blob, e[i].offset, e[i].length),
                  PackEntry(e[i].blob, e[j].offset, e[j].length))
    tr.put(index_key(pid), encode_index(PackIndex(pid, index.size, tuple(e))))
    assert "not its bytes" in fails(9, "push", "-u", b.uuid, "-d")
    assert all(Path(p).read_bytes() for p in api.get("default", "b").data)  # still local


def test_a_directory_where_a_pack_index_belongs_does_not_stop_gc(
        project: Path, dir_remote: str) -> None:
    url = dir_remote
    set_config(project, "remote_gc_grace", "0")
    api.add("default", "d", str(files(project, "d", 3))).commit()
    api.push("default")
    planted = Path(url) / "packs" / "40" / ("40" * 32 + ".idx")
    planted.mkdir(parents=True)
    (planted.parent / ("40" * 32 + ".pack")).write_bytes(b"an orphan pack")
    r = ok("gc", "--remote")  # the sweep goes on, and says what it could not remove
    assert "Is a directory" in r.out and planted.is_dir()
    assert api.fsck(remote=True).ok  # the real pack is untouched


def test_a_blob_behind_a_refused_index_is_reported_as_corruption_not_as_never_pushed(
        project: Path, other: Path, dir_remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = dir_remote
    _, tr, pid = _pushed_pack(project, url, 4)
    tr.put(pack_key(pid), tr.get(pack_key(pid)) + b"x")  # one byte more than its index says
    in_clone(other, url, monkeypatch)
    out = fails(9, "pull", "-l")
    assert "refused as corrupt" in out and pid in out and "dsdt fsck --remote" in out
    assert "never pushed" not in out
