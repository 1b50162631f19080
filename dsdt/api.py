"""The dsdt Python API: the documented Disdat functions, on a ``.dsdt`` repository.

The repository is found from the current directory (or ``DSDT_DIR``). Every
function takes the context explicitly, as in Disdat; the CLI's current
context is ``current_context()``. Functions return values and raise
:class:`dsdt.errors.DsdtError` subclasses; they never print or exit.
Both API generations are provided: the 0.8 names of the spec and the 0.9
names (``search(human_name=, tags=)``, ``Bundle(ctx, name=, data=)``...).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from dsdt.api_containers import build_image, dockerize, run
from dsdt.api_housekeeping import DiskUsage, du, fsck, gc, status
from dsdt.api_remote import delete_remote_context, pull, push, remote, rmr
from dsdt.bundle import Bundle
from dsdt.errors import (
    BundleNotFoundError,
    ContextExistsError,
    PathError,
    UsageError,
)
from dsdt.gc import remove_members
from dsdt.graph import LineageGraph, downstream_walk, lineage_graph
from dsdt.history import BundleDiff, LogEntry, diff, log
from dsdt.index import Query
from dsdt.lineage import LineageInfo
from dsdt.objects.codecs import DBLink, DirectoryList
from dsdt.objects.ids import check_uuid
from dsdt.refs.names import check_bundle_name, check_tags, split_context
from dsdt.repo import ContextInfo, Repository

__all__ = [
    "Bundle", "BundleDiff", "ContextInfo", "DBLink",
    "DiskUsage", "LineageGraph", "LineageInfo", "LogEntry", "add", "apply", "build_image",
    "cat", "commit", "context", "contexts", "current_context", "delete_context", "diff",
    "dockerize", "du", "fsck", "gc", "get", "init", "lineage", "lineage_graph", "log",
    "ls_contexts", "pull", "push", "remote", "rm", "rmr", "run", "search", "set_aws_profile",
    "status", "switch",
]

def _repo() -> Repository:
    return Repository.current()


def _context(repo: Repository, local_context: str | None) -> str:
    return repo.resolve_context(local_context)


# --- contexts --------------------------------------------------------------------------


def init(path: str | os.PathLike[str] | None = None) -> str:
    """Create a dsdt repository (``.dsdt/``) in ``path`` (default: the current directory).

    Returns:
        The path of the new ``.dsdt`` directory.
    """
    return str(Repository.init(Path(path) if path is not None else None).root)


def context(context_name: str) -> int:
    """Create a context (``local`` or ``remote/local``).

    Returns:
        0 if it was created, 1 if it already existed.
    """
    remote, local = split_context(context_name)
    try:
        _repo().create_context(local, remote_context=remote)
    except ContextExistsError:
        return 1
    return 0


def delete_context(context_name: str, remote: bool = False, force: bool = False) -> None:
    """Delete a local context (its bundles' data stays in the cache until gc).

    Args:
        context_name: The context to delete.
        remote: Also delete the remote context (needs a bound remote).
        force: Delete even if it holds committed bundles.
    """
    repo = _repo()
    ctx = _context(repo, context_name)
    bound = repo.context_meta(ctx).get("remote_url")
    if remote and not bound:
        raise UsageError(f"context {ctx!r} has no remote bound; nothing remote to delete")
    if remote and not force:
        raise UsageError("deleting the remote context too needs force=True (dsdt context -d -r -f)")
    committed = repo.index.find(ctx, Query(committed=True))
    if committed and not force and not _all_pushed(repo, ctx, [r.uuid for r in committed]):
        raise UsageError(
            f"context {ctx!r} holds committed bundle(s) that are not on a remote; pass "
            "force=True (dsdt context -d --force) to delete it anyway"
        )
    if remote:
        delete_remote_context(repo, ctx)
    repo.delete_context(ctx)


def _all_pushed(repo: Repository, ctx: str, uuids: list[str]) -> bool:
    if not repo.context_meta(ctx).get("remote_url"):
        return False
    from dsdt.remote.sync import open_remote

    members = open_remote(repo, ctx).members()
    return all(u in members for u in uuids)


def switch(context_name: str) -> None:
    """Make ``context_name`` the current context of the CLI."""
    repo = _repo()
    repo.switch(_context(repo, context_name))


def current_context() -> str | None:
    """The current context's name, or None when there is none."""
    return _repo().current_context()


def ls_contexts() -> list[str]:
    """Names of all local contexts."""
    return _repo().context_names()


def contexts() -> list[ContextInfo]:
    """Every context with its remote binding and whether it is the current one."""
    return _repo().contexts()


def set_aws_profile(aws_profile: str) -> None:
    """Use this AWS profile (``AWS_PROFILE``) for S3 remotes from now on."""
    os.environ["AWS_PROFILE"] = aws_profile


# --- reading ---------------------------------------------------------------------------


def _parse_date(value: str | datetime | None) -> float | None:
    """A date filter as epoch seconds; naive values are local time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    for fmt in ("%m-%d-%Y %H:%M:%S", "%m-%d-%Y"):
        try:
            return datetime.strptime(value, fmt).timestamp()
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise UsageError(
            f"bad date {value!r}: use MM-DD-YYYY, 'MM-DD-YYYY HH:MM:SS' or ISO 8601"
        ) from None


def _find(repo: Repository, ctx: str, q: Query) -> list[Bundle]:
    if q.tags and "committed" in q.tags:
        tags = dict(q.tags)
        q.committed = tags.pop("committed") == "True"
        q.tags = tags
    rows = repo.index.find(ctx, q)
    tags = repo.index.tags_of([r.uuid for r in rows])
    return [Bundle._from_index(repo, ctx, row, tags[row.uuid]) for row in rows]


def get(local_context: str, bundle_name: str | None, uuid: str | None = None,
        tags: dict[str, str] | None = None) -> Bundle | None:
    """The latest bundle with this name (``*`` matches anything) and tags, or by uuid.

    Returns:
        The closed bundle, or None when nothing matches.
    """
    repo = _repo()
    ctx = _context(repo, local_context)
    if uuid is not None:
        uuid = check_uuid(uuid)
        sha = repo.member_sha(ctx, uuid)
        if sha is None:
            return None
        b = Bundle._from_record(repo, ctx, repo.read_record(uuid, sha), sha)
        return b if all(b.tags.get(k) == v for k, v in check_tags(tags).items()) else None
    found = _find(repo, ctx, Query(name_glob=bundle_name, tags=check_tags(tags)))
    return found[0] if found else None


def cat(local_context: str, bundle_name: str | None, uuid: str | None = None,
        tags: dict[str, str] | None = None) -> Any:
    """The data of the latest bundle with this name (or this uuid).

    Raises:
        BundleNotFoundError: Nothing matches.
    """
    b = get(local_context, bundle_name, uuid=uuid, tags=tags)
    if b is None:
        raise BundleNotFoundError(f"no bundle {_describe(bundle_name, uuid, tags)} in context "
                                  f"{local_context!r}")
    return b.data


def _describe(name: str | None, uuid: str | None, tags: dict[str, str] | None) -> str:
    """``named 'x' with uuid u and tags {...}`` for error messages."""
    parts = [f"named {name!r}"] if name is not None else []
    parts += [f"with uuid {uuid}"] if uuid else []
    parts += [f"with tags {tags}"] if tags else []
    return " ".join(parts) or "matching"


def search(local_context: str, search_name: str | None = None,
           search_tags: dict[str, str] | None = None, is_committed: bool | None = None,
           find_intermediates: bool = False, find_roots: bool = False,
           before: str | datetime | None = None, after: str | datetime | None = None, *,
           human_name: str | None = None, processing_name: str | None = None,
           tags: dict[str, str] | None = None, latest_per_name: bool = False) -> list[Bundle]:
    """Bundles of a context matching every filter given, newest first.

    Args:
        local_context: The context to search.
        search_name: Name pattern; ``*`` matches any run of characters (0.9: ``human_name``).
        search_tags: Tags the bundles must all have (0.9: ``tags``).
        is_committed: True: committed only; False: uncommitted only; None: both.
        find_intermediates: Only bundles that are not pipeline roots.
        find_roots: Only outputs of pipeline root tasks.
        before: Created before this date (``MM-DD-YYYY[ HH:MM:SS]``, ISO, or datetime).
        after: Created at or after this date.
        human_name: 0.9 name for ``search_name``.
        processing_name: Exact processing name.
        tags: 0.9 name for ``search_tags``.
        latest_per_name: Only the newest bundle of each name.

    Returns:
        Closed bundles, newest first; their data loads on first access.
    """
    if find_roots and find_intermediates:
        raise UsageError("find_roots and find_intermediates exclude each other")
    repo = _repo()
    ctx = _context(repo, local_context)
    all_tags = {**check_tags(search_tags), **check_tags(tags)}
    roots = True if find_roots else (False if find_intermediates else None)
    q = Query(name_glob=search_name if search_name is not None else human_name,
              processing_name=processing_name, tags=all_tags, committed=is_committed,
              roots=roots, before=_parse_date(before), after=_parse_date(after),
              latest_per_name=latest_per_name)
    return _find(repo, ctx, q)


def lineage(local_context: str, uuid: str, max_depth: int | None = None, *,
            downstream: bool = False) -> list[tuple[int, str, LineageInfo | None]]:
    """Walk ``depends_on`` breadth-first from a bundle (or, downstream, what was built from it).

    Args:
        local_context: The context.
        uuid: The bundle to start from.
        max_depth: How many steps to follow (None: all).
        downstream: Follow the bundles whose lineage names this one instead
            (found through the index, without reading every record).

    Returns:
        ``(depth, uuid, LineageInfo or None)`` per bundle in BFS order, each uuid
        once; None marks an input not present in the context. An unknown start
        uuid gives ``[]``.
    """
    if downstream:
        return downstream_walk(local_context, uuid, max_depth)
    repo = _repo()
    ctx = _context(repo, local_context)
    out: list[tuple[int, str, LineageInfo | None]] = []
    queue = deque([(0, check_uuid(uuid))])
    seen: set[str] = set()
    while queue:
        depth, u = queue.popleft()
        if u in seen or (max_depth is not None and depth > max_depth):
            continue
        seen.add(u)
        sha = repo.member_sha(ctx, u)
        if sha is None:
            if depth > 0:
                out.append((depth, u, None))
            continue
        info = LineageInfo.of(repo.read_record(u, sha))
        out.append((depth, u, info))
        queue.extend((depth + 1, d.uuid) for d in info.depends_on)
    return out


# --- writing ---------------------------------------------------------------------------


def add(local_context: str, bundle_name: str, path: str | os.PathLike[str] | Iterable[Any],
        tags: dict[str, str] | None = None, *, follow_symlinks: bool | None = None) -> Bundle:
    """Make a bundle from a file, a directory (structure kept) or several paths.

    A single file presents as its path; a directory or several paths present
    as a list of file paths.

    Args:
        local_context: The context to add to.
        bundle_name: The new bundle's name.
        path: A file, a directory, or an iterable of them.
        tags: User tags.
        follow_symlinks: Store what symlinks pointing outside an added directory
            point to (default: refuse them, per the ``follow_symlinks`` setting).
    """
    repo = _repo()
    ctx = _context(repo, local_context)
    check_bundle_name(bundle_name)
    raw = [path] if isinstance(path, str | os.PathLike) else list(path)
    if any(str(p) == "" for p in raw):
        raise PathError("an empty path names nothing to add; give a file or directory")
    paths = [Path(p) for p in raw]
    for p in paths:
        if not p.exists():
            link = " (a broken symlink or a symlink loop)" if p.is_symlink() else ""
            raise PathError(f"{p} does not exist{link}; nothing was added")
    with Bundle(ctx, bundle_name, repo=repo, follow_symlinks=follow_symlinks) as b:
        if len(paths) == 1 and paths[0].is_file():
            b.add_data(paths[0])
        elif len(paths) == 1:
            b.add_data(DirectoryList(paths[0]))
        else:
            b.add_data(paths)
        b.add_tags(check_tags(tags))
        b.add_params({"path": ",".join(str(p) for p in paths)})
        b.add_code_ref("add")
    return b


def commit(local_context: str, bundle_name: str | None, tags: dict[str, str] | None = None,
           uuid: str | None = None) -> Bundle:
    """Commit the latest bundle with this name (and tags), or the one with this uuid.

    Returns:
        The committed bundle (committing twice is harmless).
    """
    b = get(local_context, bundle_name, uuid=uuid, tags=tags)
    if b is None:
        raise BundleNotFoundError(f"no bundle {_describe(bundle_name, uuid, tags)} to commit in "
                                  f"context {local_context!r}")
    return b.commit()


def rm(local_context: str, bundle_name: str | None = None, uuid: str | None = None,
       tags: dict[str, str] | None = None, rm_all: bool = False, rm_old_only: bool = False,
       force: bool = False) -> list[str]:
    """Remove bundles from a context (the data is reclaimed later by gc).

    By default the latest bundle of each matching name goes; ``rm_old_only``
    removes all but the latest of each name, ``rm_all`` all of them. Without a
    name, uuid or tags only ``rm_all`` is allowed (it empties the context).

    Args:
        force: Also remove committed bundles (refused otherwise).

    Returns:
        The uuids removed.
    """
    if rm_all and rm_old_only:
        raise UsageError("rm_all and rm_old_only exclude each other")
    repo = _repo()
    ctx = _context(repo, local_context)
    if uuid is not None and not tags:
        return _rm_uuid(repo, ctx, check_uuid(uuid), force)
    if uuid is not None:
        found = [b for b in [get(ctx, None, uuid=uuid, tags=tags)] if b is not None]
    elif bundle_name is None and not tags and not rm_all:
        raise UsageError("name the bundle(s) to remove (a name, uuid or tags), or use rm_all")
    else:
        found = _find(repo, ctx, Query(name_glob=bundle_name, tags=check_tags(tags)))
        if not rm_all:
            newest: dict[str, str] = {}
            for b in found:
                newest.setdefault(b.name, b.uuid)
            keep_newest = rm_old_only
            found = [b for b in found if (b.uuid == newest[b.name]) != keep_newest]
    committed = [b.uuid for b in found if b.is_committed]
    if committed and not force:
        raise UsageError(f"{len(committed)} of the bundles to remove are committed "
                         f"({', '.join(committed[:3])}); pass force=True (--force) to remove them")
    remove_members(repo, ctx, [b.uuid for b in found])
    return [b.uuid for b in found]


def _rm_uuid(repo: Repository, ctx: str, uuid: str, force: bool) -> list[str]:
    """Remove one bundle by uuid, from its refs alone: its record may be corrupt."""
    sha = repo.member_sha(ctx, uuid)
    if sha is None:
        return []
    if repo.is_committed(ctx, uuid, sha) and not force:
        raise UsageError(f"bundle {uuid} is committed; pass force=True (--force) to remove it")
    remove_members(repo, ctx, [uuid])
    return [uuid]


# --- pipelines (luigi is imported only when they are used) -----------------------------


def apply(local_context: str, transform: type, output_bundle: str = "-",
          input_tags: dict[str, str] | None = None, output_tags: dict[str, str] | None = None,
          force: bool = False, force_all: bool = False, params: dict[str, Any] | None = None,
          output_bundle_uuid: str | None = None, central_scheduler: bool = False,
          workers: int = 1, incremental_push: bool = False, incremental_pull: bool = False, *,
          explain: bool = False) -> dict[str, Any]:
    """Run a pipeline locally with luigi; see :func:`dsdt.apply.apply`."""
    from dsdt.apply import apply as _apply

    return _apply(local_context, transform, output_bundle, input_tags, output_tags, force,
                  force_all, params, output_bundle_uuid, central_scheduler, workers,
                  incremental_push, incremental_pull, explain=explain)


def __getattr__(name: str) -> Any:
    """``BundleWrapperTask`` and ``ApplyError``, imported (with luigi) on first use."""
    if name == "BundleWrapperTask":
        from dsdt.pipe import BundleWrapperTask

        return BundleWrapperTask
    if name == "ApplyError":
        from dsdt.apply import ApplyError

        return ApplyError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
