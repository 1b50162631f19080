"""Housekeeping: reclaim space (gc), see where it goes (du), verify (fsck), status."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from dsdt.errors import BindingChangedError, ContextNotFoundError, DsdtError, PlantedPathError
from dsdt.fsck import FsckReport, check
from dsdt.gc import GcReport, bundle_blobs, collect, usage
from dsdt.index import Query
from dsdt.remote.gc import RemoteGcReport, collect_remote
from dsdt.remote.state import LOCAL, NOWHERE, REMOTE, STATES, UNKNOWN, data_states, settle
from dsdt.remote.sync import check_binding, open_remote
from dsdt.remote.verify import verify
from dsdt.repo import Repository


@dataclass
class Usage:
    """Bytes used by a group of bundles (a context, or one name in it)."""

    context: str
    name: str
    bundles: int
    apparent: int
    unique: int


@dataclass
class DiskUsage:
    """``du``: per context and per name; ``unique`` counts shared bytes once.

    Attributes:
        contexts: Bytes per context (``Usage`` with ``name`` empty).
        names: Bytes per bundle name in each context.
        total_unique: Bytes of all the data, each blob counted once.
        total_apparent: Bytes as the bundles present them (shared data counted each time).
    """

    contexts: list[Usage] = field(default_factory=list)
    names: list[Usage] = field(default_factory=list)
    total_unique: int = 0
    total_apparent: int = 0


def gc(repo: Repository, dry_run: bool = False, remote: bool = False,
       workspace_only: bool = False) -> GcReport | list[RemoteGcReport]:
    """Remove data and records no ref reaches (safe while others write).

    Args:
        repo: The repository.
        dry_run: Report what would go (with the byte count) without removing it.
        remote: Collect on the remotes bound to the contexts instead (each once;
            objects younger than ``remote_gc_grace`` seconds are kept).
        workspace_only: Keep the data of the work tree's contexts; of records
            git holds in other branches, tags, stashes or the index, only data
            no remote has.

    Returns:
        The local report, or one report per remote.
    """
    if not remote:
        return collect(repo, dry_run=dry_run, workspace_only=workspace_only)
    reports: dict[str, RemoteGcReport] = {}
    for info in repo.contexts(mark_current=False):
        if info.remote_url and info.remote_url not in reports:
            reports[info.remote_url] = collect_remote(
                open_remote(repo, info.name), dry_run=dry_run, grace=repo.config.remote_gc_grace)
    return list(reports.values())


def du(repo: Repository, only: str | None = None) -> DiskUsage:
    """Bytes per context and per bundle name: apparent versus deduplicated.

    Args:
        repo: The repository.
        only: Only this context (default: all).
    """
    out = DiskUsage()
    everything: dict[str, tuple[int, int, int]] = usage(repo)
    for ctx, by_name in sorted(everything.items()):
        if only is not None and ctx != only:
            continue
        for name, (n, apparent, unique) in sorted(by_name.items()):
            group = out.contexts if name == "" else out.names
            group.append(Usage(ctx, name, n, apparent, unique))
    out.total_apparent = sum(u.apparent for u in out.contexts)
    out.total_unique = _unique_total(repo, only)
    return out


def _unique_total(repo: Repository, only: str | None) -> int:
    sizes, per_bundle = bundle_blobs(repo)
    uuids = {u for c, u, _ in repo.index.member_names() if only is None or c == only}
    return sum(sizes[b] for b in set().union(*(per_bundle.get(u, set()) for u in uuids))
               if repo.blobs.has(b))


def status(repo: Repository, ctx: str | None) -> dict[str, Any]:
    """The repository, a context (None: none is current), its remote, bundle counts, and
    where their data is (offline: the remote as last seen); ``binding_changed`` says why
    push and pull refuse a binding that came with git (see :func:`check_binding`)."""
    out: dict[str, Any] = {"repository": str(repo.root), "context": ctx, "remote": None,
                           "bundles": 0, "committed": 0, "names": 0,
                           "data": dict.fromkeys(STATES, 0), "only_here": 0,
                           "remote_seen": None, "unreachable": [], "binding_changed": None}
    if ctx is not None and _readable(repo, ctx):
        meta = repo.context_meta(ctx)
        if meta.get("remote_url"):
            out["remote"] = f"{meta.get('remote_context')}@{meta['remote_url']}"
            try:
                check_binding(repo, ctx)
            except BindingChangedError as e:  # push and pull refuse it until accepted
                out["binding_changed"] = str(e)
        rows = repo.index.find(ctx, Query())
        out.update(bundles=len(rows), committed=sum(r.committed for r in rows),
                   names=len({r.name for r in rows}))
        listing = repo.listing(ctx)
        pushed = listing.members if listing is not None else {}
        shas = {r.uuid: r.sha for r in rows}
        out["only_here"] = 0  # local, and not on the remote as last seen: push them
        for uuid, state in data_states(repo, ctx).items():
            out["data"][state.where] += 1
            out["remote_seen"] = state.seen
            if state.where in (NOWHERE, UNKNOWN):
                out["unreachable"].append({"uuid": uuid, **asdict(state)})
            elif (state.where == LOCAL and listing is not None  # else: never read here
                  and pushed.get(uuid) != shas[uuid]):
                out["only_here"] += 1
    return out


def _readable(repo: Repository, ctx: str) -> bool:
    """False if context ``ctx`` does not exist (HEAD can name a deleted one); raises if
    what git put there stops it being read."""
    try:
        repo.require_context(ctx)
    except ContextNotFoundError:
        return False
    return True


def _repair(repo: Repository, corrupt: dict[str, int]) -> list[str]:
    """Fetch each corrupt blob again from the first bound remote that has it intact.

    The corrupt copy is moved aside first and put back when no remote has the
    blob intact, so fsck keeps naming it (nothing is lost that was there).
    """
    from dsdt.remote.pull import fetch_blobs

    bound = {i.remote_url: i.name for i in repo.contexts(mark_current=False) if i.remote_url}
    with repo.writing():  # gc leaves the copies set aside in cache/tmp alone
        aside = {b: repo.blobs.new_tmp(".corrupt") for b in corrupt}
        repo.blobs.tmp.mkdir(parents=True, exist_ok=True)
        for blob_id, tmp in aside.items():
            os.replace(repo.blobs.path(blob_id), tmp)
        for ctx in bound.values():  # one context per remote
            for blob_id in [b for b in corrupt if not repo.blobs.has(b)]:
                with contextlib.suppress(DsdtError):  # not there, or corrupt there too
                    fetch_blobs(open_remote(repo, ctx), {blob_id: corrupt[blob_id]})
        for blob_id, tmp in aside.items():
            if repo.blobs.has(blob_id):
                tmp.unlink()
            else:
                os.replace(tmp, repo.blobs.path(blob_id))
    return [b for b in corrupt if repo.blobs.has(b) and repo.blobs.verify(b)]


def _check_reachable(repo: Repository, report: FsckReport) -> None:
    """Sort every bundle whose data is not here: on its remote (fine) or nowhere (reported).

    A remote is read once when the tracking state cannot tell (a fresh clone).
    """
    for info in repo.contexts(mark_current=False):
        if info.broken:  # its context.yaml: an error of check() already
            continue
        ctx, remote = info.name, info.remote_url
        try:
            check_binding(repo, ctx)
            states = settle(repo, ctx)
        except BindingChangedError as e:
            report.errors.append(str(e))
            continue
        except PlantedPathError as e:  # the layout check names it too: report, go on
            report.errors.append(f"context {ctx}: where its data is cannot be told: {e}")
            continue
        for uuid, state in states.items():
            if state.where == REMOTE:
                report.not_pulled += 1
            elif state.where == UNKNOWN:
                report.warnings.append(f"{state.error(uuid, remote)} (the remote could not be "
                                       "read: is it reachable?)")
            elif state.where == NOWHERE:
                report.unreachable.append(f"context {ctx}: {state.error(uuid, remote)}")


def fsck(repo: Repository, remote: bool = False, repair: bool = False) -> FsckReport:
    """Verify every ref, record and blob; returns a report (``report.ok`` is False on errors).

    Args:
        repo: The repository.
        remote: Also check the remote context of every bound context: each
            member's record matches its hash and all its blobs are there.
        repair: Remove corrupt blobs from the cache and fetch them again from
            the remotes bound to the contexts (then check again).
    """
    repo.index.reported(repo.index.refresh())  # this report names each problem itself
    report = check(repo)
    if repair and report.corrupt:
        repaired = _repair(repo, report.corrupt)
        report = check(repo)
        report.repaired = repaired
    _check_reachable(repo, report)
    if remote:
        for info in repo.contexts(mark_current=False):
            if info.remote_url:
                try:
                    rem = open_remote(repo, info.name)
                except BindingChangedError:
                    continue  # reported above
                found = verify(rem, repair=repair)
                report.errors += found.errors
                report.warnings += found.warnings
                report.repaired += [f"{b} on {info.remote_url}" for b in found.repaired]
    return report
