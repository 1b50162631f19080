"""A local context bound to its remote context: the :class:`Remote`, and what push and pull share.

Push (:mod:`dsdt.remote.push`) writes blobs, then records, then moves the
remote context's ref with compare-and-swap, so a bundle is never visible on
the remote before all its data is there, and two pushers to one remote
context both succeed (the loser of a race re-reads the ref and merges) or
one gets a clear conflict. Pull (:mod:`dsdt.remote.pull`) reads the ref once,
brings down records (verified against the hashes the ref names) and the
small metadata blobs; bulk data comes down only when localized or first
used, and every downloaded blob is verified by sha256.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, TypeVar

from dsdt.errors import (
    BindingChangedError,
    ConflictError,
    CorruptObjectError,
    NoRemoteError,
    NotFoundError,
)
from dsdt.refs.tracking import Listing
from dsdt.remote import locks
from dsdt.remote.layout import MAX_REF_BYTES, Entry, blob_key, context_key, decode_ref, encode_ref
from dsdt.remote.open import canonical_url, open_transport
from dsdt.remote.packs import PackCache, RemotePacks
from dsdt.remote.proofs import Proofs
from dsdt.remote.transport import Transport
from dsdt.repo import Repository

_SWAP_ATTEMPTS = 20
T = TypeVar("T")


class ProgressSink(Protocol):
    """Receives transfer progress (the CLI draws a bar with it)."""

    def begin(self, files: int, nbytes: int) -> None:
        """A transfer of ``files`` objects totalling ``nbytes`` starts."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were transferred."""

    def file_done(self) -> None:
        """One more object finished."""


