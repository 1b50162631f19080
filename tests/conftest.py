"""Shared fixtures: every test gets its own repository in a temporary project."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import dsdt.api as api
from dsdt.repo import Repository

pytest_plugins = ["docker_fixtures"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh project directory with ``dsdt init`` done, as the current directory."""
    monkeypatch.delenv("DSDT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    api.init(tmp_path)
    yield tmp_path
    Repository.forget()


@pytest.fixture
def ctx(project: Path) -> str:
    """A context named ``t`` in a fresh repository."""
    api.context("t")
    return "t"


def _clear_pipe_runs() -> None:
    tasks = sys.modules.get("pipe_tasks")  # imported by the pipeline test modules only
    if tasks is not None:
        tasks.RUNS.clear()


@pytest.fixture(autouse=True)
def _pipe_runs() -> Iterator[None]:
    """Pipeline tests count task runs in ``pipe_tasks.RUNS``: every test starts at zero."""
    _clear_pipe_runs()
    yield
    _clear_pipe_runs()


@pytest.fixture
def loose(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every blob is pushed as an object of its own under ``blobs/``, as large blobs are
    and as dsdt did before packs: for tests of that path and of remotes written by
    older versions (packs are tested in test_packs.py)."""
    from dsdt.remote import push

    monkeypatch.setattr(push, "PACK_THRESHOLD", 0)


def assert_fsck_clean() -> None:
    """The repository passes fsck with no error."""
    report = api.fsck()
    assert report.ok, report.errors


# -- S3: a real moto server over HTTP on the loopback interface ---------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (a free port) for the session; yields its URL.

    moto evaluates ``If-Match`` / ``If-None-Match`` and then stores the object
    without a lock, so two racing conditional writes can both succeed. Real S3
    decides them atomically; the object writes are serialised here to match.
    """
    import functools
    import threading
    from collections.abc import Callable
    from typing import Any

    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    write_lock = threading.RLock()

    def serialised(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def locked_method(*args: Any, **kwargs: Any) -> Any:
            with write_lock:
                return method(*args, **kwargs)

        return locked_method

    with pytest.MonkeyPatch.context() as mp:
        # put_object: single-part writes; _key_response_post: completing a multipart upload.
        for name in ("put_object", "_key_response_post"):
            mp.setattr(S3Response, name, serialised(getattr(S3Response, name)))
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Fake credentials and the moto endpoint (every service) in the environment.

    The user's own AWS config files, profile and per-service endpoints are
    hidden from boto3. Returns the endpoint URL.
    """
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3",
                "AWS_ENDPOINT_URL_BATCH", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM",
                "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL_ECR", "MOTO_DOCKER_NETWORK_NAME"):
        monkeypatch.delenv(var, raising=False)
    fake_credentials(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake keys and a region for boto3; the user's AWS config files are hidden."""
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_bucket(aws_env: str) -> Iterator[tuple[str, str]]:
    """A fresh, uniquely named bucket on the moto server; yields ``(bucket, endpoint_url)``."""
    import uuid

    import boto3

    bucket = f"dsdt-test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    yield bucket, aws_env


@pytest.fixture(params=["dir", "s3"])
def remote_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty remote: a directory, or a bucket prefix on the moto S3 server."""
    if request.param == "dir":
        return str(tmp_path_factory.mktemp("remote"))
    bucket, _ = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/projects/churn"


@pytest.fixture
def batch_queue(aws_env: str) -> str:
    """A fresh AWS Batch job queue on moto (with its IAM role and UNMANAGED compute
    environment); returns its name. moto runs submitted jobs with the local Docker engine."""
    import uuid

    import boto3

    uid = uuid.uuid4().hex[:10]
    role = boto3.client("iam").create_role(
        RoleName=f"dsdt-batch-{uid}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch")
    env = batch.create_compute_environment(
        computeEnvironmentName=f"dsdt-ce-{uid}", type="UNMANAGED", state="ENABLED",
        serviceRole=role)["computeEnvironmentArn"]
    queue = f"dsdt-q-{uid}"
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])
    return queue


@pytest.fixture
def kolkata() -> Iterator[None]:
    """Local time is UTC+05:30 for the test (so local and UTC dates differ)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()
