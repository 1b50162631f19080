"""Reading bundles: get, cat and search, with their name, tag and date filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsdt._dates import parse_date
from dsdt.bundle import Bundle
from dsdt.errors import BundleNotFoundError
from dsdt.index import Query
from dsdt.objects.ids import check_uuid
from dsdt.refs.names import check_tags
from dsdt.repo import Repository


def describe(name: str | None, uuid: str | None, tags: dict[str, str] | None) -> str:
    """``named 'x' with uuid u and tags {...}`` for error messages."""
    parts = [f"named {name!r}"] if name is not None else []
    parts += [f"with uuid {uuid}"] if uuid else []
    parts += [f"with tags {tags}"] if tags else []
    return " ".join(parts) or "matching"


def find(repo: Repository, ctx: str, q: Query) -> list[Bundle]:
    """Bundles of ``ctx`` matching ``q``, newest first (a ``committed`` tag filters commits)."""
    if q.tags and "committed" in q.tags:
        tags = dict(q.tags)
        q.committed = tags.pop("committed") == "True"
        q.tags = tags
    rows = repo.index.find(ctx, q)
    tags = repo.index.tags_of([r.uuid for r in rows])
    return [Bundle._from_index(repo, ctx, row, tags[row.uuid]) for row in rows]


def get(repo: Repository, ctx: str, name: str | None, uuid: str | None = None,
        tags: dict[str, str] | None = None) -> Bundle | None:
    """The latest bundle with this name (``*`` matches anything) and tags, or by uuid."""
    if uuid is not None:
        uuid = check_uuid(uuid)
        sha = repo.member_sha(ctx, uuid)
        if sha is None:
            return None
        b = Bundle._from_record(repo, ctx, repo.read_record(uuid, sha), sha)
        return b if all(b.tags.get(k) == v for k, v in check_tags(tags).items()) else None
    found = find(repo, ctx, Query(name_glob=name, tags=check_tags(tags)))
    return found[0] if found else None


def need(repo: Repository, ctx: str, name: str | None, uuid: str | None = None,
         tags: dict[str, str] | None = None, *, to: str = "") -> Bundle:
    """Like :func:`get`, but a missing bundle is a :class:`BundleNotFoundError`.

    Args:
        to: What the bundle was wanted for (``"to commit"``), for the message.
    """
    b = get(repo, ctx, name, uuid, tags)
    if b is None:
        verb = f" {to}" if to else ""
        raise BundleNotFoundError(f"no bundle {describe(name, uuid, tags)}{verb} in context "
                                  f"{ctx!r}")
    return b


def cat(repo: Repository, ctx: str, name: str | None, uuid: str | None = None,
        tags: dict[str, str] | None = None) -> Any:
    """The data of the latest bundle with this name (or this uuid)."""
    return need(repo, ctx, name, uuid, tags).data


def search(repo: Repository, ctx: str, *, name: str | None = None,
           tags: dict[str, str] | None = None, committed: bool | None = None,
           roots: bool | None = None, before: str | datetime | None = None,
           after: str | datetime | None = None, processing_name: str | None = None,
           latest_per_name: bool = False) -> list[Bundle]:
    """Bundles matching every filter given, newest first (see ``dsdt.api.search``)."""
    q = Query(name_glob=name, processing_name=processing_name, tags=check_tags(tags),
              committed=committed, roots=roots, before=parse_date(before),
              after=parse_date(after), latest_per_name=latest_per_name)
    return find(repo, ctx, q)
