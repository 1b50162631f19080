"""``run``: execute a dockerized pipeline locally, on AWS Batch or on SageMaker.

Every backend hands the image the same argument list
(:func:`dsdt.container.make_args`). The outputs travel through the remote: the
container pushes them, and ``run`` pulls the output bundle's metadata into the
local context when the run ends here (``Local``, or ``AWSBatch`` with ``wait``).
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dsdt import api
from dsdt.config import ContainerSettings
from dsdt.container import (
    EXIT_FAILED,
    EXIT_PUSH,
    EXIT_SETUP,
    EXIT_USAGE,
    PROG,
    make_args,
    task_tokens,
)
from dsdt.containers import engine, registry
from dsdt.containers.dockerize import pipeline_image_name
from dsdt.containers.project import project_dir
from dsdt.errors import ContainerError, UsageError
from dsdt.objects.ids import new_uuid
from dsdt.remote.open import canonical_url

BACKENDS = ("Local", "AWSBatch", "SageMaker")
#: Environment passed to every backend's container: where AWS is (not who you are).
ENDPOINT_VARS = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
#: Passed to ``Local`` containers only, through the engine API (never on a command line).
CREDENTIAL_VARS = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                   "AWS_SESSION_TOKEN")
_AWS_DIR = "/run/dsdt-aws"
_EXIT_MEANING = {EXIT_FAILED: "a task failed", EXIT_USAGE: "bad arguments",
                 EXIT_SETUP: "setting up the repository or remote failed",
                 EXIT_PUSH: "pushing the outputs failed"}


def backend_name(backend: str) -> str:
    """The canonical spelling of ``backend`` (case-insensitive).

    Raises:
        dsdt.errors.UsageError: An unknown backend.
    """
    for name in BACKENDS:
        if backend.lower() == name.lower():
            return name
    raise UsageError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")


def run(local_context: str | None, remote_context: str | None, setup_dir: str,
        pipe_cls: str, pipeline_args: dict[str, Any] | list[str] | None, *,
        output_bundle: str = "-", remote: str | None = None, backend: str = "Local",
        input_tags: dict[str, str] | None = None, output_tags: dict[str, str] | None = None,
        force: bool = False, force_all: bool = False, no_pull: bool = False,
        no_push: bool = False, no_push_int: bool = False, vcpus: int = 2, memory: int = 4000,
        workers: int = 1, no_submit: bool = False, aws_session_token_duration: int = 42300,
        job_role_arn: str | None = None, wait: bool = False,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``pipe_cls`` in the package's image; see :func:`dsdt.api.run`.

    Without ``log``, a failing ``Local`` container's last lines go into the error.
    """
    backend = backend_name(backend)
    repo = api._repo()
    ctx = api._context(repo, local_context)
    meta = repo.context_meta(ctx)
    url = canonical_url(remote) if remote else meta.get("remote_url")
    rctx = remote_context or meta.get("remote_context") or ctx
    _check_remote(backend, url, no_pull, no_push)
    path = project_dir(setup_dir)
    if workers < 1:
        raise UsageError(f"workers must be >= 1, not {workers}")
    uuid = new_uuid()
    args = make_args(pipe_cls, _task_args(path, pipe_cls, pipeline_args), context=f"{rctx}/{ctx}",
                     remote=url, output_bundle=output_bundle, output_bundle_uuid=uuid,
                     workers=workers, force=force, force_all=force_all, input_tags=input_tags,
                     output_tags=output_tags, no_pull=no_pull, no_push=no_push,
                     no_push_intermediates=no_push_int)
    env = _endpoint_env(repo.config.s3_endpoint_url)
    settings = repo.config.containers
    say = log or (lambda _: None)
    if backend == "Local":
        out = _run_local(pipeline_image_name(path), args, url, env, settings, log)
        done = out.get("output_uuid")
    elif backend == "AWSBatch":
        out = _run_batch(pipeline_image_name(path), args, env, settings, vcpus=vcpus,
                         memory=memory, job_role_arn=job_role_arn, no_submit=no_submit,
                         wait=wait, token_duration=aws_session_token_duration, log=say)
        done = uuid if out.get("status") == "SUCCEEDED" else None
    else:
        from dsdt.containers.aws import sagemaker_run

        name = pipeline_image_name(path, sagemaker=True)
        out = sagemaker_run(registry.target(settings, name).reference, args, image_name=name,
                            settings=settings, remote=url, environment=env)
        done = None
    out.update(backend=backend, output_bundle_uuid=uuid, arguments=args)
    if url and done and not no_push:
        _pull_output(ctx, rctx, url, done, say)
    return out


def _run_batch(name: str, args: list[str], env: dict[str, str], settings: ContainerSettings,
               *, token_duration: int, **kw: Any) -> dict[str, Any]:
    from dsdt.containers.aws import batch_run

    out = batch_run(registry.target(settings, name).reference, args, image_name=name,
                    settings=settings, environment=env,
                    session_token_duration=token_duration, **kw)
    if out.get("status") == "FAILED":
        raise ContainerError(f"AWS Batch job {out['job_id']} failed: "
                             f"{out.get('reason') or 'no reason given'}")
    return out


