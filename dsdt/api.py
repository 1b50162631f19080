"""The dsdt Python API: the documented Disdat functions, on a ``.dsdt`` repository.

The repository is found from the current directory (or ``DSDT_DIR``). Every
function takes the context explicitly, as in Disdat; the CLI's current
context is ``current_context()``. Functions return values and raise
:class:`dsdt.errors.DsdtError` subclasses; they never print or exit.
Both API generations are provided: the 0.8 names of the spec and the 0.9
names (``search(human_name=, tags=)``, ``Bundle(ctx, name=, data=)``...).

This module is a stateless façade: each function finds the repository,
resolves the context and calls one function of :mod:`dsdt.ops`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsdt.bundle import Bundle
from dsdt.bundle.lineage import LineageInfo
from dsdt.errors import ApplyError, UsageError
from dsdt.index import Index
from dsdt.objects.codecs import DBLink, DirectoryList
from dsdt.ops import contexts as _contexts
from dsdt.ops import graph as _graph
from dsdt.ops import history as _history
from dsdt.ops import query as _query
from dsdt.ops import write as _write
from dsdt.ops.graph import LineageGraph
from dsdt.ops.history import BundleDiff, LogEntry
from dsdt.refs.names import check_tags, split_context
from dsdt.repo import ContextInfo, Repository, open_context

if TYPE_CHECKING:  # the names of _LAZY, for type checkers
    from dsdt.api_catalog import (
        CatalogEntry,
        CatalogPage,
        FileEntry,
        bundle_files,
        catalog,
        preview,
    )
    from dsdt.api_config import (
        ConfigValue,
        config_value,
        get_config,
        list_config,
        set_config,
        unset_config,
    )
    from dsdt.api_containers import build_image, dockerize, run
    from dsdt.api_housekeeping import du, fsck, gc, status
    from dsdt.api_remote import (
        adopt,
        data_states,
        install_hooks,
        pull,
        push,
        remote,
        rmr,
        run_hook,
    )
    from dsdt.fsck import FsckReport
    from dsdt.gc import GcReport
    from dsdt.ops.hooks import PrePushReport
    from dsdt.ops.housekeeping import DiskUsage
    from dsdt.remote.gc import RemoteGcReport
    from dsdt.remote.state import DataState
    from dsdt.remote.sync import Report

_at = open_context

#: Names served by :func:`__getattr__`: imported on first use, so that a verb that
#: never talks to a remote or a container engine never loads that machinery.
_LAZY = {
    "dsdt.api_catalog": ("CatalogEntry", "CatalogPage", "FileEntry", "bundle_files", "catalog",
                         "preview"),
    "dsdt.api_housekeeping": ("du", "fsck", "gc", "status"),
    "dsdt.api_config": ("ConfigValue", "config_value", "get_config", "list_config",
                        "set_config", "unset_config"),
    "dsdt.api_containers": ("build_image", "dockerize", "run"),
    "dsdt.api_remote": ("adopt", "data_states", "install_hooks", "pull", "push", "remote",
                        "rmr", "run_hook"),
    "dsdt.fsck": ("FsckReport",), "dsdt.gc": ("GcReport",),
    "dsdt.ops.housekeeping": ("DiskUsage",),
    "dsdt.ops.hooks": ("PrePushReport",), "dsdt.remote.gc": ("RemoteGcReport",),
    "dsdt.remote.state": ("DataState",), "dsdt.remote.sync": ("Report",),
    "dsdt.pipe": ("BundleWrapperTask",),
}
_LAZY_MODULE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "ApplyError", "Bundle", "BundleDiff", "CatalogEntry", "CatalogPage", "ConfigValue",
    "ContextInfo", "DBLink", "DataState", "DirectoryList", "DiskUsage", "FileEntry", "FsckReport",
    "GcReport", "LineageGraph", "LineageInfo", "LogEntry", "PrePushReport", "RemoteGcReport",
    "Report", "UsageError", "add", "adopt", "apply", "build_image", "bundle_files", "bundle_names",
    "cat", "catalog", "commit", "config_value", "context", "contexts", "current_context",
    "data_states", "delete_context", "diff", "dockerize", "du", "fsck", "gc", "get", "get_config",
    "init", "install_hooks", "lineage", "lineage_graph", "list_config", "log", "ls_contexts",
    "on_index_progress", "preview", "pull", "push", "remote", "rm", "rmr", "run", "run_hook",
    "search", "set_aws_profile", "set_config", "status", "switch", "unset_config",
]


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
    return _contexts.create(Repository.current(), context_name)


def delete_context(context_name: str, remote: bool = False, force: bool = False, *,
                   strict: bool = False) -> None:
    """Delete a local context (its bundles' data stays in the cache until gc).

    Uncommitted bundles go with it, as in Disdat (test set-ups delete their
    context freely). Like ``git branch -d``, it refuses
    (:class:`BundleStateError`) when a *committed* bundle's data would be
    left nowhere reachable (here only: not on the remote as last seen, and in
    no other context), unless ``force``; the remote is never read. A context
    that does not exist is no error (Disdat code deletes defensively; the
    CLI's ``dsdt context -d`` says so, exit 4).

    Args:
        context_name: The context to delete (``local`` or ``remote/local``).
        remote: Also delete the remote context (needs a bound remote and ``force``).
        force: Delete even if some bundle's data is only here.
        strict: Refuse for uncommitted bundles only here too (``dsdt context -d``).
    """
    repo = Repository.current()
    _, local = split_context(context_name)
    if local in repo.context_names(planted=True):  # one git broke can go too
        _contexts.delete(repo, local, remote=remote, force=force, strict=strict)


def switch(context_name: str) -> None:
    """Make ``context_name`` the current context of the CLI."""
    repo, ctx = _at(context_name)
    repo.switch(ctx)


def current_context() -> str | None:
    """The current context's name, or None when there is none."""
    return Repository.current().current_context()


def ls_contexts() -> list[str]:
    """Names of all local contexts."""
    return Repository.current().context_names()


def contexts() -> list[ContextInfo]:
    """Every context with its remote binding and whether it is the current one."""
    return Repository.current().contexts()


def set_aws_profile(aws_profile: str) -> None:
    """Use this AWS profile (``AWS_PROFILE``) for S3 remotes from now on."""
    os.environ["AWS_PROFILE"] = aws_profile


def on_index_progress(progress: Callable[[int, int], None] | None) -> None:
    """Report index rebuilds to ``progress(done, total)`` from now on (None: to nobody).

    The first query of a fresh clone reads every ref and record into the
    index (seconds at 100,000 bundles); ``done`` goes from 0 to ``total``
    (shards of refs), which is always reached, also when the rebuild fails.
    The CLI draws a bar from it on a terminal.
    """
    Index.progress = progress


# --- reading ---------------------------------------------------------------------------


def get(local_context: str, bundle_name: str | None, uuid: str | None = None,
        tags: dict[str, str] | None = None) -> Bundle | None:
    """The latest bundle with this name (``*`` matches anything) and tags, or by uuid.

    Returns:
        The closed bundle, or None when nothing matches.
    """
    return _query.get(*_at(local_context), bundle_name, uuid, tags)


def cat(local_context: str, bundle_name: str | None, uuid: str | None = None,
        tags: dict[str, str] | None = None) -> Any:
    """The data of the latest bundle with this name (or this uuid).

    Raises:
        BundleNotFoundError: Nothing matches.
    """
    return _query.cat(*_at(local_context), bundle_name, uuid, tags)


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
        before: Created before this date: a ``datetime``, ISO 8601 (``2026-12-06``,
            ``2026-12-06T13:31:19``, with or without an offset such as ``+01:00``
            or ``Z``) or Disdat's ``MM-DD-YYYY[ HH:MM:SS]``; without an offset
            it is local time. Anything else raises :class:`~dsdt.errors.UsageError`.
        after: Created at or after this date (same forms).
        human_name: 0.9 name for ``search_name``.
        processing_name: Exact processing name.
        tags: 0.9 name for ``search_tags``.
        latest_per_name: Only the newest bundle of each name.

    Returns:
        Closed bundles, newest first; their data loads on first access.
    """
    if find_roots and find_intermediates:
        raise UsageError("find_roots and find_intermediates exclude each other")
    return _query.search(
        *_at(local_context), name=search_name if search_name is not None else human_name,
        tags={**check_tags(search_tags), **check_tags(tags)}, committed=is_committed,
        roots=True if find_roots else (False if find_intermediates else None),
        before=before, after=after, processing_name=processing_name,
        latest_per_name=latest_per_name)


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
    return _graph.walk(*_at(local_context), uuid, max_depth, down=downstream)


def lineage_graph(local_context: str, uuid: str, max_depth: int | None = None,
                  downstream: bool = False, upstream: bool = True,
                  max_nodes: int | None = None) -> LineageGraph:
    """The lineage graph around a bundle: its inputs and/or its users, each bundle once.

    ``max_nodes`` stops each direction at that many bundles, reading no more
    records; the graph's ``cut`` then says so.

    Raises:
        BundleNotFoundError: ``uuid`` is not a bundle of the context.
        UsageError: Neither direction was asked for, or ``max_depth`` < 0.
    """
    return _graph.lineage_graph(*_at(local_context), uuid, max_depth, downstream, upstream,
                                max_nodes)


def bundle_names(local_context: str | None, prefix: str = "") -> list[str]:
    """The distinct bundle names of a context that start with ``prefix``, sorted.

    Read from the index only (it serves shell completion), at most 1,000.
    """
    repo, ctx = _at(local_context)
    return repo.index.names(ctx, prefix)


def log(local_context: str | None, bundle_name: str | None = None,
        all: bool = False) -> list[LogEntry]:
    """Every version of a bundle name (or, with ``all``, every bundle), newest first."""
    return _history.log(*_at(local_context), bundle_name, all)


def diff(local_context: str | None, bundle_name: str | None = None,
         uuids: list[str] | None = None) -> BundleDiff:
    """Compare the latest bundle of a name with the one before, or two uuids (old, new).

    Reads records only, never the data.
    """
    return _history.diff(*_at(local_context), bundle_name, uuids)


# --- writing ---------------------------------------------------------------------------


def add(local_context: str, bundle_name: str, path: str | os.PathLike[str] | Any,
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
    return _write.add(*_at(local_context), bundle_name, path, tags, follow_symlinks)


def commit(local_context: str, bundle_name: str | None, tags: dict[str, str] | None = None,
           uuid: str | None = None) -> Bundle:
    """Commit the latest bundle with this name (and tags), or the one with this uuid.

    Returns:
        The committed bundle (committing twice is harmless).
    """
    return _write.commit(*_at(local_context), bundle_name, tags, uuid)


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
    return _write.rm(*_at(local_context), bundle_name, uuid, tags, rm_all, rm_old_only, force)


# --- pipelines (luigi is imported only when they are used) -----------------------------


def apply(local_context: str, transform: type, output_bundle: str = "-",
          input_tags: dict[str, str] | None = None, output_tags: dict[str, str] | None = None,
          force: bool = False, force_all: bool = False, params: dict[str, Any] | None = None,
          output_bundle_uuid: str | None = None, central_scheduler: bool = False,
          workers: int = 1, incremental_push: bool = False, incremental_pull: bool = False, *,
          explain: bool = False, report: bool = False) -> dict[str, Any]:
    """Run a pipeline locally with luigi, reusing what is up to date.

    See :func:`dsdt.pipe.apply.apply` for the arguments.

    Returns:
        ``{'success': True, 'did_work': bool}`` (with ``explain``, also ``plan``;
        with ``report``, also ``output``, the root's bundle, and ``bundles``,
        those made by this run).

    Raises:
        ApplyError: A task failed (the message names the task and its
            exception); ``.result`` holds the outcome.
    """
    from dsdt.pipe.apply import apply as _apply

    repo, ctx = _at(local_context)
    return _apply(repo, ctx, transform, output_bundle, input_tags, output_tags, force,
                  force_all, params, output_bundle_uuid, central_scheduler, workers,
                  incremental_push, incremental_pull, explain=explain, report=report)


def __getattr__(name: str) -> Any:
    """The names of :data:`_LAZY`, imported on first use (and kept)."""
    module = _LAZY_MODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
