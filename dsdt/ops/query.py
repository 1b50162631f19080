"""Reading bundles: get, cat and search, with their name, tag and date filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsdt._dates import parse_date
from dsdt.bundle import Bundle
from dsdt.errors import BundleNotFoundError, UsageError
from dsdt.index import PARAM_PREFIX, Query
from dsdt.objects.ids import is_uuid_prefix, uuid_or_prefix
from dsdt.refs.names import check_tags, glob_matcher
from dsdt.repo import Repository


def describe(name: str | None, uuid: str | None, tags: dict[str, str] | None) -> str:
    """``named 'x' with uuid u and tags {...}`` for error messages."""
    parts = [f"named {name!r}"] if name is not None else []
    parts += [f"with uuid {uuid}"] if uuid else []
    parts += [f"with tags {tags}"] if tags else []
    return " ".join(parts) or "matching"


def resolve_uuid(repo: Repository, ctx: str, text: str) -> str:
    """The uuid that ``text`` names in ``ctx``: a uuid, or a unique uuid prefix.

    A full uuid is returned as is (canonical), member or not.

    Raises:
        UsageError: ``text`` is neither a uuid nor a prefix of at least 4
            characters, or the prefix is ambiguous (the message lists the candidates).
        BundleNotFoundError: No bundle of ``ctx`` has a uuid starting with the prefix.
    """
    value, full = uuid_or_prefix(text)
    if full:
        return value
    found = repo.index.uuids_with_prefix(ctx, value)
    if not found:
        raise BundleNotFoundError(f"no bundle with a uuid starting {value!r} in context {ctx!r}")
    return unique_prefix(value, found)


def unique_prefix(prefix: str, found: list[tuple[str, str]]) -> str:
    """The one uuid of ``found`` (``(uuid, name)`` pairs), or an error listing the candidates."""
    if len(found) == 1:
        return found[0][0]
    shown = ", ".join(f"{u} ({n})" for u, n in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    raise UsageError(f"uuid prefix {prefix!r} is ambiguous: it matches {shown}{more}; give more "
                     "characters")


def lookup(repo: Repository, ctx: str, ref: str) -> Bundle | None:
    """The bundle ``ref`` names: a uuid, a bundle name (its latest version), or a uuid prefix.

    A name wins over a prefix that is also a name (as a git branch wins over an
    abbreviated commit id). None when nothing matches.

    Raises:
        UsageError: An ambiguous uuid prefix.
    """
    shaped = is_uuid_prefix(ref)
    if shaped and uuid_or_prefix(ref)[1]:
        return get(repo, ctx, None, ref)
    if "*" not in ref:
        latest = find(repo, ctx, Query(name_glob=ref, latest_per_name=True))
        if latest:
            return latest[0]
    if shaped:
        prefix = uuid_or_prefix(ref)[0]
        candidates = repo.index.uuids_with_prefix(ctx, prefix)
        if candidates:
            return get(repo, ctx, None, unique_prefix(prefix, candidates))
    return None


def need_ref(repo: Repository, ctx: str, ref: str) -> Bundle:
    """Like :func:`lookup`, but nothing found is a :class:`BundleNotFoundError`."""
    b = lookup(repo, ctx, ref)
    if b is None:
        raise ref_not_found(ctx, ref, left_out(repo, ctx))
    return b


def ref_not_found(ctx: str | None, ref: str, hint: str = "") -> BundleNotFoundError:
    """The error for a name or uuid (prefix) that names no bundle of ``ctx``."""
    prefix = f" or with a uuid starting {ref!r}" if is_uuid_prefix(ref) else ""
    return BundleNotFoundError(f"no bundle named {ref!r}{prefix} in context {ctx!r}{hint}")


def left_out(repo: Repository, ctx: str) -> str:
    """What a not-found message adds when the index left bundles of ``ctx`` out."""
    return left_out_note(repo.index.skipped(ctx))


def left_out_note(n: int) -> str:
    """The note for ``n`` bundles left out (their ref or record is unreadable: the one asked
    for may be among them)."""
    return f"; {n} bundle(s) of it could not be read (run dsdt fsck)" if n else ""


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
    """The latest bundle with this name (``*`` matches anything) and tags, or by uuid.

    With a uuid, a name and tags given too must match that bundle (None otherwise).
    """
    if uuid is not None:
        uuid = resolve_uuid(repo, ctx, uuid)
        sha = repo.member_sha(ctx, uuid)
        if sha is None:
            return None
        b = Bundle._from_record(repo, ctx, repo.read_record(uuid, sha), sha)
        matches = name is None or glob_matcher(name)(b.name)
        return b if matches and _has_tags(b, check_tags(tags)) else None
    found = find(repo, ctx, Query(name_glob=name, tags=check_tags(tags)))
    return found[0] if found else None


def _has_tags(b: Bundle, tags: dict[str, str]) -> bool:
    """True when ``b`` has every tag, as a search matches them (``__param.k`` is param k)."""
    have = {**b.tags, **{PARAM_PREFIX + k: v for k, v in b.params.items()}}
    return all(have.get(k) == v for k, v in tags.items())


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
                                  f"{ctx!r}{left_out(repo, ctx)}")
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
