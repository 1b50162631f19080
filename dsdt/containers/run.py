"""``run``: execute a dockerized pipeline locally, on AWS Batch or on SageMaker.

Every backend hands the image the same argument list
(:func:`dsdt.containers.protocol.make_args`). The outputs travel through the
remote: the container pushes them, and ``run`` pulls the output bundle's
metadata into the local context when the run ends here (``Local``,
``LocalSageMaker``, or ``AWSBatch`` and ``SageMaker`` with ``wait``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dsdt.config import ContainerSettings
from dsdt.containers import registry
from dsdt.containers.dockerize import pipeline_image_name
from dsdt.containers.local import run_local
from dsdt.containers.local_sagemaker import run_local_sagemaker
from dsdt.containers.project import project_dir
from dsdt.containers.protocol import make_args, task_tokens
from dsdt.errors import ContainerError, NoRemoteError, UsageError
from dsdt.objects.ids import new_uuid
from dsdt.ops import query, remote
from dsdt.pipe.params import parse_task_params
from dsdt.refs.names import split_context
from dsdt.remote.open import canonical_url
from dsdt.repo import Repository

BACKENDS = ("Local", "AWSBatch", "LocalSageMaker", "SageMaker")
#: Backends that run the image on this machine's engine (and can mount a directory remote).
LOCAL_BACKENDS = ("Local", "LocalSageMaker")
#: Environment every backend's container gets: where AWS is (not who you are).
ENDPOINT_VARS = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def backend_name(backend: str) -> str:
    """The canonical spelling of ``backend`` (case-insensitive).

    Raises:
        dsdt.errors.UsageError: An unknown backend.
    """
    for name in BACKENDS:
        if backend.lower() == name.lower():
            return name
    raise UsageError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")


def run(repo: Repository, local_context: str | None, remote_context: str | None,
        setup_dir: str,
        pipe_cls: str, pipeline_args: dict[str, Any] | list[str] | None, *,
        output_bundle: str = "-", remote: str | None = None, backend: str = "Local",
        input_tags: dict[str, str] | None = None, output_tags: dict[str, str] | None = None,
        force: bool = False, force_all: bool = False, no_pull: bool = False,
        no_push: bool = False, no_push_int: bool = False, vcpus: int = 2, memory: int = 4000,
        workers: int = 1, no_submit: bool = False, aws_session_token_duration: int = 42300,
        job_role_arn: str | None = None, wait: bool = False, timeout: float | None = None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``pipe_cls`` in the package's image (in ``repo``); see :func:`dsdt.api.run`."""
    backend = backend_name(backend)
    ctx = repo.resolve_context(local_context)
    meta = repo.context_meta(ctx)
    url = canonical_url(remote) if remote else meta.get("remote_url")
    named_rctx = split_context(local_context)[0] if local_context else None
    rctx = remote_context or named_rctx or meta.get("remote_context") or ctx
    _check_remote(backend, url, no_pull, no_push)
    if workers < 1:
        raise UsageError(f"workers must be >= 1, not {workers}")
    if timeout is not None and not timeout > 0:
        raise UsageError(f"timeout must be a number of seconds > 0, not {timeout!r}")
    if timeout is not None and not wait:
        raise UsageError("--timeout applies only with --wait (how long to wait for the job)")
    path = project_dir(setup_dir)
    uuid = new_uuid()
    args = make_args(pipe_cls, _task_args(path, pipe_cls, pipeline_args),
                     context=f"{rctx}/{ctx}", remote=url, output_bundle=output_bundle,
                     output_bundle_uuid=uuid, workers=workers, force=force,
                     force_all=force_all, input_tags=input_tags, output_tags=output_tags,
                     no_pull=no_pull, no_push=no_push, no_push_intermediates=no_push_int)
    env = {k: os.environ[k] for k in ENDPOINT_VARS if os.environ.get(k)}
    if repo.config.s3_endpoint_url:
        env["AWS_ENDPOINT_URL_S3"] = repo.config.s3_endpoint_url
    settings = repo.config.containers
    say = log or (lambda _: None)
    if backend == "Local":
        out = run_local(pipeline_image_name(path), args, url, env, settings, log)
    elif backend == "LocalSageMaker":
        out = run_local_sagemaker(pipeline_image_name(path, sagemaker=True), args, url, env,
                                  settings, log)
    elif backend == "AWSBatch":
        out = _run_batch(pipeline_image_name(path), args, env, settings, vcpus=vcpus,
                         memory=memory, job_role_arn=job_role_arn, no_submit=no_submit,
                         wait=wait, timeout=timeout,
                         session_token_duration=aws_session_token_duration, log=say)
    else:
        out = _run_sagemaker(pipeline_image_name(path, sagemaker=True), args, env, settings,
                             remote=url, wait=wait, timeout=timeout, log=say)
    out.update(backend=backend, requested_uuid=uuid, arguments=args)
    finished = out.get("success") or out.get("status") in ("SUCCEEDED", "Completed")
    out["pulled"] = bool(url and finished and not no_push) and _pull_output(repo, ctx, rctx,
                                                                           url, out, say)
    return out


