"""Garbage collection: mark what any ref can reach, sweep the rest.

Marking starts from every membership ref of every context (through the
index, so it reads no record) and, inside a git work tree, from every record
git holds in any branch, tag, remote-tracking ref, stash entry or the index
(:mod:`dsdt.gitlive`; ``workspace_only`` keeps only those whose data is on
no remote). It follows directory
trees and packed values that are here, and keeps every blob found.
Sweeping removes unreferenced blobs, records no context lists, views of
bundles that are neither members nor open, and temporary files of dead
writers.

Safety while others write (see ``docs/format.md``): a writer holds a shared
``flock`` on ``cache/gc-fence`` from before its first blob until its
membership ref exists; gc sweeps holding it exclusively. So gc never sees a
blob or record that a running writer has made but not yet referenced, and
writers that start during a sweep wait for it (briefly). Open bundles hold
a marker in ``cache/open/`` that keeps their views.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from dsdt._db import cache_token
from dsdt._fs import remove_tree, shard_files
from dsdt._locks import marker_is_held
from dsdt.errors import CorruptObjectError
from dsdt.gitlive import GitLive, git_live
from dsdt.objects.blobrefs import expand_meta
from dsdt.repo import Repository


@dataclass
class GcReport:
    """What gc removed (or, in a dry run, would remove).

    Attributes:
        dry_run: True when nothing was removed.
        blobs: Ids of the blobs removed from the cache.
        bytes: Their size.
        records: Uuids of the records removed.
        views: Uuids whose view directories (managed files) were removed.
        temporary: Temporary files, markers and old databases removed.
        kept_blobs: Blobs kept because a bundle needs them.
        git_records: Records whose data is kept because git holds them elsewhere.
        unpushed: Of those, kept with ``workspace_only``: their data is on no remote.
        unread: Records or trees that could not be read: what they name is unknown.
    """

    dry_run: bool
    blobs: list[str] = field(default_factory=list)
    bytes: int = 0
    records: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    temporary: int = 0
    kept_blobs: int = 0
    git_records: int = 0  #: records whose data is kept because git holds them elsewhere
    unpushed: int = 0  #: of those, kept with workspace_only: their data is on no remote
    unread: int = 0  #: records or trees that could not be read: what they name is unknown


def reachable(repo: Repository, workspace_only: bool = False,
              report: GcReport | None = None) -> tuple[set[str], set[str]]:
    """Uuids of every member of every context (and of records git holds), and every blob
    they reach.

    Args:
        repo: The repository.
        workspace_only: The work tree's contexts, and of what git holds elsewhere
            only the records whose data is on no remote (never the only copy).
        report: Receives the counts of records kept for git and of unreadable ones.

    Raises:
        CorruptObjectError: The index met an unreadable member: sweeping then
            could drop data still in use, so the caller must stop.
    """
    problems = repo.index.refresh()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CorruptObjectError(f"{problems[0]}{more}; run dsdt fsck and repair the "
                                 "repository before gc")
    report = report or GcReport(dry_run=True)
    uuids: set[str] = set()
    blobs: set[str] = set()
    metas: list[tuple[str, str]] = []
    for _ctx, uuid, blob, _size, kind in repo.index.member_blobs():
        uuids.add(uuid)
        blobs.add(blob)
        if kind:
            metas.append((blob, kind))
    uuids |= repo.index.member_uuids()
    held = git_live(repo)
    if held is not None:
        kept = _held_to_keep(repo, held, uuids, workspace_only)
        report.git_records, report.unpushed = len(kept), len(kept) if workspace_only else 0
        report.unread += held.unread
        uuids |= set(held.members)  # their records and made markers stay either way
        for uuid in kept:
            blobs |= set(held.blobs[uuid])
            metas += [(b, k) for b, k in held.blobs[uuid].items() if k]
    seen: set[str] = set()
    while metas:
        meta, kind = metas.pop()
        if meta in seen:
            continue
        seen.add(meta)
        if not repo.blobs.has(meta):
            continue  # not here, so neither is the data it names (it is on a remote, or lost)
        try:
            refs = expand_meta(meta, kind, repo.blobs.read(meta))
        except CorruptObjectError:
            report.unread += 1  # fsck names it; what it names cannot be known
            continue
        blobs |= refs.all()
        metas.extend((b, m.kind) for b, m in refs.meta.items())
    return uuids, blobs


def _held_to_keep(repo: Repository, held: GitLive, members: set[str],
                  workspace_only: bool) -> list[str]:
    """Records git holds beyond the work tree whose data gc keeps: all of them, or with
    ``workspace_only`` those whose data no remote has (as last seen): never the only copy."""
    outside = [u for u in held.blobs if u not in members]
    if not workspace_only:
        return outside
    pushed: dict[str, str] = {}
    for ctx in repo.context_names():
        listing = repo.listing(ctx)
        pushed.update(listing.members if listing is not None else {})
    return [u for u in outside if pushed.get(u) != held.members[u]]


def collect(repo: Repository, *, dry_run: bool = False,
            workspace_only: bool = False) -> GcReport:
    """Remove everything no ref reaches (see the module docs); return what went.

    Args:
        repo: The repository.
        dry_run: Only report.
        workspace_only: Keep what the work tree's contexts need, and of what git
            holds in other branches, tags, stashes or the index only the data no
            remote has.
    """
    report = GcReport(dry_run=dry_run)
    with repo.collecting():
        live, keep = reachable(repo, workspace_only, report)
        report.kept_blobs = len(keep)
        for blob_id in list(repo.blobs):
            if blob_id not in keep:
                report.blobs.append(blob_id)
                report.bytes += _remove(repo.blobs.path(blob_id), dry_run)
        for path in shard_files(repo.root / "records"):
            if path.suffix == ".yaml" and path.stem not in live:
                report.records.append(path.stem)
                _remove(path, dry_run)
        tracked = live | repo.tracked_anywhere()
        for path in shard_files(repo.root / "cache" / "records"):
            if path.suffix == ".yaml" and path.stem not in tracked:
                _remove(path, dry_run)  # pulled once, gone from the remote since
        _sweep_views(repo, live, report)
        report.temporary = _sweep_temporary(repo, live, dry_run)
    return report


def remove_members(repo: Repository, ctx: str, uuids: list[str], *,
                   keep_committed: bool = False) -> list[str]:
    """Take bundles out of a context (refs only), then collect if ``gc_after_rm`` asks;
    return those removed (with ``keep_committed``, not the ones committed by then)."""
    removed = [u for u in uuids if repo.remove_member(ctx, u, keep_committed=keep_committed)]
    if removed and repo.config.gc_after_rm:
        collect(repo)
    return removed


def _remove(path: Path, dry_run: bool) -> int:
    """Delete a file (unless dry run); return its size."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if not dry_run:
        path.unlink(missing_ok=True)
    return size


