"""The container part of the API façade: ``dockerize`` / ``build_image`` and ``run``.

The work happens in :mod:`dsdt.containers` (it needs the ``docker`` package and
luigi), imported on first use so that ``import dsdt.api`` stays light.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dsdt.config import ContainerSettings
from dsdt.errors import NotARepositoryError
from dsdt.repo import Repository

if TYPE_CHECKING:
    from dsdt.containers.dockerize import ImageInfo

PathLike = str | os.PathLike[str]


def _settings() -> ContainerSettings:
    """The ``containers:`` settings of the current repository (defaults outside one)."""
    try:
        return Repository.current().config.containers
    except NotARepositoryError:
        return ContainerSettings()


def build_image(setup_dir: PathLike, config_dir: PathLike | None = None, build: bool = True,
                push: bool = False, sagemaker: bool = False, *, base_image: str | None = None,
                output_dir: PathLike | None = None,
                log: Callable[[str], None] | None = None) -> ImageInfo:
    """Build the Docker image of a pipeline package; the richer form of :func:`dockerize`.

    The image holds a virtual environment with dsdt, the package and its
    dependencies, installed from wheels built on this machine (so the image
    build needs no network), and runs ``dsdt-container`` (or, with
    ``sagemaker``, SageMaker's ``train``). Settings come from the
    ``containers:`` section of the current repository's ``config.yaml``.

    Args:
        setup_dir: The package's directory (``pyproject.toml`` or ``setup.py``);
            the image is named after the package.
        config_dir: Optional directory with ``deb.txt`` (Debian packages),
            ``*.deb`` files and ``pip.conf`` (used while building the wheels).
        build: Build the image; False only writes the build context.
        push: Also push it to ``containers.registry`` (ECR included).
        sagemaker: Build the SageMaker variant, ``<name>-sagemaker``.
        base_image: Overrides ``containers.base_image`` (default: the official
            slim image of this Python's minor version).
        output_dir: Write the build context here and keep it (default: a
            temporary directory when building, else the dsdt cache).
        log: Receives progress lines (pip, the engine's build and push output).

    Returns:
        The image's name, tag, id, context directory and pushed reference.

    Raises:
        dsdt.errors.ContainerError: No engine, or the build or push failed.
        dsdt.errors.UsageError: Not a package, a bad config directory or registry.
    """
    from dsdt.containers.dockerize import dockerize as _dockerize

    return _dockerize(setup_dir, config_dir, _settings(), build=build, push=push,
                      sagemaker=sagemaker, base_image=base_image, output_dir=output_dir,
                      log=log or (lambda _: None))


def dockerize(setup_dir: PathLike, config_dir: PathLike | None = None, build: bool = True,
              push: bool = False, sagemaker: bool = False) -> int:
    """Create the Docker image of a pipeline package (see :func:`build_image`).

    Returns:
        0. Unlike Disdat, which returned 1, a failure raises a
        :class:`~dsdt.errors.DsdtError` that says what went wrong.
    """
    build_image(setup_dir, config_dir, build, push, sagemaker)
    return 0


def run(local_context: str | None, remote_context: str | None, setup_dir: PathLike,
        pipe_cls: str, pipeline_args: dict[str, Any] | list[str] | None,
        output_bundle: str = "-", remote: str | None = None, backend: str = "Local",
        input_tags: dict[str, str] | None = None, output_tags: dict[str, str] | None = None,
        force: bool = False, force_all: bool = False, no_pull: bool = False,
        no_push: bool = False, no_push_int: bool = False, vcpus: int = 2, memory: int = 4000,
        workers: int = 1, no_submit: bool = False, aws_session_token_duration: int = 42300,
        job_role_arn: str | None = None, *, wait: bool = False, timeout: float | None = None,
        log: Callable[[str], None] | None = None) -> str:
    """Run a pipeline in its image: locally, on AWS Batch or on SageMaker.

    The container binds ``remote_context`` on the remote to ``local_context``,
    pulls, runs ``apply`` and pushes its outputs (see ``dsdt-container``).
    ``Local`` runs the image with ``docker run`` as you, on the host's network,
    with your AWS settings passed through the engine (never baked into the
    image); then the output bundle's metadata is pulled into ``local_context``
    (which is bound to the remote first when it has no remote).
    ``LocalSageMaker`` runs the SageMaker image (``build_image(...,
    sagemaker=True)``) the same way, as a SageMaker training job would run
    it: ``train``, with the ``hyperparameters.json`` and environment the
    ``SageMaker`` backend sends, mounted at ``/opt/ml``; use it to test the
    image before it costs money.

    Args:
        local_context: The context the pipeline runs in (None: the current
            one); ``REMOTE/LOCAL`` also names the remote context.
        remote_context: The remote context (default: the one named in
            ``local_context``, else the bound one, else the local name).
        setup_dir: The package's directory (its image must be built).
        pipe_cls: ``pkg.mod.Class`` of the root task.
        pipeline_args: The root task's parameters, ``{name: value}`` or
            ``['--name', 'value', ...]``.
        output_bundle: Name of the root's output bundle.
        remote: Remote URL (default: the context's bound remote). A remote is
            required unless both ``no_pull`` and ``no_push``; AWS backends
            need an ``s3://`` one (``Local`` and ``LocalSageMaker`` mount a
            directory one).
        backend: ``Local``, ``AWSBatch``, ``LocalSageMaker`` or ``SageMaker``
            (any case).
        input_tags: Tags the input bundles must have.
        output_tags: Tags put on every output bundle.
        force: Re-run the root task.
        force_all: Re-run every task.
        no_pull: Do not pull before running.
        no_push: Do not push the outputs.
        no_push_int: Push only the root's bundle.
        vcpus: vCPUs of the Batch job.
        memory: MiB of memory of the Batch job.
        workers: Luigi workers.
        no_submit: ``AWSBatch``: only register (or find) the job definition.
        aws_session_token_duration: Seconds of the session credentials passed
            to a Batch job that has no job role (0: none).
        job_role_arn: IAM role of the Batch job (default ``containers.job_role_arn``).
        wait: ``AWSBatch`` and ``SageMaker``: follow the job to its end, then
            pull its output.
        timeout: Seconds ``wait`` waits at most (None: the Batch job's own
            timeout, else 24 h; SageMaker's ``sagemaker_max_runtime`` plus an
            hour). Past it a ``StillRunningError`` (exit 15) names the job,
            which goes on.
        log: Receives the container's log lines and job status changes (without
            it, a failed local run's last log lines are in the error).

    Returns:
        A JSON object (as a string): ``backend``, ``arguments`` (the
        entrypoint's), ``requested_uuid`` (the uuid asked of the root's
        bundle; a reused root keeps its own), ``output_uuid`` and ``pulled``
        (whether its metadata is now in ``local_context``), ``output_name``
        once pulled, and the backend's
        facts: the container's summary (``success``, ``did_work``), ``image``
        and ``exit_code`` for ``Local``, the same and ``training_job_name``
        for ``LocalSageMaker``; ``job_definition``, ``registered``,
        ``job_id``, ``job_name``, ``queue`` and with ``wait`` ``status`` for
        ``AWSBatch``; ``training_job_name``, ``training_job_arn``,
        ``output_path`` and with ``wait`` ``status`` for ``SageMaker``.

    Raises:
        dsdt.errors.UsageError: Bad backend, arguments (longer than SageMaker
            allows, for its backends), or no remote where one is needed.
        dsdt.errors.ContainerError: No engine, or the pipeline or job failed.
        dsdt.errors.StillRunningError: ``wait`` gave up after ``timeout``.
    """
    from dsdt.containers.run import run as _run

    out = _run(Repository.current(), local_context, remote_context, os.fspath(setup_dir),
               pipe_cls, pipeline_args,
               output_bundle=output_bundle, remote=remote, backend=backend,
               input_tags=input_tags, output_tags=output_tags, force=force,
               force_all=force_all, no_pull=no_pull, no_push=no_push, no_push_int=no_push_int,
               vcpus=vcpus, memory=memory, workers=workers, no_submit=no_submit,
               aws_session_token_duration=aws_session_token_duration,
               job_role_arn=job_role_arn, wait=wait, timeout=timeout, log=log)
    return json.dumps(out, sort_keys=True, default=str)