def _check_remote(backend: str, url: str | None, no_pull: bool, no_push: bool) -> None:
    if url is None and not (no_pull and no_push):
        raise UsageError("run needs a remote to bring the outputs back: bind one to the "
                         "context (dsdt remote) or pass a remote; or pass no_push and "
                         "no_pull to run without one")
    if backend != "Local" and url is not None and not url.startswith("s3://"):
        raise UsageError(f"{backend} jobs cannot reach the directory remote {url}: use an "
                         "s3:// remote")


def _task_args(path: Path, pipe_cls: str,
               pipeline_args: dict[str, Any] | list[str] | None) -> list[str]:
    """The root task's parameters as ``--name=value`` tokens.

    The class is imported here (from ``setup_dir`` or its ``src/``) to check the
    parameters and render them with luigi's own serialisers. A module that
    imports something this host lacks is left for the image to check.
    """
    import importlib

    from dsdt.commands.apply import parse_task_params

    mod_name, _, cls_name = pipe_cls.rpartition(".")
    if not mod_name or not cls_name.isidentifier():
        raise UsageError(f"pipe class {pipe_cls!r} must be PKG.MOD.CLASS")
    with _importable(path):
        try:
            module = importlib.import_module(mod_name)
        except ImportError as e:
            if isinstance(e, ModuleNotFoundError) and e.name and (
                    mod_name == e.name or mod_name.startswith(e.name + ".")):
                raise UsageError(f"cannot import pipe class {pipe_cls!r}: no module "
                                 f"{e.name!r} in {path} (or installed)") from None
            return task_tokens(pipeline_args)
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type) or not hasattr(cls, "get_params"):
        raise UsageError(f"{mod_name} has no luigi task class {cls_name!r}")
    if not isinstance(pipeline_args, dict):
        parse_task_params(cls, task_tokens(pipeline_args))  # raises on a bad name or value
        return task_tokens(pipeline_args)
    params = dict(cls.get_params())
    unknown = sorted(set(pipeline_args) - set(params))
    if unknown:
        raise UsageError(f"{cls_name} has no parameter {', '.join(unknown)}")
    return [f"--{k.replace('_', '-')}={params[k].serialize(v)}" for k, v in pipeline_args.items()]


@contextmanager
def _importable(path: Path) -> Iterator[None]:
    added = [str(p) for p in (path, path / "src") if p.is_dir() and str(p) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            sys.path.remove(p)


def _endpoint_env(s3_endpoint_url: str | None) -> dict[str, str]:
    env = {k: os.environ[k] for k in ENDPOINT_VARS if os.environ.get(k)}
    if s3_endpoint_url:
        env["AWS_ENDPOINT_URL_S3"] = s3_endpoint_url
    return env


def _run_local(name: str, args: list[str], url: str | None, env: dict[str, str],
               settings: ContainerSettings, log: Callable[[str], None] | None) -> dict[str, Any]:
    """``docker run`` the image as the calling user, on the host's network."""
    import json

    c = engine.client()
    image = f"{name}:latest"
    if not c.images.list(name=name) and settings.registry:
        image = registry.target(settings, name).reference
    env = {**env, **{k: os.environ[k] for k in CREDENTIAL_VARS if os.environ.get(k)},
           "HOME": "/tmp"}  # noqa: S108 - the container's own /tmp
    volumes = _aws_files(env)
    if url and not url.startswith("s3://"):
        volumes[url] = {"bind": url, "mode": "rw"}
    tail: deque[str] = deque(maxlen=20)

    def both(line: str) -> None:
        tail.append(line)
        if log is not None:
            log(line)

    status, stdout = engine.run(c, image, args, environment=env, volumes=volumes,
                                user=f"{os.getuid()}:{os.getgid()}", network_mode="host",
                                log=both)
    summary = next((json.loads(line) for line in reversed(stdout.splitlines())
                    if line.startswith("{")), {})
    if status != 0:
        msg = f"the pipeline failed in {image} (exit {status}: {_EXIT_MEANING.get(status, '?')})"
        why = [ln for ln in tail if ln.startswith(f"{PROG}: error: ")]
        if why:
            msg += ": " + why[-1].removeprefix(f"{PROG}: error: ")
        if log is None:  # nobody saw the log: keep its end
            msg += "; its last lines:\n" + "\n".join(tail)
        raise ContainerError(msg)
    return {**summary, "image": image, "exit_code": status}


def _aws_files(env: dict[str, str]) -> dict[str, dict[str, str]]:
    """Mount the caller's AWS config and credentials files read-only (and point boto3 at them)."""
    volumes = {}
    home = Path.home() / ".aws"
    for var, default in (("AWS_CONFIG_FILE", home / "config"),
                         ("AWS_SHARED_CREDENTIALS_FILE", home / "credentials")):
        src = Path(os.environ.get(var) or default)
        if src.is_file():
            dest = f"{_AWS_DIR}/{default.name}"
            volumes[str(src.resolve())] = {"bind": dest, "mode": "ro"}
            env[var] = dest
    return volumes


def _pull_output(ctx: str, rctx: str, url: str, uuid: str, log: Callable[[str], None]) -> None:
    """Bring the output bundle's metadata into the local context."""
    repo = api._repo()
    meta = repo.context_meta(ctx)
    if meta.get("remote_url") is None:
        api.remote(ctx, rctx, url)
    elif (meta.get("remote_url"), meta.get("remote_context")) != (url, rctx):
        log(f"context {ctx} is bound to another remote: not pulling {uuid}")
        return
    api.pull(ctx, uuid=uuid)
