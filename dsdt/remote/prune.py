"""Dropping copies safely: local data once it is on the remote, remote bundles on request.

Both sides share blobs between bundles, so neither removes a blob that
something else still needs: ``delocalize`` keeps every blob a local bundle
not on this remote uses, and ``rmr`` keeps every blob a remaining remote
bundle (of any remote context) uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dsdt._fs import remove_tree
from dsdt.errors import CorruptObjectError, DsdtError, NotFoundError, UsageError
from dsdt.gc import bundle_blobs
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.blobs import hash_file
from dsdt.objects.ids import sha256_bytes
from dsdt.objects.record import BundleRecord
from dsdt.remote import locks
from dsdt.remote.layout import MAX_RECORD_BYTES, blob_key, record_key
from dsdt.remote.open import canonical_url
from dsdt.remote.packindex import index_key, pack_key
from dsdt.remote.sync import Remote, read_ref, run_jobs, swap_ref
from dsdt.remote.transport import Transport
from dsdt.repo import Repository


def delocalize(remote: Remote, uuids: list[str], only_path: str | None = None) -> int:
    """Remove local copies of these bundles' data, once the remote is seen to hold it.

    Args:
        remote: The remote of the bundles' context.
        uuids: The bundles.
        only_path: Only the file presented at this local path (or remote URL).

    Returns:
        The number of blobs removed from the local cache.

    Raises:
        UsageError: A bundle (or some of its data) is not on the remote yet.
    """
    with remote.locked(locks.SHARED):  # no rmr or remote gc between the proof and the drop
        return _delocalize(remote, uuids, only_path)


def _delocalize(remote: Remote, uuids: list[str], only_path: str | None) -> int:
    repo = remote.repo
    on_remote = remote.members()
    data: dict[str, int] = {}
    for uuid in uuids:
        if uuid not in on_remote:
            raise UsageError(f"bundle {uuid} is not on {remote.url}; push it before delocalizing")
        data.update(blob_refs(repo.read_record(uuid).data, repo.blobs.read).data)
    if only_path is not None:
        shown = _blob_shown_at(repo, uuids, only_path, remote, set(data))
        data = {b: s for b, s in data.items() if b == shown}
        if not data:
            raise UsageError(f"{only_path} is not a file of bundle(s) {', '.join(uuids)}")
    local = {b: s for b, s in data.items() if repo.blobs.has(b)}
    _prove(remote, local)
    drop = set(local) - _needed_elsewhere(repo, remote, on_remote)
    for uuid in uuids:
        remove_tree(repo.view_dir(uuid))  # a view of data that is no longer here
    for blob_id in drop:
        repo.blobs.path(blob_id).unlink(missing_ok=True)
    return len(drop)


def _prove(remote: Remote, blobs: dict[str, int], jobs: int = 8) -> None:
    """Make sure the remote holds exactly these blobs' bytes (see :mod:`dsdt.remote.proofs`).

    A blob whose stamp is the one recorded when dsdt wrote or verified it is
    proven at the cost of one stat; any other is read back and hashed.

    Raises:
        UsageError: A blob is missing on the remote, or its copy there is not
            the right bytes (then the local copy is all there is: it stays).
    """
    tr = remote.transport
    remote.packs.ensure_fresh()
    copies = _copies(remote, list(blobs))
    known = remote.proofs.stamps(remote.url, [c.proof for cs in copies.values() for c in cs])
    verified: list[tuple[str, str]] = []

    def prove(blob_id: str) -> None:
        present = False
        for c in copies[blob_id]:
            stamp = c.stamp(tr)
            if stamp is None:
                continue
            present = True
            if known.get(c.proof) == stamp or (c.holds(tr, blob_id, blobs[blob_id])
                                               and c.stamp(tr) == stamp):
                verified.append((c.proof, stamp))
                return
        if not present:
            raise UsageError(f"blob {blob_id} ({blobs[blob_id]} bytes) is not on {remote.url}; "
                             "push the bundle again before delocalizing")
        raise CorruptObjectError(
            f"the copy of blob {blob_id} on {remote.url} is not its bytes (corrupt or replaced "
            "there, in every pack and object that should hold it); the local copy was kept. "
            "dsdt fsck --remote --repair uploads it again")

    try:
        run_jobs(jobs, prove, list(blobs))
    finally:
        remote.proofs.remember(remote.url, verified)


@dataclass(frozen=True)
class _Copy:
    """One place a blob may be on a remote: a range of a pack, or an object of its own."""

    key: str
    proof: str  # where its proof is kept in the proofs cache
    index: str | None = None  # a pack's index: rewriting it moves the blob
    offset: int = 0
    length: int = 0

    def stamp(self, tr: Transport) -> str | None:
        """The object's stamp (with its index's, for a pack); None when either is gone."""
        stamps = [tr.stamp(self.key)] + ([tr.stamp(self.index)] if self.index else [])
        return None if None in stamps else "|".join(s for s in stamps if s is not None)

    def holds(self, tr: Transport, blob_id: str, size: int) -> bool:
        """True if reading this copy back gives the blob's bytes."""
        try:
            got = (sha256_bytes(tr.get_range(self.key, self.offset, self.length))
                   if self.index else tr.sha256(self.key, size))
        except (CorruptObjectError, NotFoundError):
            return False
        return got == blob_id


