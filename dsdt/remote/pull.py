"""Pull: bundles of the remote context into the local one; and data fetched on demand.

Pull reads the ref once, fetches the records it selects (verified against the
sha256 the ref names, then through the gate) and the directory trees and
packed values up to 8 MiB each, and adds each bundle as a committed member:
its commit mark first, then its membership ref. Data (and larger trees and
packed values) comes down with ``localize`` or when first read
(:class:`RemoteData`), each blob capped at its declared size and verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dsdt._fs import misplaced_error, read_regular, write_once
from dsdt.errors import (
    ConflictError,
    CorruptObjectError,
    DsdtError,
    NotFoundError,
    PlantedPathError,
)
from dsdt.objects.blobrefs import BlobRefs, blob_refs
from dsdt.objects.ids import sha256_bytes
from dsdt.objects.record import BundleRecord
from dsdt.remote.layout import MAX_RECORD_BYTES, Entry, blob_key, record_key
from dsdt.remote.packs import Unit
from dsdt.remote.sync import ProgressSink, Quiet, Remote, Report, run_jobs
from dsdt.repo import Repository

#: Seconds between flushes of the blobs a pull has fetched, so that a pull killed (kill -9,
#: power loss) starts again from what it had at most this long before.
CHECKPOINT = 10.0
_SMALL_GET = 8 << 20  # blobs known to be smaller than this are fetched into memory
_PREFETCH = 8 << 20  # trees and packed values up to this size come down with the metadata


def pull(remote: Remote, select: Callable[[str, Entry], bool], *, localize: bool = False,
         jobs: int = 8, progress: ProgressSink | None = None) -> Report:
    """Bring remote bundles (and, with ``localize``, their data) into the local context.

    Raises:
        ConflictError: A local bundle with the same uuid differs from the remote one
            (raised after the others were pulled; the local one is kept).
        PlantedPathError: A path planted in this clone (a symlink at ``records/<ab>``...)
            kept bundles out (raised after the others were pulled; the remote is not
            blamed).
        CorruptObjectError: A record or blob does not match its hash, or a remote
            bundle fails the validation gate (raised after the others were pulled).
    """
    with remote.repo.writing():  # records and metadata land before the refs naming them
        report, planted = _pull(remote, select, localize, jobs, progress)
    if planted:
        raise _kept_out(report, planted)
    if report.differing:
        raise ConflictError(
            f"local bundle {report.differing[0]} differs from the remote one, which was not "
            f"pulled over it ({len(report.differing)} such); pulled {len(report.bundles)} "
            f"bundle(s), refused {len(report.refused)} (dsdt fsck names each difference)")
    if report.refused:
        first, why = next(iter(report.refused.items()))
        raise CorruptObjectError(
            f"pulled {len(report.bundles)} bundle(s), but refused {len(report.refused)} corrupt "
            f"or hostile remote bundle(s) (first: {first}: {why}); the rest is unaffected")
    return report


def _kept_out(report: Report, planted: dict[str, PlantedPathError]) -> PlantedPathError:
    """The error of a pull that paths planted in this clone kept bundles out of: it names
    the first such path, and (a local fault) never blames the remote's bundles."""
    first, e = min(planted.items())
    why = " ".join(str(e).split())
    why += "" if "dsdt fsck" in why else " (run dsdt fsck)"
    also = (f"; {len(report.refused)} corrupt or hostile remote bundle(s) were refused too "
            f"(first: {min(report.refused)})" if report.refused else "")
    return PlantedPathError(
        f"{why}, then pull again: it kept {len(planted)} bundle(s) from being "
        f"pulled (first: {first}); pulled {len(report.bundles)} bundle(s){also}")


