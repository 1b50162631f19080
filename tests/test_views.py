"""A path dsdt returns is a view: nothing written through it reaches the blob store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dsdt.api as api
from dsdt.repo import Repository
from tests.conftest import assert_fsck_clean


def _blob_of(bundle: api.Bundle) -> Path:
    repo = Repository.current()
    (blob_id,) = {e["blob"] for e in _file_nodes(bundle.record.data)}
    return repo.blobs.path(blob_id)


def _file_nodes(node: object) -> list[dict]:
    if isinstance(node, dict) and node.get("type") == "file":
        return [node]
    if isinstance(node, dict):
        return [n for v in node.values() for n in _file_nodes(v)]
    if isinstance(node, list):
        return [n for v in node for n in _file_nodes(v)]
    return []


def _add_file(tmp_path: Path, ctx: str, name: str, text: str) -> api.Bundle:
    src = tmp_path / f"{name}.txt"
    src.write_text(text)
    api.add(ctx, name, str(src))
    return api.get(ctx, name)


def test_view_is_not_the_blob_inode(ctx: str, tmp_path: Path) -> None:
    bundle = _add_file(tmp_path, ctx, "labels", "a,b\n")
    path = Path(bundle.data)
    assert path.read_text() == "a,b\n"
    assert os.stat(path).st_ino != os.stat(_blob_of(bundle)).st_ino
    assert not os.access(path, os.W_OK) or os.geteuid() == 0  # read-only, except for root


def test_root_writing_through_a_view_changes_neither_cache_nor_other_bundles(
        ctx: str, tmp_path: Path) -> None:
    first = _add_file(tmp_path, ctx, "labels", "same bytes\n")
    second = _add_file(tmp_path, ctx, "copy", "same bytes\n")
    os.chmod(first.data, 0o644)  # what root can do anyway; a user may chmod their own view
    with open(first.data, "a") as f:
        f.write("x")
    assert _blob_of(first).read_text() == "same bytes\n"
    assert Path(api.get(ctx, "copy").data).read_text() == "same bytes\n"
    assert Path(api.get(ctx, "labels").data).read_text() == "same bytes\n"  # view replaced
    assert second.uuid != first.uuid
    assert_fsck_clean()


def test_writer_still_open_after_close_cannot_reach_the_cache(ctx: str) -> None:
    with api.Bundle(ctx, "made") as b:
        target = b.get_file("out.txt")
        writer = open(target, "w")  # noqa: SIM115 - deliberately left open past close
        writer.write("final\n")
        writer.flush()
        b.add_data(target)
    try:
        writer.write("written after close\n")
        writer.flush()
    finally:
        writer.close()
    assert _blob_of(b).read_text() == "final\n"
    assert Path(api.get(ctx, "made").data).read_text() == "final\n"
    assert_fsck_clean()


def test_unwritten_view_is_reused(ctx: str, tmp_path: Path) -> None:
    bundle = _add_file(tmp_path, ctx, "labels", "a\n")
    first = os.stat(bundle.data).st_ino
    assert os.stat(api.get(ctx, "labels").data).st_ino == first


@pytest.mark.skipif(os.geteuid() != 0, reason="only root ignores the read-only bit")
def test_root_without_chmod(ctx: str, tmp_path: Path) -> None:
    bundle = _add_file(tmp_path, ctx, "labels", "abc\n")
    with open(bundle.data, "a") as f:  # root may write a 0444 file
        f.write("!")
    assert _blob_of(bundle).read_text() == "abc\n"
    assert_fsck_clean()


def test_re_adding_an_unchanged_directory_reads_no_file(project: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The stat cache answers for unchanged files: none is opened or hashed again."""
    import os

    from dsdt.objects.blobs import BlobStore

    src = project / "src"
    src.mkdir()
    for i in range(20):
        (src / f"{i}.txt").write_text(f"file {i}")
        os.utime(src / f"{i}.txt", (1_700_000_000, 1_700_000_000))  # outside the racy window
    first = api.add("default", "d", src).data
    monkeypatch.setattr(BlobStore, "put_file", lambda *a, **k: pytest.fail("re-read a file"))
    again = api.add("default", "d", src)
    assert sorted(Path(p).name for p in again.data) == sorted(Path(p).name for p in first)
