"""Incremental push and pull, and remote output paths, with a directory remote and S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import pipe_tasks as pt
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import UsageError
from dsdt.remote.sync import open_remote
from dsdt.repo import Repository


@pytest.fixture
def bound(ctx: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test context bound to an empty directory remote."""
    api.remote(ctx, "shared", str(tmp_path_factory.mktemp("remote")))
    return ctx


def on_remote(ctx: str) -> set[str]:
    return set(open_remote(Repository.current(), ctx).members())


def test_incremental_needs_a_remote(ctx: str) -> None:
    with pytest.raises(UsageError, match="incremental_push needs a remote"):
        api.apply(ctx, pt.A, incremental_push=True)
    with pytest.raises(UsageError, match="incremental_pull needs a remote"):
        api.apply(ctx, pt.A, incremental_pull=True)
    assert api.search(ctx) == []


def _failing_root_keeps_upstream_on_remote(ctx: str) -> None:
    with pytest.raises(api.ApplyError, match="Fails"):
        api.apply(ctx, pt.Fails, incremental_push=True)
    a = api.get(ctx, "A")
    assert a.is_committed and on_remote(ctx) == {a.uuid}
    assert api.fsck(remote=True).ok
    assert_fsck_clean()


def test_failing_root_keeps_finished_upstream_on_the_remote(bound: str) -> None:
    _failing_root_keeps_upstream_on_remote(bound)


def test_failing_root_with_s3_remote(ctx: str, s3_bucket: tuple[str, str]) -> None:
    bucket, _ = s3_bucket
    api.remote(ctx, "shared", f"s3://{bucket}/pipes")
    _failing_root_keeps_upstream_on_remote(ctx)
    api.apply(ctx, pt.RemoteOut, incremental_push=True)
    out = api.get(ctx, "RemoteOut")
    assert Path(out.data["file"]).read_text() == "remote file"
    assert on_remote(ctx) == {api.get(ctx, "A").uuid, out.uuid}
    assert api.fsck(remote=True).ok


def test_every_made_bundle_is_pushed_except_transient_ones(bound: str) -> None:
    api.apply(bound, pt.Top, incremental_push=True)
    made = {b.uuid for b in api.search(bound)}
    assert len(made) == 5 and on_remote(bound) == made
    api.apply(bound, pt.Tagged, incremental_push=True)
    assert api.get(bound, "tagged_out") is not None and on_remote(bound) == made
    assert api.fsck(remote=True).ok


def test_remote_outputs_are_staged_then_brought_in(bound: str) -> None:
    api.apply(bound, pt.RemoteOut, incremental_push=True)
    out = api.get(bound, "RemoteOut")
    assert Path(out.data["file"]).read_text() == "remote file"
    assert [Path(p).read_text() for p in Path(out.data["dir"]).iterdir()] == ["part 0"]
    assert out.uuid in on_remote(bound)
    assert api.fsck(remote=True).ok
    assert_fsck_clean()


def test_remote_outputs_need_a_remote_and_incremental_push(ctx: str,
                                                           tmp_path_factory:
                                                           pytest.TempPathFactory) -> None:
    api.apply(ctx, pt.RemoteOut, params={"probe": True})
    assert "a remote bound" in api.get(ctx, "RemoteOut").data
    api.remote(ctx, "shared", str(tmp_path_factory.mktemp("remote")))
    api.apply(ctx, pt.RemoteOut, params={"probe": True}, force=True)
    assert "incremental push" in api.get(ctx, "RemoteOut").data
    with pytest.raises(api.ApplyError, match="RemoteOut"):
        api.apply(ctx, pt.RemoteOut)


def test_incremental_pull_localizes_inputs(bound: str) -> None:
    api.apply(bound, pt.Value, params={"kind": "file"}, incremental_push=True)
    value = api.get(bound, "Value")
    value.delocalize()
    repo = Repository.current()
    blob = value.record.data["blob"]
    assert not repo.blobs.has(blob)
    api.apply(bound, pt.Echo, params={"kind": "file"}, incremental_pull=True)
    assert repo.blobs.has(blob)
    assert Path(api.get(bound, "Echo").data).read_text() == "file"
    assert_fsck_clean()
