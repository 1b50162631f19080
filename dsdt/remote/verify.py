"""``fsck --remote``: a remote context's records match their hashes and its blobs are there.

With ``repair``, a blob that is missing there, or (read back and hashed) is
not its bytes, is uploaded again from this clone's intact copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsdt.errors import CorruptObjectError, DsdtError, NotFoundError
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.ids import sha256_bytes
from dsdt.objects.record import BundleRecord
from dsdt.remote import locks
from dsdt.remote.layout import (
    MAX_RECORD_BYTES,
    ROOT_DIRS,
    SHARDED_DIRS,
    blob_key,
    record_key,
)
from dsdt.remote.sync import Remote, run_jobs


@dataclass
class RemoteCheck:
    """What ``fsck --remote`` found on one remote context."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)


def verify(remote: Remote, jobs: int = 8, repair: bool = False) -> RemoteCheck:
    """Check the remote context: every member's record matches its hash, every blob is there.

    A symlink or file where the remote's root keeps a directory is an error.
    Temporary files and unfinished uploads left by killed pushes are warnings.

    Args:
        remote: The remote context.
        jobs: Parallel requests.
        repair: Upload again, from intact local copies, the blobs that are
            missing there or whose bytes (read back) are wrong.
    """
    if repair:
        with remote.locked(locks.SHARED):  # like a push: no sweep meanwhile
            return _verify(remote, jobs, repair)
    return _verify(remote, jobs, repair)


def _verify(remote: Remote, jobs: int, repair: bool) -> RemoteCheck:
    out = RemoteCheck(errors=_planted(remote))
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
            refs = blob_refs(rec.data, remote.read_blob)
        except NotFoundError as e:
            out.errors.append(f"{remote.url}: bundle {uuid}: {e}")
            continue
        except CorruptObjectError as e:
            out.errors.append(f"{remote.url}: bundle {uuid}: {e}")
            continue
        needed.update(dict.fromkeys(refs.meta, -1))
        needed.update(refs.data)

    remote.packs.refresh()
    located = remote.packs.locate(list(needed))
    for pack, why in sorted(remote.packs.refused.items()):
        out.errors.append(f"{remote.url}: the index of pack {pack} was refused: {why}")

    def probe(blob_id: str) -> None:
        where = located.get(blob_id)
        size = where.entry.length if where else tr.size(blob_key(blob_id))
        bad = size is None or (needed[blob_id] >= 0 and size != needed[blob_id])
        if repair and remote.repo.blobs.has(blob_id) and (bad or not _intact(remote, blob_id)):
            try:
                tr.put_file(blob_key(blob_id), remote.repo.blobs.trusted_path(blob_id))
            except DsdtError as e:
                out.errors.append(f"{remote.url}: blob {blob_id} could not be uploaded again: {e}")
            else:
                out.repaired.append(blob_id)
        elif bad:
            out.errors.append(f"{remote.url}: blob {blob_id} is missing, or not the size its "
                              "record declares (dsdt fsck --remote --repair uploads it again "
                              "from a clone that has it)")

    run_jobs(jobs, probe, needed)
    left = list(tr.leftovers())
    if left:
        out.warnings.append(f"{remote.url}: {len(left)} temporary file(s) or unfinished "
                            "upload(s) of interrupted pushes (dsdt gc --remote removes them)")
    return out


def _planted(remote: Remote) -> list[str]:
    """What stands where the remote keeps a directory of its layout (a shard too) and is
    not one (a symlink, a file): it stops every push or pull that reaches it; and what
    stands where it keeps a file and is not a regular one. Each is named."""
    tr = remote.transport
    dirs = tr.misplaced(ROOT_DIRS, SHARDED_DIRS)
    files = [k for d in ROOT_DIRS if d not in dirs for k in tr.irregular(d + "/")
             if not any(k == m or k.startswith(f"{m}/") for m in dirs)]  # each named once
    return [f"{remote.url}/{d} is a symlink or not a directory, where the remote keeps a "
            "directory: dsdt never follows a symlink in a remote, and each push or pull that "
            "reaches it stops; remove it there" for d in dirs] + [
            f"{remote.url}/{k} is a symlink or a special file, where the remote keeps a file: "
            "dsdt never reads one (what a file there would hold counts as missing, a lock as "
            "absent); remove it there"
            for k in files]


def _intact(remote: Remote, blob_id: str) -> bool:
    """True if the remote's copy hashes to its id (read back; a proof from before counts).

    A packed copy that does not is repaired by an object of its own, which pull
    falls back to.
    """
    if remote.packs.locate([blob_id]):
        try:
            return remote.packs.read_blob(blob_id, 1 << 50) is not None
        except (CorruptObjectError, NotFoundError):
            return remote.transport.size(blob_key(blob_id)) is not None and \
                remote.transport.sha256(blob_key(blob_id)) == blob_id
    key, tr = blob_key(blob_id), remote.transport
    stamp = tr.stamp(key)
    if stamp is not None and remote.proofs.stamps(remote.url, [key]).get(key) == stamp:
        return True
    try:
        same = tr.sha256(key) == blob_id and tr.stamp(key) == stamp
    except (CorruptObjectError, NotFoundError):
        return False
    if same and stamp is not None:
        remote.proofs.remember(remote.url, [(key, stamp)])
    return same