def _copies(remote: Remote, blobs: list[str]) -> dict[str, list[_Copy]]:
    """Every place the remote may hold each blob: each pack whose index, read now (an
    index rewritten in place since the cache read it is what a fresh clone sees), lists
    it, then an object of its own."""
    packs = {w.pack for b in blobs for w in remote.packs.cache.copies(remote.url, b)}
    indexes = {p: remote.packs.read_index(p) for p in sorted(packs)}
    out: dict[str, list[_Copy]] = {b: [] for b in blobs}
    for pack, index in indexes.items():
        for e in index.entries if index is not None else ():
            if e.blob in out:
                out[e.blob].append(_Copy(pack_key(pack), f"{pack_key(pack)}#{e.blob}",
                                         index_key(pack), e.offset, e.length))
    for b in blobs:
        out[b].append(_Copy(blob_key(b), blob_key(b)))
    return out


def _blob_shown_at(repo: Repository, uuids: list[str], path: str, remote: Remote,
                   candidates: set[str]) -> str | None:
    """The blob shown at ``path``: a remote URL, or a file in one of these bundles' views."""
    by_url = {remote.blob_url(b): b for b in candidates}
    if path in by_url:
        return by_url[path]
    p = Path(path)
    if not p.is_file() or not any(p.is_relative_to(repo.view_dir(u)) for u in uuids):
        return None
    return hash_file(p)[0]  # a view is a copy: its bytes say which blob it shows


def _needed_elsewhere(repo: Repository, remote: Remote, on_remote: dict[str, object]) -> set[str]:
    """Blobs of local bundles whose data could not be fetched back from this remote."""
    _sizes, per_bundle = bundle_blobs(repo)
    urls = {ctx: repo.context_meta(ctx).get("remote_url") for ctx in repo.context_names()}
    same = {ctx for ctx, url in urls.items() if url and canonical_url(str(url)) == remote.url}
    needed: set[str] = set()
    for ctx, uuid, _name in repo.index.member_names():
        if not (ctx in same and uuid in on_remote):
            needed |= per_bundle.get(uuid, set())
    return needed


def rmr(remote: Remote, uuids: list[str], *, dryrun: bool = False) -> list[str]:
    """Remove bundles from the remote context; then records and blobs nothing else uses.

    Returns:
        The uuids that were (or, with ``dryrun``, would be) removed.
    """
    targets = [u for u in dict.fromkeys(uuids) if u in remote.members()]
    if dryrun or not targets:
        return targets
    with remote.locked(locks.EXCLUSIVE):  # no push relies on a blob we may delete
        _remove(remote, targets)
    return targets


def drop_context(remote: Remote) -> list[str]:
    """Remove the whole remote context: its bundles (as :func:`rmr`), then its ref.

    Returns:
        The uuids it held.
    """
    with remote.locked(locks.EXCLUSIVE):
        targets = list(remote.members())
        if targets:
            _remove(remote, targets)
        remote.transport.delete(remote.ref_key)
        remote.saw({})
    return targets


def _remove(remote: Remote, targets: list[str]) -> None:
    """Drop ``targets`` from the ref, then the records and blobs nothing else uses."""
    swap_ref(remote, lambda members: [members.pop(u, None) for u in targets])
    others = _all_remote_members(remote)
    gone = [u for u in targets if u not in others]
    if not gone:
        return
    kept_blobs: set[str] = set()
    for uuid, sha in others.items():
        kept_blobs |= _remote_refs(remote, uuid, sha)
    doomed: set[str] = set()
    for uuid in gone:
        doomed |= _remote_refs(remote, uuid, None)
    for blob_id in doomed - kept_blobs:
        remote.transport.delete(blob_key(blob_id))
    for uuid in gone:
        remote.transport.delete(record_key(uuid))


def _all_remote_members(remote: Remote) -> dict[str, str]:
    """uuid -> record sha of every bundle in every context of the remote."""
    out: dict[str, str] = {}
    tr = remote.transport
    odd = tr.irregular("contexts/")
    if odd:
        raise CorruptObjectError(
            f"{remote.url} has a symlink or special file at {odd[0]}, which could hide a "
            "context's members: nothing was removed (remove it there, then run again)")
    for key in tr.list("contexts/"):
        if key.endswith("/bundles.json"):
            out.update({u: e.sha for u, e in read_ref(tr, key).items()})
    return out


def _remote_refs(remote: Remote, uuid: str, sha: str | None) -> set[str]:
    """Blob ids a remote bundle uses, read from the local copy of its record when there is one."""
    repo, tr = remote.repo, remote.transport
    try:
        rec = repo.read_record(uuid, sha)
    except DsdtError:  # not local (or different): read the remote copy
        try:
            data = tr.get(record_key(uuid), MAX_RECORD_BYTES)
        except NotFoundError:
            return set()
        rec = BundleRecord.from_yaml(data, f"remote record {uuid}")

    def read(blob_id: str, limit: int) -> bytes:
        if repo.blobs.has(blob_id):
            return repo.blobs.read(blob_id, limit)
        return remote.read_blob(blob_id, limit)

    return blob_refs(rec.data, read).all()
