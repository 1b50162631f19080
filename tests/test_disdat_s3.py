"""Disdat users' S3 habits: ``mock_aws`` tests, ``s3://`` data and luigi S3 targets.

Written the way Disdat users write theirs: plain pytest, moto's in-process
``mock_aws`` decorator (no moto server: ``AWS_ENDPOINT_URL`` is removed and
the credentials are fake), ``api.*`` calls and PipeTasks run with ``api.apply``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import assert_fsck_clean, fake_credentials
from luigi.contrib.s3 import S3Target
from moto import mock_aws

import dsdt.api as api
import dsdt.remote.s3 as s3mod
from dsdt.errors import RemoteError, UsageError
from dsdt.pipe.task import PipeTask
from dsdt.remote.s3 import S3Transport

BUCKET = "disdat-test"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint, no profile, no AWS files: only fake credentials."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    fake_credentials(monkeypatch)


def put(url: str, body: bytes) -> None:
    bucket, _, key = url[5:].partition("/")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def keys(bucket: str, prefix: str = "") -> list[str]:
    resp = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


# -- 6. consecutive mock_aws tests, each with its own mock -------------------------------


def _push_pull_in_a_fresh_mock(ctx: str, n: int) -> None:
    s3 = boto3.client("s3")
    assert s3.list_buckets()["Buckets"] == []  # nothing left of an earlier test's mock
    s3.create_bucket(Bucket=BUCKET)
    api.remote(ctx, "shared", f"s3://{BUCKET}/dsdt")
    api.Bundle(ctx, name="numbers", data={"n": n, "bytes": bytes([n]) * 10_000}).commit()
    api.push(ctx, "numbers")
    assert any(k.startswith(("dsdt/blobs/", "dsdt/packs/")) for k in keys(BUCKET))
    api.context("other")
    api.remote("other", "shared", f"s3://{BUCKET}/dsdt")
    api.pull("other", localize=True)
    assert api.get("other", "numbers").data == {"n": n, "bytes": bytes([n]) * 10_000}


@mock_aws
def test_first_mock_aws_test_pushes_and_pulls(ctx: str) -> None:
    _push_pull_in_a_fresh_mock(ctx, 1)


@mock_aws
def test_second_mock_aws_test_pushes_and_pulls(ctx: str) -> None:
    _push_pull_in_a_fresh_mock(ctx, 2)


@mock_aws
def test_third_mock_aws_test_pushes_and_pulls(ctx: str) -> None:
    _push_pull_in_a_fresh_mock(ctx, 3)


@mock_aws
def test_fourth_mock_aws_test_runs_a_pipeline_with_incremental_push(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    api.remote(ctx, "shared", f"s3://{BUCKET}/dsdt")
    api.apply(ctx, WritesRemote, incremental_push=True)
    assert any(k.startswith(("dsdt/blobs/", "dsdt/packs/")) for k in keys(BUCKET))


def test_no_s3_client_outlives_the_mock_it_was_made_under() -> None:
    outside = S3Transport(BUCKET, "").client
    assert S3Transport(BUCKET, "").client is outside  # shared while nothing is mocked
    with mock_aws():
        first = S3Transport(BUCKET, "").client
        assert first is not outside and S3Transport(BUCKET, "").client is not first
    with mock_aws():
        second = S3Transport(BUCKET, "").client
        assert second is not first and second is not outside
    assert S3Transport(BUCKET, "").client is outside


# -- 5. add_data("s3://bucket/key"): the object is copied into the bundle ---------------


@mock_aws
def test_add_data_copies_an_s3_object_into_the_bundle(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket="inputs")
    put("s3://inputs/raw/a.csv", b"a,b\n1,2\n")
    with api.Bundle(ctx, "copied") as b:
        b.add_data("s3://inputs/raw/a.csv")
    boto3.client("s3").delete_object(Bucket="inputs", Key="raw/a.csv")
    data = api.get(ctx, "copied").data
    assert Path(data).name == "a.csv" and Path(data).read_bytes() == b"a,b\n1,2\n"
    assert_fsck_clean()


@mock_aws
def test_add_data_copies_lists_and_dicts_of_s3_urls(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket="inputs")
    urls = ["s3://inputs/x/part.txt", "s3://inputs/y/part.txt", "s3://inputs/z.bin"]
    for i, url in enumerate(urls):
        put(url, f"part {i}".encode())
    api.Bundle(ctx, name="parts", data=urls)
    got = api.get(ctx, "parts").data
    assert [Path(p).read_text() for p in got] == ["part 0", "part 1", "part 2"]
    assert len(set(got)) == 3  # two objects named part.txt stay apart
    api.Bundle(ctx, name="named", data={"x": urls[0], "z": urls[2], "n": 7})
    named = api.get(ctx, "named").data
    assert Path(named["x"]).read_text() == "part 0" and named["n"] == 7
    assert Path(named["z"]).read_text() == "part 2"


@mock_aws
def test_a_missing_object_or_bucket_is_a_one_line_remote_error(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket="inputs")
    put("s3://inputs/here.txt", b"here")
    for url in ("s3://inputs/nope.txt", "s3://no-such-bucket/k.txt"):
        with pytest.raises(RemoteError, match=url) as e, api.Bundle(ctx, "broken") as b:
            b.add_data(["s3://inputs/here.txt", url])
        assert "\n" not in str(e.value)
    assert api.get(ctx, "broken") is None and api.search(ctx) == []
    with pytest.raises(UsageError, match="is a prefix, not an object"):
        api.Bundle(ctx, name="prefix", data="s3://inputs/")


@mock_aws
def test_a_download_cut_short_stores_nothing(ctx: str, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("s3").create_bucket(Bucket="inputs")
    put("s3://inputs/big.bin", b"x" * 1000)

    def truncated(body: Any, path: Path, *_: Any) -> None:
        path.write_bytes(body.read()[:10])

    monkeypatch.setattr(s3mod, "_stream_to", truncated)
    with pytest.raises(RemoteError, match="cut short"):
        api.Bundle(ctx, name="big", data="s3://inputs/big.bin")
    assert api.get(ctx, "big") is None


@mock_aws
def test_keys_that_cannot_name_a_file_get_a_safe_name(ctx: str) -> None:
    """Whoever writes the bucket chooses the keys: none of them may steer a local path."""
    boto3.client("s3").create_bucket(Bucket="evil")
    urls = ["s3://evil/q/..", "s3://evil/q/.", "s3://evil/l/" + "A" * 300,
            "s3://evil/c/red\x1b[31m.txt", "s3://evil/n/two\nlines"]
    for i, url in enumerate(urls):
        put(url, f"object {i}".encode())
    data = api.Bundle(ctx, name="odd", data=urls).data
    names = [Path(p).name for p in data]
    assert all(n.startswith("object-") and len(n) == 23 for n in names), names
    assert len(set(names)) == len(urls)
    assert [Path(p).read_bytes() for p in data] == [f"object {i}".encode() for i in range(5)]
    view = Path(data[0]).parent
    assert all(Path(p).parent == view for p in data)  # all inside the bundle
    assert_fsck_clean()


@mock_aws
def test_a_key_named_like_a_clash_folder_is_no_error(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket="evil")
    urls = ["s3://evil/z/2", "s3://evil/p1/same.csv", "s3://evil/p2/same.csv"]
    for url in urls:
        put(url, url.encode())
    data = api.Bundle(ctx, name="clash", data=urls).data
    assert [Path(p).read_bytes() for p in data] == [u.encode() for u in urls]


@mock_aws
def test_an_object_that_grows_while_copied_in_is_refused(
        ctx: str, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("s3").create_bucket(Bucket="inputs")
    put("s3://inputs/grows.bin", b"x" * 5000)
    seen = S3Transport.size
    monkeypatch.setattr(S3Transport, "size", lambda self, key: min(seen(self, key) or 0, 100))
    with pytest.raises(RemoteError):
        api.Bundle(ctx, name="grown", data="s3://inputs/grows.bin")
    assert api.search(ctx, "grown") == []


@mock_aws
def test_with_a_remote_bound_other_s3_urls_stay_as_they_are(ctx: str) -> None:
    """The issue keeps today's behaviour with a remote bound: only the bundle's own remote
    outputs are brought in; any other URL is a string, pushed and pulled as one."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="inputs")
    s3.create_bucket(Bucket=BUCKET)
    put("s3://inputs/a.txt", b"from elsewhere")
    api.remote(ctx, "shared", f"s3://{BUCKET}/dsdt")
    b = api.Bundle(ctx, name="linked", data={"a": "s3://inputs/a.txt"}).commit().push()
    assert api.get(ctx, "linked").data == {"a": "s3://inputs/a.txt"}
    b.delocalize()
    assert api.get(ctx, "linked").data == {"a": "s3://inputs/a.txt"}


