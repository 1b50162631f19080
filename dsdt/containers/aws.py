"""Run a dockerized pipeline on AWS Batch or as a SageMaker training job.

boto3 is imported on first use. Region, credentials and endpoints come from
boto3's usual sources (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_BATCH``...); nothing is hard-coded
and no credential is ever logged.
"""

from __future__ import annotations

import contextlib
import getpass
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from dsdt.config import ContainerSettings
from dsdt.containers.protocol import hyperparameters
from dsdt.errors import ContainerError, StillRunningError, UsageError

_DONE = ("SUCCEEDED", "FAILED")
_SAGEMAKER_DONE = ("Completed", "Failed", "Stopped")
#: How long ``--wait`` waits for a job that has no time limit of its own (24 h).
DEFAULT_WAIT = 86400.0
#: SageMaker's time to get instances and the image, on top of the job's MaxRuntime.
SAGEMAKER_STARTUP = 3600.0


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn botocore errors into :class:`ContainerError` naming ``what`` and a way out."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        yield
    except NoCredentialsError as e:
        raise ContainerError(f"{what}: no AWS credentials found: set AWS_PROFILE, or "
                             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "
                             "'aws configure' / 'aws sso login'") from e
    except NoRegionError as e:
        raise ContainerError(f"{what}: no AWS region set; set AWS_DEFAULT_REGION "
                             "or a region in the AWS config file") from e
    except ClientError as e:
        raise ContainerError(f"{what} failed: {e}; check the IAM permissions and the "
                             "containers: settings in .dsdt/config.yaml") from e
    except BotoCoreError as e:
        raise ContainerError(f"{what} failed: {e}; check the network and the AWS "
                             "endpoint settings") from e


def new_session() -> Any:
    """A new boto3 session: the environment is read now, not when boto3 first ran."""
    import boto3.session

    with aws_errors("setting up AWS access"):
        return boto3.session.Session()


def aws_client(session: Any, service: str, region: str | None = None) -> Any:
    """A client of ``service`` (in ``region``, else the session's)."""
    with aws_errors(f"setting up the AWS {service} client"):
        return session.client(service, region_name=region)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry
        return "user"


def job_definition_name(image_name: str) -> str:
    """The Batch job definition name ``dsdt-<image_name>-<user>`` (letters, digits, ``-_``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"dsdt-{image_name}-{_user()}")[:128]


def _job_name(image_name: str) -> str:
    """A Batch job name: ``<image_name>-<8 hex>``, alphanumeric first, at most 128 chars."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", image_name).lstrip("-_")[:119] or "dsdt"
    return f"{base}-{secrets.token_hex(4)}"


def _same_number(value: Any, expected: int) -> bool:
    return str(value).removesuffix(".0") == str(expected)


def _matches(definition: dict[str, Any], image: str, vcpus: int, memory: int,
             role: str | None) -> bool:
    """Whether a described job definition runs ``image`` with these resources and role."""
    props = definition.get("containerProperties") or {}
    reqs = {r.get("type"): r.get("value") for r in props.get("resourceRequirements") or []}
    return (definition.get("type") == "container" and props.get("image") == image
            and _same_number(reqs.get("VCPU", props.get("vcpus")), vcpus)
            and _same_number(reqs.get("MEMORY", props.get("memory")), memory)
            and (props.get("jobRoleArn") or None) == role)


def _job_definition(batch: Any, name: str, image: str, vcpus: int, memory: int,
                    role: str | None) -> tuple[str, bool]:
    """The ARN of a matching ACTIVE job definition (newest first), registering one if none."""
    with aws_errors(f"listing AWS Batch job definitions {name}"):
        pages = batch.get_paginator("describe_job_definitions").paginate(
            jobDefinitionName=name, status="ACTIVE")
        found = [d for page in pages for d in page.get("jobDefinitions", [])]
    for definition in sorted(found, key=lambda d: d.get("revision", 0), reverse=True):
        if _matches(definition, image, vcpus, memory, role):
            return definition["jobDefinitionArn"], False
    props: dict[str, Any] = {
        "image": image,
        "resourceRequirements": [{"type": "VCPU", "value": str(vcpus)},
                                 {"type": "MEMORY", "value": str(memory)}],
        "command": [],
    }
    if role:
        props["jobRoleArn"] = role
    with aws_errors(f"registering AWS Batch job definition {name}"):
        reply = batch.register_job_definition(jobDefinitionName=name, type="container",
                                              containerProperties=props)
    return reply["jobDefinitionArn"], True


