"""A team for tests: a bare git origin, clones of one project, and a shared directory remote.

Alice makes the project (``dsdt init``, context ``default`` bound to remote
context ``shared`` on a directory remote) and pushes it; anybody else joins
with :meth:`Team.clone`. Every git command is the real ``git`` binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import dsdt.api as api
from dsdt.repo import Repository

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="team workflows are tested with real git")


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in ``cwd`` with a fixed identity and no user or system configuration."""
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": os.environ["PATH"],
           "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=check, capture_output=True,
                          text=True)


@dataclass
class Team:
    """The shared places and the clones made so far."""

    root: Path
    origin: Path
    remote: Path
    monkeypatch: pytest.MonkeyPatch

    def use(self, project: Path) -> Path:
        """Work in ``project`` from now on (the current directory, a fresh repository object)."""
        Repository.forget()
        self.monkeypatch.chdir(project)
        return project

    def clone(self, name: str) -> Path:
        """A new clone of the project (not made current)."""
        git(self.root, "clone", "-q", str(self.origin), name)
        return self.root / name

    def commit_all(self, project: Path, message: str = "work") -> None:
        """``git add -A`` and commit (nothing to commit is fine)."""
        git(project, "add", "-A")
        git(project, "commit", "-qm", message, check=False)


def make_team(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Team, Path]:
    """The team and Alice's project (current), already pushed to the origin."""
    monkeypatch.delenv("DSDT_DIR", raising=False)
    origin, remote, alice = root / "origin.git", root / "remote", root / "alice"
    remote.mkdir()
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    alice.mkdir()
    git(alice, "init", "-q", "-b", "main")
    team = Team(root, origin, remote, monkeypatch)
    team.use(alice)
    api.init(alice)
    api.remote("default", "shared", str(remote))
    team.commit_all(alice, "dsdt init")
    git(alice, "remote", "add", "origin", str(origin))
    git(alice, "push", "-q", "-u", "origin", "main")
    return team, alice