def _sweep_views(repo: Repository, live: set[str], report: GcReport) -> None:
    views = repo.root / "cache" / "views"
    for view in views.iterdir() if views.is_dir() and not views.is_symlink() else []:
        if view.name in live or marker_is_held(repo.open_marker(view.name)):
            continue
        report.views.append(view.name)
        if report.dry_run:
            continue
        if view.is_symlink() or not view.is_dir():
            view.unlink()
        else:
            remove_tree(view)


def _sweep_temporary(repo: Repository, live: set[str], dry_run: bool) -> int:
    """Temp files and markers left by dead writers and removed bundles, and databases of
    other cache tokens and older dsdt versions."""
    cache = repo.root / "cache"
    current = f"db-{cache_token(cache)}"
    for old in cache.glob("db-*") if not dry_run else ():
        if old.name != current and not old.is_symlink():
            remove_tree(old)
    for old in cache.glob("*.sqlite*") if not dry_run else ():
        old.unlink(missing_ok=True)
    found = [p for p in (cache / "tmp").glob("*") if p.is_symlink() or not p.is_dir()]
    found += [*shard_files(cache / "blobs", hidden=True),
              *shard_files(repo.root / "records", hidden=True)]
    found += [p for p in (cache / "open").glob("*") if not marker_is_held(p)]
    found += [p for p in shard_files(cache / "made") if p.name not in live]
    found += _stale_ref_temps(repo.root / "refs" / "contexts")
    for path in found:
        _remove(path, dry_run)
    return len(found)