# -- 4. create_remote_output_file / create_output_file return luigi targets -------------


class WritesRemote(PipeTask):
    """Writes through every kind of output target, as Disdat pipelines do."""

    def pipe_run(self) -> dict[str, Any]:
        remote = self.create_remote_output_file("model.txt")
        with remote.open("w") as f:
            f.write("weights")
        atomic = self.create_remote_output_file("sub/atomic.txt")
        with atomic.temporary_path() as tmp:  # a writer fills the temporary path
            if isinstance(atomic, S3Target):
                with S3Target(tmp, client=atomic.fs).open("w") as f:
                    f.write("atomic remote")
            else:
                Path(tmp).write_text("atomic remote")
        local = self.create_output_file("local.txt")
        with local.open("w") as f:
            f.write("local")
        atomic_local = self.create_output_file("atomic_local.txt")
        with atomic_local.temporary_path() as tmp:
            Path(tmp).write_text("atomic local")
        kinds = [type(t).__name__ for t in (remote, atomic, local, atomic_local)]
        assert remote.path.endswith("/model.txt") and local.path.endswith("local.txt")
        return {"remote": remote, "atomic": atomic, "local": local,
                "atomic_local": atomic_local, "kinds": kinds}


def _check_written(ctx: str) -> dict[str, Any]:
    data = api.get(ctx, "WritesRemote").data
    assert {k: Path(data[k]).read_text() for k in ("remote", "atomic", "local", "atomic_local")} \
        == {"remote": "weights", "atomic": "atomic remote", "local": "local",
            "atomic_local": "atomic local"}
    assert api.fsck(remote=True).ok
    assert_fsck_clean()
    return data


