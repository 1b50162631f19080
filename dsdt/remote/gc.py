"""Garbage collection on a remote: keep what any remote context's ref reaches.

A push uploads blobs and its record before it moves the ref, and may rely on
blobs already there. So remote gc holds the remote's exclusive lock
(:mod:`dsdt.remote.locks`; pushes hold shared ones, so none runs meanwhile),
and still only removes unreferenced objects older than a grace period
(``remote_gc_grace`` seconds in ``config.yaml``, one hour by default), which
covers pushes by dsdt versions that did not take locks. Every blob a
remaining bundle of any remote context uses stays; packs that hold garbage
are removed or, when mostly garbage, rewritten (:mod:`dsdt.remote.repack`). Temporary files and
unfinished uploads of killed pushes, and lock objects of killed processes,
go too once past the grace period.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dsdt.remote import locks
from dsdt.remote.layout import blob_key, record_key
from dsdt.remote.prune import _all_remote_members, _remote_refs
from dsdt.remote.repack import sweep_packs
from dsdt.remote.sync import Remote
from dsdt.remote.transport import Transport


@dataclass
class RemoteGcReport:
    """What remote gc removed (or would remove) on one remote.

    Attributes:
        url: The remote.
        dry_run: True when nothing was removed.
        blobs: Ids of the blobs removed.
        bytes: Their size.
        records: Uuids of the records removed.
        young: Unreachable objects kept because they are younger than the grace period.
        kept_blobs: Blobs kept because a bundle on the remote needs them.
        leftovers: Leftovers of interrupted uploads removed.
        packs_removed: Packs removed whole (nothing in them was needed).
        packs_rewritten: Packs mostly garbage whose live blobs went into new packs.
        errors: Packs kept because a live blob in them is corrupt.
    """

    url: str
    dry_run: bool
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    records: list[str] = field(default_factory=list)
    young: int = 0
    kept_blobs: int = 0
    leftovers: int = 0
    packs_removed: int = 0
    packs_rewritten: int = 0
    errors: list[str] = field(default_factory=list)


def collect_remote(remote: Remote, *, dry_run: bool = False,
                   grace: float = 3600.0) -> RemoteGcReport:
    """Sweep blobs and records of a remote that no remote context reaches."""
    if dry_run:
        return _collect(remote, dry_run, grace)
    with remote.locked(locks.EXCLUSIVE):
        return _collect(remote, dry_run, grace)


def _collect(remote: Remote, dry_run: bool, grace: float) -> RemoteGcReport:
    report = RemoteGcReport(url=remote.url, dry_run=dry_run)
    live = _all_remote_members(remote)
    keep: set[str] = set()
    for uuid, sha in live.items():
        keep |= _remote_refs(remote, uuid, sha)
    report.kept_blobs = len(keep)
    cutoff = time.time() - grace
    blobs = _sweep(remote.transport, "blobs/", blob_key, keep, cutoff, dry_run, report)
    report.blobs, report.bytes = [b for b, _ in blobs], sum(size for _, size in blobs)
    sweep_packs(remote.packs, keep, cutoff, dry_run, report)
    records = _sweep(remote.transport, "records/", record_key, set(live), cutoff, dry_run, report)
    report.records = [u for u, _ in records]
    tr = remote.transport
    old = [x for x in tr.leftovers() if x.mtime <= cutoff]
    report.leftovers = len(old)
    if not dry_run:
        for leftover in old:
            tr.remove_leftover(leftover)
        for key in locks.stale_locks(tr):
            tr.delete(key)
    return report


def _sweep(tr: Transport, prefix: str, key_of: Callable[[str], str], keep: set[str],
           cutoff: float, dry_run: bool, report: RemoteGcReport) -> list[tuple[str, int]]:
    """Remove (unless dry run) objects under ``prefix`` that are not kept and old enough.

    Returns:
        ``(id, size)`` of each object removed; ids are blob ids or record uuids.
    """
    gone: list[tuple[str, int]] = []
    for key, size, mtime in list(tr.list_info(prefix)):
        name = key.rsplit("/", 1)[-1].removesuffix(".yaml")
        if name in keep or key != key_of(name):
            continue
        if mtime > cutoff:
            report.young += 1
            continue
        gone.append((name, size))
        if not dry_run:
            tr.delete(key)
    return gone
