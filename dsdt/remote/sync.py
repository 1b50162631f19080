"""Push and pull: moving bundles between a local context and its remote context.

Push writes blobs, then records, then moves the remote context's ref with
compare-and-swap, so a bundle is never visible on the remote before all its
data is there, and two pushers to one remote context both succeed (the
loser of a race re-reads the ref and merges) or one gets a clear conflict.
Pull reads the ref once, brings down records (verified against the hashes
the ref names) and the small metadata blobs; bulk data comes down only when
localized or first used, and every downloaded blob is verified by sha256.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from dsdt._fs import write_once
from dsdt.errors import ConflictError, CorruptObjectError, NotFoundError, UsageError
from dsdt.objects.codecs import BlobRefs, blob_refs
from dsdt.objects.ids import sha256_bytes
from dsdt.objects.record import BundleRecord
from dsdt.remote import locks
from dsdt.remote.layout import (
    MAX_RECORD_BYTES,
    MAX_REF_BYTES,
    Entry,
    blob_key,
    context_key,
    decode_ref,
    encode_ref,
    record_key,
)
from dsdt.remote.open import canonical_url, open_transport
from dsdt.remote.proofs import Proofs
from dsdt.remote.transport import Transport
from dsdt.repo import BUNDLES, COMMITTED, Repository

_SWAP_ATTEMPTS = 20
_LIST_THRESHOLD = 512  # from this many blobs on, list their shards instead of probing each
_SMALL_PUT = 1 << 20  # blobs smaller than this are pushed with one create-only PUT
_SMALL_GET = 8 << 20  # blobs known to be smaller than this are fetched into memory


class ProgressSink(Protocol):
    """Receives transfer progress (the CLI draws a bar with it)."""

    def begin(self, files: int, nbytes: int) -> None:
        """A transfer of ``files`` objects totalling ``nbytes`` starts."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were transferred."""

    def file_done(self) -> None:
        """One more object finished."""


