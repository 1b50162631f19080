"""AWS Batch and SageMaker runs against a real moto server over HTTP.

Batch jobs really run: moto starts the job's image with the local Docker
engine (host networking, so the container reaches the loopback moto server).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import pytest

from dsdt.config import ContainerSettings
from dsdt.containers import aws
from dsdt.errors import ContainerError, UsageError

SM_ROLE = "arn:aws:iam::123456789012:role/dsdt-sagemaker"


def _uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def batch_settings(batch_queue: str) -> ContainerSettings:
    return ContainerSettings(batch_queue=batch_queue)


@pytest.fixture
def docker_image(base_image: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local base image moto runs the jobs of (host networking: moto is on loopback).

    ``base_image`` (tests/docker_fixtures.py) skips without Docker, and fails in CI.
    """
    monkeypatch.setenv("MOTO_DOCKER_NETWORK_MODE", "host")
    return base_image


def _definitions(name: str) -> list[dict]:
    import boto3

    reply = boto3.client("batch").describe_job_definitions(jobDefinitionName=name)
    return reply["jobDefinitions"]


# -- job definitions -----------------------------------------------------------------


def test_job_definition_registered_once_then_reused(batch_settings: ContainerSettings) -> None:
    name = f"img-{_uid()}"
    first = aws.batch_run("repo/img:1", ["x"], image_name=name, settings=batch_settings,
                          no_submit=True)
    assert first["registered"] is True
    assert set(first) == {"job_definition", "registered"}
    again = aws.batch_run("repo/img:1", ["x"], image_name=name, settings=batch_settings,
                          no_submit=True)
    assert again == {"job_definition": first["job_definition"], "registered": False}
    [definition] = _definitions(aws.job_definition_name(name))
    props = definition["containerProperties"]
    assert props["image"] == "repo/img:1"
    assert {r["type"]: r["value"] for r in props["resourceRequirements"]} == {
        "VCPU": "2", "MEMORY": "4000"}
    assert "jobRoleArn" not in props


def test_job_definition_new_revision_on_change(batch_settings: ContainerSettings) -> None:
    name = f"img-{_uid()}"
    role = "arn:aws:iam::123456789012:role/dsdt-job"

    def run(image: str = "repo/img:1", **kw: object) -> dict:
        return aws.batch_run(image, [], image_name=name, settings=batch_settings,
                             no_submit=True, **kw)

    arns = [run()["job_definition"]]
    for kw in ({"vcpus": 4}, {"memory": 8000}, {"image": "repo/img:2"},
               {"job_role_arn": role}):
        out = run(**kw)
        assert out["registered"] is True, kw
        arns.append(out["job_definition"])
    assert len(set(arns)) == 5
    assert [int(a.rsplit(":", 1)[1]) for a in arns] == [1, 2, 3, 4, 5]
    # Each earlier combination is found again among the ACTIVE revisions.
    assert run() == {"job_definition": arns[0], "registered": False}
    assert run(vcpus=4)["job_definition"] == arns[1]
    # The role comes from the settings too.
    with_role = replace(batch_settings, job_role_arn=role)
    out = aws.batch_run("repo/img:1", [], image_name=name, settings=with_role, no_submit=True)
    assert out == {"job_definition": arns[4], "registered": False}
    [latest] = [d for d in _definitions(aws.job_definition_name(name)) if d["revision"] == 5]
    assert latest["containerProperties"]["jobRoleArn"] == role


def test_job_definition_name_is_sanitised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.getpass, "getuser", lambda: "jane.doe@corp")
    name = aws.job_definition_name("my/pipe:v1" + "x" * 200)
    assert name.startswith("dsdt-my-pipe-v1xx")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", name)
    assert aws.job_definition_name("pipe") == "dsdt-pipe-jane-doe-corp"


def test_no_queue_is_a_usage_error(aws_env: str) -> None:
    with pytest.raises(UsageError, match=r"containers\.batch_queue"):
        aws.batch_run("img", [], image_name="p", settings=ContainerSettings())
    # Registering the definition alone needs no queue.
    out = aws.batch_run("img", [], image_name=f"p-{_uid()}", settings=ContainerSettings(),
                        no_submit=True)
    assert out["registered"] is True


@pytest.mark.parametrize(("kw", "match"), [
    ({"vcpus": 0}, "vcpus"), ({"vcpus": 1.5}, "vcpus"), ({"memory": 3}, "memory"),
])
def test_bad_resources_are_usage_errors(batch_settings: ContainerSettings, kw: dict,
                                        match: str) -> None:
    with pytest.raises(UsageError, match=match):
        aws.batch_run("img", [], image_name="p", settings=batch_settings, **kw)


