"""Tests for dsdt.gitinfo (repositories are built with dulwich, never git)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest
from dulwich import porcelain
from dulwich.index import index_entry_from_stat
from dulwich.objects import S_IFGITLINK
from dulwich.repo import Repo

from dsdt.gitinfo import GitInfo, find_worktree, git_info

ENV_VARS = (
    "PIPELINE_GIT_HASH",
    "PIPELINE_GIT_FETCH_URL",
    "PIPELINE_GIT_BRANCH",
    "PIPELINE_GIT_DIRTY",
)
AUTHOR = b"Test <test@example.com>"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep pipeline overrides of the calling environment out of the tests."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _commit(root: Path, files: dict[str, str], message: str = "msg") -> str:
    for name, text in files.items():
        _write(root / name, text)
    porcelain.add(str(root), paths=[str(root / name) for name in files])
    sha = porcelain.commit(str(root), message=message, author=AUTHOR, committer=AUTHOR)
    return sha.decode()


def _modify(path: Path, text: str) -> None:
    """Rewrite a file so that its stat surely differs from the index entry."""
    path.write_text(text)
    later = time.time() + 5
    os.utime(path, (later, later))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit on branch ``main``."""
    root = tmp_path / "repo"
    porcelain.init(str(root)).close()
    with Repo(str(root)) as r:
        r.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
    _commit(root, {"a.txt": "alpha\n", "sub/b.txt": "beta\n"})
    return root


def _head(root: Path) -> str:
    with Repo(str(root)) as r:
        return r.head().decode()


# --- find_worktree / not a repository -------------------------------------------------


def test_not_a_repo(tmp_path: Path) -> None:
    assert find_worktree(tmp_path) is None
    assert git_info(tmp_path) is None
    assert git_info(tmp_path / "missing" / "file.csv") is None


def test_find_worktree_from_nested_file(repo: Path) -> None:
    assert find_worktree(repo / "sub" / "b.txt") == repo
    assert find_worktree(repo / "sub" / "not-yet" / "x.csv") == repo


