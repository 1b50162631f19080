"""The remote half of the API: bind a remote, push, pull, remove remote copies.

Re-exported by :mod:`dsdt.api`; use it from there.
"""

from __future__ import annotations

from typing import Any

from dsdt.errors import UsageError
from dsdt.index import Query
from dsdt.refs.names import check_context_name, check_tags
from dsdt.remote import prune, sync
from dsdt.remote.layout import Entry
from dsdt.remote.open import canonical_url, open_transport
from dsdt.remote.sync import ProgressSink, Report
from dsdt.repo import Repository


def _api() -> Any:
    import dsdt.api as api

    return api


def remote(local_context: str, remote_context: str, remote_url: str, force: bool = False) -> None:
    """Bind a local context to remote context ``remote_context`` at ``remote_url``.

    Args:
        local_context: The local context.
        remote_context: Name of the context on the remote.
        remote_url: ``s3://bucket/prefix``, ``file:///dir`` or a directory path;
            the bucket or directory must exist.
        force: Re-bind a context that is already bound elsewhere (data only on
            the old remote becomes unreachable from it).
    """
    api = _api()
    repo: Repository = api._repo()
    ctx = api._context(repo, local_context)
    check_context_name(remote_context)
    url = canonical_url(remote_url)
    open_transport(url, endpoint_url=repo.config.s3_endpoint_url).check()
    meta = repo.context_meta(ctx)
    bound = meta.get("remote_url")
    if bound and (bound, meta.get("remote_context")) != (url, remote_context) and not force:
        raise UsageError(f"context {ctx!r} is bound to {meta.get('remote_context')}@{bound}; "
                         "pass force=True (dsdt remote --force) to re-bind it")
    repo.bind_remote(ctx, remote_context, url)


def _committed_to_push(repo: Repository, ctx: str, bundle_name: str | None,
                       tags: dict[str, str] | None, uuid: str | None) -> list[str]:
    api = _api()
    if uuid is None and bundle_name is None and not tags:
        return [r.uuid for r in repo.index.find(ctx, Query(committed=True))]
    b = api.get(ctx, bundle_name, uuid=uuid, tags=tags)
    if b is None:
        raise api.BundleNotFoundError(
            f"no bundle {api._describe(bundle_name, uuid, tags)} to push in {ctx!r}")
    if not b.is_committed:
        raise UsageError(f"bundle {b.name} {b.uuid} is not committed; commit it first "
                         f"(dsdt commit -u {b.uuid}): only committed bundles are pushed")
    return [b.uuid]


def push(local_context: str, bundle_name: str | None = None, tags: dict[str, str] | None = None,
         uuid: str | None = None, delocalize: bool = False, *, jobs: int = 8,
         progress: ProgressSink | None = None) -> Report:
    """Push committed bundles to the context's remote: data, then records, then the ref.

    With a name (or tags, or uuid) the latest matching bundle is pushed and it
    must be committed; with none, every committed bundle not yet there.

    Args:
        local_context: The local context (it must have a remote).
        bundle_name: Name of the bundle to push.
        tags: Tags the bundle must have.
        uuid: The bundle to push (wins over the name).
        delocalize: Afterwards drop the local copies of the pushed data.
        jobs: Parallel transfers.
        progress: Receives progress (files and bytes).

    Returns:
        What was pushed and what was already there.
    """
    api = _api()
    repo = api._repo()
    ctx = api._context(repo, local_context)
    rem = sync.open_remote(repo, ctx)
    uuids = _committed_to_push(repo, ctx, bundle_name, check_tags(tags), uuid)
    report = sync.push(rem, uuids, jobs=jobs, progress=progress)
    if delocalize:
        report.delocalized = prune.delocalize(rem, uuids)
    return report


def pull(local_context: str, bundle_name: str | None = None, uuid: str | None = None,
         localize: bool = False, *, jobs: int = 8, progress: ProgressSink | None = None) -> Report:
    """Pull bundles from the context's remote: metadata always, data with ``localize``.

    Without ``localize``, DataFrames, arrays and other values load on first
    use and files present as remote URLs until localized.

    Args:
        local_context: The local context (it must have a remote).
        bundle_name: Only bundles with this name (``*`` matches anything).
        uuid: Only this bundle.
        localize: Also bring the data down (verified by sha256).
        jobs: Parallel transfers.
        progress: Receives progress (files and bytes).
    """
    api = _api()
    repo = api._repo()
    ctx = api._context(repo, local_context)
    rem = sync.open_remote(repo, ctx)
    match = _name_matcher(bundle_name)

    def select(u: str, e: Entry) -> bool:
        return (uuid is None or u == uuid) and match(e.name)

    return sync.pull(rem, select, localize=localize, jobs=jobs, progress=progress)


def _name_matcher(pattern: str | None) -> Any:
    if pattern is None:
        return lambda name: True
    import re

    rx = re.compile("^" + ".*".join(map(re.escape, pattern.split("*"))) + "$", re.S)
    return lambda name: rx.match(name) is not None


def rmr(local_context: str, bundle_name: str | None = None, uuid: str | None = None,
        tags: dict[str, str] | None = None, dryrun: bool = False) -> list[str]:
    """Remove bundles from the context's remote (never data other remote bundles use).

    Bundles are chosen like local ones (all local versions matching the name
    and tags), or by uuid even when the bundle is not local.

    Returns:
        The uuids removed from the remote (or that would be, with ``dryrun``).
    """
    api = _api()
    repo = api._repo()
    ctx = api._context(repo, local_context)
    rem = sync.open_remote(repo, ctx)
    if uuid is not None:
        uuids = [uuid]
    elif bundle_name is None and not tags:
        raise UsageError("name the bundle(s) to remove from the remote (a name, uuid or tags)")
    else:
        uuids = [b.uuid for b in api.search(ctx, bundle_name, check_tags(tags))]
    return prune.rmr(rem, uuids, dryrun=dryrun)


def delete_remote_context(repo: Repository, ctx: str) -> list[str]:
    """Remove every bundle of the context's remote context from the remote."""
    rem = sync.open_remote(repo, ctx)
    return prune.rmr(rem, list(rem.members()), dryrun=False)
