"""Git facts about the work tree that encloses a path.

dsdt records where a dataset came from: the remote URL, the commit, the branch
and whether the work tree had uncommitted changes. Everything here is read with
dulwich, so no ``git`` binary is needed. dulwich is imported lazily inside the
functions so that importing this module (and starting the CLI) stays cheap.

Inside containers, where no ``.git`` exists, the same facts can be supplied
through ``PIPELINE_GIT_*`` environment variables (see :func:`git_info`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ENV_HASH = "PIPELINE_GIT_HASH"
ENV_FETCH_URL = "PIPELINE_GIT_FETCH_URL"
ENV_BRANCH = "PIPELINE_GIT_BRANCH"
ENV_DIRTY = "PIPELINE_GIT_DIRTY"

_TRUE_WORDS = frozenset({"1", "true", "yes"})
_FALSE_WORDS = frozenset({"0", "false", "no", ""})
_METADATA_DIR = b".dsdt"
_BRANCH_PREFIX = b"refs/heads/"


@dataclass(frozen=True)
class GitInfo:
    """Git facts of a work tree.

    Attributes:
        repo: URL of the remote ``origin``; ``''`` if there is none.
        commit: Hex SHA of ``HEAD``; ``''`` if the repository has no commit yet.
        branch: Short name of the current branch; ``''`` if ``HEAD`` is detached.
        dirty: True when there are staged changes or unstaged modifications of
            tracked files. Untracked files do not count, and neither does
            anything below a directory named ``.dsdt`` (dsdt's own metadata).
    """

    repo: str
    commit: str
    branch: str
    dirty: bool

    def as_dict(self) -> dict[str, str | bool]:
        """Return the facts as a plain, JSON-friendly dict.

        Returns:
            A dict with the keys ``repo``, ``commit``, ``branch`` and ``dirty``.
        """
        return asdict(self)


def find_worktree(path: Path) -> Path | None:
    """Walk up from ``path`` to the nearest directory containing ``.git``.

    ``.git`` may be a directory (an ordinary clone) or a file holding a
    ``gitdir: ...`` line (``git worktree`` checkouts and submodules).

    Args:
        path: A file or directory; it does not have to exist.

    Returns:
        The work tree root, or None when no enclosing directory has a ``.git``.
    """
    start = Path(os.path.abspath(path))
    for candidate in (start, *start.parents):
        marker = candidate / ".git"
        try:
            if marker.is_dir() or marker.is_file():
                return candidate
        except OSError as exc:
            logger.debug("cannot inspect %s: %s", marker, exc)
    return None


def git_stamp(worktree: Path | None) -> tuple[Any, ...]:
    """Something that changes whenever the facts of :func:`git_info` may have changed.

    A few ``stat`` calls and two small reads: the environment overrides, ``HEAD``
    and the ref it names, ``packed-refs``, the index and the config. Editing a
    tracked file without staging it does not change the stamp (its ``dirty``
    flag is as of the last change to the index).
    """
    env = tuple(os.environ.get(v) for v in (ENV_HASH, ENV_FETCH_URL, ENV_BRANCH, ENV_DIRTY))
    if worktree is None:
        return env
    gitdir = _gitdir(worktree)
    head = _read_small(gitdir / "HEAD")
    parts: list[Any] = [env, head]
    if head.startswith(b"ref: "):
        ref = head[5:].strip().decode("utf-8", "replace")
        parts.append(_read_small(gitdir / ref))
    for name in ("packed-refs", "index", "config"):
        try:
            st = os.stat(gitdir / name)
            parts.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            parts.append(None)
    return tuple(parts)


def _gitdir(worktree: Path) -> Path:
    """The git directory of a work tree (``.git``, or where a ``.git`` file points)."""
    marker = worktree / ".git"
    if marker.is_file():
        text = _read_small(marker).decode("utf-8", "replace").strip()
        if text.startswith("gitdir:"):
            return (worktree / text[len("gitdir:"):].strip()).resolve()
    return marker


def _read_small(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except OSError:
        return b""


def git_info(path: Path) -> GitInfo | None:
    """Return the git facts of the work tree enclosing ``path``.

    If ``PIPELINE_GIT_HASH`` is set in the environment, the facts come from the
    environment instead of from disk: ``PIPELINE_GIT_FETCH_URL`` (repo),
    ``PIPELINE_GIT_HASH`` (commit), ``PIPELINE_GIT_BRANCH`` (branch) and
    ``PIPELINE_GIT_DIRTY`` (dirty; ``1``/``true``/``yes`` mean True, anything
    else False, case-insensitively).

    ``dirty`` only reflects staged changes and unstaged modifications of
    tracked files; untracked files and paths below a ``.dsdt`` directory are
    ignored.

    Args:
        path: A file or directory inside the work tree.

    Returns:
        The facts (a user name or token in the remote URL removed), or None
        when ``path`` is not inside a git work tree or the repository cannot
        be read (the reason is logged at debug level).
    """
    if ENV_HASH in os.environ:
        info = _info_from_env(os.environ)
    else:
        worktree = find_worktree(path)
        if worktree is None:
            return None
        try:
            info = _read_info(worktree)
        except Exception as exc:  # noqa: BLE001 - a broken repo must never crash dsdt
            logger.debug("cannot read git facts of %s: %r", worktree, exc)
            return None
    return replace(info, repo=without_credentials(info.repo))


def without_credentials(url: str) -> str:
    """``https://user:token@host/x?private_token=t`` -> ``https://host/x``.

    No secret leaves through git facts: the user information, the query
    string and the fragment of a URL are dropped.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def _parse_bool(value: str) -> bool:
    """Parse a boolean flag from the environment.

    Args:
        value: The raw value, e.g. ``"True"``, ``"0"`` or ``""``.

    Returns:
        True for ``1``/``true``/``yes`` (any case), False otherwise.
    """
    word = value.strip().lower()
    if word not in _TRUE_WORDS | _FALSE_WORDS:
        logger.warning("unrecognised %s=%r, treating it as false", ENV_DIRTY, value)
    return word in _TRUE_WORDS


def _info_from_env(env: Mapping[str, str]) -> GitInfo:
    """Build a GitInfo from ``PIPELINE_GIT_*`` variables.

    Args:
        env: The environment mapping.

    Returns:
        The facts described by the environment.
    """
    return GitInfo(
        repo=env.get(ENV_FETCH_URL, "").strip(),
        commit=env.get(ENV_HASH, "").strip(),
        branch=env.get(ENV_BRANCH, "").strip(),
        dirty=_parse_bool(env.get(ENV_DIRTY, "")),
    )


def _read_info(worktree: Path) -> GitInfo:
    """Read the git facts of a work tree with dulwich.

    Args:
        worktree: Directory containing ``.git``.

    Returns:
        The facts.
    """
    from dulwich.repo import Repo

    with Repo(str(worktree)) as repo:
        names, sha = repo.refs.follow(b"HEAD")
        return GitInfo(
            repo=_origin_url(repo),
            commit=_decode(sha or b""),
            branch=_branch_name(names),
            dirty=_is_dirty(repo, sha),
        )


def _origin_url(repo: Any) -> str:
    """Return the URL of remote ``origin``, or ``''``.

    Args:
        repo: An open dulwich repository.

    Returns:
        The configured URL.
    """
    try:
        return _decode(repo.get_config().get((b"remote", b"origin"), b"url"))
    except KeyError:
        return ""


def _branch_name(names: list[bytes]) -> str:
    """Return the short branch name ``HEAD`` points at, or ``''`` if detached.

    Args:
        names: The chain of symbolic refs followed from ``HEAD``.

    Returns:
        The branch name, e.g. ``main``.
    """
    target = names[-1] if names else b""
    if not target.startswith(_BRANCH_PREFIX):
        return ""
    return _decode(target[len(_BRANCH_PREFIX) :])


def _is_dirty(repo: Any, head: bytes | None) -> bool:
    """Tell whether tracked files differ from ``HEAD`` (staged or not).

    Args:
        repo: An open dulwich repository.
        head: SHA of the ``HEAD`` commit, None if there is no commit yet.

    Returns:
        True if a staged or unstaged change exists outside ``.dsdt`` dirs.
    """
    from dulwich.errors import NoIndexPresent

    try:
        index = repo.open_index()
    except NoIndexPresent:
        return False
    tree = repo[head].tree if head else None
    staged = (new or old for (old, new), _, _ in index.changes_from_tree(repo.object_store, tree))
    return _any_relevant(staged) or _any_relevant(_unstaged(repo, index))


def _unstaged(repo: Any, index: Any) -> Iterator[bytes]:
    """Yield tracked paths whose work-tree content differs from the index.

    Args:
        repo: An open dulwich repository.
        index: Its index.

    Yields:
        Tree paths (``/``-separated bytes).
    """
    from dulwich.index import get_unstaged_changes

    config = repo.get_config_stack()
    normalizer = repo.get_blob_normalizer(config=config)
    changed = get_unstaged_changes(
        index,
        repo.path,
        normalizer.checkin_normalize if normalizer is not None else None,
        trust_ctime=config.get_boolean(b"core", b"trustctime", True),
    )
    for path in changed:
        if not _is_gitlink(index, path) or _submodule_moved(repo, index[path], path):
            yield path


def _is_gitlink(index: Any, path: bytes) -> bool:
    """Tell whether the index entry at ``path`` is a submodule (gitlink).

    Args:
        index: A dulwich index.
        path: Tree path of the entry.

    Returns:
        True for a gitlink entry.
    """
    from dulwich.objects import S_IFGITLINK

    return getattr(index[path], "mode", None) == S_IFGITLINK


def _submodule_moved(repo: Any, entry: Any, path: bytes) -> bool:
    """Tell whether a submodule's checked-out commit differs from the index.

    dulwich resolves submodule paths against the process working directory, so
    its verdict on gitlinks is unreliable; this re-checks against the work
    tree. Like git, an uninitialised (empty) submodule counts as unchanged.

    Args:
        repo: An open dulwich repository.
        entry: The gitlink index entry.
        path: Tree path of the submodule.

    Returns:
        True if the submodule's ``HEAD`` is not the recorded commit.
    """
    from dulwich.index import read_submodule_head

    full = os.path.join(os.fsencode(repo.path), *path.split(b"/"))
    if not os.path.exists(os.path.join(full, b".git")):
        return not os.path.isdir(full)
    return read_submodule_head(full) != entry.sha


def _any_relevant(paths: Iterable[bytes | None]) -> bool:
    """Tell whether any path lies outside every ``.dsdt`` directory.

    Args:
        paths: Tree paths (``/``-separated bytes).

    Returns:
        True at the first relevant path.
    """
    return any(path and _METADATA_DIR not in path.split(b"/")[:-1] for path in paths)


def _decode(raw: bytes) -> str:
    """Decode bytes from git metadata.

    Args:
        raw: UTF-8 (normally) encoded bytes.

    Returns:
        The text; undecodable bytes are replaced.
    """
    return raw.decode("utf-8", errors="replace")
