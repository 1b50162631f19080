"""A repository written by format 1 (``tests/golden/format1``) stays readable by every later dsdt.

The fixture was made once with :func:`write` (``python tests/test_golden.py``)
and is never rewritten by the tests: each value below must come back from it
exactly, its records must pass the validation gate and ``fsck``, and its
lineage, history and processing names must read as they were written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import dsdt.api as api
from dsdt.repo import Repository, template_dir

FIXTURE = Path(__file__).resolve().parent / "golden" / "format1"
GOLDEN = FIXTURE / "dsdt"  # the .dsdt directory (its .gitignore is the template's)
FACTS = FIXTURE / "facts.json"  # what was true when it was written


def values(files: Path) -> dict[str, Any]:
    """The value of each bundle of the fixture, by name (files are made under ``files``)."""
    (files / "dir" / "sub").mkdir(parents=True, exist_ok=True)
    (files / "dir" / "empty").mkdir(exist_ok=True)
    (files / "dir" / "a.txt").write_text("A\n")
    (files / "dir" / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (files / "notes.txt").write_text("golden notes\n")
    frame = pd.DataFrame(
        {"score": [0.5, 1.5, np.nan], "label": pd.Categorical(["x", "y", "x"]),
         "when": pd.to_datetime(["2026-01-01", "2026-06-01", None]).tz_localize("UTC")},
        index=pd.Index(["a", "b", "c"], name="user"))
    return {
        "scalars": [None, True, 3, -0.0, 2.5, "text", b"\x00\xff"],
        "containers": {"a": (1, 2.5, None), 3: b"xy", frozenset({1, 2}): {"k": [1, {2}]}},
        "big_int": 10**5000 + 7,
        "long_text": "golden " * 1000,
        "long_bytes": bytes(range(256)) * 40,
        "packed": {i: str(i) * 3 for i in range(1200)},
        "array": np.arange(12, dtype="<i4").reshape(3, 4),
        "npscalar": np.float32(1.5),
        "frame": frame,
        "series": pd.Series([1, 2, 3], name="s", index=pd.RangeIndex(0, 6, 2)),
        "file": files / "notes.txt",
        "directory": files / "dir",
        "dblink": api.DBLink("dsn", "table", "schema"),
    }


def write(project: Path) -> None:
    """Make the fixture (run once, when format 1 was current)."""
    api.init(project)
    os.chdir(project)
    api.context("golden")
    made = {}
    for name, value in values(project / "files").items():
        made[name] = api.Bundle("golden", name=name, data=value, tags={"kind": name},
                                params={"p": "1"})
    with api.Bundle("golden", "derived") as b:
        b.add_data({"from": "scalars"})
        b.add_dependencies([made["scalars"], made["frame"]], ["first", "second"])
        b.add_code_ref("golden.Derive", "c0de")
        b.add_git_info("https://example.com/golden.git", "ab" * 20, "main", False)
        b.add_timing(1795695439.1, 1795695440.4)
    api.Bundle("golden", name="scalars", data=[1, 2])  # a second version, for log and diff
    api.commit("golden", "frame")
    api.commit("golden", "derived")


@pytest.fixture
def golden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture, as a project's ``.dsdt``."""
    project = tmp_path / "project"
    shutil.copytree(GOLDEN, project / ".dsdt")
    shutil.copy(template_dir() / ".gitignore", project / ".dsdt" / ".gitignore")
    monkeypatch.delenv("DSDT_DIR", raising=False)
    monkeypatch.chdir(project)
    Repository.forget()
    yield project
    Repository.forget()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame | pd.Series):
        return type(a) is type(b) and a.equals(b) and list(a.index) == list(b.index) and (
            a.index.name == b.index.name)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all())
    return type(a) is type(b) and a == b


def test_every_value_reads_back(golden: Path, tmp_path: Path) -> None:
    expected = values(tmp_path / "files")
    for name, value in expected.items():
        got = api.search("golden", name)[-1].data  # the first version
        if isinstance(value, Path) and value.is_file():
            assert Path(got).read_bytes() == value.read_bytes()
        elif isinstance(value, Path):
            assert sorted(p.relative_to(got).as_posix() for p in Path(got).rglob("*")) == [
                "a.txt", "empty", "sub", "sub/b.bin"]
            assert (Path(got) / "sub" / "b.bin").read_bytes() == bytes(range(256))
        else:
            assert _same(value, got), name


def test_metadata_lineage_and_history(golden: Path) -> None:
    assert sorted(api.ls_contexts()) == ["default", "golden"]
    assert len(api.search("golden")) == len(values(golden / "tmp")) + 2
    derived = api.get("golden", "derived")
    assert derived.is_committed and derived.code_ref == "golden.Derive"
    assert derived.git_info["commit"] == "ab" * 20 and derived.timing == (1795695439.1,
                                                                         1795695440.4)
    walk = api.lineage("golden", derived.uuid)
    assert [d for d, _, _ in walk] == [0, 1, 1]
    assert api.get("golden", "scalars").data == [1, 2]
    change = api.diff("golden", "scalars")
    assert not change.same and change.data
    frame = api.get("golden", "frame")
    assert frame.params == {"p": "1"} and frame.user_tags == {"kind": "frame"}
    facts = json.loads(FACTS.read_text())
    assert {b.name: b.processing_name for b in api.search("golden", latest_per_name=True)} == \
        facts["processing_names"]


def test_it_passes_fsck_and_gc_keeps_everything(golden: Path) -> None:
    report = api.fsck()
    assert report.ok, report.errors
    assert api.gc(dry_run=True).blobs == []


if __name__ == "__main__":  # python tests/test_golden.py: write the fixture (format 1 only)
    import tempfile

    if FIXTURE.exists():
        sys.exit(f"{FIXTURE} exists: the fixture is never rewritten")
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        write(Path(scratch) / "project")
        dot = Path(scratch) / "project" / ".dsdt"
        for leftover in ("cache/views", "cache/tmp",
                         "cache/open", "cache/gc-fence", "HEAD", ".gitignore"):
            path = dot / leftover
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        for extra in dot.glob("cache/db-*"):
            shutil.rmtree(extra)
        (dot / "cache" / "owner").unlink(missing_ok=True)
        shutil.copytree(dot, GOLDEN)
        names = {b.name: b.processing_name for b in api.search("golden", latest_per_name=True)}
        FACTS.write_text(json.dumps({"processing_names": names}, indent=1, sort_keys=True))
    print(f"wrote {GOLDEN}")
