"""``code_version`` in config.yaml: what code change makes ``apply`` re-run a task."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pipe_tasks as pt
import pytest
import yaml
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import UsageError
from dsdt.repo import Repository

_MODULE = '''
from dsdt.pipe import PipeTask


class Edited(PipeTask):
    def pipe_run(self):
        return {value!r}
'''


@pytest.fixture(autouse=True)
def _no_git_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PIPELINE_GIT_HASH", "PIPELINE_GIT_DIRTY"):
        monkeypatch.delenv(var, raising=False)


def set_code_version(project: Path, value: object) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["code_version"] = value
    cfg.write_text(yaml.safe_dump(data))
    Repository.forget()


def reasons(ctx: str, cls: type) -> list[tuple[str, str]]:
    return [(p["action"], p["reason"]) for p in api.apply(ctx, cls, explain=True)["plan"]]


@pytest.fixture
def edited(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An (untracked) task module ``edited_cv_mod`` in the project; yields its path."""
    src = project / "edited_cv_mod.py"
    src.write_text(_MODULE.format(value=1))
    monkeypatch.syspath_prepend(str(project))
    yield src
    sys.modules.pop("edited_cv_mod", None)


def _edit(src: Path, value: object) -> type:
    src.write_text(_MODULE.format(value=value))
    mod = importlib.import_module("edited_cv_mod")
    return importlib.reload(mod).Edited


def test_default_is_task_and_bad_values_are_refused(project: Path) -> None:
    assert Repository.current().config.code_version == "task"
    set_code_version(project, "sometimes")
    with pytest.raises(UsageError, match="code_version"):
        api.search("default")


def test_task_mode_reruns_on_task_source_change(ctx: str, edited: Path) -> None:
    cls = _edit(edited, 1)
    api.apply(ctx, cls)
    assert reasons(ctx, cls) == [("reuse", "reused")]
    cls = _edit(edited, 2)
    assert reasons(ctx, cls) == [("run", "code changed")]


def test_never_mode_ignores_code_changes(ctx: str, project: Path, edited: Path) -> None:
    set_code_version(project, "never")
    cls = _edit(edited, 1)
    api.apply(ctx, cls)
    cls = _edit(edited, 2)
    assert api.apply(ctx, cls)["did_work"] is False
    assert api.get(ctx, "Edited").data == 1
    assert_fsck_clean()


def test_repo_mode_outside_git_is_not_dirty(ctx: str, project: Path, edited: Path) -> None:
    set_code_version(project, "repo")
    cls = _edit(edited, 1)
    api.apply(ctx, cls)
    assert api.get(ctx, "Edited").git_info == {}
    cls = _edit(edited, 2)  # no git: only a different commit could re-run it
    assert reasons(ctx, cls) == [("reuse", "reused")]


def _commit(project: Path, message: str) -> str:
    from dulwich import porcelain

    porcelain.add(str(project), paths=[str(project / "code.py")])
    sha = porcelain.commit(str(project), message=message.encode(),
                           author=b"t <t@example.com>", committer=b"t <t@example.com>")
    return sha.decode()


def test_repo_mode_follows_commit_and_dirty_tree(ctx: str, project: Path, edited: Path) -> None:
    from dulwich import porcelain

    set_code_version(project, "repo")
    porcelain.init(str(project))
    (project / "code.py").write_text("v = 1\n")
    first = _commit(project, "one")
    api.apply(ctx, pt.Sum)
    assert api.get(ctx, "Sum").git_info["commit"] == first
    assert api.get(ctx, "Sum").git_info["dirty"] is False
    assert reasons(ctx, pt.Sum) == [("reuse", "reused")] * 3
    cls = _edit(edited, 2)  # an untracked file: the tree stays clean
    api.apply(ctx, cls)
    assert reasons(ctx, _edit(edited, 3)) == [("reuse", "reused")]

    (project / "code.py").write_text("v = 22\n")  # tracked and modified: dirty
    assert reasons(ctx, pt.Sum) == [("run", "dirty tree")] * 2 + [("run", "upstream changed")]
    api.apply(ctx, pt.Sum)
    assert api.get(ctx, "Sum").git_info["dirty"] is True
    assert reasons(ctx, pt.Sum) == [("run", "dirty tree")] * 2 + [("run", "upstream changed")]

    second = _commit(project, "two")
    assert second != first
    assert reasons(ctx, pt.Sum) == [("run", "code changed")] * 2 + [("run", "upstream changed")]
    api.apply(ctx, pt.Sum)
    assert reasons(ctx, pt.Sum) == [("reuse", "reused")] * 3
    assert pt.RUNS == {"A": 3, "B": 3, "Sum": 3}
    assert_fsck_clean()