def test_unknown_queue_is_a_container_error(batch_settings: ContainerSettings) -> None:
    settings = replace(batch_settings, batch_queue=f"missing-{_uid()}")
    with pytest.raises(ContainerError, match="submitting AWS Batch job"):
        aws.batch_run("img", ["a"], image_name=f"p-{_uid()}", settings=settings,
                      session_token_duration=0)


def test_bad_session_token_duration(batch_settings: ContainerSettings) -> None:
    with pytest.raises(UsageError, match="session_token_duration"):
        aws.batch_run("img", [], image_name=f"p-{_uid()}", settings=batch_settings,
                      session_token_duration=60)


# -- real jobs, run by moto with Docker -----------------------------------------------------


def _job_log(job_id: str) -> list[str]:
    """The lines the job printed, as moto stored them in CloudWatch Logs."""
    import boto3

    [job] = boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"]
    events = boto3.client("logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"])
    return [e["message"] for e in events["events"]]


def _run(image: str, code: str, settings: ContainerSettings, lines: list[str],
         **kw: object) -> dict:
    return aws.batch_run(image, ["python3", "-c", code], image_name=f"job-{_uid()}",
                         settings=settings, vcpus=1, memory=512, wait=True,
                         poll_seconds=0.5, timeout=120, log=lines.append, **kw)


@pytest.mark.docker
def test_job_succeeds(batch_settings: ContainerSettings, docker_image: str) -> None:
    lines: list[str] = []
    out = _run(docker_image, "import sys; print('hi', sys.argv[1:])", batch_settings, lines)
    assert out["status"] == "SUCCEEDED"
    assert "hi []" in _job_log(out["job_id"])  # the image really ran
    assert "reason" not in out
    assert out["queue"] == batch_settings.batch_queue
    assert re.fullmatch(r"job-[0-9a-f]{10}-[0-9a-f]{8}", out["job_name"])
    assert lines[-1] == f"AWS Batch job {out['job_id']}: SUCCEEDED"
    assert len(lines) == len(set(lines))  # one line per status change


@pytest.mark.docker
def test_job_fails_with_a_reason(batch_settings: ContainerSettings, docker_image: str) -> None:
    lines: list[str] = []
    code = "import sys; print('failing on purpose', file=sys.stderr); sys.exit(3)"
    out = _run(docker_image, code, batch_settings, lines)
    assert out["status"] == "FAILED"
    assert "failing on purpose" in _job_log(out["job_id"])
    # moto's describe_jobs drops the exit code and gives no statusReason: the
    # reason then points at the job's log stream (real Batch gives both).
    assert "exit code 3" in out["reason"] or "AWS Batch gave no reason" in out["reason"]
    assert f"/default/{out['job_id']} in CloudWatch log group /aws/batch/job" in out["reason"]
    assert lines[-1] == f"AWS Batch job {out['job_id']}: FAILED"


@pytest.mark.docker
def test_job_gets_environment_and_session_credentials(
        batch_settings: ContainerSettings, docker_image: str, aws_env: str) -> None:
    # Exit 0 only with the session credentials, the custom variable and the
    # moto server reachable at the endpoint passed in the environment.
    code = (
        "import os, sys, urllib.request, urllib.error\n"
        "e = os.environ\n"
        "ok = e.get('AWS_SESSION_TOKEN') and e.get('AWS_ACCESS_KEY_ID') not in (None, 'testing')"
        " and e.get('DSDT_TEST_VAR') == 'v 1'\n"
        "if not ok: print('missing variables'); sys.exit(4)\n"
        "try: urllib.request.urlopen(e['AWS_ENDPOINT_URL'] + '/moto-api/', timeout=10)\n"
        "except urllib.error.HTTPError: pass\n"
    )
    lines: list[str] = []
    out = _run(docker_image, code, batch_settings, lines,
               environment={"DSDT_TEST_VAR": "v 1", "AWS_ENDPOINT_URL": aws_env})
    assert out["status"] == "SUCCEEDED", out
    # A job role replaces the session credentials: the same check then fails.
    out = _run(docker_image, code, batch_settings, lines,
               environment={"DSDT_TEST_VAR": "v 1", "AWS_ENDPOINT_URL": aws_env},
               job_role_arn="arn:aws:iam::123456789012:role/dsdt-job")
    assert out["status"] == "FAILED"
    assert _job_log(out["job_id"]) == ["missing variables"]
    assert not any("testing" in line or "SESSION" in line for line in lines)