class _Quiet:
    def begin(self, files: int, nbytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def file_done(self) -> None:
        pass


@dataclass
class Report:
    """What a push or pull did."""

    bundles: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0
    delocalized: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # uuid -> why (failed the gate)


@dataclass
class Remote:
    """A local context bound to a remote context, with its transport."""

    repo: Repository
    ctx: str
    remote_context: str
    url: str
    transport: Transport

    @property
    def ref_key(self) -> str:
        """Key of the remote context's ref."""
        return context_key(self.remote_context)

    def members(self) -> dict[str, Entry]:
        """The remote context's members, read now."""
        return read_ref(self.transport, self.ref_key)

    def blob_url(self, blob_id: str) -> str:
        """Where a blob is on the remote (shown for data that is not local)."""
        return f"{self.url}/{blob_key(blob_id)}"

    @cached_property
    def proofs(self) -> Proofs:
        """Stamps of remote blobs whose content is proven (see :mod:`dsdt.remote.proofs`)."""
        return Proofs(self.repo.root / "cache" / "remote-proofs.sqlite")

    def locked(self, kind: str):  # type: ignore[no-untyped-def]
        """Hold a remote lock (:mod:`dsdt.remote.locks`) of ``kind`` for a ``with`` block."""
        return locks.holding(self.transport, kind, self.repo.config.lock_timeout)


def read_ref(tr: Transport, key: str) -> dict[str, Entry]:
    """The members a remote context ref lists (validated; empty when there is none)."""
    try:
        data = tr.get(key, limit=MAX_REF_BYTES)
    except NotFoundError:
        return {}
    return decode_ref(data, f"{tr.url}/{key}")


def open_remote(repo: Repository, ctx: str) -> Remote:
    """The remote bound to ``ctx`` (raises :class:`UsageError` when none is)."""
    meta = repo.context_meta(ctx)
    url = meta.get("remote_url")
    if not url:
        raise UsageError(f"context {ctx!r} has no remote; bind one with "
                         f"'dsdt remote <remote-context> <s3://bucket/prefix or directory>'")
    transport = open_transport(url, endpoint_url=repo.config.s3_endpoint_url)
    return Remote(repo, ctx, str(meta.get("remote_context") or ctx), canonical_url(url), transport)


def _run(jobs: int, fn: Callable[[str], None], items: Iterable[str]) -> None:
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(min(jobs, len(items))) as pool:
        for _ in pool.map(fn, items):
            pass


# --- push ------------------------------------------------------------------------------


def push(remote: Remote, uuids: list[str], *, jobs: int = 8,
         progress: ProgressSink | None = None) -> Report:
    """Push committed bundles of the local context to its remote context.

    Raises:
        UsageError: A bundle is not committed, or its data is not local.
        ConflictError: The remote has a different record under a uuid, or the
            remote ref kept changing under us.
    """
    with remote.locked(locks.SHARED):  # no remote gc or rmr sweeps while we rely on blobs
        return _push(remote, uuids, jobs, progress or _Quiet())


def _push(remote: Remote, uuids: list[str], jobs: int, sink: ProgressSink) -> Report:
    repo, report = remote.repo, Report()
    known = remote.members()
    records: dict[str, tuple[str, BundleRecord]] = {}
    for uuid in uuids:
        sha = repo.member_sha(remote.ctx, uuid)
        if sha is None or repo.member_sha(remote.ctx, uuid, COMMITTED) != sha:
            raise UsageError(f"bundle {uuid} is not committed; commit it before pushing "
                             "(dsdt commit -u <uuid>)")
        if uuid in known:
            if known[uuid].sha != sha:
                raise ConflictError(f"the remote holds a different record for bundle {uuid}")
            report.skipped.append(uuid)
            continue
        records[uuid] = (sha, repo.read_record(uuid, sha))
    if records:
        _send_blobs(remote, records, jobs, sink, report)
        _send_records(remote, records, jobs)
        _swap_ref(remote, lambda members: members.update(
            {u: Entry(sha, rec.name, rec.created) for u, (sha, rec) in records.items()}))
    report.bundles = list(records)
    return report


def _send_blobs(remote: Remote, records: dict[str, tuple[str, BundleRecord]], jobs: int,
                sink: ProgressSink, report: Report) -> None:
    repo, tr = remote.repo, remote.transport
    wanted: dict[str, int] = {}
    for _sha, rec in records.values():
        refs = blob_refs(rec.data, repo.blobs.read)
        for blob_id in refs.all():
            if not repo.blobs.has(blob_id):
                raise UsageError(f"bundle {rec.uuid} has data that is not local (blob {blob_id});"
                                 " pull it with localize before pushing it elsewhere")
            wanted[blob_id] = repo.blobs.size(blob_id)
    # Small blobs go up with a create-only PUT (one request; "already there" is an
    # answer, not an error); large ones are looked for first so they are not re-sent.
    small = [b for b, size in wanted.items() if size < _SMALL_PUT]
    large = _not_on_remote(tr, {b: s for b, s in wanted.items() if s >= _SMALL_PUT}, jobs)
    sink.begin(len(small) + len(large), sum(wanted[b] for b in small + large))
    sent: dict[str, str] = {}  # blob id -> stamp of the object we wrote

    def send(blob_id: str) -> None:
        key, path = blob_key(blob_id), repo.blobs.path(blob_id)
        if wanted[blob_id] >= _SMALL_PUT:
            sent[blob_id] = tr.put_file(key, path, sink.advance)
        elif (stamp := tr.put(key, path.read_bytes(), if_absent=True)) is not None:
            sent[blob_id] = stamp
        sink.file_done()

    try:
        _run(jobs, send, small + large)
    finally:
        remote.proofs.remember(remote.url, [(blob_key(b), st) for b, st in sent.items()])
    report.blobs, report.bytes = len(sent), sum(wanted[b] for b in sent)


def _not_on_remote(tr: Transport, wanted: dict[str, int], jobs: int) -> list[str]:
    """The wanted blobs the remote lacks (or holds with another size).

    Few blobs are probed one by one; many are found by listing the blob
    shards they fall in, which takes far fewer requests.
    """
    missing: list[str] = []
    if len(wanted) < _LIST_THRESHOLD:
        def probe(blob_id: str) -> None:
            if tr.size(blob_key(blob_id)) != wanted[blob_id]:
                missing.append(blob_id)

        _run(jobs * 2, probe, wanted)
        return missing
    present: dict[str, int] = {}

    def scan(shard: str) -> None:
        for key, size, _mtime in tr.list_info(f"blobs/{shard}/"):
            present[key.rsplit("/", 1)[-1]] = size

    _run(jobs * 2, scan, sorted({b[:2] for b in wanted}))
    return [b for b, size in wanted.items() if present.get(b) != size]


def _send_records(remote: Remote, records: dict[str, tuple[str, BundleRecord]],
                  jobs: int) -> None:
    repo, tr = remote.repo, remote.transport

    def send(uuid: str) -> None:
        data = repo.record_path(uuid).read_bytes()
        if tr.put(record_key(uuid), data, if_absent=True) is None and \
                sha256_bytes(tr.get(record_key(uuid), MAX_RECORD_BYTES)) != records[uuid][0]:
            raise ConflictError(f"the remote holds a different record for bundle {uuid}")

    _run(jobs, send, records)


def _swap_ref(remote: Remote, change: Callable[[dict[str, Entry]], None]) -> dict[str, Entry]:
    """Apply ``change`` to the remote context's members by compare-and-swap, retrying races."""
    tr, key = remote.transport, remote.ref_key
    for attempt in range(_SWAP_ATTEMPTS):
        got = tr.read_versioned(key)
        if got.data is not None and len(got.data) > MAX_REF_BYTES:
            raise CorruptObjectError(f"{remote.url}/{key} is larger than {MAX_REF_BYTES} bytes")
        members = decode_ref(got.data, f"{remote.url}/{key}")
        change(members)
        try:
            tr.swap(key, got.token, encode_ref(members))
            return members
        except ConflictError:
            time.sleep(min(0.01 * 2 ** attempt, 0.5))
    raise ConflictError(f"{remote.url}/{key} kept changing while we updated it; "
                        "another push is busy: try again")


# --- pull ------------------------------------------------------------------------------


def pull(remote: Remote, select: Callable[[str, Entry], bool], *, localize: bool = False,
         jobs: int = 8, progress: ProgressSink | None = None) -> Report:
    """Bring remote bundles (and, with ``localize``, their data) into the local context.

    Raises:
        ConflictError: A local bundle with the same uuid differs from the remote one.
        CorruptObjectError: A record or blob does not match its hash, or a remote
            bundle fails the validation gate (raised after the others were pulled).
    """
    with remote.repo.writing():  # records and metadata land before the refs naming them
        report = _pull(remote, select, localize, jobs, progress)
    if report.refused:
        first, why = next(iter(report.refused.items()))
        raise CorruptObjectError(
            f"pulled {len(report.bundles)} bundle(s), but refused {len(report.refused)} corrupt "
            f"or hostile remote bundle(s) (first: {first}: {why}); the rest is unaffected")
    return report


def _pull(remote: Remote, select: Callable[[str, Entry], bool], localize: bool, jobs: int,
          progress: ProgressSink | None) -> Report:
    repo, report = remote.repo, Report()
    wanted = {u: e for u, e in remote.members().items() if select(u, e)}
    fresh = []
    for uuid, entry in sorted(wanted.items()):
        local = repo.member_sha(remote.ctx, uuid)
        if local is not None and local != entry.sha:
            raise ConflictError(f"local bundle {uuid} differs from the remote one; "
                                "it was not overwritten")
        if local is not None and repo.member_sha(remote.ctx, uuid, COMMITTED) == local:
            report.skipped.append(uuid)
        else:
            fresh.append(uuid)  # new, or left uncommitted by an interrupted pull

    def refuse(uuid: str, e: CorruptObjectError) -> None:
        report.refused[uuid] = " ".join(str(e).split())

    def fetch(uuid: str) -> None:
        try:
            _fetch_record(remote, uuid, wanted[uuid].sha)
        except CorruptObjectError as e:
            refuse(uuid, e)

    _run(jobs, fetch, fresh)
    refs = BlobRefs()
    for uuid in wanted:
        if uuid not in report.refused:
            try:
                refs.update(_refs(remote, uuid))
            except CorruptObjectError as e:
                refuse(uuid, e)
    report.bundles = [u for u in fresh if u not in report.refused]
    for uuid in report.bundles:  # the commit mark first: the membership ref makes it appear
        sha = wanted[uuid].sha
        _set_ref(repo, repo.member_ref(remote.ctx, uuid, COMMITTED), sha)
        _set_ref(repo, repo.member_ref(remote.ctx, uuid, BUNDLES), sha)
    if localize:
        report.blobs, report.bytes = fetch_blobs(remote, refs.data, jobs=jobs, progress=progress)
    return report


def _set_ref(repo: Repository, ref: str, sha: str) -> None:
    """Make ``ref`` name ``sha`` unless it already does (racing pulls agree)."""
    current = repo.refs.read(ref)
    if current != sha:
        try:
            repo.refs.swap(ref, current, sha)
        except ConflictError:
            if repo.refs.read(ref) != sha:
                raise


def _fetch_record(remote: Remote, uuid: str, sha: str) -> None:
    data = remote.transport.get(record_key(uuid), MAX_RECORD_BYTES)
    if sha256_bytes(data) != sha:
        raise CorruptObjectError(f"remote record of bundle {uuid} does not match the hash its "
                                 "remote ref names; nothing was pulled for it")
    rec = BundleRecord.from_yaml(data, f"remote record {uuid}")
    if rec.uuid != uuid:
        raise CorruptObjectError(f"remote record {uuid} names bundle {rec.uuid}; nothing was "
                                 "pulled for it")
    path = remote.repo.record_path(uuid)
    if path.exists():
        if sha256_bytes(path.read_bytes()) != sha:
            raise ConflictError(f"a different local record for bundle {uuid} exists")
        return
    write_once(path, data)


def _refs(remote: Remote, uuid: str) -> BlobRefs:
    """The blobs a pulled bundle needs; its trees and packed values are fetched to find them."""
    repo = remote.repo

    def read(blob_id: str, limit: int) -> bytes:
        if not repo.blobs.has(blob_id):
            fetch_blobs(remote, {blob_id: limit})
        return repo.blobs.read(blob_id, limit)

    return blob_refs(repo.read_record(uuid).data, read)


def fetch_blobs(remote: Remote, limits: dict[str, int], *, jobs: int = 8,
                progress: ProgressSink | None = None) -> tuple[int, int]:
    """Download the blobs that are not local, verifying each; return (count, bytes).

    Args:
        remote: Where from.
        limits: Blob ids with the most bytes each may hold (its declared size):
            a larger download is refused and nothing of it is kept.
        jobs: Parallel transfers.
        progress: Receives progress.
    """
    repo, sink = remote.repo, progress or _Quiet()
    missing = [b for b in limits if not repo.blobs.has(b)]
    sink.begin(len(missing), sum(limits[b] for b in missing))

    def get(blob_id: str) -> None:
        limit = limits[blob_id]
        try:
            if limit < _SMALL_GET:  # one GET into memory, one local write
                data = remote.transport.get(blob_key(blob_id), limit)
                repo.blobs.put_verified(data, blob_id, sync=False)
                sink.advance(len(data))
            else:
                tmp = repo.blobs.new_tmp()
                repo.blobs.tmp.mkdir(parents=True, exist_ok=True)
                remote.transport.get_file(blob_key(blob_id), tmp, sink.advance, limit)
                repo.blobs.install_verified(tmp, blob_id, sync=False)
        except NotFoundError:
            raise NotFoundError(f"blob {blob_id} is missing from {remote.url}; the bundle's data "
                                "was never pushed or was removed there") from None
        sink.file_done()

    if missing:
        with repo.writing():  # gc leaves the downloads in cache/tmp alone
            try:
                _run(jobs, get, missing)
            finally:
                repo.blobs.sync()  # one filesystem flush for the whole batch
    return len(missing), sum(limits[b] for b in missing)


@dataclass
class RemoteData:
    """Reads a bundle's data when some of it is only on the remote (see FileDecoder)."""

    remote: Remote

    def url_of(self, blob_id: str) -> str:
        """Where a blob is on the remote."""
        return self.remote.blob_url(blob_id)

    def fetch(self, limits: dict[str, int]) -> None:
        """Bring blobs down (each at most its declared size, verified)."""
        fetch_blobs(self.remote, limits)

    def path(self, blob_id: str, size: int) -> Path:
        """Local path of a blob, downloading it first if needed (values load transparently)."""
        blobs = self.remote.repo.blobs
        if not blobs.has(blob_id):
            fetch_blobs(self.remote, {blob_id: size}, jobs=1)
        return blobs.path(blob_id)


@dataclass
class RemoteCheck:
    """What ``fsck --remote`` found on one remote context."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def verify(remote: Remote, jobs: int = 8) -> RemoteCheck:
    """Check the remote context: every member's record matches its hash, every blob is there.

    Temporary files and unfinished uploads left by killed pushes are warnings.
    """
    out = RemoteCheck()
    tr = remote.transport
    needed: dict[str, int] = {}
    try:
        members = remote.members()
    except CorruptObjectError as e:
        out.errors.append(str(e))
        members = {}
    for uuid, entry in sorted(members.items()):
        try:
            data = tr.get(record_key(uuid), MAX_RECORD_BYTES)
            if sha256_bytes(data) != entry.sha:
                out.errors.append(f"{remote.url}: record of {uuid} does not match its hash")
                continue
            rec = BundleRecord.from_yaml(data, f"remote record {uuid}")
            refs = blob_refs(rec.data, lambda b, limit: tr.get(blob_key(b), limit))
        except NotFoundError as e:
            out.errors.append(f"{remote.url}: bundle {uuid}: {e}")
            continue
        except CorruptObjectError as e:
            out.errors.append(f"{remote.url}: bundle {uuid}: {e}")
            continue
        needed.update(dict.fromkeys(refs.meta, -1))
        needed.update(refs.data)

    def probe(blob_id: str) -> None:
        size = tr.size(blob_key(blob_id))
        if size is None or (needed[blob_id] >= 0 and size != needed[blob_id]):
            out.errors.append(f"{remote.url}: blob {blob_id} is missing or truncated")

    _run(jobs, probe, needed)
    left = list(tr.leftovers())
    if left:
        out.warnings.append(f"{remote.url}: {len(left)} temporary file(s) or unfinished "
                            "upload(s) of interrupted pushes (dsdt gc --remote removes them)")
    return out
