"""Git hooks, as ``dvc install`` sets them up: git push carries the data too.

``pre-push`` pushes, to each context's remote, the data of every committed
bundle whose commit mark the pushed commits add (compared with what the
remote branch already has), and refuses the ``git push`` when that fails,
so a teammate never pulls a record whose data is nowhere. ``post-checkout``
and ``post-merge`` bring the index up to date with the refs git just wrote.
Each hook is a small shell script that changes to the project's directory
and runs ``python -m dsdt hook NAME`` with the Python that installed it.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dsdt.errors import NoRemoteError, UsageError
from dsdt.gitlive import published
from dsdt.remote import push as pushing
from dsdt.remote.sync import open_remote
from dsdt.repo import Repository

HOOKS = ("pre-push", "post-checkout", "post-merge")
MARK = "# installed by dsdt install-hooks"
_ZERO = "0" * 40


@dataclass
class PrePushReport:
    """What the pre-push hook pushed, per context.

    Attributes:
        pushed: Context -> uuids of the bundles pushed to its remote.
        already: Bundles in the pushed commits that their remote already had.
        foreign: Bundles of teammates in the commits (their own hooks push them).
        uncommitted: Bundles in the commits whose data was not pushed because
            they are not committed.
    """

    pushed: dict[str, list[str]] = field(default_factory=dict)
    already: int = 0
    foreign: list[str] = field(default_factory=list)
    uncommitted: list[str] = field(default_factory=list)  #: in the commits, data not pushed


def hooks_dir(repo: Repository) -> Path:
    """Where git looks for this project's hooks (``core.hooksPath``, else the git dir's)."""
    worktree = repo.git_worktree
    if worktree is None:
        raise UsageError(f"{repo.project_dir} is not inside a git work tree; git hooks need one")
    from dulwich.repo import Repo

    with Repo(str(worktree)) as git:
        try:
            custom = git.get_config().get((b"core",), b"hooksPath").decode()
            return (worktree / os.path.expanduser(custom)).resolve()
        except KeyError:
            return Path(git.commondir()) / "hooks"


def install(repo: Repository, force: bool = False) -> list[Path]:
    """Write the hooks; refuse to replace a hook dsdt did not write unless ``force``."""
    where = hooks_dir(repo)
    where.mkdir(parents=True, exist_ok=True)
    paths = [where / name for name in HOOKS]
    foreign = [p for p in paths if p.exists() and MARK not in _head(p)]
    if foreign and not force:
        raise UsageError(f"{foreign[0]} exists and was not written by dsdt; merge it by hand, "
                         "or replace it with --force (force=True)")
    python = shlex.quote(sys.executable)
    project = shlex.quote(os.path.relpath(repo.project_dir, repo.git_worktree))
    for path in paths:  # git runs hooks at the top of the work tree
        script = (f'#!/bin/sh\n{MARK}\ncd {project} || exit 1\n'
                  f'exec {python} -m dsdt hook {path.name} "$@"\n')
        tmp = path.with_name(f".{path.name}.dsdt-tmp")
        tmp.write_text(script)
        tmp.chmod(0o755)
        os.replace(tmp, path)
    return paths


def _head(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(4096)
    except OSError:
        return ""


def pre_push(repo: Repository, remote_name: str, lines: list[str]) -> PrePushReport:
    """Push the data of the committed bundles the pushed commits add (git's stdin ``lines``).

    Raises:
        DsdtError: A bundle could not be pushed (no remote, remote unreachable,
            data not here): git then refuses the push.
    """
    tips, bases = _ranges(repo, remote_name, lines)
    report = PrePushReport()
    if not tips:
        return report
    found = published(repo, tips, bases, ("committed", "bundles"))
    marks = found["committed"]
    report.uncommitted = sorted({u for _c, u, _s in found["bundles"]}
                                - {u for _c, u, _s in marks})
    by_ctx: dict[str, list[str]] = {}
    for ctx, uuid, sha in sorted(marks):
        if repo.has_context(ctx) and repo.member_sha(ctx, uuid) == sha:
            by_ctx.setdefault(ctx, []).append(uuid)
        else:
            raise UsageError(f"the pushed commits add bundle {uuid} to context {ctx!r}, which "
                             "is not checked out here; check that branch out and run "
                             f"'dsdt push -c {ctx}' before git push")
    for ctx, uuids in by_ctx.items():
        if not repo.context_meta(ctx).get("remote_url"):
            raise NoRemoteError(f"context {ctx!r} has committed bundles in the pushed commits but "
                             "no remote; bind one (dsdt remote) so their data can be shared")
        done = pushing.push(open_remote(repo, ctx), uuids)
        report.pushed[ctx] = done.bundles
        report.already += len(done.skipped)
        report.foreign += done.foreign  # teammates' bundles: their own hooks push them
    return report


def _ranges(repo: Repository, remote_name: str, lines: list[str]) -> tuple[list[bytes],
                                                                          list[bytes]]:
    """Commits pushed, and what the remote already has (its ref, else its tracking refs)."""
    tips: list[bytes] = []
    bases: list[bytes] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or parts[1] == _ZERO:
            continue  # a deletion pushes no data
        tips.append(parts[1].encode())
        if parts[3] != _ZERO:
            bases.append(parts[3].encode())
    if tips and not bases:
        bases = _tracking_tips(repo, remote_name)
    return tips, bases


def _tracking_tips(repo: Repository, remote_name: str) -> list[bytes]:
    """The tips of ``refs/remotes/<remote>/*``: what that remote is known to have."""
    from dulwich.repo import Repo

    prefix = f"refs/remotes/{remote_name}/".encode()
    with Repo(str(repo.git_worktree)) as git:
        return [sha for name, sha in git.refs.as_dict().items() if name.startswith(prefix)]


def refresh(repo: Repository) -> None:
    """After a checkout or merge: bring the index up to date with the refs git wrote."""
    repo.index.refresh()