def _job_environment(session: Any, environment: dict[str, str] | None, role: str | None,
                     duration: int) -> list[dict[str, str]]:
    """The job's variables; session credentials when it has no role (``environment`` wins)."""
    env: dict[str, str] = {}
    if not role and duration > 0:
        with aws_errors("getting session credentials for the job (give the job a role "
                         "with containers.job_role_arn, or pass a token duration of 0)"):
            reply = aws_client(session, "sts").get_session_token(DurationSeconds=duration)
        creds = reply["Credentials"]
        env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
               "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
               "AWS_SESSION_TOKEN": creds["SessionToken"]}
    env.update(environment or {})
    return [{"name": k, "value": v} for k, v in env.items()]


def _describe_job(batch: Any, job_id: str) -> dict[str, Any]:
    with aws_errors(f"describing AWS Batch job {job_id}"):
        jobs = batch.describe_jobs(jobs=[job_id]).get("jobs", [])
    if not jobs:
        raise ContainerError(f"AWS Batch does not know job {job_id}; check the region and "
                             "the endpoint settings")
    return jobs[0]


def _failure(job: dict[str, Any]) -> dict[str, Any]:
    """``reason`` (and ``exit_code`` when known) of a FAILED job."""
    box = job.get("container") or {}
    code = box.get("exitCode")
    parts = [p for p in (job.get("statusReason"), box.get("reason")) if p]
    parts += [f"exit code {code}"] if code is not None else []
    parts = list(dict.fromkeys(parts)) or ["AWS Batch gave no reason"]
    stream = box.get("logStreamName")
    parts += [f"see log stream {stream} in CloudWatch log group /aws/batch/job"] if stream else []
    reason = "; ".join(parts)
    return {"reason": reason, **({"exit_code": code} if code is not None else {})}


