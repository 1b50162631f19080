"""The catalog of a context, for browsing: pages of names, a bundle's files, a data preview.

Pages come from the index (:mod:`dsdt.indexpage`, paged in SQL) and the
records of the page's bundles only. A preview decodes the first rows of a
DataFrame's parquet file, never the whole table. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dsdt._dates import parse_date
from dsdt.errors import (
    BundleNotFoundError,
    CorruptObjectError,
    DsdtError,
    FileSystemError,
    UsageError,
)
from dsdt.index import PARAM_PREFIX, Query, Row
from dsdt.indexpage import NamePages
from dsdt.objects.blobrefs import load_packed, meta_of
from dsdt.objects.treegate import parse_tree
from dsdt.ops.history import data_size
from dsdt.ops.query import resolve_uuid
from dsdt.refs.names import check_tags
from dsdt.remote.state import states_of
from dsdt.repo import Repository

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CatalogEntry", "CatalogPage", "FileEntry", "bundle_files", "page", "preview"]

MAX_PAGE = 500  #: the most rows one catalog page may ask for


@dataclass(frozen=True)
class CatalogEntry:
    """One bundle name of a context, with its newest version.

    Attributes:
        name: The bundle name.
        uuid: Its newest version (among those matching the filters).
        versions: How many versions match the filters.
        created: When the newest version was closed (aware UTC datetime).
        tags: The newest version's user tags.
        committed: Whether the newest version is committed.
        size: Bytes of the newest version's data blobs.
        data: Where its data is: ``local``, ``remote``, ``nowhere`` or ``unknown``.
    """

    name: str
    uuid: str
    versions: int
    created: datetime
    tags: dict[str, str]
    committed: bool
    size: int
    data: str


@dataclass(frozen=True)
class CatalogPage:
    """A page of a context's catalog.

    Attributes:
        entries: The page's names, in name order.
        total: How many names match the filters in all.
        offset: How many names come before this page.
        limit: The page size asked for.
        skipped: Bundles left out because their record is unreadable (those the
            index could not read, and those of this page).
    """

    entries: list[CatalogEntry]
    total: int
    offset: int
    limit: int
    skipped: int = 0


@dataclass(frozen=True)
class FileEntry:
    """A file (or directory) a bundle holds.

    Attributes:
        path: Its path inside the bundle (a directory's ends with ``/``).
        size: Its size in bytes (a directory's: all its files).
        files: For a directory, how many files it holds; 0 for a file.
    """

    path: str
    size: int
    files: int = 0


def page(repo: Repository, ctx: str, *, name: str | None = None,
         tags: dict[str, str] | None = None, before: str | datetime | None = None,
         after: str | datetime | None = None, limit: int = 50, offset: int = 0) -> CatalogPage:
    """A page of the names of ``ctx`` matching the filters (see ``dsdt.api.catalog``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"a catalog page holds 1 to {MAX_PAGE} names, not {limit}")
    if offset < 0:
        raise UsageError(f"a catalog offset must be 0 or more, not {offset}")
    q = Query(name_glob=name or None, tags=check_tags(tags), before=parse_date(before),
              after=parse_date(after))
    pages = NamePages(repo.index)
    rows, total = pages.page(ctx, q, limit, offset)
    uuids = [r.uuid for r in rows]
    tags_of = repo.index.tags_of(uuids)
    states = states_of(repo, ctx, {r.uuid: Row(r.uuid, r.sha, r.name, "", r.owner, "",
                                               r.committed, r.pulled) for r in rows})
    entries = []
    for r in rows:
        try:
            size = data_size(repo.read_record(r.uuid, r.sha).data, repo.blobs.read)
        except CorruptObjectError:
            continue  # counted in ``skipped``: fsck names it
        user_tags = {k: v for k, v in tags_of[r.uuid].items() if not k.startswith(PARAM_PREFIX)}
        state = states.get(r.uuid)
        entries.append(CatalogEntry(r.name, r.uuid, r.versions,
                                    datetime.fromtimestamp(r.created_ts, UTC), user_tags,
                                    r.committed, size, state.where if state else "unknown"))
    return CatalogPage(entries, total, offset, limit,
                       repo.index.skipped(ctx) + len(rows) - len(entries))


def _record(repo: Repository, ctx: str, uuid: str) -> Any:
    uuid = resolve_uuid(repo, ctx, uuid)
    sha = repo.member_sha(ctx, uuid)
    if sha is None:
        raise BundleNotFoundError(f"no bundle with uuid {uuid!r} in context {ctx!r}")
    return repo.read_record(uuid, sha)


def bundle_files(repo: Repository, ctx: str, uuid: str, limit: int = 1000) -> list[FileEntry]:
    """The files and directories a bundle holds, with sizes (at most ``limit`` rows).

    A directory is listed, then its files as its tree lists them when the
    tree is in the local cache. Read from the record and directory trees only.
    """
    out: list[FileEntry] = []
    _walk_files(repo, _record(repo, ctx, uuid).data, out, limit)
    return out


def _walk_files(repo: Repository, node: Any, out: list[FileEntry], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(node, list):
        for item in node:
            _walk_files(repo, item, out, limit)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "file":
        out.append(FileEntry(node["path"], int(node.get("size", 0))))
    elif kind == "directory":
        out.append(FileEntry(node["path"].rstrip("/") + "/", node["size"], node["files"]))
        if repo.blobs.has(node["tree"]):
            tree = parse_tree(repo.blobs.read(node["tree"], meta_of(node)[1].limit), node["tree"])
            base = node["path"].rstrip("/")
            out += [FileEntry(f"{base}/{path}", size) for path, _, size, _ in
                    tree["files"][:max(limit - len(out), 0)]]
    elif kind == "packed" and repo.blobs.has(node["blob"]):
        data = repo.blobs.read(node["blob"], meta_of(node)[1].limit)
        _walk_files(repo, load_packed(data, node["blob"]), out, limit)
    else:
        _walk_files(repo, list(node.values()), out, limit)


def preview(repo: Repository, ctx: str, uuid: str,
            rows: int = 20) -> pd.DataFrame | pd.Series | None:
    """The first ``rows`` rows of a bundle's DataFrame or Series, or None.

    None when the bundle holds no DataFrame or Series at its top, or when its
    parquet file is not in the local cache (nothing is fetched). Only the
    first rows are decoded.
    """
    if not 0 <= rows <= 1000:
        raise UsageError(f"a preview shows 0 to 1000 rows, not {rows}")
    node = _record(repo, ctx, uuid).data
    if node.get("type") not in ("dataframe", "series") or not repo.blobs.has(node["blob"]):
        return None
    from dsdt.objects.frames import read_head

    try:
        return read_head(node, repo.blobs.trusted_path(node["blob"]), rows)
    except DsdtError:
        raise
    except OSError as e:
        raise FileSystemError(f"cannot read the data of bundle {uuid} ({e}); "
                              "run dsdt fsck") from None