def _pull(remote: Remote, select: Callable[[str, Entry], bool], localize: bool, jobs: int,
          progress: ProgressSink | None) -> tuple[Report, dict[str, PlantedPathError]]:
    """Pull what ``select`` picks; also return the bundles paths planted here kept out."""
    repo, report = remote.repo, Report()
    planted: dict[str, PlantedPathError] = {}
    wanted = {u: e for u, e in remote.members().items() if select(u, e)}
    fresh, copies = _to_fetch(remote, wanted, report)
    for uuid in report.differing:
        del wanted[uuid]

    def refuse(uuid: str, e: DsdtError) -> None:
        report.refused[uuid] = " ".join(str(e).split())
        repo.pulled_record_path(uuid).unlink(missing_ok=True)  # so it does not show

    def fetch(uuid: str) -> None:
        try:
            _fetch_record(remote, uuid, wanted[uuid].sha)
        except PlantedPathError as e:  # a path of this clone, not the remote's bundle
            planted[uuid] = e
        except (CorruptObjectError, NotFoundError) as e:  # a listed record that is not there
            refuse(uuid, e)

    run_jobs(jobs, fetch, fresh + copies)
    refs = BlobRefs()
    for uuid in wanted:
        if uuid not in report.refused and uuid not in planted:
            try:
                refs.update(needed_blobs(remote, uuid, None if localize else _PREFETCH))
            except PlantedPathError as e:
                planted[uuid] = e
            except CorruptObjectError as e:
                refuse(uuid, e)
            except _Later:
                pass  # a large tree or packed value: fetched when the data is read
    report.bundles = [u for u in fresh if u not in report.refused and u not in planted]
    if localize:
        report.blobs, report.bytes = fetch_blobs(remote, refs.data, jobs=jobs, progress=progress)
    return report, planted


def _to_fetch(remote: Remote, wanted: dict[str, Entry], report: Report
              ) -> tuple[list[str], list[str]]:
    """The bundles whose records to fetch: the new ones, and the checked-in ones with no
    pulled copy (it stays if git drops them); these and the pulled ones are skipped, and
    the checked-in ones the remote lists with another record are ``differing``."""
    repo = remote.repo
    fresh: list[str] = []
    copies: list[str] = []
    for uuid, entry in sorted(wanted.items()):
        local = repo.refs.read(repo.member_ref(remote.ctx, uuid))  # the checked-in member
        if local is not None and local != entry.sha:
            report.differing.append(uuid)  # never pulled over it
            continue
        pulled = _has_pulled(repo, uuid, entry.sha)
        if local is None and not pulled:
            fresh.append(uuid)
        else:
            report.skipped.append(uuid)
            if not pulled:
                copies.append(uuid)
    return fresh, copies


def _has_pulled(repo: Repository, uuid: str, sha: str) -> bool:
    """True if the record of ``uuid`` pulled earlier is here and is record ``sha``."""
    try:
        return sha256_bytes(read_regular(repo.pulled_record_path(uuid), MAX_RECORD_BYTES)) == sha
    except (FileNotFoundError, CorruptObjectError):
        return False


def _fetch_record(remote: Remote, uuid: str, sha: str) -> None:
    """Keep record ``sha`` of ``uuid`` among the pulled records: from the checked-in one when
    it is that record, else downloaded, verified and passed through the gate."""
    repo = remote.repo
    try:
        data = read_regular(repo.record_path(uuid), MAX_RECORD_BYTES)
    except FileNotFoundError:
        data = b""
    if sha256_bytes(data) != sha:
        data = remote.transport.get(record_key(uuid), MAX_RECORD_BYTES)
        if sha256_bytes(data) != sha:
            raise CorruptObjectError(f"remote record of bundle {uuid} does not match the hash "
                                     "its remote ref names; nothing was pulled for it")
    rec = BundleRecord.from_yaml(data, f"remote record {uuid}")
    if rec.uuid != uuid:
        raise CorruptObjectError(f"remote record {uuid} names bundle {rec.uuid}; nothing was "
                                 "pulled for it")
    path = repo.pulled_record_path(uuid)
    try:
        path.unlink(missing_ok=True)  # another record of this uuid, from before a rebinding
    except IsADirectoryError:
        raise misplaced_error(path, directory=False) from None
    write_once(path, data)


class _Later(Exception):
    """A tree or packed value is too large to fetch with the metadata."""


def needed_blobs(remote: Remote, uuid: str, most: int | None = None) -> BlobRefs:
    """The blobs a pulled bundle needs; its trees and packed values are fetched to find them.

    Args:
        remote: Where from.
        uuid: The bundle (its record is local).
        most: Fetch only trees and packed values at most this large on the remote
            (else raise :class:`_Later`): what a hostile node declares never
            decides how much a metadata pull downloads.
    """
    repo = remote.repo

    def read(blob_id: str, limit: int) -> bytes:
        if not repo.blobs.has(blob_id):
            if most is not None:
                actual = remote.blob_size(blob_id)
                if actual is None or actual > most:
                    raise _Later(blob_id)
                limit = min(limit, actual)
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
    repo, sink = remote.repo, progress or Quiet()
    missing = [b for b in limits if not repo.blobs.has(b)]
    sink.begin(len(missing), sum(limits[b] for b in missing))
    if missing:
        with repo.writing():  # gc leaves the downloads in cache/tmp alone
            try:
                _fetch(remote, {b: limits[b] for b in missing}, jobs, sink)
            finally:
                repo.blobs.sync()  # one filesystem flush for the whole batch
    return len(missing), sum(limits[b] for b in missing)