def _poll(describe: Callable[[], tuple[str, dict[str, Any]]], done: tuple[str, ...],
          what: str, poll_seconds: float, timeout: float, follow: str,
          log: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    """Call ``describe`` until its status is in ``done``, for at most ``timeout`` seconds.

    Raises:
        StillRunningError: The job is not done after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status, job = describe()
        if status != last:
            log(f"{what}: {status}")
            last = status
        if status in done:
            return status, job
        left = deadline - time.monotonic()
        if left <= 0:
            raise StillRunningError(
                f"{what} is still {status} after {timeout:g} s; it goes on and pushes its "
                f"outputs to the remote (nothing is lost): follow it with '{follow}', then "
                "dsdt pull")
        time.sleep(min(poll_seconds, left))


def _job_timeout(job: dict[str, Any]) -> float:
    """The job's own time limit (``attemptDurationSeconds``), else :data:`DEFAULT_WAIT`."""
    seconds = (job.get("timeout") or {}).get("attemptDurationSeconds")
    return float(seconds) if seconds else DEFAULT_WAIT


def _wait(batch: Any, job_id: str, poll_seconds: float, timeout: float | None,
          log: Callable[[str], None]) -> dict[str, Any]:
    """Poll the job until it SUCCEEDED or FAILED; ``status`` (and the failure) of it.

    ``timeout`` None: the job's own timeout, else :data:`DEFAULT_WAIT`.
    """
    if timeout is None:
        timeout = _job_timeout(_describe_job(batch, job_id))

    def describe() -> tuple[str, dict[str, Any]]:
        job = _describe_job(batch, job_id)
        return str(job.get("status")), job

    status, job = _poll(describe, _DONE, f"AWS Batch job {job_id}", poll_seconds, timeout,
                        f"aws batch describe-jobs --jobs {job_id}", log)
    return {"status": status, **(_failure(job) if status == "FAILED" else {})}


def _check_batch(args: list[str], vcpus: int, memory: int, duration: int,
                 has_queue: bool) -> None:
    if type(vcpus) is not int or vcpus < 1:
        raise UsageError(f"vcpus must be a whole number >= 1, not {vcpus!r}")
    if type(memory) is not int or memory < 4:
        raise UsageError(f"memory must be a whole number of MiB >= 4, not {memory!r}")
    if duration and not 900 <= duration <= 129600:
        raise UsageError(f"session_token_duration {duration} is outside 900..129600 "
                         "seconds; pick a value in range, or 0 to pass no credentials")
    if not all(isinstance(a, str) for a in args):
        raise UsageError("the container arguments must all be strings")
    if not has_queue:
        raise UsageError("no AWS Batch job queue configured; set containers.batch_queue "
                         "in .dsdt/config.yaml")


def batch_run(image: str, args: list[str], *, image_name: str, settings: ContainerSettings,
              vcpus: int = 2, memory: int = 4000, job_role_arn: str | None = None,
              environment: dict[str, str] | None = None, no_submit: bool = False,
              wait: bool = False, session_token_duration: int = 42300,
              poll_seconds: float = 5.0, timeout: float | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``image`` with ``args`` as an AWS Batch job.

    The job definition ``dsdt-<image_name>-<user>`` is reused when its newest
    matching ACTIVE revision has the same image, vCPUs, memory and role, and
    registered (a new revision) otherwise.

    Args:
        image: Full image reference the job runs (pushed where Batch can pull it).
        args: The container's command (the entrypoint's arguments).
        image_name: Short name of the image, used in the definition and job names.
        settings: The ``containers:`` settings (``batch_queue``, ``job_role_arn``).
        vcpus: vCPUs of the job (at least 1).
        memory: Memory of the job in MiB (at least 4).
        job_role_arn: IAM role of the job; ``None`` is ``settings.job_role_arn``.
        environment: Extra variables of the job.
        no_submit: Only make sure the job definition exists.
        wait: Wait until the job SUCCEEDED or FAILED.
        session_token_duration: Without a role, pass session credentials valid
            this many seconds to the job; 0 passes none.
        poll_seconds: Seconds between two status checks while waiting.
        timeout: Give up waiting after this many seconds (``None``: the job's
            own timeout, else 24 hours).
        log: Called with a line on each status change while waiting.

    Returns:
        ``job_definition`` (ARN), ``registered``; once submitted ``job_id``,
        ``job_name``, ``queue``; after waiting ``status`` and, for a FAILED
        job, ``reason`` (and ``exit_code`` when known).

    Raises:
        UsageError: Bad resources or arguments, or no queue configured.
        ContainerError: AWS refused a request.
        StillRunningError: The job still runs after ``timeout`` (it goes on).
    """
    queue = settings.batch_queue
    _check_batch(args, vcpus, memory, session_token_duration, bool(queue) or no_submit)
    role = job_role_arn or settings.job_role_arn
    session = new_session()
    batch = aws_client(session, "batch")
    arn, registered = _job_definition(batch, job_definition_name(image_name), image, vcpus,
                                      memory, role)
    result: dict[str, Any] = {"job_definition": arn, "registered": registered}
    if no_submit:
        return result
    overrides = {"command": list(args),
                 "environment": _job_environment(session, environment, role,
                                                 session_token_duration)}
    name = _job_name(image_name)
    with aws_errors(f"submitting AWS Batch job {name} to queue {queue}"):
        reply = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=arn,
                                 containerOverrides=overrides)
    result.update(job_id=reply["jobId"], job_name=name, queue=queue)
    if wait:
        result.update(_wait(batch, reply["jobId"], poll_seconds, timeout,
                            log or (lambda _line: None)))
    return result


def training_job_name(image_name: str) -> str:
    """A SageMaker training job name ``<image_name>-<UTC time>-<4 hex>`` (at most 63 chars)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    base = re.sub(r"[^A-Za-z0-9-]+", "-", image_name).strip("-")[:43].strip("-") or "dsdt"
    return f"{base}-{stamp}-{secrets.token_hex(2)}"


def _output_path(settings: ContainerSettings, remote: str | None) -> str:
    out = settings.sagemaker_output
    if out is None and remote and remote.startswith("s3://"):
        out = f"{remote.rstrip('/')}/sagemaker"
    if out is None:
        raise UsageError("SageMaker needs an s3:// output location; set "
                         "containers.sagemaker_output in .dsdt/config.yaml or use an S3 remote")
    if not out.startswith("s3://"):
        raise UsageError(f"containers.sagemaker_output {out!r} must be an s3:// URI")
    return out


def sagemaker_request(image: str, args: list[str], *, image_name: str,
                      settings: ContainerSettings, remote: str | None,
                      environment: dict[str, str] | None = None,
                      job_name: str | None = None) -> dict[str, Any]:
    """The keyword arguments of ``create_training_job`` (no AWS call).

    Args:
        image: Full image reference of the SageMaker variant of the image.
        args: The entrypoint's arguments, passed as hyperparameter ``arguments``.
        image_name: Short name of the image, the start of the job name.
        settings: The ``containers:`` settings.
        remote: The remote URL; an ``s3://`` one gives the default output path.
        environment: Variables of the training container.
        job_name: The training job name; ``None`` makes one (:func:`training_job_name`).

    Returns:
        The request, with ``OutputDataConfig.S3OutputPath`` the output location.

    Raises:
        UsageError: No role or output location, or arguments too long.
    """
    if not settings.sagemaker_role_arn:
        raise UsageError("SageMaker needs an IAM role; set containers.sagemaker_role_arn "
                         "in .dsdt/config.yaml")
    request: dict[str, Any] = {
        "TrainingJobName": job_name or training_job_name(image_name),
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": settings.sagemaker_role_arn,
        "HyperParameters": hyperparameters(args),
        "OutputDataConfig": {"S3OutputPath": _output_path(settings, remote)},
        "ResourceConfig": {"InstanceType": settings.sagemaker_instance_type,
                           "InstanceCount": settings.sagemaker_instance_count,
                           "VolumeSizeInGB": settings.sagemaker_volume_gb},
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.sagemaker_max_runtime},
    }
    if environment:
        request["Environment"] = dict(environment)
    return request


