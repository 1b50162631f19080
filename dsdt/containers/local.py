"""The ``Local`` backend: ``docker run`` the pipeline image here.

The container runs as the calling user, on the host's network (so a remote or
endpoint on ``127.0.0.1`` works), with a directory remote mounted at its own
path. AWS settings reach it through the engine API (never a command line, never
the image): the region and endpoint variables, and either the caller's static
credentials (variables, or the config and credentials files mounted read-only)
or, for profiles whose credentials come from elsewhere (SSO, assumed roles, a
``credential_process``), the resolved short-lived keys.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsdt.config import ContainerSettings
from dsdt.containers import engine, registry
from dsdt.containers.protocol import EXIT_FAILED, EXIT_PUSH, EXIT_SETUP, EXIT_USAGE, PROG
from dsdt.errors import ContainerError, PathError

#: Credentials boto3 can read in the container from what is passed as it is.
_STATIC = frozenset({"env", "shared-credentials-file", "config-file"})
_KEY_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_AWS_DIR = "/run/dsdt-aws"
_EXIT_MEANING = {EXIT_FAILED: "a task failed", EXIT_USAGE: "bad arguments",
                 EXIT_SETUP: "setting up the repository or remote failed",
                 EXIT_PUSH: "pushing the outputs failed"}


def run_local(name: str, args: list[str], url: str | None, env: dict[str, str],
              settings: ContainerSettings, log: Callable[[str], None] | None) -> dict[str, Any]:
    """Run the image of ``name`` with ``args`` to its end.

    Args:
        name: The image name (``NAME:latest`` locally, else the registry's).
        args: The entrypoint's arguments.
        url: The remote URL (a directory one is mounted).
        env: Environment for the container (region, endpoints).
        settings: The ``containers:`` settings.
        log: Receives the container's stderr lines; without it, a failure's
            last lines go into the error.

    Returns:
        The entrypoint's summary plus ``image`` and ``exit_code``.

    Raises:
        dsdt.errors.ContainerError: No engine, or the pipeline failed (exit status and reason).
        dsdt.errors.PathError: The directory remote does not exist.
    """
    c = engine.client()
    image = local_image(c, settings, name)
    status, stdout, tail = run_container(c, image, args, url, env, {}, log)
    if status != 0:
        raise ContainerError(failure(image, status, tail, streamed=log is not None))
    return {**_summary(stdout), "image": image, "exit_code": status}


def local_image(c: Any, settings: ContainerSettings, name: str) -> str:
    """``NAME:latest`` when the engine has it, else the registry's reference (when one
    is configured: the engine pulls it)."""
    image = f"{name}:latest"
    if settings.registry and not engine.has_image(c, image):
        image = registry.target(settings, name).reference
    return image


def run_container(c: Any, image: str, command: list[str], url: str | None,
                  env: dict[str, str], mounts: dict[str, dict[str, str]],
                  log: Callable[[str], None] | None) -> tuple[int, str, list[str]]:
    """Run ``image`` with ``command`` as the calling user on the host's network.

    Args:
        c: The engine client.
        image: The image reference.
        command: The container's command.
        url: The remote URL (a directory one is mounted at its own path).
        env: Environment for the container; the caller's AWS identity is added.
        mounts: More volumes, ``{host path: {"bind": path, "mode": "rw"}}``.
        log: Receives the container's stderr lines.

    Returns:
        ``(exit status, stdout, the last 20 stderr lines)``.

    Raises:
        dsdt.errors.ContainerError: The container could not be started or followed.
        dsdt.errors.PathError: The directory remote does not exist.
    """
    volumes = dict(mounts)
    env = {**env, **_credentials(volumes), "HOME": "/tmp"}  # noqa: S108 - the container's
    if url and not url.startswith("s3://"):
        if not Path(url).is_dir():
            raise PathError(f"the directory remote {url} does not exist")
        volumes[url] = {"bind": url, "mode": "rw"}
    tail: deque[str] = deque(maxlen=20)

    def both(line: str) -> None:
        tail.append(line)
        if log is not None:
            log(line)

    status, stdout = engine.run(c, image, command, environment=env, volumes=volumes,
                                user=f"{os.getuid()}:{os.getgid()}", network_mode="host",
                                log=both)
    return status, stdout, list(tail)


def _summary(stdout: str) -> dict[str, Any]:
    """The entrypoint's JSON summary: its last stdout line (the task may print too)."""
    for line in reversed(stdout.splitlines()):
        try:
            out = json.loads(line)
        except ValueError:
            continue
        if isinstance(out, dict) and "success" in out:
            return out
    return {}


def failure(image: str, status: int, tail: list[str], streamed: bool,
            reason: str | None = None, what: str = "the pipeline") -> str:
    """The one-line error of a container that exited with ``status``.

    Args:
        image: The image that ran.
        status: Its exit status (see :mod:`dsdt.containers.protocol`).
        tail: Its last stderr lines.
        streamed: Whether they were shown already (else they are appended).
        reason: Why it failed, when known; else the entrypoint's error line.
        what: What failed, the start of the message.
    """
    msg = f"{what} failed in {image} (exit {status}: {_EXIT_MEANING.get(status, '?')})"
    why = [reason] if reason else [ln for ln in tail if ln.startswith(f"{PROG}: error: ")]
    if why:
        msg += ": " + why[-1].removeprefix(f"{PROG}: error: ")
    if not streamed:  # nobody saw the log: keep its end
        msg += "; its last lines:\n" + "\n".join(tail)
    return msg


def _credentials(volumes: dict[str, dict[str, str]]) -> dict[str, str]:
    """Environment (and read-only mounts) that give the container the caller's AWS identity."""
    env = {k: os.environ[k] for k in ("AWS_PROFILE", *_KEY_VARS) if os.environ.get(k)}
    home = Path.home() / ".aws"
    for var, default in (("AWS_CONFIG_FILE", home / "config"),
                         ("AWS_SHARED_CREDENTIALS_FILE", home / "credentials")):
        src = Path(os.environ.get(var) or default)
        if src.is_file():
            volumes[str(src.resolve())] = {"bind": f"{_AWS_DIR}/{default.name}", "mode": "ro"}
            env[var] = f"{_AWS_DIR}/{default.name}"
    resolved = _resolved_keys()
    if resolved:  # SSO, assumed role, credential_process: the container cannot redo them
        env.update(resolved)
        env.pop("AWS_PROFILE", None)
    return env


def _resolved_keys() -> dict[str, str]:
    """Short-lived keys for credentials that are not static (else nothing)."""
    if not os.environ.get("AWS_PROFILE") or os.environ.get("AWS_ACCESS_KEY_ID"):
        return {}  # keys in the environment, or the default chain: passed as they are
    import boto3.session

    try:
        creds = boto3.session.Session().get_credentials()
    except Exception:  # noqa: BLE001 - a broken profile shows in the container's error
        return {}
    if creds is None or creds.method in _STATIC:
        return {}
    frozen = creds.get_frozen_credentials()
    out = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        out["AWS_SESSION_TOKEN"] = frozen.token
    return out
