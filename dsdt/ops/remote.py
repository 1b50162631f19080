"""Remotes: bind one to a context, push, pull, and remove remote copies."""

from __future__ import annotations

from dsdt.errors import (
    BindingChangedError,
    BundleNotFoundError,
    BundleStateError,
    UsageError,
)
from dsdt.index import Query
from dsdt.objects.ids import uuid_or_prefix
from dsdt.ops.query import find, need, resolve_uuid, unique_prefix
from dsdt.refs.names import check_context_name, check_tags, glob_matcher
from dsdt.remote import prune, sync
from dsdt.remote import pull as pulling
from dsdt.remote import push as pushing
from dsdt.remote.layout import Entry
from dsdt.remote.open import canonical_url, open_transport
from dsdt.remote.state import require_reachable
from dsdt.remote.sync import ProgressSink, Report
from dsdt.repo import Repository


def bind(repo: Repository, ctx: str, remote_context: str, remote_url: str,
         force: bool = False) -> None:
    """Bind ``ctx`` to remote context ``remote_context`` at ``remote_url`` (which must exist).

    Binding accepts a binding that came with git (see
    :func:`dsdt.remote.sync.check_binding`): what this clone knew of the
    remote it used before is dropped.

    Raises:
        UsageError: ``ctx`` is bound elsewhere and ``force`` is not set.
    """
    check_context_name(remote_context)
    url = canonical_url(remote_url)
    open_transport(url, endpoint_url=repo.config.s3_endpoint_url).check()
    meta = repo.context_meta(ctx)
    bound = meta.get("remote_url")
    if bound and (bound, meta.get("remote_context")) != (url, remote_context) and not force:
        raise UsageError(f"context {ctx!r} is bound to {meta.get('remote_context')}@{bound}; "
                         "re-bind it with --force (force=True)")
    repo.bind_remote(ctx, remote_context, url)
    try:
        sync.check_binding(repo, ctx)
    except BindingChangedError:
        repo.tracking.drop(ctx)  # it described the old binding, or git put it there


def _to_push(repo: Repository, ctx: str, name: str | None, tags: dict[str, str],
             uuid: str | None) -> list[str]:
    if uuid is None and name is None and not tags:
        return [r.uuid for r in repo.index.find(ctx, Query(committed=True))]
    b = need(repo, ctx, name, uuid, tags, to="to push")
    if not b.is_committed:
        raise BundleStateError(f"bundle {b.name} {b.uuid} is not committed; commit it first "
                         f"(dsdt commit -u {b.uuid}): only committed bundles are pushed")
    return [b.uuid]


def push(repo: Repository, ctx: str, name: str | None = None,
         tags: dict[str, str] | None = None, uuid: str | None = None, delocalize: bool = False,
         jobs: int = 8, progress: ProgressSink | None = None, ours: bool = False) -> Report:
    """Push committed bundles: the latest matching one, or (no filter) all not yet there.

    Bundles not made in this context of this clone (their records came through
    git or a pull) are not pushed (``report.foreign``) unless ``ours``: their
    data is uploaded by the clone that made them.

    Raises:
        UsageError: The one bundle asked for came through git (without ``ours``).
    """
    rem = sync.open_remote(repo, ctx)
    uuids = _to_push(repo, ctx, name, check_tags(tags), uuid)
    report = pushing.push(rem, uuids, jobs=jobs, progress=progress, ours=ours)
    if report.foreign and (name is not None or uuid is not None or tags):
        raise BundleStateError(
            f"bundle {report.foreign[0]} was not made in context {ctx!r} of this clone (its "
            "record came through git or a pull), so its data is not pushed from here: its "
            "author pushes it. If you made it, push it with --ours (ours=True)")
    if delocalize:
        report.delocalized = prune.delocalize(rem, uuids)
    return report


def pull(repo: Repository, ctx: str, name: str | None = None, uuid: str | None = None,
         localize: bool = False, jobs: int = 8, progress: ProgressSink | None = None) -> Report:
    """Pull bundles of the remote context (by name pattern or uuid): metadata, data if asked.

    Raises:
        DataUnreachableError: With ``localize``, a matching bundle here has data
            that is neither local nor on the remote (its maker never pushed it).
    """
    match = glob_matcher(name)
    rem = sync.open_remote(repo, ctx)
    if uuid is not None:
        uuid = _remote_uuid(rem, uuid, local=False)

    def select(u: str, e: Entry) -> bool:
        return (uuid is None or u == uuid) and match(e.name)

    report = pulling.pull(rem, select, localize=localize, jobs=jobs, progress=progress)
    if localize:  # every matching bundle here now has its data, or the user hears why not
        require_reachable(repo, ctx, [r.uuid for r in repo.index.find(
            ctx, Query(name_glob=name, uuid=uuid))])
    return report


def adopt(repo: Repository, ctx: str, name: str | None = None, uuid: str | None = None,
          tags: dict[str, str] | None = None) -> list[str]:
    """Check in bundles pulled from the context's remote (all of them, or those matching).

    A pulled bundle is shown from the remote-tracking state in ``cache/``,
    which git ignores; adopting writes its record and refs into the
    checked-in tree, so a git commit records it.

    Returns:
        The uuids adopted (bundles already checked in are left as they are).
    """
    uuid = resolve_uuid(repo, ctx, uuid) if uuid is not None else None
    rows = repo.index.find(ctx, Query(name_glob=name, uuid=uuid, tags=check_tags(tags)))
    adopted = [r for r in rows if r.pulled]
    for row in adopted:
        repo.adopt(ctx, row.uuid, row.sha)
    return [r.uuid for r in adopted]


def rmr(repo: Repository, ctx: str, name: str | None = None, uuid: str | None = None,
        tags: dict[str, str] | None = None, dryrun: bool = False) -> list[str]:
    """Remove bundles from the remote: by uuid, or every version matching the name (local
    ones, and, without tags, the remote's own members of that name) and the tags."""
    rem = sync.open_remote(repo, ctx)
    if uuid is not None:
        uuids = [_remote_uuid(rem, uuid, local=True)]
    elif name is None and not tags:
        raise UsageError("name the bundle(s) to remove from the remote (a name, uuid or tags)")
    else:
        uuids = [b.uuid for b in find(repo, ctx, Query(name_glob=name, tags=check_tags(tags)))]
        if not tags:  # the remote lists names too: a bundle removed here is still found there
            match = glob_matcher(name)
            uuids += [u for u, e in rem.members().items() if match(e.name)]
    return prune.rmr(rem, uuids, dryrun=dryrun)


def _remote_uuid(rem: sync.Remote, text: str, local: bool) -> str:
    """The uuid ``text`` (a uuid or a prefix) names among the remote's members (and, with
    ``local``, the local context's).

    Raises:
        BundleNotFoundError: A prefix that matches nothing.
        UsageError: An ambiguous prefix, or ``text`` is not a uuid or prefix.
    """
    prefix, full = uuid_or_prefix(text)
    if full:
        return prefix
    here = rem.repo.index.uuids_with_prefix(rem.ctx, prefix) if local else []
    found = dict(here) | {u: e.name for u, e in rem.members().items() if u.startswith(prefix)}
    if not found:
        raise BundleNotFoundError(f"no bundle with a uuid starting {prefix!r} here or on the "
                                  "remote")
    return unique_prefix(prefix, sorted(found.items()))


def delete_remote_context(repo: Repository, ctx: str) -> list[str]:
    """Remove every bundle of the context's remote context from the remote."""
    return prune.drop_context(sync.open_remote(repo, ctx))
