"""Contexts: create and delete them."""

from __future__ import annotations

from dsdt.errors import (
    BundleStateError,
    ContextExistsError,
    CorruptObjectError,
    NoRemoteError,
    UsageError,
)
from dsdt.index import Query, Row
from dsdt.refs.names import split_context
from dsdt.remote.state import LOCAL, data_states
from dsdt.repo import Repository


def create(repo: Repository, spec: str) -> int:
    """Create a context from ``local`` or ``remote/local``: 0 if created, 1 if it existed."""
    remote, local = split_context(spec)
    try:
        repo.create_context(local, remote_context=remote)
    except ContextExistsError:
        return 1
    return 0


def delete(repo: Repository, ctx: str, remote: bool = False, force: bool = False, *,
           strict: bool = True) -> None:
    """Delete a context (and, with ``remote``, its remote context); data stays until gc.

    Like ``git branch -d``: without ``force`` it refuses when a bundle's data
    would be left nowhere reachable, that is, when a member's data is here,
    is not on the remote as last seen, and no other context holds the bundle.
    This is decided offline, from the remote-tracking state. Without
    ``strict`` only committed bundles count (uncommitted ones are scratch, as
    Disdat treats them).

    Raises:
        NoRemoteError: ``remote`` without a bound remote.
        UsageError: ``remote`` without ``force``.
        BundleStateError: Bundles only this context keeps, without ``force``.
    """
    try:
        bound = repo.context_meta(ctx).get("remote_url")
    except CorruptObjectError as e:  # a planted context.yaml: its binding is unknown
        if remote or not force:
            raise type(e)(f"{e}; or delete the context with -f (force=True): where its "
                          "bundles' data is cannot be told") from None
        bound = None
    if remote and not bound:
        raise NoRemoteError(f"context {ctx!r} has no remote bound; nothing remote to delete")
    if remote and not force:
        raise UsageError("deleting the remote context too needs -f (dsdt context -d -r -f; "
                         "force=True)")
    at_risk = [] if force else [r for r in only_here(repo, ctx) if strict or r.committed]
    if at_risk:
        first = at_risk[0]
        keep = ("push them (dsdt commit, then dsdt push)" if bound else
                "bind a remote and push them (dsdt remote, dsdt commit, dsdt push)")
        raise BundleStateError(
            f"context {ctx!r} holds {len(at_risk)} {'' if strict else 'committed '}bundle(s) whose "
            "data is only here (not on a "
            f"remote, in no other context; first: {first.name} {first.uuid}): {keep}, or "
            "delete it anyway with -f (force=True)")
    if remote:
        from dsdt.ops.remote import delete_remote_context  # push, pull, prune: only here

        delete_remote_context(repo, ctx)
    repo.delete_context(ctx)


def only_here(repo: Repository, ctx: str) -> list[Row]:
    """Members of ``ctx`` whose data is here and would be reachable nowhere without it."""
    listing = repo.listing(ctx)
    pushed = listing.members if listing is not None else {}
    elsewhere = {u for c, u, _ in repo.index.member_names() if c != ctx}
    rows = [r for r in repo.index.find(ctx, Query())
            if pushed.get(r.uuid) != r.sha and r.uuid not in elsewhere]
    states = data_states(repo, ctx, [r.uuid for r in rows])
    return [r for r in rows if states[r.uuid].where == LOCAL]
