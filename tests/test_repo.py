"""Repository set-up: the template, packaging, discovery and git facts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import dsdt.api as api
from dsdt.gitinfo import without_credentials
from dsdt.repo import Repository, template_dir

ROOT = Path(__file__).resolve().parents[1]


def test_init_copies_the_template(project: Path) -> None:
    for name in ("config.yaml", ".gitignore", "README.md"):
        assert (project / ".dsdt" / name).read_bytes() == (template_dir() / name).read_bytes()
    assert api.ls_contexts() == ["default"]


def test_init_in_a_new_directory(tmp_path: Path) -> None:
    repo = Repository.init(tmp_path / "new" / "project")
    assert repo.root == tmp_path / "new" / "project" / ".dsdt"
    assert repo.current_context() == "default"


def test_head_missing_falls_back_to_default(project: Path) -> None:
    (project / ".dsdt" / "HEAD").unlink()  # a fresh clone has no HEAD (it is not checked in)
    assert api.current_context() == "default"


@pytest.mark.slow
def test_wheel_ships_the_template(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True)
    [wheel] = tmp_path.glob("dsdt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("config.yaml", ".gitignore", "README.md"):
        assert f"dsdt/_template/{name}" in names


def test_git_facts_are_recorded_without_credentials(project: Path) -> None:
    from dulwich import porcelain

    porcelain.init(str(project))
    cfg = porcelain.open_repo(str(project)).get_config()
    cfg.set((b"remote", b"origin"), b"url", b"https://bob:s3cret@example.com/team/churn.git")
    cfg.write_to_path()
    (project / "code.py").write_text("x = 1\n")
    porcelain.add(str(project), [str(project / "code.py")])
    porcelain.commit(str(project), message=b"c", author=b"a <a@a>", committer=b"a <a@a>")
    Repository.forget()
    b = api.Bundle("default", name="g", data=1, code_method="pkg.Task")
    assert b.git_info["repo"] == "https://example.com/team/churn.git"
    assert len(b.git_info["commit"]) == 40 and b.git_info["dirty"] is False
    plain = api.Bundle("default", name="h", data=1)  # made by code: its facts and code too
    assert plain.git_info == b.git_info
    assert plain.code_ref == "test_repo:test_git_facts_are_recorded_without_credentials"


@pytest.mark.parametrize(("url", "clean"), [
    ("https://u:p@h/x.git", "https://h/x.git"), ("git@h:x.git", "git@h:x.git"),
    ("ssh://git@h/x", "ssh://h/x"), ("", ""),
])
def test_without_credentials(url: str, clean: str) -> None:
    assert without_credentials(url) == clean


@pytest.mark.parametrize("broken", ["missing", "symlink-to-dev-zero", "fifo", "dsdt-symlink"])
def test_a_broken_dsdt_never_falls_through_to_a_repository_above(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    import os

    from dsdt.errors import NotARepositoryError

    monkeypatch.delenv("DSDT_DIR", raising=False)
    Repository.init(tmp_path)  # the parent repository
    child = tmp_path / "child"
    Repository.init(child)
    config = child / ".dsdt" / "config.yaml"
    config.unlink()
    if broken == "symlink-to-dev-zero":
        config.symlink_to("/dev/zero")
    elif broken == "fifo":
        os.mkfifo(config)
    elif broken == "dsdt-symlink":
        (child / ".dsdt").rename(child / "elsewhere")
        (child / ".dsdt").symlink_to(tmp_path / ".dsdt")  # a committed link to another repo
    with pytest.raises(NotARepositoryError, match=r"child/\.dsdt"):
        Repository.find(child)