def _fetch(remote: Remote, limits: dict[str, int], jobs: int, sink: ProgressSink,
           again: bool = True) -> None:
    """Fetch blobs: those in packs by whole packs or coalesced ranges, the others alone.

    A pack gone since the pack cache was read (repacked by ``gc --remote``)
    makes the cache be read again, once; a blob whose packed copy does not
    hash to its id is tried as an object of its own (``fsck --remote --repair``
    uploads one) before the error is raised.
    """
    repo = remote.repo
    located = {b: w for b, w in remote.packs.locate(list(limits)).items()
               if w.entry.length <= limits[b]}
    alone = [b for b in limits if b not in located]
    gone: list[str] = []
    flushed = [time.monotonic()]

    def unit(u: Unit) -> None:
        try:
            for blob_id, data in remote.packs.read(u):
                try:
                    repo.blobs.put_verified(data, blob_id, sync=False)
                except CorruptObjectError:
                    if not _elsewhere(remote, blob_id, u.pack, limits[blob_id], sink):
                        raise
                    continue
                sink.advance(len(data))
                sink.file_done()
                if time.monotonic() - flushed[0] >= CHECKPOINT:  # a pull killed later keeps
                    flushed[0] = time.monotonic()  # what came until now: its blobs are in place
                    repo.blobs.sync()
        except NotFoundError:
            gone.extend(e.blob for e in u.entries if not repo.blobs.has(e.blob))
        except CorruptObjectError:  # a truncated pack: each blob is looked for elsewhere
            for e in u.entries:
                if not repo.blobs.has(e.blob) and not _elsewhere(remote, e.blob, u.pack,
                                                                 limits[e.blob], sink):
                    raise

    run_jobs(jobs, unit, remote.packs.plan(located))
    run_jobs(jobs, lambda b: _get(remote, b, limits[b], sink), alone)
    if gone and again:
        remote.packs.refresh()
        _fetch(remote, {b: limits[b] for b in gone}, jobs, sink, again=False)
    elif gone:
        raise NotFoundError(f"blob {gone[0]} is missing from {remote.url}; its pack is gone "
                            "(run dsdt fsck --remote)")


def _elsewhere(remote: Remote, blob_id: str, bad_pack: str, limit: int,
               sink: ProgressSink) -> bool:
    """Fetch a blob whose copy in ``bad_pack`` failed from another pack listing it, or
    from its own object; False when no copy verifies."""
    for where in remote.packs.cache.copies(remote.url, blob_id):
        if where.pack == bad_pack or where.entry.length > limit:
            continue
        one = Unit(where.pack, where.entry.offset, where.entry.length, (where.entry,), False)
        try:
            for _, data in remote.packs.read(one):
                remote.repo.blobs.put_verified(data, blob_id, sync=False)
                sink.advance(len(data))
        except (CorruptObjectError, NotFoundError):
            continue
        return True
    return _get_alone(remote, blob_id, limit, sink)


def _get_alone(remote: Remote, blob_id: str, limit: int, sink: ProgressSink) -> bool:
    """Fetch a blob from its own object if the remote has one; False when it has none."""
    try:
        _get(remote, blob_id, limit, sink)
    except NotFoundError:
        return False
    return True


def _get(remote: Remote, blob_id: str, limit: int, sink: ProgressSink) -> None:
    """Fetch one blob stored as an object of its own, verifying it."""
    repo = remote.repo
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
        refused = remote.packs.refused
        if refused:  # the blob may be in a pack whose index cannot be trusted
            pack, why = next(iter(refused.items()))
            raise CorruptObjectError(
                f"blob {blob_id} is in no readable pack or object on {remote.url}, and "
                f"{len(refused)} pack index(es) there were refused as corrupt (pack {pack}: "
                f"{why}); the blob may be in one: run dsdt fsck --remote") from None
        raise NotFoundError(f"blob {blob_id} is missing from {remote.url}; the bundle's data "
                            "was never pushed or was removed there") from None
    sink.file_done()


@dataclass
class RemoteData:
    """Reads a bundle's data when some of it is only on the remote (see FileDecoder)."""

    remote: Remote

    @property
    def shares_paths(self) -> bool:
        """True when a remote URL is a path on this machine (a directory remote): handing
        it out would let a write through it change the team's copy, so files are fetched."""
        return not self.remote.url.startswith("s3://")

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
        return blobs.trusted_path(blob_id)