_STALE = 3600  # seconds: a live ref writer links or renames its temporary file within moments


def _stale_ref_temps(contexts: Path) -> list[Path]:
    """Temporary files of ref writes whose writer died (ref writers do not wait for gc)."""
    if contexts.is_symlink() or not contexts.is_dir():
        return []
    old = time.time() - _STALE
    return [p for ctx in os.scandir(contexts) if ctx.is_dir(follow_symlinks=False)
            for kind in ("bundles", "committed")
            for p in shard_files(Path(ctx.path) / kind, hidden=True)
            if p.name.endswith(".tmp") and p.lstat().st_mtime < old]


def usage(repo: Repository) -> dict[str, dict[str, tuple[int, int, int]]]:
    """Bytes per context and name: ``{ctx: {name: (bundles, apparent, unique)}}``.

    ``apparent`` adds each bundle's data as if it were alone; ``unique``
    counts every blob in the local cache once within the group (data only on
    a remote takes no space here). The name ``""`` holds the
    context's total.
    """
    sizes, per_bundle = bundle_blobs(repo)
    names = {(r[0], r[1]): r[2] for r in repo.index.member_names()}
    groups: dict[str, dict[str, list[str]]] = {}
    for (ctx, uuid), name in names.items():
        groups.setdefault(ctx, {}).setdefault(name, []).append(uuid)
        groups[ctx].setdefault("", []).append(uuid)
    out: dict[str, dict[str, tuple[int, int, int]]] = {}
    for ctx, by_name in groups.items():
        out[ctx] = {}
        for name, uuids in by_name.items():
            apparent = sum(sizes[b] for u in uuids for b in per_bundle.get(u, ()))
            unique = sum(sizes[b] for b in set().union(*(per_bundle.get(u, set()) for u in uuids))
                         if repo.blobs.has(b))
            out[ctx][name] = (len(uuids), apparent, unique)
    return out


def bundle_blobs(repo: Repository) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Blob sizes and the blobs of each member (trees expanded)."""
    sizes: dict[str, int] = {}
    per_bundle: dict[str, set[str]] = {}
    expanded: dict[str, dict[str, int]] = {}
    for _ctx, uuid, blob, size, kind in repo.index.member_blobs():
        mine = per_bundle.setdefault(uuid, set())
        if kind:
            if blob not in expanded:
                expanded[blob] = _expand_all(repo, blob, kind)
            sizes.update(expanded[blob])
            mine.update(expanded[blob])
        else:
            sizes[blob] = size
            mine.add(blob)
    return sizes, per_bundle


def _expand_all(repo: Repository, meta: str, kind: str) -> dict[str, int]:
    """Data blobs (with sizes) inside a meta blob and the meta blobs under it."""
    out: dict[str, int] = {}
    stack = [(meta, kind)]
    while stack:
        blob, kind = stack.pop()
        if blob in out or not repo.blobs.has(blob):
            continue  # seen, or only on the remote: its bytes are not local
        out[blob] = os.stat(repo.blobs.path(blob)).st_size
        try:
            refs = expand_meta(blob, kind, repo.blobs.read(blob))
        except CorruptObjectError:
            continue  # fsck reports it; the sizes it would add are unknown
        out.update(refs.data)
        stack.extend((b, m.kind) for b, m in refs.meta.items())
    return out