@mock_aws
def test_remote_output_files_are_s3_targets_whose_bytes_join_the_bundle(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    api.remote(ctx, "shared", f"s3://{BUCKET}/dsdt")
    api.apply(ctx, WritesRemote, incremental_push=True)
    data = _check_written(ctx)
    assert data["kinds"] == ["S3Target", "S3Target", "LocalTarget", "LocalTarget"]
    assert keys(BUCKET, "dsdt/staging/") == []  # the staging area is gone, markers too
    api.context("other")
    api.remote("other", "shared", f"s3://{BUCKET}/dsdt")
    api.pull("other", localize=True)
    assert Path(api.get("other", "WritesRemote").data["remote"]).read_text() == "weights"


def test_on_a_directory_remote_they_are_local_targets(ctx: str, tmp_path: Path) -> None:
    (tmp_path / "remote").mkdir()
    api.remote(ctx, "shared", str(tmp_path / "remote"))
    api.apply(ctx, WritesRemote, incremental_push=True)
    assert _check_written(ctx)["kinds"] == ["LocalTarget"] * 4


def test_s3_targets_use_the_s3_endpoint_url_setting(ctx: str, moto_server: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="endpoint-test")
    api.set_config("s3_endpoint_url", moto_server)
    api.remote(ctx, "shared", "s3://endpoint-test/dsdt")
    api.apply(ctx, WritesRemote, incremental_push=True)
    _check_written(ctx)
    assert s3.list_objects_v2(Bucket="endpoint-test", Prefix="dsdt/staging/")["KeyCount"] == 0


def test_an_s3_target_returned_as_data_is_copied_in(ctx: str, moto_server: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    boto3.client("s3").create_bucket(Bucket="targets")
    put("s3://targets/t.txt", b"target bytes")
    api.Bundle(ctx, name="t", data=[S3Target("s3://targets/t.txt")])
    assert Path(api.get(ctx, "t").data[0]).read_text() == "target bytes"


@mock_aws
def test_a_missing_object_leaves_the_bundle_open_with_its_files(ctx: str) -> None:
    boto3.client("s3").create_bucket(Bucket="inputs")
    b = api.Bundle(ctx, "partial").open()
    mine = Path(b.get_file("mine.txt"))
    mine.write_text("written by the user")
    b.add_data([str(mine), "s3://inputs/missing.csv"])
    with pytest.raises(RemoteError, match="does not exist"):
        b.close()
    assert mine.read_text() == "written by the user"  # nothing of the open bundle was lost
    put("s3://inputs/missing.csv", b"a,b\n")
    b.close()  # once the object exists, closing again works
    assert [Path(p).read_bytes() for p in api.get(ctx, "partial").data] == [
        b"written by the user", b"a,b\n"]
