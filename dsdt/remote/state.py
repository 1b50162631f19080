"""Where each bundle's data is: here, on its context's remote, or nowhere reachable.

The answer is offline: the local cache says what is here, and the
remote-tracking state (``docs/format.md`` section 10) what the remote held
when dsdt last read its ref. A bundle whose record arrived after that read
(a ``git pull`` since the last ``dsdt pull``) is ``unknown`` until the remote
is read again; :func:`settle` does that, once per context.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from dsdt.errors import BindingChangedError, CorruptObjectError, DataUnreachableError, DsdtError
from dsdt.index import Query, Row
from dsdt.objects.blobrefs import expand_meta
from dsdt.objects.record import current_host, current_user
from dsdt.repo import Repository

LOCAL, REMOTE, NOWHERE, UNKNOWN = "local", "remote", "nowhere", "unknown"
STATES = (LOCAL, REMOTE, NOWHERE, UNKNOWN)
_FEW = 32  # up to this many bundles are looked up one by one, more with one query


@dataclass(frozen=True)
class DataState:
    """Where one bundle's data is.

    Attributes:
        where: ``local`` (every blob is in the cache), ``remote`` (the
            context's remote holds the bundle), ``nowhere`` (neither, as of
            ``seen``) or ``unknown`` (not here; the remote was not read since
            the bundle's record arrived).
        missing: How many of its blobs (trees and packed values included) are
            not in the local cache.
        name: The bundle's name.
        owner: Who made it.
        host: Where it was made ("" for records from before hosts were kept).
        seen: When the remote's membership was last read (seconds since the
            epoch), or None if never (or the context has no remote).
    """

    where: str
    missing: int
    name: str
    owner: str
    host: str
    seen: float | None

    def error(self, uuid: str, remote: str | None) -> DataUnreachableError:
        """The error to raise when this bundle's data is needed and is not ``local``."""
        label = f"bundle {self.name} {uuid}" if self.name else f"bundle {uuid}"
        if remote is None:
            where = "and its context has no remote"
        elif self.where == UNKNOWN:
            where = f"and {remote} could not be read to look for it"
        else:
            where = f"nor on {remote}"
        mine = self.owner == current_user() and self.host in ("", current_host())
        if mine:
            fix = ("it was made by you on this machine: commit and push it from the clone "
                   "that made it (dsdt commit -u UUID, then dsdt push), unless its data was "
                   "removed there (by gc, or push -d)")
        else:
            who = (self.owner or "someone") + (f" on {self.host}" if self.host else "")
            fix = f"it was made by {who}; ask them to commit and push it (dsdt push)"
        if remote is None:
            fix += "; a remote must be bound first (dsdt remote)"
        return DataUnreachableError(f"{label} has data that is not in the local cache {where}: "
                                    f"{fix.replace('UUID', uuid)}")


def data_states(repo: Repository, ctx: str,
                uuids: Iterable[str] | None = None) -> dict[str, DataState]:
    """The state of the data of members of ``ctx`` (all of them, or these uuids), offline."""
    wanted = None if uuids is None else list(dict.fromkeys(uuids))
    if wanted is None or len(wanted) > _FEW:  # one query for the context (ls of all of it)
        rows = {r.uuid: r for r in repo.index.find(ctx, Query())}
        if wanted is not None:
            rows = {u: rows[u] for u in wanted if u in rows}
    else:  # a bundle being read: its own rows only
        rows = {r.uuid: r for u in wanted for r in repo.index.find(ctx, Query(uuid=u))}
    return states_of(repo, ctx, rows)


