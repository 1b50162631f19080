"""The housekeeping part of the API façade: gc, du, status and fsck.

Like :mod:`dsdt.api`, each function finds the repository and calls one
function of :mod:`dsdt.ops.housekeeping`; :mod:`dsdt.api` re-exports them
(imported on first use, with git and remote machinery they need).
"""

from __future__ import annotations

from typing import Any

from dsdt.fsck import FsckReport
from dsdt.gc import GcReport
from dsdt.ops import housekeeping
from dsdt.ops.housekeeping import DiskUsage
from dsdt.remote.gc import RemoteGcReport
from dsdt.repo import Repository


def gc(dry_run: bool = False, remote: bool = False, *,
       workspace_only: bool = False) -> GcReport | list[RemoteGcReport]:
    """Remove data and records no ref reaches (safe while others write).

    Inside a git work tree, the data of every record git holds (any branch,
    tag, remote-tracking ref, stash entry or the index) is kept too.

    Args:
        dry_run: Report what would go (with the byte count) without removing it.
        remote: Collect on the remotes bound to the contexts instead (each once;
            objects younger than ``remote_gc_grace`` seconds are kept).
        workspace_only: Keep what the work tree's contexts need; of what git
            holds elsewhere, only data no remote has (it is never the only copy).

    Returns:
        The local report, or one report per remote.
    """
    return housekeeping.gc(Repository.current(), dry_run, remote, workspace_only)


def du(local_context: str | None = None) -> DiskUsage:
    """Bytes per context and per bundle name: apparent versus deduplicated.

    Args:
        local_context: Only this context (default: all).
    """
    repo = Repository.current()
    only = repo.resolve_context(local_context) if local_context is not None else None
    return housekeeping.du(repo, only)


def status(local_context: str | None = None) -> dict[str, Any]:
    """The repository, a context (default: the current one), its remote and bundle counts."""
    repo = Repository.current()
    ctx = repo.resolve_context(local_context) if local_context is not None else \
        repo.current_context()
    return housekeeping.status(repo, ctx)


def fsck(remote: bool = False, *, repair: bool = False) -> FsckReport:
    """Verify every ref, record and blob; returns a report (``report.ok`` is False on errors).

    Bundles whose data is on their remote and not pulled are fine
    (``report.not_pulled``); data neither here nor on a remote is listed in
    ``report.unreachable`` with who made it where.

    Args:
        remote: Also check the remote context of every bound context: each
            member's record matches its hash and all its blobs are there.
        repair: Remove corrupt blobs from the cache and fetch them again from
            the contexts' remotes; with ``remote``, also upload again, from
            intact local copies, remote blobs that are missing or, read back,
            not their bytes (``report.repaired`` lists what was restored).
    """
    return housekeeping.fsck(Repository.current(), remote, repair)
