"""Remote gc of packs: drop packs no bundle needs, rewrite those that are mostly garbage.

Runs inside ``gc --remote`` under the remote's exclusive lock, so no push is
relying on a pack meanwhile, and like the blob sweep it leaves alone every
pack whose pack or index is younger than the grace period. A pack whose
wanted bytes are less than half of it is rewritten: its live blobs are read
(each verified), written into new packs (pack, then index), and only then is
the old index deleted, then the old pack. A crash at any point leaves every
live blob in at least one pack with an index; the leftovers (an old pack
whose live blobs are also elsewhere, a pack without its index) go next time.
A pack is never dropped because another pack's index claims its live blobs:
indexes are written by others, so only the copies this sweep made count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dsdt.errors import CorruptObjectError, RemoteError
from dsdt.objects.ids import sha256_bytes
from dsdt.remote.packindex import PackEntry, index_key, pack_key
from dsdt.remote.packs import RemotePacks, groups


class PackReport(Protocol):
    """The parts of :class:`dsdt.remote.gc.RemoteGcReport` a pack sweep fills in."""

    blobs: list[str]
    bytes: int
    young: int
    packs_removed: int
    packs_rewritten: int
    errors: list[str]


@dataclass
class _Plan:
    pack: str
    size: int
    live: list[PackEntry]
    dead: list[PackEntry]


def sweep_packs(packs: RemotePacks, keep: set[str], cutoff: float, dry_run: bool,
                report: PackReport) -> None:
    """Remove or rewrite the packs of a remote that hold blobs ``keep`` does not name.

    Args:
        packs: The remote's packs.
        keep: Every blob a bundle on the remote needs.
        cutoff: Epoch seconds: objects written later are left alone.
        dry_run: Only report.
        report: Filled in: blobs dropped and their bytes, packs removed or rewritten.
    """
    packs.refresh()
    plans: list[_Plan] = []
    for pid, kinds in packs.listing().items():
        newest = max(mtime for _size, mtime in kinds.values())
        if "pack" not in kinds or "idx" not in kinds:  # half of a killed push's pack
            if newest > cutoff:
                report.young += 1
            elif not dry_run:
                try:
                    _delete(packs, pid)
                except RemoteError as e:  # not a file (a directory planted there...)
                    report.errors.append(" ".join(str(e).split()))
            continue
        if pid in packs.refused:
            continue  # its index cannot be read: fsck --remote names it; nothing is guessed
        entries = packs.cache.entries(packs.url, pid)
        live = [e for e in entries if e.blob in keep]
        dead = [e for e in entries if e.blob not in keep]
        size = kinds["pack"][0]
        if not dead or (live and 2 * sum(e.length for e in live) > size):
            continue  # all live, or mostly: it stays
        if newest > cutoff:
            report.young += 1
        else:
            plans.append(_Plan(pid, size, live, dead))
    # Another pack's index saying it holds a blob proves nothing (it may be hostile or its
    # bytes rotten): only copies this sweep wrote, from verified bytes, let a pack go.
    moved: set[str] = set()
    for plan in plans:
        _apply(packs, plan, moved, dry_run, report)


def _apply(packs: RemotePacks, plan: _Plan, moved: set[str], dry_run: bool,
           report: PackReport) -> None:
    """Rewrite the live blobs of one pack into new packs (unless this sweep already wrote
    them), then delete its index and the pack."""
    move = [e for e in plan.live if e.blob not in moved]
    if move and not dry_run:
        data = packs.tr.get(pack_key(plan.pack), plan.size)
        got: dict[str, bytes] = {}
        for e in move:
            blob = data[e.offset:e.offset + e.length]
            if sha256_bytes(blob) != e.blob:
                report.errors.append(f"pack {plan.pack} on {packs.url} holds a corrupt copy of "
                                     f"blob {e.blob}; the pack was kept (dsdt fsck --remote "
                                     "--repair uploads the blob again)")
                return
            got[e.blob] = blob
        for group in groups((e.blob, e.length) for e in move):
            if packs.write(group, got.__getitem__) is None:
                raise CorruptObjectError(f"{packs.url} holds an index of a new pack that says "
                                         "something else; nothing was removed")
    moved.update(e.blob for e in move)
    report.blobs.extend(e.blob for e in plan.dead)
    report.bytes += sum(e.length for e in plan.dead)
    if move:
        report.packs_rewritten += 1
    else:
        report.packs_removed += 1
    if not dry_run:
        _delete(packs, plan.pack)


def _delete(packs: RemotePacks, pid: str) -> None:
    """Delete a pack: its index first, so no index ever names a missing pack."""
    packs.tr.delete(index_key(pid))
    packs.tr.delete(pack_key(pid))
    packs.cache.drop(packs.url, [pid])
