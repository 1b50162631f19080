"""Containers for real: dockerize a package, run it, push it, run it on moto's Batch.

Needs a Docker engine (``scripts/test.sh`` starts one; see tests/docker_fixtures.py)
and builds from the offline base image, so nothing is pulled from Docker Hub.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import dsdt_cli, ok
from container_pkg import write_package
from docker_fixtures import loopback_get

from dsdt import api
from dsdt.containers.dockerize import ImageInfo
from dsdt.containers.protocol import make_args
from dsdt.errors import ContainerError

pytestmark = pytest.mark.docker  # one module: one xdist worker (--dist loadfile) builds the image

IMAGE = "dsdt-test-churn"


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline package (distribution ``dsdt_test_churn``, image ``dsdt-test-churn``)."""
    return write_package(tmp_path_factory.mktemp("pkg") / "churn", name="dsdt_test_churn")


@pytest.fixture(scope="session")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A wheel cache of this session's own, and no repository to take settings from."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("dsdt-cache")
        mp.setenv("DSDT_CACHE_DIR", str(cache))
        yield cache


@pytest.fixture(scope="session")
def image(package: Path, base_image: str, isolated_cache: Path, docker_client: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageInfo]:
    """The package's image; afterwards the registry tags the tests made are removed
    (the image itself stays, so that a later run starts from its cached layers)."""
    with pytest.MonkeyPatch.context() as mp:  # only while building: other tests see no change
        mp.chdir(tmp_path_factory.mktemp("nowhere"))
        mp.setenv("DSDT_DIR", str(tmp_path_factory.getbasetemp() / "no-repo"))
        info = api.build_image(package, base_image=base_image)
    yield info
    for img in docker_client.images.list():
        for tag in img.tags:
            if "/" in tag and IMAGE in tag:  # REGISTRY/PREFIX/dsdt-test-churn...:latest
                docker_client.images.remove(tag, noprune=False)


def _settings(project: Path, **containers: Any) -> None:
    """Put ``containers:`` settings into the project's config.yaml."""
    cfg = project / ".dsdt" / "config.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["containers"] = containers
    cfg.write_text(yaml.safe_dump(data))


# --- dockerize ---------------------------------------------------------------------------


def test_dockerize_builds_the_image(image: ImageInfo, docker_client: Any,
                                    base_image: str) -> None:
    assert (image.name, image.tag, image.base_image) == (IMAGE, f"{IMAGE}:latest", base_image)
    built = docker_client.images.get(image.tag)
    assert built.id == image.image_id
    assert built.labels["org.opencontainers.image.title"] == IMAGE
    out = docker_client.containers.run(image.tag, ["--help"], remove=True).decode()
    assert "usage: dsdt-container" in out


def test_redockerize_reuses_wheels_and_layers(image: ImageInfo, package: Path,
                                              base_image: str) -> None:
    lines: list[str] = []
    again = api.build_image(package, base_image=base_image, log=lines.append)
    assert again.image_id == image.image_id
    assert not any(line.startswith(("building the wheel", "resolving")) for line in lines)
    assert sum("Using cache" in line for line in lines) >= 5, lines


