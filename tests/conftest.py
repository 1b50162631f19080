"""Shared fixtures: every test gets its own repository in a temporary project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import dsdt.api as api


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh project directory with ``dsdt init`` done, as the current directory."""
    monkeypatch.delenv("DSDT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    api.init(tmp_path)
    yield tmp_path
    api._repos.clear()


@pytest.fixture
def ctx(project: Path) -> str:
    """A context named ``t`` in a fresh repository."""
    api.context("t")
    return "t"


def assert_fsck_clean() -> None:
    """The repository passes fsck with no error."""
    report = api.fsck()
    assert report.ok, report.errors
