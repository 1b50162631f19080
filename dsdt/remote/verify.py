"""``fsck --remote``: a remote context's records match their hashes and its blobs are there."""

from __future__ import annotations

from dataclasses import dataclass, field

from dsdt.errors import CorruptObjectError, NotFoundError
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.ids import sha256_bytes
from dsdt.objects.record import BundleRecord
from dsdt.remote.layout import MAX_RECORD_BYTES, blob_key, record_key
from dsdt.remote.sync import Remote, run_jobs


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

    run_jobs(jobs, probe, needed)
    left = list(tr.leftovers())
    if left:
        out.warnings.append(f"{remote.url}: {len(left)} temporary file(s) or unfinished "
                            "upload(s) of interrupted pushes (dsdt gc --remote removes them)")
    return out