def test_no_build_writes_a_context(image: ImageInfo, package: Path, base_image: str,
                                   tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    info = api.build_image(package, build=False, base_image=base_image, output_dir=out)
    assert info.image_id is None and info.context == out
    assert (out / "Dockerfile").read_text().splitlines()[2] == f"FROM {base_image}"
    assert sorted(p.name for p in (out / "wheels" / "packages").iterdir()) == [
        "dsdt-0.1.0-py3-none-any.whl", "dsdt_test_churn-0.1.0-py3-none-any.whl"]
    assert any(p.name.startswith("pandas-") for p in (out / "wheels" / "deps").iterdir())


def test_cli_dockerize(image: ImageInfo, package: Path, base_image: str,
                       tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    r = ok("dockerize", str(package), "--no-build", "-o", str(out), "--base-image", base_image)
    assert r.out.strip() == f"Build context: {out}" and (out / "Dockerfile").is_file()
    r = ok("dockerize", str(package), "--base-image", base_image, "-q")
    assert r.out.startswith(f"Built {IMAGE}:latest ({image.image_id[7:19]}) from {base_image}")
    assert r.err == ""


# --- run: Local --------------------------------------------------------------------------


def test_local_run_brings_the_output_back(image: ImageInfo, package: Path, ctx: str,
                                          tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    api.remote(ctx, "shared", str(remote))
    lines: list[str] = []
    out = json.loads(api.run(ctx, None, package, "churn.tasks.Train", {"day": "2026-11-01"},
                             output_bundle="model", log=lines.append))
    assert out["success"] and out["did_work"] and out["backend"] == "Local"
    assert out["output_uuid"] == out["requested_uuid"] and out["pulled"]
    b = api.get(ctx, "model")
    assert b.uuid == out["output_uuid"] and b.is_committed
    assert b.data == {"day": "2026-11-01", "total": 6}
    again = json.loads(api.run(ctx, None, package, "churn.tasks.Train", {"day": "2026-11-01"},
                               output_bundle="model"))
    assert again["success"] and not again["did_work"]  # reused, upstream included
    assert again["output_uuid"] == b.uuid


@pytest.mark.parametrize("credentials", ["environment", "profile", "credential_process"])
def test_local_run_against_s3(image: ImageInfo, package: Path, ctx: str, tmp_path: Path,
                              s3_bucket: tuple[str, str], credentials: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The container reaches the moto server on the host's loopback with the caller's
    credentials: from the environment, from a profile in a credentials file that is
    mounted read-only (never copied into the image), or resolved here from a profile
    the container could not use itself."""
    bucket, _ = s3_bucket
    if credentials != "environment":
        monkeypatch.setenv("AWS_PROFILE", "moto")
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    if credentials == "profile":
        creds = tmp_path / "aws-credentials"
        creds.write_text("[moto]\naws_access_key_id = testing\naws_secret_access_key = x\n")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    elif credentials == "credential_process":  # the image has no such program: resolved here
        helper = tmp_path / "creds.py"
        helper.write_text("import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'k',"
                          " 'SecretAccessKey': 's', 'SessionToken': 't'}))\n")
        config = tmp_path / "aws-config"
        config.write_text(f"[profile moto]\ncredential_process = {sys.executable} {helper}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    api.remote(ctx, "shared", f"s3://{bucket}/dsdt")
    out = json.loads(api.run(ctx, None, package, "churn.tasks.Train", ["--day", "2026-11-02"]))
    assert api.get(ctx, None, uuid=out["output_uuid"]).data["day"] == "2026-11-02"


def test_local_run_of_an_image_never_built(ctx: str, tmp_path: Path,
                                           docker_client: Any) -> None:
    pkg = write_package(tmp_path / "other", name="dsdt_never_built")
    with pytest.raises(ContainerError, match="build it first with dsdt dockerize"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {}, no_pull=True, no_push=True)


def test_local_run_failure_is_a_clear_error(image: ImageInfo, package: Path, ctx: str,
                                            tmp_path: Path) -> None:
    api.remote(ctx, "shared", str(tmp_path))
    with pytest.raises(ContainerError, match=r"exit 1: a task failed"):
        api.run(ctx, None, package, "churn.tasks.Train", {"fail": True})
    r = dsdt_cli("run", "-c", ctx, str(package), "churn.tasks.Train", "--fail")
    assert r.code == 12
    assert "RuntimeError: asked to fail" in r.err  # the container's log, streamed
    assert r.err.splitlines()[-1].startswith("dsdt: error: the pipeline failed in")


def test_cli_run(image: ImageInfo, package: Path, ctx: str, tmp_path: Path) -> None:
    api.remote(ctx, "shared", str(tmp_path))
    r = ok("run", "-c", ctx, str(package), "churn.tasks.Train", "--day", "2026-11-03", "--json")
    out = json.loads(r.out)
    assert out["success"] is True and out["output_name"] == "Train"
    r = ok("run", str(package), "churn.tasks.Train", "--day", "2026-11-04", "--context", ctx)
    made = api.get(ctx, "Train").uuid
    assert r.out == f"Ran in {IMAGE}:latest: made bundle Train {made} (pulled)\n"
    r = ok("run", str(package), "churn.tasks.Train", "--day", "2026-11-04", "--context", ctx)
    assert r.out == f"Ran in {IMAGE}:latest: up to date: bundle Train {made} (pulled)\n"


# --- registries --------------------------------------------------------------------------


def test_push_to_a_registry(image: ImageInfo, package: Path, project: Path,
                            local_registry: str, base_image: str) -> None:
    _settings(project, registry=f"{local_registry}/team")
    info = api.build_image(package, base_image=base_image, push=True)
    assert info.pushed == f"{local_registry}/team/{IMAGE}:latest"
    catalog = json.loads(loopback_get(f"http://{local_registry}/v2/_catalog"))
    assert f"team/{IMAGE}" in catalog["repositories"]
    tags = json.loads(loopback_get(f"http://{local_registry}/v2/team/{IMAGE}/tags/list"))
    assert tags["tags"] == ["latest"]


def test_push_to_ecr(image: ImageInfo, package: Path, project: Path, local_registry: str,
                     base_image: str, aws_env: str) -> None:
    """ECR on moto: the repository is created and a login token fetched; the layers go to
    the local registry standing in for ECR's endpoint."""
    import boto3

    ecr_host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    _settings(project, registry=f"{ecr_host}/ml", registry_endpoint=local_registry)
    info = api.build_image(package, base_image=base_image, push=True)
    assert info.pushed == f"{ecr_host}/ml/{IMAGE}:latest"
    repos = boto3.client("ecr").describe_repositories()["repositories"]
    assert f"ml/{IMAGE}" in [r["repositoryName"] for r in repos]
    catalog = json.loads(loopback_get(f"http://{local_registry}/v2/_catalog"))
    assert f"ml/{IMAGE}" in catalog["repositories"]
    api.build_image(package, base_image=base_image, push=True)  # the repository exists now


# --- SageMaker ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sagemaker_image(package: Path, base_image: str, isolated_cache: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> ImageInfo:
    """The package's SageMaker image, ``dsdt-test-churn-sagemaker``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("nowhere"))
        mp.setenv("DSDT_DIR", str(tmp_path_factory.getbasetemp() / "no-repo"))
        return api.build_image(package, base_image=base_image, sagemaker=True)


def test_sagemaker_image_trains(sagemaker_image: ImageInfo, docker_client: Any,
                                tmp_path: Path) -> None:
    """The image follows SageMaker's contract: ``train`` reads the hyperparameters."""
    assert sagemaker_image.name == f"{IMAGE}-sagemaker"
    remote = tmp_path / "remote"
    remote.mkdir()
    ml = tmp_path / "ml"
    (ml / "input" / "config").mkdir(parents=True)
    args = make_args("churn.tasks.Train", {"day": "2026-11-09"}, context="sm/work",
                     remote=str(remote))
    (ml / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"arguments": json.dumps(args)}))
    docker_client.containers.run(sagemaker_image.tag, ["train"], remove=True,
                                 network_mode="host",
                                 volumes={str(ml): {"bind": "/opt/ml", "mode": "rw"},
                                          str(remote): {"bind": str(remote), "mode": "rw"}})
    summary = json.loads((ml / "model" / "dsdt-summary.json").read_text())
    assert summary["success"] and (remote / "contexts" / "sm").is_dir()


# --- run: LocalSageMaker -----------------------------------------------------------------

JOB_NAME = rf"{IMAGE}-sagemaker-\d{{14}}-[0-9a-f]{{4}}"


def test_local_sagemaker_run_brings_the_output_back(sagemaker_image: ImageInfo,
                                                    package: Path, ctx: str,
                                                    tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    api.remote(ctx, "shared", str(remote))  # a directory remote, mounted as for Local
    out = json.loads(api.run(ctx, None, package, "churn.tasks.Train", {"day": "2026-11-10"},
                             output_bundle="model", backend="localsagemaker"))
    assert out["backend"] == "LocalSageMaker" and out["success"] and out["did_work"]
    assert (out["image"], out["exit_code"]) == (f"{IMAGE}-sagemaker:latest", 0)
    assert re.fullmatch(JOB_NAME, out["training_job_name"])
    assert out["output_uuid"] == out["requested_uuid"] and out["pulled"]
    b = api.get(ctx, "model")
    assert b.uuid == out["output_uuid"] and b.is_committed
    assert b.data == {"day": "2026-11-10", "total": 6}
    again = json.loads(api.run(ctx, None, package, "churn.tasks.Train", {"day": "2026-11-10"},
                               output_bundle="model", backend="LocalSageMaker"))
    assert again["success"] and not again["did_work"] and again["output_uuid"] == b.uuid


def _without_uuid(args: list[str]) -> list[str]:
    i = args.index("--output-bundle-uuid")
    return args[:i] + args[i + 2:]


def test_local_sagemaker_is_the_training_job_sagemaker_gets(
        sagemaker_image: ImageInfo, package: Path, project: Path, ctx: str,
        s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The hyperparameters and environment are those the SageMaker backend sends (to
    moto's training job); the caller's credentials stand in for the job's role."""
    import boto3

    from dsdt.containers import aws

    requests: list[dict[str, Any]] = []
    create = aws.sagemaker_request
    monkeypatch.setattr(aws, "sagemaker_request",
                        lambda *a, **kw: requests.append(create(*a, **kw)) or requests[-1])
    _settings(project, registry="127.0.0.1:5999/team",
              sagemaker_role_arn="arn:aws:iam::123456789012:role/sm")
    api.remote(ctx, "shared", f"s3://{s3_bucket[0]}/dsdt")
    sent = json.loads(api.run(ctx, None, package, "churn.tasks.Inspect", {},
                              backend="SageMaker"))
    job = boto3.client("sagemaker").describe_training_job(
        TrainingJobName=sent["training_job_name"])
    [request] = requests
    out = json.loads(api.run(ctx, None, package, "churn.tasks.Inspect", {},
                             backend="LocalSageMaker"))
    assert out["image"] == f"{IMAGE}-sagemaker:latest"  # the local one, not the registry's
    seen = api.get(ctx, None, uuid=out["output_uuid"]).data
    hyper = json.loads(seen["config"]["hyperparameters.json"])
    assert hyper == {"arguments": json.dumps(out["arguments"])}
    assert hyper.keys() == job["HyperParameters"].keys()
    assert _without_uuid(json.loads(hyper["arguments"])) == _without_uuid(
        json.loads(job["HyperParameters"]["arguments"]))
    assert request["Environment"]["AWS_ENDPOINT_URL"] == s3_bucket[1]
    assert request["Environment"].items() <= seen["endpoints"].items()
    assert seen["endpoints"]["TRAINING_JOB_NAME"] == out["training_job_name"]
    assert json.loads(seen["config"]["resourceconfig.json"])["current_host"] == "algo-1"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(seen["environment"])
    assert seen["user"] == f"{os.getuid()}:{os.getgid()}"


def test_cli_local_sagemaker(sagemaker_image: ImageInfo, package: Path, ctx: str,
                             tmp_path: Path) -> None:
    api.remote(ctx, "shared", str(tmp_path))
    r = ok("run", "-c", ctx, str(package), "churn.tasks.Train", "--day", "2026-11-11",
           "-b", "LocalSageMaker")
    made = api.get(ctx, "Train").uuid
    assert re.fullmatch(rf"Ran {IMAGE}-sagemaker:latest as SageMaker training job {JOB_NAME} "
                        rf"here: made bundle Train {made} \(pulled\)\n", r.out), r.out
    r = dsdt_cli("run", "-c", ctx, str(package), "churn.tasks.Train", "--fail",
                 "-b", "LocalSageMaker")
    assert r.code == 12
    assert "RuntimeError: asked to fail" in r.err  # the container's log, streamed
    assert re.fullmatch(rf"dsdt: error: SageMaker training job {JOB_NAME} \(run locally\) "
                        rf"failed in {IMAGE}-sagemaker:latest \(exit 1: a task failed\): "
                        r".*asked to fail.*", r.err.splitlines()[-1]), r.err


def test_local_sagemaker_failure_without_a_log_keeps_its_end(
        sagemaker_image: ImageInfo, package: Path, ctx: str, tmp_path: Path) -> None:
    api.remote(ctx, "shared", str(tmp_path))
    with pytest.raises(ContainerError, match=r"exit 1: a task failed\): .*asked to fail.*"
                                             r"; its last lines:\n"):
        api.run(ctx, None, package, "churn.tasks.Train", {"fail": True},
                backend="LocalSageMaker")


def test_local_sagemaker_of_an_image_never_built(ctx: str, tmp_path: Path,
                                                 docker_client: Any) -> None:
    pkg = write_package(tmp_path / "other", name="dsdt_never_built")
    with pytest.raises(ContainerError, match=r"^no image dsdt-never-built-sagemaker:latest "
                                             r"here: build it with dsdt dockerize --sagemaker"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {}, no_pull=True, no_push=True,
                backend="LocalSageMaker")


# --- AWS Batch, run by moto with this engine ---------------------------------------------


def test_batch_runs_the_image(image: ImageInfo, package: Path, project: Path,
                              local_registry: str, base_image: str, batch_queue: str,
                              s3_bucket: tuple[str, str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_DOCKER_NETWORK_MODE", "host")  # the job reaches moto on loopback
    bucket, _ = s3_bucket
    _settings(project, registry=f"{local_registry}/batch", batch_queue=batch_queue)
    api.build_image(package, base_image=base_image, push=True)
    api.context("t")
    api.remote("t", "shared", f"s3://{bucket}/dsdt")
    only_def = json.loads(api.run("t", None, package, "churn.tasks.Train", {}, no_submit=True,
                                  backend="AWSBatch", vcpus=1, memory=512))
    assert "job_id" not in only_def and only_def["registered"]
    out = json.loads(api.run("t", None, package, "churn.tasks.Train", {"day": "2026-11-07"},
                             backend="AWSBatch", vcpus=1, memory=512, wait=True))
    assert out["status"] == "SUCCEEDED" and not out["registered"]
    import boto3

    [job] = boto3.client("batch").describe_jobs(jobs=[out["job_id"]])["jobs"]
    assert job["container"]["command"] == out["arguments"]  # the one argument list
    assert out["pulled"] and out["output_uuid"] == out["requested_uuid"]
    assert api.get("t", None, uuid=out["output_uuid"]).data["day"] == "2026-11-07"
    r = ok("run", "-c", "t", str(package), "churn.tasks.Train", "--day", "2026-11-08",
           "-b", "AWSBatch", "--vcpus", "1", "--memory", "512", "--wait", "--timeout", "600")
    made = api.get("t", "Train").uuid
    assert re.fullmatch(rf"AWS Batch job \S+ SUCCEEDED: made bundle Train {made} \(pulled\)\n",
                        r.out), r.out
    with pytest.raises(ContainerError, match=r"AWS Batch job .* failed"):
        api.run("t", None, package, "churn.tasks.Train", {"fail": True}, backend="AWSBatch",
                vcpus=1, memory=512, wait=True)


def test_image_credentials_are_not_baked_in(image: ImageInfo, docker_client: Any) -> None:
    env = docker_client.images.get(image.tag).attrs["Config"]["Env"]
    assert not any(e.startswith("AWS_") for e in env)