@pytest.mark.docker
def test_wait_timeout_names_the_job(batch_settings: ContainerSettings,
                                    docker_image: str) -> None:
    with pytest.raises(ContainerError, match=r"still \w+ after 0\.5 s.*describe-jobs") as info:
        aws.batch_run(docker_image, ["python3", "-c", "import time; time.sleep(3)"],
                      image_name=f"slow-{_uid()}", settings=batch_settings, vcpus=1,
                      memory=512, wait=True, poll_seconds=0.2, timeout=0.5)
    job_id = re.search(r"job (\S+) is still", str(info.value)).group(1)
    # Let the job finish so that no container outlives the test.
    import boto3

    batch = boto3.client("batch")
    out = aws._wait(batch, job_id, 0.5, 60, lambda _line: None)
    assert out["status"] == "SUCCEEDED"


# -- SageMaker ------------------------------------------------------------------------------


def _sm_settings(**kw: object) -> ContainerSettings:
    return ContainerSettings(sagemaker_role_arn=SM_ROLE, **kw)


def test_sagemaker_request_payload() -> None:
    args = ["--context", "r/l", "pkg.Mod", "--x=1"]
    settings = _sm_settings(sagemaker_instance_type="ml.c5.xlarge", sagemaker_instance_count=2,
                            sagemaker_volume_gb=50, sagemaker_max_runtime=3600)
    req = aws.sagemaker_request("acct/img:1", args, image_name="img", settings=settings,
                                remote="s3://bucket/pre/", environment={"A": "1"},
                                job_name="fixed")
    assert req == {
        "TrainingJobName": "fixed",
        "AlgorithmSpecification": {"TrainingImage": "acct/img:1", "TrainingInputMode": "File"},
        "RoleArn": SM_ROLE,
        "HyperParameters": {"arguments": json.dumps(args)},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/pre/sagemaker"},
        "ResourceConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2,
                           "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"A": "1"},
    }
    assert json.loads(req["HyperParameters"]["arguments"]) == args
    # The configured output wins over the remote's; no environment, no key.
    req = aws.sagemaker_request("i", [], image_name="img", remote="s3://b",
                                settings=_sm_settings(sagemaker_output="s3://out/x"))
    assert req["OutputDataConfig"] == {"S3OutputPath": "s3://out/x"}
    assert "Environment" not in req


def test_training_job_name() -> None:
    name = aws.training_job_name("--My_pipe.v2/" + "x" * 80 + "-")
    assert re.fullmatch(r"[A-Za-z0-9](-*[A-Za-z0-9]){0,62}", name), name
    assert name.startswith("My-pipe-v2-xxx")
    assert re.search(r"-\d{14}-[0-9a-f]{4}$", name)
    assert re.fullmatch(r"p-\d{14}-[0-9a-f]{4}", aws.training_job_name("p"))


def test_sagemaker_run_on_moto(aws_env: str) -> None:
    import boto3

    args = ["--context", "r/l", "pkg.Mod"]
    out = aws.sagemaker_run("acct/img:1", args, image_name=f"img-{_uid()}",
                            settings=_sm_settings(), remote="s3://bucket",
                            environment={"A": "1"})
    assert out["output_path"] == "s3://bucket/sagemaker"
    job = boto3.client("sagemaker").describe_training_job(
        TrainingJobName=out["training_job_name"])
    assert job["TrainingJobArn"] == out["training_job_arn"]
    assert job["HyperParameters"] == {"arguments": json.dumps(args)}
    assert job["AlgorithmSpecification"]["TrainingImage"] == "acct/img:1"
    assert job["RoleArn"] == SM_ROLE
    assert job["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                     "VolumeSizeInGB": 30}
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://bucket/sagemaker"


def test_sagemaker_arguments_too_long() -> None:
    with pytest.raises(UsageError, match="fewer tags or parameters"):
        aws.sagemaker_request("i", ["--output-tag", "k:" + "v" * 2500], image_name="p",
                              settings=_sm_settings(), remote="s3://b")


def test_sagemaker_needs_a_role() -> None:
    with pytest.raises(UsageError, match=r"containers\.sagemaker_role_arn"):
        aws.sagemaker_run("i", [], image_name="p", settings=ContainerSettings(),
                          remote="s3://b")


@pytest.mark.parametrize("remote", [None, "/data/remote", "file:///r"])
def test_sagemaker_needs_an_s3_output(remote: str | None) -> None:
    with pytest.raises(UsageError, match=r"containers\.sagemaker_output"):
        aws.sagemaker_run("i", [], image_name="p", settings=_sm_settings(), remote=remote)
    with pytest.raises(UsageError, match="must be an s3:// URI"):
        aws.sagemaker_request("i", [], image_name="p", remote=remote,
                              settings=_sm_settings(sagemaker_output="/local/out"))


def test_no_credentials_is_a_container_error(aws_env: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ContainerError, match="no AWS credentials"):
        aws.sagemaker_run("i", [], image_name="p", settings=_sm_settings(), remote="s3://b")
