"""``config.yaml``: the repository's settings and format version.

Unknown keys and values of the wrong type are errors (typos should not be
silently ignored), and a ``format_version`` this dsdt does not know stops
every command before it touches anything.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dsdt._fs import read_regular
from dsdt.errors import FormatVersionError, UsageError
from dsdt.objects.record import load_yaml

MAX_CONFIG_BYTES = 1 << 20
_MAX_LOCK_TIMEOUT = 3600  # seconds: a checked-in config cannot make dsdt wait for ever
_MAX_GRACE = 365 * 86400

FORMAT_VERSION = 1

#: Values of ``code_version``.
CODE_VERSIONS = ("task", "repo", "never")


@dataclass(frozen=True)
class ContainerSettings:
    """The ``containers:`` section: how ``dockerize`` and ``run`` build and run images.

    Attributes:
        base_image: Image the pipeline image starts from; ``None`` is the
            official slim Python image of the running Python's minor version.
        registry: ``HOST[:PORT][/PREFIX]`` images are pushed to and run from;
            an ECR host (``<account>.dkr.ecr.<region>.amazonaws.com``) is
            handled through boto3 (repository creation, login token).
        registry_endpoint: Push to this ``HOST[:PORT]`` instead of the
            registry's own host (a mirror, or a local registry in tests).
        batch_queue: AWS Batch job queue for ``run --backend AWSBatch``.
        job_role_arn: IAM role of Batch jobs (else short-lived session
            credentials are passed to the job).
        sagemaker_role_arn: IAM role of SageMaker training jobs.
        sagemaker_instance_type: Instance type of SageMaker training jobs.
        sagemaker_instance_count: Instances per SageMaker training job.
        sagemaker_volume_gb: Volume size of SageMaker training jobs.
        sagemaker_max_runtime: Seconds before SageMaker stops a training job.
        sagemaker_output: ``s3://`` URI SageMaker writes ``/opt/ml/model`` to;
            ``None`` is ``<remote>/sagemaker`` for an S3 remote.
    """

    base_image: str | None = None
    registry: str | None = None
    registry_endpoint: str | None = None
    batch_queue: str | None = None
    job_role_arn: str | None = None
    sagemaker_role_arn: str | None = None
    sagemaker_instance_type: str = "ml.m5.large"
    sagemaker_instance_count: int = 1
    sagemaker_volume_gb: int = 30
    sagemaker_max_runtime: int = 86400
    sagemaker_output: str | None = None

    @classmethod
    def load(cls, data: Any, where: str) -> ContainerSettings:
        """Validate the ``containers:`` mapping (``None`` gives the defaults)."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise UsageError(f"{where}: containers must be a mapping of settings")
        known = {f.name: f for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise UsageError(f"{where}: unknown containers setting {_shown(key)} "
                                 f"(known: {', '.join(known)})")
            kind = known[key].type  # a string: annotations are postponed
            if kind == "int":
                ok = type(value) is int and value > 0
            else:
                ok = (value is None and kind != "str") or (isinstance(value, str)
                                                           and value.strip() != "")
            if not ok:
                raise UsageError(f"{where}: bad value {_shown(value)} for containers.{key}")
        return cls(**data)


@dataclass(frozen=True)
class Config:
    """Repository settings (see ``docs/format.md`` for each key).

    Attributes:
        format_version: Version of the on-disk format.
        uncommitted_history: Keep at most this many *older* uncommitted bundles
            of a name in a context besides the newest one; ``None`` keeps all.
        follow_symlinks: When adding a directory, store what symlinks pointing
            outside it point to instead of refusing them.
        lock_timeout: Seconds to wait for another process's lock.
        s3_endpoint_url: Endpoint of an S3-compatible store (MinIO, Ceph...);
            ``null`` uses AWS (or boto3's ``AWS_ENDPOINT_URL``). Never credentials.
        gc_after_rm: Run gc after every ``rm`` (``rm`` itself only moves refs).
        remote_gc_grace: Remote gc keeps unreferenced objects younger than this
            many seconds (they may belong to a push in flight).
        code_version: When a code change re-runs a pipeline task: ``task``
            (the task class's source changed), ``repo`` (the project's git
            commit differs from the recorded one, or the work tree is dirty)
            or ``never``.
        containers: Settings of ``dockerize`` and ``run``.
    """

    format_version: int = FORMAT_VERSION
    uncommitted_history: int | None = None
    follow_symlinks: bool = False
    lock_timeout: float = 30.0
    s3_endpoint_url: str | None = None
    gc_after_rm: bool = False
    remote_gc_grace: float = 3600.0
    code_version: str = "task"
    containers: ContainerSettings = ContainerSettings()

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read and validate ``config.yaml``."""
        return cls.parse(read_config_bytes(path), path)

    @classmethod
    def parse(cls, raw: bytes, path: Path) -> Config:
        """Validate the bytes of ``config.yaml`` (read from ``path``, named in errors).

        Raises:
            CorruptObjectError: It is not YAML, or too deeply nested.
            FormatVersionError: Its ``format_version`` is not this dsdt's.
            UsageError: An unknown key, or a value of the wrong type or out of range.
        """
        return cls.from_data(load_yaml(raw, str(path)), path)

    @classmethod
    def from_data(cls, data: Any, path: Path) -> Config:
        """Validate parsed ``config.yaml`` data (``None`` is an empty file)."""
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise UsageError(f"{path} must be a mapping of settings")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise FormatVersionError(
                f"{path} has format_version {_shown(version)}; this dsdt reads format "
                f"{FORMAT_VERSION}. "
                "Upgrade dsdt (or fix the file)"
            )
        known = {f.name: f for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise UsageError(f"{path}: unknown setting {_shown(key)} "
                                 f"(known: {', '.join(known)})")
            if key != "containers":
                _check_type(path, key, value)
        return cls(**{**data, "containers": ContainerSettings.load(data.get("containers"),
                                                                   str(path))})


def read_config_bytes(path: Path) -> bytes:
    """The bytes of ``config.yaml``: a regular file (never a symlink) of at most 1 MiB."""
    return read_regular(path, MAX_CONFIG_BYTES)


def _check_type(path: Path, key: str, value: Any) -> None:
    ok = {
        "format_version": isinstance(value, int),
        "uncommitted_history": value is None or (type(value) is int and value >= 0),
        "follow_symlinks": isinstance(value, bool),
        "lock_timeout": type(value) in (int, float) and 0 < value <= _MAX_LOCK_TIMEOUT,
        "s3_endpoint_url": value is None or (isinstance(value, str) and "://" in value),
        "gc_after_rm": isinstance(value, bool),
        "remote_gc_grace": type(value) in (int, float) and 0 <= value <= _MAX_GRACE,
        "code_version": value in CODE_VERSIONS,
    }[key]
    if not ok:
        raise UsageError(f"{path}: bad value {_shown(value)} for {key}")


def _shown(value: Any) -> str:
    """A short repr of a value from the file (an int of any size included)."""
    if type(value) is int and value.bit_length() > 64:
        return f"(an integer of {value.bit_length()} bits)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