class Quiet:
    def begin(self, files: int, nbytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def file_done(self) -> None:
        pass


@dataclass
class Report:
    """What a push or pull did.

    Attributes:
        bundles: Uuids of the bundles pushed (or pulled).
        skipped: Uuids the other side already had.
        blobs: Blobs sent (or fetched).
        bytes: Their size.
        delocalized: Blobs removed from the local cache (push with ``delocalize``).
        refused: Pull: uuid -> why its record was refused (it failed validation).
        foreign: Push: uuids not pushed because their records came by git or a
            pull (their authors push them).
        differing: Pull: uuids of local bundles whose record the remote lists
            with another hash (the local one was kept, the remote one not pulled).
    """

    bundles: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0
    delocalized: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # uuid -> why (failed the gate)
    foreign: list[str] = field(default_factory=list)  # not pushed: their records came by git
    differing: list[str] = field(default_factory=list)  # pull: the remote lists another record


@dataclass
class Remote:
    """A local context bound to a remote context, with its transport."""

    repo: Repository
    ctx: str
    remote_context: str
    url: str
    transport: Transport

    @property
    def ref_key(self) -> str:
        """Key of the remote context's ref."""
        return context_key(self.remote_context)

    def members(self) -> dict[str, Entry]:
        """The remote context's members, read now (and remembered as tracking state)."""
        members = read_ref(self.transport, self.ref_key)
        self.saw(members)
        return members

    def saw(self, members: dict[str, Entry]) -> None:
        """Remember the whole membership just read or written (:mod:`dsdt.refs.tracking`)."""
        now = time.time_ns()

        def replace(listing: Listing) -> None:
            listing.members = {u: e.sha for u, e in members.items()}
            listing.seen_ns = now

        self.repo.tracking.update(self.ctx, self.url, self.remote_context, replace)

    def blob_url(self, blob_id: str) -> str:
        """Where a blob is on the remote (shown for data that is not local)."""
        return f"{self.url}/{blob_key(blob_id)}"

    @cached_property
    def proofs(self) -> Proofs:
        """Stamps of remote blobs whose content is proven (see :mod:`dsdt.remote.proofs`)."""
        return Proofs(self.repo.root / "cache" / "remote-proofs.sqlite")

    @cached_property
    def packs(self) -> RemotePacks:
        """The remote's packs and what they hold (see :mod:`dsdt.remote.packs`)."""
        return RemotePacks(self.transport, PackCache(self.repo.root / "cache" /
                                                     "remote-packs.sqlite"))

    def blob_size(self, blob_id: str) -> int | None:
        """Size of a blob on the remote, in a pack or alone; None when it has none."""
        where = self.packs.locate([blob_id]).get(blob_id)
        return where.entry.length if where else self.transport.size(blob_key(blob_id))

    def read_blob(self, blob_id: str, limit: int) -> bytes:
        """A (small) blob's bytes, from its pack (verified) or its own object (not verified).

        Raises:
            NotFoundError: The remote holds it nowhere.
        """
        data = self.packs.read_blob(blob_id, limit)
        return self.transport.get(blob_key(blob_id), limit) if data is None else data

    def locked(self, kind: str):  # type: ignore[no-untyped-def]
        """Hold a remote lock (:mod:`dsdt.remote.locks`) of ``kind`` for a ``with`` block."""
        return locks.holding(self.transport, kind, self.repo.config.lock_timeout)


def read_ref(tr: Transport, key: str) -> dict[str, Entry]:
    """The members a remote context ref lists (validated; empty when there is none)."""
    try:
        data = tr.get(key, limit=MAX_REF_BYTES)
    except NotFoundError:
        return {}
    return decode_ref(data, f"{tr.url}/{key}")


def open_remote(repo: Repository, ctx: str) -> Remote:
    """The remote bound to ``ctx`` (raises :class:`UsageError` when none is)."""
    meta = repo.context_meta(ctx)
    url = meta.get("remote_url")
    if not url:
        raise NoRemoteError(f"context {ctx!r} has no remote; bind one with "
                         f"'dsdt remote <remote-context> <s3://bucket/prefix or directory>'")
    if canonical_url(url) != url:  # context.yaml is checked in: no relative or odd spelling
        raise CorruptObjectError(f"context {ctx!r} names the remote {url!r}, which is not in "
                                 "canonical form (an absolute directory or s3://bucket/prefix); "
                                 "bind it again with dsdt remote")
    check_binding(repo, ctx)
    transport = open_transport(url, endpoint_url=repo.config.s3_endpoint_url)
    return Remote(repo, ctx, str(meta.get("remote_context") or ctx), url, transport)


def check_binding(repo: Repository, ctx: str) -> None:
    """Refuse a binding of ``ctx`` other than the one this clone last used, as ssh refuses
    a changed host key: ``context.yaml`` comes with git, so a teammate (or whoever can
    push to the project) could send this clone's pushes to a place of their choosing.
    ``dsdt remote`` (:func:`dsdt.ops.remote.bind`) accepts the new binding.

    Raises:
        BindingChangedError: The remote-tracking state describes another binding, or
            git planted it (it then hides which one).
    """
    meta = repo.context_meta(ctx)
    url, remote_context = meta.get("remote_url"), str(meta.get("remote_context") or ctx)
    if not url:
        return
    last = repo.tracking.read(ctx)
    accept = f"dsdt remote -c {ctx} {remote_context} {shlex.quote(url)}"
    if last is None and repo.tracking.planted(ctx):  # git wrote it: the old binding is lost
        raise BindingChangedError(
            f"what this clone knew of the remote of context {ctx!r} "
            f"({repo.tracking.path(ctx)}) was not written by dsdt (git writes files "
            f"writable), so the binding it last used cannot be told. Nothing was read or "
            f"written on {remote_context}@{url}. If that binding is right, accept it with: "
            f"{accept}")
    if last is not None and not last.bound_to(url, remote_context):
        raise BindingChangedError(
            f"context {ctx!r} is now bound to {remote_context}@{url}, but this clone last "
            f"used {last.remote_context}@{last.url}: its context.yaml changed (git brings "
            f"it). Nothing was read or written there. If the new binding is right, accept "
            f"it with: {accept}")


def run_jobs(jobs: int, fn: Callable[[T], None], items: Iterable[T]) -> None:
    """Call ``fn`` on every item, on up to ``jobs`` threads (the first error is raised)."""
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(min(jobs, len(items))) as pool:
        for _ in pool.map(fn, items):
            pass


def swap_ref(remote: Remote, change: Callable[[dict[str, Entry]], None]) -> dict[str, Entry]:
    """Apply ``change`` to the remote context's members by compare-and-swap, retrying races."""
    tr, key = remote.transport, remote.ref_key
    for attempt in range(_SWAP_ATTEMPTS):
        got = tr.read_versioned(key)
        if got.data is not None and len(got.data) > MAX_REF_BYTES:
            raise CorruptObjectError(f"{remote.url}/{key} is larger than {MAX_REF_BYTES} bytes")
        members = decode_ref(got.data, f"{remote.url}/{key}")
        change(members)
        try:
            tr.swap(key, got.token, encode_ref(members))
            remote.saw(members)
            return members
        except ConflictError:
            time.sleep(min(0.01 * 2 ** attempt, 0.5))
    raise ConflictError(f"{remote.url}/{key} kept changing while we updated it; "
                        "another push is busy: try again")
