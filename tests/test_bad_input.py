"""Bad input is a clear error and changes nothing; nothing is ever unpickled or yaml.load-ed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import (
    CorruptObjectError,
    FormatVersionError,
    InvalidNameError,
    PathError,
    UsageError,
)
from dsdt.objects.record import BundleRecord
from dsdt.repo import Repository

BAD_NAMES = ["a/b", "..", "a..b", ".hidden", "x.lock", "tab\there", "nl\nx", "bell\x07",
             "", "star*", "colon:x", "brack[et", "trailing.", "back\\slash"]


def tree(project: Path) -> list[str]:
    return sorted(str(p.relative_to(project)) for p in (project / ".dsdt").rglob("*")
                  if "cache" not in p.parts)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_bundle_names(ctx: str, project: Path, name: str) -> None:
    before = tree(project)
    with pytest.raises(InvalidNameError):
        if name:
            api.Bundle(ctx, name=name, data=1)
        else:
            api.add(ctx, name, str(project))
    assert tree(project) == before


@pytest.mark.parametrize("name", [n for n in BAD_NAMES if n != "a/b"]  # a/b is remote/local
                         + ["with space", "a/b/c", "../x", "a/.b"])
def test_bad_context_names(project: Path, name: str) -> None:
    before = tree(project)
    with pytest.raises(InvalidNameError):
        api.context(name)
    assert tree(project) == before


@pytest.mark.parametrize("tags", [{1: "a"}, {"a": 1}, {"a": None}, {"": "x"}, ["a", "b"],
                                  {"k\x00": "v"}])
def test_bad_tags(ctx: str, project: Path, tags: object) -> None:
    before = tree(project)
    with pytest.raises(UsageError):
        api.Bundle(ctx, name="t", data=1, tags=tags)  # type: ignore[arg-type]
    assert tree(project) == before


def test_param_prefix_is_reserved(ctx: str) -> None:
    with pytest.raises(UsageError):
        api.Bundle(ctx, name="t", data=1, tags={"__param.x": "1"})


def test_missing_path(ctx: str, project: Path) -> None:
    before = tree(project)
    with pytest.raises(PathError, match="does not exist"):
        api.add(ctx, "x", str(project / "nope"))
    assert tree(project) == before


def test_symlink_out_of_directory_refused_unless_followed(ctx: str, project: Path,
                                                          tmp_path_factory: pytest.TempPathFactory
                                                          ) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret")
    d = project / "data"
    d.mkdir()
    (d / "ok.txt").write_text("ok")
    (d / "inside_link").symlink_to(d / "ok.txt")
    (d / "escape").symlink_to(outside)
    before = tree(project)
    with pytest.raises(PathError, match="outside"):
        api.add(ctx, "d", str(d))
    assert tree(project) == before and api.get(ctx, "d") is None
    b = api.add(ctx, "d", str(d), follow_symlinks=True)
    files = {Path(p).name: Path(p) for p in b.data}
    assert files["escape"].read_text() == "secret" and not files["escape"].is_symlink()
    for p in (project / ".dsdt").rglob("*"):  # nothing under .dsdt points outside it
        assert not p.is_symlink()
    assert_fsck_clean()


def test_symlink_inside_directory_is_stored(ctx: str, project: Path) -> None:
    d = project / "data"
    d.mkdir()
    (d / "ok.txt").write_text("ok")
    (d / "alias.txt").symlink_to("ok.txt")
    b = api.add(ctx, "d", str(d))
    assert sorted(Path(p).name for p in b.data) == ["alias.txt", "ok.txt"]


def _record_path(project: Path, uuid: str) -> Path:
    return project / ".dsdt" / "records" / uuid[:2] / f"{uuid}.yaml"


def _member_ref(project: Path, ctx: str, uuid: str) -> Path:
    return project / ".dsdt" / "refs" / "contexts" / ctx / "bundles" / uuid[:2] / uuid


def _edit(path: Path, text: str) -> None:
    os.chmod(path, 0o644)
    path.write_text(text)


def test_hand_edited_record_is_reported_never_used(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    path = _record_path(project, b.uuid)
    _edit(path, path.read_text().replace('"value": 1', '"value": 2'))
    report = api.fsck()
    assert not report.ok and any("does not match" in e for e in report.errors)
    with pytest.raises(CorruptObjectError):
        api.get(ctx, None, uuid=b.uuid)
    assert api.get(ctx, "x") is None  # the index never serves it


def test_invalid_yaml_record_and_ref(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    c = api.Bundle(ctx, name="y", data=2)
    _edit(_record_path(project, b.uuid), "{{{ not yaml")
    _edit(_member_ref(project, ctx, c.uuid), "not-a-hash")
    report = api.fsck()
    assert len(report.errors) == 2, report.errors


def test_missing_or_corrupt_blob(ctx: str, project: Path) -> None:
    big = b"z" * 10_000
    b = api.Bundle(ctx, name="x", data=big)
    blob = Repository.current().blobs.path(b.record.data["blob"])
    os.chmod(blob, 0o644)
    blob.write_bytes(b"y" * 10_000)
    assert any("does not match" in e for e in api.fsck().errors)
    blob.unlink()
    report = api.fsck()
    assert not report.errors and not report.ok  # not corrupt: unreachable (no remote)
    assert any("not in the local cache and its context has no remote" in u
               for u in report.unreachable)


def test_unknown_format_version(project: Path) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("format_version: 1", "format_version: 99"))
    Repository.forget()
    with pytest.raises(FormatVersionError, match="99"):
        api.ls_contexts()


def test_unknown_config_key(project: Path) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    cfg.write_text(cfg.read_text() + "typo_key: 1\n")
    Repository.forget()
    with pytest.raises(UsageError, match="typo_key"):
        api.ls_contexts()


CRAFTED = [
    "!!python/object/apply:os.system ['touch /tmp/dsdt-pwned']",
    "uuid: !!python/object/new:builtins.dict {}",
    "data: !!python/name:os.system",
]


@pytest.mark.parametrize("text", CRAFTED)
def test_crafted_yaml_cannot_construct_objects(text: str) -> None:
    with pytest.raises(CorruptObjectError):
        BundleRecord.from_yaml(text.encode())
    assert not Path("/tmp/dsdt-pwned").exists()


def test_crafted_record_in_repository_is_an_error(ctx: str, project: Path) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    _edit(_record_path(project, b.uuid), CRAFTED[0])
    assert not api.fsck().ok
    assert not Path("/tmp/dsdt-pwned").exists()


def test_no_pickle_or_unsafe_yaml_in_the_code() -> None:
    root = Path(__file__).resolve().parents[1] / "dsdt"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "pickle.load" not in text, path
        assert "yaml.Loader" not in text.replace("# noqa: S506 - a safe loader, never yaml.Loader",
                                                 ""), path
        assert "allow_pickle=True" not in text, path
