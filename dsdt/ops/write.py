"""Writing bundles: add files and directories, commit, remove."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dsdt.bundle import Bundle
from dsdt.errors import BundleStateError, PathError, UsageError
from dsdt.gc import remove_members
from dsdt.index import Query
from dsdt.objects.codecs import DirectoryList
from dsdt.ops.query import find, get, need, resolve_uuid
from dsdt.refs.names import check_bundle_name, check_tags
from dsdt.repo import Repository

PathArg = str | os.PathLike[str] | Iterable[Any]


def add(repo: Repository, ctx: str, name: str, path: PathArg,
        tags: dict[str, str] | None = None, follow_symlinks: bool | None = None) -> Bundle:
    """Make a bundle from a file, a directory (structure kept) or several paths.

    A single file presents as its path; a directory or several paths present
    as a list of file paths.
    """
    check_bundle_name(name)
    raw = [path] if isinstance(path, str | os.PathLike) else list(path)
    if any(str(p) == "" for p in raw):
        raise PathError("an empty path names nothing to add; give a file or directory")
    paths = [Path(p) for p in raw]
    for p in paths:
        if not p.exists():
            link = " (a broken symlink or a symlink loop)" if p.is_symlink() else ""
            raise PathError(f"{p} does not exist{link}; nothing was added")
    with Bundle(ctx, name, repo=repo, follow_symlinks=follow_symlinks) as b:
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


def commit(repo: Repository, ctx: str, name: str | None, tags: dict[str, str] | None = None,
           uuid: str | None = None) -> Bundle:
    """Commit the latest bundle with this name (and tags), or the one with this uuid."""
    return need(repo, ctx, name, uuid, tags, to="to commit").commit()


def rm(repo: Repository, ctx: str, name: str | None = None, uuid: str | None = None,
       tags: dict[str, str] | None = None, rm_all: bool = False, rm_old_only: bool = False,
       force: bool = False) -> list[str]:
    """Remove bundles from a context (see ``dsdt.api.rm``); return the uuids removed."""
    if rm_all and rm_old_only:
        raise UsageError("rm_all and rm_old_only exclude each other")
    if uuid is not None and not tags and name is None:
        return _rm_uuid(repo, ctx, resolve_uuid(repo, ctx, uuid), force)
    if uuid is not None:  # the name and tags must match that bundle
        found = [b for b in [get(repo, ctx, name, uuid, tags)] if b is not None]
    elif name is None and not tags and not rm_all:
        raise UsageError("name the bundle(s) to remove (a name, uuid or tags), or use --all "
                         "(rm_all=True) to empty the context")
    else:
        found = find(repo, ctx, Query(name_glob=name, tags=check_tags(tags)))
        if not rm_all:
            newest: dict[str, str] = {}
            for b in found:
                newest.setdefault(b.name, b.uuid)
            found = [b for b in found if (b.uuid == newest[b.name]) != rm_old_only]
    committed = [b.uuid for b in found if b.is_committed]
    if committed and not force and len(committed) == len(found):
        what = f"bundle {committed[0]} is" if len(committed) == 1 else (
            f"all {len(committed)} bundles to remove are")
        raise BundleStateError(f"{what} committed; committed bundles are removed only with "
                               "--force (force=True)")
    if not force:  # of several, the committed ones are kept
        found = [b for b in found if not b.is_committed]
    return remove_members(repo, ctx, [b.uuid for b in found], keep_committed=not force)


def _rm_uuid(repo: Repository, ctx: str, uuid: str, force: bool) -> list[str]:
    """Remove one bundle by uuid, from its refs alone: its record may be corrupt."""
    sha = repo.member_sha(ctx, uuid)
    if sha is None:
        return []
    if (repo.is_committed(ctx, uuid, sha) and not force) or not remove_members(
            repo, ctx, [uuid], keep_committed=not force):
        raise BundleStateError(f"bundle {uuid} is committed; committed bundles are removed "
                               "only with --force (force=True)")
    return [uuid]