def sagemaker_run(image: str, args: list[str], *, image_name: str,
                  settings: ContainerSettings, remote: str | None,
                  environment: dict[str, str] | None = None, wait: bool = False,
                  poll_seconds: float = 30.0, timeout: float | None = None,
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Start a SageMaker training job running ``image``'s ``train`` with ``args``.

    Args:
        image, args, image_name, settings, remote, environment: As for
            :func:`sagemaker_request`.
        wait: Wait until the job is Completed, Failed or Stopped.
        poll_seconds: Seconds between two status checks while waiting.
        timeout: Give up waiting after this many seconds (``None``: the job's
            ``sagemaker_max_runtime`` plus an hour to start).
        log: Called with a line on each status change while waiting.

    Returns:
        ``training_job_name``, ``training_job_arn`` and ``output_path``; after
        waiting ``status`` and, unless Completed, ``reason``.

    Raises:
        UsageError: See :func:`sagemaker_request`.
        ContainerError: SageMaker refused the job.
        StillRunningError: The job still runs after ``timeout`` (it goes on).
    """
    request = sagemaker_request(image, args, image_name=image_name, settings=settings,
                                remote=remote, environment=environment)
    name = request["TrainingJobName"]
    client = aws_client(new_session(), "sagemaker")
    with aws_errors(f"creating SageMaker training job {name}"):
        reply = client.create_training_job(**request)
    out = {"training_job_name": name, "training_job_arn": reply["TrainingJobArn"],
           "output_path": request["OutputDataConfig"]["S3OutputPath"]}
    if wait:
        limit = timeout if timeout is not None else (
            request["StoppingCondition"]["MaxRuntimeInSeconds"] + SAGEMAKER_STARTUP)
        out.update(_wait_training(client, name, poll_seconds, limit,
                                  log or (lambda _line: None)))
    return out


def _wait_training(client: Any, name: str, poll_seconds: float, timeout: float,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """Poll a training job to its end: ``status`` and, unless Completed, ``reason``."""

    def describe() -> tuple[str, dict[str, Any]]:
        with aws_errors(f"describing SageMaker training job {name}"):
            job = client.describe_training_job(TrainingJobName=name)
        return str(job.get("TrainingJobStatus")), job

    status, job = _poll(describe, _SAGEMAKER_DONE, f"SageMaker training job {name}",
                        poll_seconds, timeout,
                        f"aws sagemaker describe-training-job --training-job-name {name}", log)
    if status == "Completed":
        return {"status": status}
    return {"status": status, "reason": job.get("FailureReason") or "SageMaker gave no reason"}
