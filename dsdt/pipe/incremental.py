"""Incremental push and pull for pipelines: each task's bundle goes to the remote when made.

Used by the running tasks (possibly in a forked luigi worker) and by
``apply`` (the check, before anything runs).
"""

from __future__ import annotations

from typing import Any

from dsdt.errors import UsageError
from dsdt.ops import remote, write
from dsdt.repo import Repository

#: Text of the error for remote output paths asked for without both conditions.
NEEDS_REMOTE_AND_PUSH = ("remote output paths need a) a remote bound to the context "
                         "(dsdt remote) and b) incremental push (apply --incremental-push)")


def has_remote(repo: Repository, ctx: str) -> bool:
    """True when a remote is bound to the context."""
    return bool(repo.context_meta(ctx).get("remote_url"))


def check_remote(repo: Repository, ctx: str, incremental_push: bool,
                 incremental_pull: bool) -> None:
    """Refuse incremental push or pull on a context with no remote.

    Raises:
        UsageError: A flag is set and no remote is bound to ``ctx``.
    """
    if (incremental_push or incremental_pull) and not has_remote(repo, ctx):
        which = "incremental_push" if incremental_push else "incremental_pull"
        raise UsageError(f"{which} needs a remote bound to context {ctx!r}; bind one with "
                         "'dsdt remote <remote-context> <s3://bucket/prefix or directory>'")


def localize_inputs(repo: Repository, ctx: str, uuids: list[str]) -> None:
    """Pull the input bundles with their data (those not on the remote stay as they are)."""
    for uuid in uuids:
        remote.pull(repo, ctx, uuid=uuid, localize=True)


def push_made(repo: Repository, ctx: str, bundle: Any, tags: dict[str, str]) -> bool:
    """Commit and push a bundle just made, unless it is transient.

    Returns:
        True when the bundle was pushed.
    """
    if tags.get("__transient") == "True":
        return False
    write.commit(repo, ctx, None, uuid=bundle.uuid)
    remote.push(repo, ctx, uuid=bundle.uuid)
    return True
