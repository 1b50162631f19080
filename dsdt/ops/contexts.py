"""Contexts: create and delete them."""

from __future__ import annotations

from dsdt.errors import ContextExistsError, UsageError
from dsdt.index import Query
from dsdt.ops.remote import all_pushed, delete_remote_context
from dsdt.refs.names import split_context
from dsdt.repo import Repository


def create(repo: Repository, spec: str) -> int:
    """Create a context from ``local`` or ``remote/local``: 0 if created, 1 if it existed."""
    remote, local = split_context(spec)
    try:
        repo.create_context(local, remote_context=remote)
    except ContextExistsError:
        return 1
    return 0


def delete(repo: Repository, ctx: str, remote: bool = False, force: bool = False) -> None:
    """Delete a context (and, with ``remote``, its remote context); data stays until gc.

    Raises:
        UsageError: ``remote`` without a bound remote or without ``force``; or
            committed bundles that are not all on the remote, without ``force``.
    """
    bound = repo.context_meta(ctx).get("remote_url")
    if remote and not bound:
        raise UsageError(f"context {ctx!r} has no remote bound; nothing remote to delete")
    if remote and not force:
        raise UsageError("deleting the remote context too needs force=True (dsdt context -d -r -f)")
    committed = repo.index.find(ctx, Query(committed=True))
    if committed and not force and not all_pushed(repo, ctx, [r.uuid for r in committed]):
        raise UsageError(
            f"context {ctx!r} holds committed bundle(s) that are not on a remote; pass "
            "force=True (dsdt context -d --force) to delete it anyway"
        )
    if remote:
        delete_remote_context(repo, ctx)
    repo.delete_context(ctx)