def test_find_worktree_gitdir_file(repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    (linked / "deep").mkdir(parents=True)
    (linked / ".git").write_text(f"gitdir: {repo / '.git'}\n")
    assert find_worktree(linked / "deep") == linked


# --- git_info on real repositories ----------------------------------------------------


def test_repo_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    porcelain.init(str(root)).close()
    with Repo(str(root)) as r:
        r.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
    _write(root / "untracked.txt", "x")
    assert git_info(root) == GitInfo(repo="", commit="", branch="main", dirty=False)


def test_staged_file_without_commits_is_dirty(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    porcelain.init(str(root)).close()
    _write(root / "new.txt", "x")
    porcelain.add(str(root), paths=[str(root / "new.txt")])
    info = git_info(root)
    assert info is not None
    assert info.commit == ""
    assert info.dirty is True


def test_clean_committed_tree(repo: Path) -> None:
    info = git_info(repo / "sub")
    assert info == GitInfo(repo="", commit=_head(repo), branch="main", dirty=False)
    assert len(info.commit) == 40


def test_as_dict(repo: Path) -> None:
    info = git_info(repo)
    assert info is not None
    assert info.as_dict() == {
        "repo": "",
        "commit": _head(repo),
        "branch": "main",
        "dirty": False,
    }


def test_modified_tracked_file_is_dirty(repo: Path) -> None:
    _modify(repo / "a.txt", "changed content\n")
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_same_size_modification_is_dirty(repo: Path) -> None:
    _modify(repo / "a.txt", "ALPHA\n")
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_deleted_tracked_file_is_dirty(repo: Path) -> None:
    (repo / "sub" / "b.txt").unlink()
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_staged_new_file_is_dirty(repo: Path) -> None:
    _write(repo / "new.txt", "new\n")
    porcelain.add(str(repo), paths=[str(repo / "new.txt")])
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_untracked_file_is_not_dirty(repo: Path) -> None:
    _write(repo / "untracked.txt", "u\n")
    _write(repo / "newdir" / "deep.txt", "u\n")
    info = git_info(repo)
    assert info is not None and info.dirty is False


def test_changes_under_dsdt_are_ignored(repo: Path) -> None:
    _commit(repo, {".dsdt/meta.json": "{}\n", "data/.dsdt/refs/x": "1\n"})
    _modify(repo / ".dsdt" / "meta.json", '{"changed": true}\n')
    _write(repo / "data" / ".dsdt" / "staged.json", "{}\n")
    porcelain.add(str(repo), paths=[str(repo / "data" / ".dsdt" / "staged.json")])
    (repo / "data" / ".dsdt" / "refs" / "x").unlink()
    info = git_info(repo)
    assert info is not None and info.dirty is False


def test_file_named_like_dsdt_dir_still_counts(repo: Path) -> None:
    _commit(repo, {"notes/.dsdt": "a file, not a directory\n"})
    _modify(repo / "notes" / ".dsdt", "changed, longer than before\n")
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_origin_remote_url(repo: Path) -> None:
    url = "https://example.com/team/project.git"
    with Repo(str(repo)) as r:
        config = r.get_config()
        config.set((b"remote", b"origin"), b"url", url.encode())
        config.write_to_path()
    info = git_info(repo)
    assert info is not None and info.repo == url


def test_detached_head(repo: Path) -> None:
    sha = _head(repo)
    with Repo(str(repo)) as r:
        r.refs.remove_if_equals(b"HEAD", None)
        r.refs[b"HEAD"] = sha.encode()
    assert git_info(repo) == GitInfo(repo="", commit=sha, branch="", dirty=False)


def test_linked_worktree_via_gitdir_file(repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    porcelain.worktree_add(str(repo), str(linked), branch="feature")
    info = git_info(linked)
    assert info == GitInfo(repo="", commit=_head(repo), branch="feature", dirty=False)


def test_submodule_is_clean_regardless_of_cwd(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = repo / "vendor" / "lib"
    inner.mkdir(parents=True)
    porcelain.init(str(inner)).close()
    inner_sha = _commit(inner, {"lib.py": "x = 1\n"})
    with Repo(str(repo)) as r:
        index = r.open_index()
        st = os.lstat(inner)
        index[b"vendor/lib"] = index_entry_from_stat(st, inner_sha.encode(), S_IFGITLINK)
        index.write()
    porcelain.commit(str(repo), message="add submodule", author=AUTHOR, committer=AUTHOR)
    monkeypatch.chdir(tmp_path)
    info = git_info(repo)
    assert info is not None and info.dirty is False
    _commit(inner, {"lib.py": "x = 2\n"})
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_uninitialised_submodule_is_clean(repo: Path) -> None:
    with Repo(str(repo)) as r:
        index = r.open_index()
        (repo / "vendor" / "lib").mkdir(parents=True)
        st = os.lstat(repo / "vendor" / "lib")
        index[b"vendor/lib"] = index_entry_from_stat(st, b"2" * 40, S_IFGITLINK)
        index.write()
    porcelain.commit(str(repo), message="add submodule", author=AUTHOR, committer=AUTHOR)
    info = git_info(repo)
    assert info is not None and info.dirty is False
    (repo / "vendor" / "lib").rmdir()
    info = git_info(repo)
    assert info is not None and info.dirty is True


def test_corrupt_repo_returns_none(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    (repo / ".git" / "index").write_bytes(b"DIRC garbage that is not an index")
    with caplog.at_level(logging.DEBUG, logger="dsdt.gitinfo"):
        assert git_info(repo) is None
    assert any("cannot read git facts" in r.message for r in caplog.records)


def test_missing_head_object_returns_none(repo: Path) -> None:
    with Repo(str(repo)) as r:
        r.refs[b"refs/heads/main"] = b"1" * 40
    assert git_info(repo) is None


def test_broken_gitdir_file_returns_none(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("not a gitdir line\n")
    assert find_worktree(tmp_path) == tmp_path
    assert git_info(tmp_path) is None


@pytest.mark.skipif(sys.platform == "win32", reason="timing is filesystem specific")
def test_many_files_is_fast(tmp_path: Path) -> None:
    root = tmp_path / "big"
    porcelain.init(str(root)).close()
    _commit(root, {f"d{i % 40}/f{i}.txt": f"{i}\n" for i in range(3000)})
    start = time.perf_counter()
    info = git_info(root)
    elapsed = time.perf_counter() - start
    assert info is not None and info.dirty is False
    assert elapsed < 5


# --- environment overrides ------------------------------------------------------------


def test_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIPELINE_GIT_HASH", "abc123")
    monkeypatch.setenv("PIPELINE_GIT_FETCH_URL", "git@example.com:x/y.git")
    monkeypatch.setenv("PIPELINE_GIT_BRANCH", "release")
    monkeypatch.setenv("PIPELINE_GIT_DIRTY", "true")
    assert git_info(tmp_path) == GitInfo(
        repo="git@example.com:x/y.git", commit="abc123", branch="release", dirty=True
    )


def test_env_override_wins_over_real_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_GIT_HASH", "feedbeef")
    assert git_info(repo) == GitInfo(repo="", commit="feedbeef", branch="", dirty=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("True", True),
        ("YES", True),
        (" yes ", True),
        ("0", False),
        ("false", False),
        ("False", False),
        ("NO", False),
        ("", False),
    ],
)
def test_env_dirty_parsing(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("PIPELINE_GIT_HASH", "abc")
    monkeypatch.setenv("PIPELINE_GIT_DIRTY", raw)
    info = git_info(Path("."))
    assert info is not None and info.dirty is expected


def test_env_dirty_unset_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_GIT_HASH", "abc")
    info = git_info(Path("."))
    assert info is not None and info.dirty is False
