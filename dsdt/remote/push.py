"""Push: committed bundles of a local context to its remote context.

Under a shared remote lock (:mod:`dsdt.remote.locks`): the blobs the remote
lacks (small ones in packs, :mod:`dsdt.remote.packs`, large ones alone), then
the records (create-only), then the remote context's ref by
compare-and-swap. The stamps of the blobs written are kept as proofs
(:mod:`dsdt.remote.proofs`).
"""

from __future__ import annotations

from dsdt.errors import ConflictError, CorruptObjectError, UsageError
from dsdt.members import COMMITTED
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.ids import sha256_bytes
from dsdt.objects.record import BundleRecord
from dsdt.remote import locks
from dsdt.remote.layout import MAX_RECORD_BYTES, Entry, blob_key, record_key
from dsdt.remote.packindex import PACK_THRESHOLD
from dsdt.remote.packs import groups
from dsdt.remote.sync import ProgressSink, Quiet, Remote, Report, run_jobs, swap_ref
from dsdt.remote.transport import Transport

_LIST_THRESHOLD = 512  # from this many blobs on, list their shards instead of probing each
_SMALL_PUT = 1 << 20  # a blob alone smaller than this goes up with one create-only PUT
_PACK_JOBS = 4  # packs built and sent at once (each holds about 17 MiB in memory)


def push(remote: Remote, uuids: list[str], *, jobs: int = 8,
         progress: ProgressSink | None = None, ours: bool = False) -> Report:
    """Push committed bundles of the local context to its remote context.

    Raises:
        UsageError: A bundle is not committed, or its data is not local.
        ConflictError: The remote has a different record under a uuid, or the
            remote ref kept changing under us.
    """
    with remote.locked(locks.SHARED):  # no remote gc or rmr sweeps while we rely on blobs
        return _push(remote, uuids, jobs, progress or Quiet(), ours)


def _push(remote: Remote, uuids: list[str], jobs: int, sink: ProgressSink,
          ours: bool) -> Report:
    repo, report = remote.repo, Report()
    known = remote.members()
    records: dict[str, tuple[str, BundleRecord]] = {}
    for uuid in uuids:
        sha = repo.member_sha(remote.ctx, uuid)
        if sha is None:
            continue  # gone since it was chosen: pulled once, and dropped by the remote since
        if repo.member_sha(remote.ctx, uuid, COMMITTED) != sha:
            raise UsageError(f"bundle {uuid} is not committed; commit it before pushing "
                             "(dsdt commit -u <uuid>)")
        if uuid in known:
            if known[uuid].sha != sha:
                raise ConflictError(f"the remote holds a different record for bundle {uuid}")
            report.skipped.append(uuid)
            continue
        if not (ours or repo.vouched(remote.ctx, uuid, sha)):
            report.foreign.append(uuid)  # its record came through git: its author pushes it
            continue
        records[uuid] = (sha, repo.read_record(uuid, sha))
    if records:
        _send_blobs(remote, records, jobs, sink, report)
        _send_records(remote, records, jobs)
        swap_ref(remote, lambda members: members.update(
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
            if refs.data.get(blob_id, wanted[blob_id]) != wanted[blob_id]:
                raise CorruptObjectError(f"blob {blob_id} of bundle {rec.uuid} holds "
                                         f"{wanted[blob_id]} bytes, not the {refs.data[blob_id]} "
                                         "its record declares; run dsdt fsck --repair")
    # Small blobs go up in packs (one request per 16 MiB), unless a pack holds them
    # already; large ones alone, looked for first so they are not re-sent.
    remote.packs.refresh()  # under the lock: what the packs hold now, not before a sweep
    packed = remote.packs.locate([b for b, size in wanted.items() if size < PACK_THRESHOLD])
    small = [(b, s) for b, s in wanted.items() if s < PACK_THRESHOLD and b not in packed]
    large = _not_on_remote(tr, {b: s for b, s in wanted.items() if s >= PACK_THRESHOLD}, jobs)
    sink.begin(len(small) + len(large), sum(s for _, s in small) + sum(wanted[b] for b in large))
    sent: list[str] = []

    def read(blob_id: str) -> bytes:
        return repo.blobs.trusted_path(blob_id).read_bytes()

    def send_pack(group: list[str]) -> None:
        if remote.packs.write(group, read) is None:  # an index of that pack says otherwise
            run_jobs(1, send, group)
            return
        sent.extend(group)
        sink.advance(sum(wanted[b] for b in group))
        for _ in group:
            sink.file_done()

    def send(blob_id: str) -> None:
        key, path = blob_key(blob_id), repo.blobs.trusted_path(blob_id)
        if wanted[blob_id] >= _SMALL_PUT:
            tr.put_file(key, path, sink.advance)
        else:
            data = path.read_bytes()
            if tr.put(key, data, if_absent=True) is None and tr.size(key) != len(data):
                tr.put(key, data)  # the name held something else (truncated, or no file at all)
            sink.advance(len(data))
        sent.append(blob_id)
        sink.file_done()

    run_jobs(max(1, min(jobs, _PACK_JOBS)), send_pack, groups(small))
    run_jobs(jobs, send, large)
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

        run_jobs(jobs * 2, probe, wanted)
        return missing
    present: dict[str, int] = {}

    def scan(shard: str) -> None:
        for key, size, _mtime in tr.list_info(f"blobs/{shard}/"):
            present[key.rsplit("/", 1)[-1]] = size

    run_jobs(jobs * 2, scan, sorted({b[:2] for b in wanted}))
    return [b for b, size in wanted.items() if present.get(b) != size]


def _send_records(remote: Remote, records: dict[str, tuple[str, BundleRecord]],
                  jobs: int) -> None:
    repo, tr = remote.repo, remote.transport

    def send(uuid: str) -> None:
        data = repo.record_path(uuid).read_bytes()
        if tr.put(record_key(uuid), data, if_absent=True) is None and \
                sha256_bytes(tr.get(record_key(uuid), MAX_RECORD_BYTES)) != records[uuid][0]:
            raise ConflictError(f"the remote holds a different record for bundle {uuid}")

    run_jobs(jobs, send, records)
