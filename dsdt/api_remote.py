"""The remote part of the API façade: bind, push, pull, adopt, rmr, where data is, git hooks.

Like :mod:`dsdt.api`, each function finds the repository, resolves the
context and calls one function below it; :mod:`dsdt.api` re-exports them.
"""

from __future__ import annotations

from dsdt.errors import UsageError
from dsdt.ops import hooks as _hooks
from dsdt.ops import remote as _remote
from dsdt.remote.state import DataState, settle
from dsdt.remote.sync import ProgressSink, Report
from dsdt.repo import Repository
from dsdt.repo import open_context as at


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
    _remote.bind(*at(local_context), remote_context, remote_url, force)


def push(local_context: str, bundle_name: str | None = None, tags: dict[str, str] | None = None,
         uuid: str | None = None, delocalize: bool = False, *, jobs: int = 8,
         progress: ProgressSink | None = None, ours: bool = False) -> Report:
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
        ours: Also push bundles whose records came through git (say so only for
            bundles made by you): a record someone else committed could name
            this clone's private data.

    Returns:
        What was pushed, what was already there, and (``foreign``) what came
        through git and was left for its author to push.
    """
    return _remote.push(*at(local_context), bundle_name, tags, uuid, delocalize, jobs,
                        progress, ours)


def pull(local_context: str, bundle_name: str | None = None, uuid: str | None = None,
         localize: bool = False, *, jobs: int = 8, progress: ProgressSink | None = None) -> Report:
    """Pull bundles from the context's remote: metadata always, data with ``localize``.

    Without ``localize``, DataFrames, arrays and other values load on first
    use; files on an S3 remote present as ``s3://`` URLs until localized, and a
    directory remote's files are fetched when read.

    Args:
        local_context: The local context (it must have a remote).
        bundle_name: Only bundles with this name (``*`` matches anything).
        uuid: Only this bundle.
        localize: Also bring the data down (verified by sha256).
        jobs: Parallel transfers.
        progress: Receives progress (files and bytes).
    """
    return _remote.pull(*at(local_context), bundle_name, uuid, localize, jobs, progress)


def adopt(local_context: str | None = None, bundle_name: str | None = None,
          uuid: str | None = None, tags: dict[str, str] | None = None) -> list[str]:
    """Check in bundles pulled from the context's remote, so git records them.

    ``pull`` keeps what it brings apart from the checked-in tree (git pull and
    dsdt pull never fight over files); adopting writes the records and refs
    of pulled bundles into ``.dsdt/records`` and ``.dsdt/refs``.

    Args:
        local_context: The context (default: the current one).
        bundle_name: Only bundles with this name (``*`` matches anything).
        uuid: Only this bundle.
        tags: Only bundles with these tags.

    Returns:
        The uuids adopted.
    """
    return _remote.adopt(*at(local_context), bundle_name, uuid, tags)


def rmr(local_context: str, bundle_name: str | None = None, uuid: str | None = None,
        tags: dict[str, str] | None = None, dryrun: bool = False) -> list[str]:
    """Remove bundles from the context's remote (never data other remote bundles use).

    Bundles are chosen like local ones (all local versions matching the name
    and tags), or by uuid even when the bundle is not local.

    Returns:
        The uuids removed from the remote (or that would be, with ``dryrun``).
    """
    return _remote.rmr(*at(local_context), bundle_name, uuid, tags, dryrun)


def data_states(local_context: str | None = None, uuids: list[str] | None = None, *,
                online: bool = False) -> dict[str, DataState]:
    """Where each bundle's data is: ``local``, ``remote``, ``nowhere`` or ``unknown``.

    Offline, the remote is as dsdt last read it; a bundle whose record arrived
    since (a ``git pull``) is ``unknown``. With ``online`` the remote's ref is
    read once when any state is unknown.

    Args:
        local_context: The context (default: the current one).
        uuids: Only these bundles (default: every member).
        online: Read the remote to settle ``unknown`` states.

    Returns:
        ``{uuid: DataState}`` with the bundle's name, owner and host.
    """
    return settle(*at(local_context), uuids, online=online)


def install_hooks(force: bool = False) -> list[str]:
    """Install git hooks: ``pre-push`` pushes the data of the bundles a git push publishes.

    ``post-checkout`` and ``post-merge`` keep the index fresh. Like ``dvc
    install``; the hooks run ``python -m dsdt hook`` with this Python.

    Args:
        force: Replace hooks of those names that dsdt did not write.

    Returns:
        The paths of the hooks written.
    """
    return [str(p) for p in _hooks.install(Repository.current(), force)]


def run_hook(name: str, args: list[str], stdin_lines: list[str]) -> _hooks.PrePushReport | None:
    """Run the git hook ``name`` (what the installed hook scripts call).

    Args:
        name: ``pre-push``, ``post-checkout`` or ``post-merge``.
        args: The hook's arguments from git (pre-push: remote name and URL).
        stdin_lines: What git wrote to the hook's stdin (pre-push: the refs pushed).

    Returns:
        For ``pre-push``, what was pushed; else None.

    Raises:
        DsdtError: pre-push could not push some data (git then refuses the push).
    """
    repo = Repository.current()
    if name == "pre-push":
        return _hooks.pre_push(repo, args[0] if args else "origin", stdin_lines)
    if name in _hooks.HOOKS:
        _hooks.refresh(repo)
        return None
    raise UsageError(f"no git hook {name!r}; dsdt has {', '.join(_hooks.HOOKS)}")