def _run_batch(name: str, args: list[str], env: dict[str, str], settings: ContainerSettings,
               **kw: Any) -> dict[str, Any]:
    from dsdt.containers.aws import batch_run

    out = batch_run(registry.target(settings, name).reference, args, image_name=name,
                    settings=settings, environment=env, **kw)
    if out.get("status") == "FAILED":
        raise ContainerError(f"AWS Batch job {out['job_id']} failed: "
                             f"{out.get('reason') or 'no reason given'}")
    return out


def _run_sagemaker(name: str, args: list[str], env: dict[str, str],
                   settings: ContainerSettings, **kw: Any) -> dict[str, Any]:
    from dsdt.containers.aws import sagemaker_run

    out = sagemaker_run(registry.target(settings, name).reference, args, image_name=name,
                        settings=settings, environment=env, **kw)
    if out.get("status") in ("Failed", "Stopped"):
        raise ContainerError(f"SageMaker training job {out['training_job_name']} "
                             f"{out['status'].lower()}: {out['reason']}")
    return out


def _check_remote(backend: str, url: str | None, no_pull: bool, no_push: bool) -> None:
    if url is None and not (no_pull and no_push):
        raise NoRemoteError("run needs a remote to bring the outputs back: bind one to the "
                         "context (dsdt remote) or pass a remote; or pass no_push and "
                         "no_pull to run without one")
    if backend not in LOCAL_BACKENDS and url is not None and not url.startswith("s3://"):
        raise UsageError(f"{backend} jobs cannot reach the directory remote {url}: use an "
                         "s3:// remote")


def _task_args(path: Path, pipe_cls: str,
               pipeline_args: dict[str, Any] | list[str] | None) -> list[str]:
    """The root task's parameters as ``--name=value`` tokens.

    The class is imported here (from ``setup_dir`` or its ``src/``) to check
    the parameters and render them with luigi's own serialisers; the modules
    imported from the package are forgotten afterwards, so an edited task is
    read afresh next time. A module that imports something this host lacks is
    left for the image to check.
    """
    mod_name, _, cls_name = pipe_cls.rpartition(".")
    if not mod_name or not cls_name.isidentifier():
        raise UsageError(f"pipe class {pipe_cls!r} must be PKG.MOD.CLASS")
    with _package_imports(path):
        try:
            cls = getattr(importlib.import_module(mod_name), cls_name, None)
        except ImportError as e:
            if isinstance(e, ModuleNotFoundError) and e.name and (
                    mod_name == e.name or mod_name.startswith(e.name + ".")):
                raise UsageError(f"cannot import pipe class {pipe_cls!r}: no module "
                                 f"{e.name!r} in {path} (or installed)") from None
            return task_tokens(pipeline_args)
        if not isinstance(cls, type) or not hasattr(cls, "get_params"):
            raise UsageError(f"{mod_name} has no luigi task class {cls_name!r}")
        params = dict(cls.get_params())
        if not isinstance(pipeline_args, dict):
            parse_task_params(cls, task_tokens(pipeline_args))  # raises on a bad name or value
            return task_tokens(pipeline_args)
        unknown = sorted(k for k in pipeline_args if k.replace("-", "_") not in params)
        if unknown:
            raise UsageError(f"{cls_name} has no parameter {', '.join(unknown)}")
        return task_tokens(pipeline_args, lambda name, v: params[name].serialize(v))


@contextmanager
def _package_imports(path: Path) -> Iterator[None]:
    """Make the package importable; afterwards drop what was imported from it."""
    roots = [p for p in (path, path / "src") if p.is_dir()]
    added = [str(p) for p in roots if str(p) not in sys.path]
    before = set(sys.modules)
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            sys.path.remove(p)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if any(Path(file).is_relative_to(r) for r in roots):
                del sys.modules[name]


def _pull_output(repo: Repository, ctx: str, rctx: str, url: str, out: dict[str, Any],
                 say: Callable[[str], None]) -> bool:
    """Bring the output bundle's metadata into the local context (binding it to the
    remote when it has none); sets ``out['output_uuid']`` and ``out['output_name']``.
    False when not pulled."""
    meta = repo.context_meta(ctx)
    if meta.get("remote_url") is None:
        remote.bind(repo, ctx, rctx, url)
    elif (meta.get("remote_url"), meta.get("remote_context")) != (url, rctx):
        say(f"context {ctx} is bound to another remote: the output stays on {rctx}@{url}")
        return False
    uuid = out.get("output_uuid") or out["requested_uuid"]
    remote.pull(repo, ctx, uuid=uuid)
    found = query.get(repo, ctx, None, uuid)
    if found is None:  # a reused root on a batch job: another uuid
        out["output_uuid"] = None
        return False
    out["output_uuid"], out["output_name"] = uuid, found.name
    return True


def describe_package_task(setup_dir: str, pipe_cls: str) -> str:
    """The parameters of ``pipe_cls`` imported from ``setup_dir`` ('' when it cannot be).

    For ``dsdt run SETUP_DIR PKG.MOD.CLASS --help``: a class that only loads
    in the image (or does not exist) gets no listing.
    """
    from dsdt.pipe.params import format_params

    mod_name, _, cls_name = pipe_cls.rpartition(".")
    try:
        path = project_dir(setup_dir)
        with _package_imports(path):
            cls = getattr(importlib.import_module(mod_name), cls_name, None)
            return format_params(cls) if isinstance(cls, type) and hasattr(
                cls, "get_params") else ""
    except Exception:  # noqa: BLE001 - not loadable here: the usual help only
        return ""