def states_of(repo: Repository, ctx: str, rows: dict[str, Row]) -> dict[str, DataState]:
    """The state of the data of these members of ``ctx`` (index rows already at hand)."""
    wanted = list(rows)
    missing = _missing_blobs(repo, wanted)
    listing = repo.listing(ctx)
    bound = bool(repo.context_meta(ctx).get("remote_url"))
    seen = listing.seen_ns if listing is not None and listing.seen_ns else None
    out: dict[str, DataState] = {}
    for uuid in wanted:
        row, gone = rows[uuid], missing.get(uuid, 0)
        if not gone:
            where = LOCAL
        elif listing is not None and listing.members.get(uuid) == row.sha:
            where = REMOTE
        elif bound and (seen is None or _arrived_ns(repo, uuid) > seen):
            where = UNKNOWN
        else:
            where = NOWHERE
        host = _host(repo, uuid, row.sha) if where in (NOWHERE, UNKNOWN) else ""
        out[uuid] = DataState(where, gone, row.name, row.owner, host,
                              seen / 1e9 if seen and bound else None)
    return out


def settle(repo: Repository, ctx: str, uuids: Iterable[str] | None = None,
           *, online: bool = True) -> dict[str, DataState]:
    """Like :func:`data_states`, reading the remote's ref once if any state is ``unknown``.

    A remote that cannot be read leaves those states ``unknown``.
    """
    states = data_states(repo, ctx, uuids)
    if online and any(s.where == UNKNOWN for s in states.values()):
        from dsdt.remote.sync import open_remote

        try:
            open_remote(repo, ctx).members()  # rewrites the tracking state
        except BindingChangedError:
            raise  # not "unreachable": the user must decide
        except DsdtError:
            return states
        states = data_states(repo, ctx, uuids)
    return states


def require_reachable(repo: Repository, ctx: str, uuids: list[str]) -> None:
    """Raise :class:`DataUnreachableError` if any of these bundles has data that is neither
    local nor on the context's remote (reading the remote if it must), naming the first."""
    states = settle(repo, ctx, uuids)
    bad = [u for u in uuids if u in states and states[u].where in (NOWHERE, UNKNOWN)]
    if bad:
        error = states[bad[0]].error(bad[0], repo.context_meta(ctx).get("remote_url"))
        if len(bad) > 1:
            error = DataUnreachableError(f"{error} ({len(bad) - 1} more bundle(s) like it: "
                                         "dsdt status lists them)")
        raise error


def _missing_blobs(repo: Repository, uuids: list[str]) -> dict[str, int]:
    """Per bundle, how many blobs it needs that are not local (a tree not here counts once)."""
    expanded: dict[str, set[str] | None] = {}
    out: dict[str, int] = {}
    for uuid, blob, _size, kind in repo.index.blobs_of(uuids):
        if not kind:
            out[uuid] = out.get(uuid, 0) + (not repo.blobs.has(blob))
            continue
        if blob not in expanded:
            expanded[blob] = _inside(repo, blob, kind)
        inside = expanded[blob]
        out[uuid] = out.get(uuid, 0) + (1 if inside is None else
                                        sum(not repo.blobs.has(b) for b in inside))
    return out


def _inside(repo: Repository, meta: str, kind: str) -> set[str] | None:
    """The blobs a tree or packed value names (recursively); None if one is not here.

    A corrupt one is here (reading the bundle reports it; fsck names it).
    """
    out: set[str] = set()
    stack = [(meta, kind)]
    while stack:
        blob, kind = stack.pop()
        if not repo.blobs.has(blob):
            return None
        try:
            refs = expand_meta(blob, kind, repo.blobs.read(blob))
        except CorruptObjectError:
            continue
        out |= set(refs.data)
        stack.extend((b, m.kind) for b, m in refs.meta.items() if b not in out)
        out |= set(refs.meta)
    return out


def _arrived_ns(repo: Repository, uuid: str) -> int:
    """When the record of ``uuid`` arrived here (git writes a file when it brings it)."""
    for path in (repo.record_path(uuid), repo.pulled_record_path(uuid)):
        try:
            return os.lstat(path).st_mtime_ns
        except FileNotFoundError:
            continue
    return 1 << 62


def _host(repo: Repository, uuid: str, sha: str) -> str:
    try:
        return repo.read_record(uuid, sha).host
    except DsdtError:
        return ""
