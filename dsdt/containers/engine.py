"""The Docker Engine API, through the ``docker`` package (``pip install 'dsdt[docker]'``).

Every call here turns the engine's failures into :class:`~dsdt.errors.ContainerError`
with the engine's own message and what to do about it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dsdt.errors import ContainerError, UnsupportedValueError

Log = Callable[[str], None]


def client() -> Any:
    """A client of the engine at ``DOCKER_HOST`` (default: the local socket), checked with a ping.

    Returns:
        A ``docker.DockerClient``.

    Raises:
        dsdt.errors.UnsupportedValueError: The ``docker`` package is not installed.
        dsdt.errors.ContainerError: No engine answers.
    """
    try:
        import docker
    except ImportError:
        raise UnsupportedValueError(
            "building and running images needs the docker package: "
            "pip install 'dsdt[docker]'") from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        c = docker.from_env(timeout=600)
        c.ping()
    except Exception as e:  # noqa: BLE001 - any failure here means "no engine"
        raise ContainerError(
            f"no Docker engine is reachable at {where} ({_short(e)}); start Docker "
            "(dockerd) or point DOCKER_HOST at a running engine") from None
    return c


def build(c: Any, context: Path, tag: str, log: Log) -> str:
    """Build the image of ``context`` as ``tag``.

    Args:
        c: The client.
        context: The build context directory.
        tag: The image's tag (``NAME:latest``).
        log: Receives the build's output lines.

    Returns:
        The image id (``sha256:...``).

    Raises:
        dsdt.errors.ContainerError: The build failed (the engine's message).
    """
    image_id = None
    with _errors(f"building {tag}", "check the engine's output above"):
        for chunk in c.api.build(path=str(context), tag=tag, rm=True, forcerm=True,
                                 decode=True):
            _raise_on_error(chunk, f"building {tag}")
            text = chunk.get("stream", "").rstrip()
            if text:
                log(text)
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
        return image_id or c.images.get(tag).id


def has_image(c: Any, reference: str) -> bool:
    """Whether the engine has ``reference`` locally."""
    with _errors(f"looking up {reference}", "check the engine"):
        return bool(c.images.list(name=reference))


def tag(c: Any, image: str, repository: str, tag_: str = "latest") -> None:
    """Tag ``image`` as ``repository:tag_``."""
    with _errors(f"tagging {image} as {repository}:{tag_}", "check the registry setting"):
        c.images.get(image).tag(repository, tag_)


def login(c: Any, registry: str, username: str, password: str) -> None:
    """Log the engine client in to ``registry`` (the credentials stay in memory)."""
    with _errors(f"logging in to {registry}", "check the registry address and credentials"):
        c.login(username=username, password=password, registry=registry, reauth=True)


def push(c: Any, repository: str, tag_: str, log: Log) -> None:
    """Push ``repository:tag_`` with the client's login for its registry."""
    with _errors(f"pushing {repository}:{tag_}",
                 "check the registry address and that you are logged in"):
        for chunk in c.images.push(repository, tag=tag_, stream=True, decode=True):
            _raise_on_error(chunk, f"pushing {repository}:{tag_}")
            if chunk.get("status") and not chunk.get("progressDetail"):
                log(f"{chunk.get('id', '')} {chunk['status']}".strip())


def run(c: Any, image: str, command: list[str], *, environment: dict[str, str],
        volumes: dict[str, dict[str, str]], user: str | None, network_mode: str,
        log: Log) -> tuple[int, str]:
    """Run ``image`` with ``command`` to its end, streaming its stderr lines to ``log``.

    Returns:
        ``(exit status, stdout)``. The container is removed afterwards.

    Raises:
        dsdt.errors.ContainerError: The container could not be started or followed.
    """
    with _errors(f"starting {image}", "build it first with dsdt dockerize (or push it, "
                                      "when it runs from the registry)"):
        container = c.containers.run(image, command, environment=environment,
                                     volumes=volumes, user=user, network_mode=network_mode,
                                     detach=True)
    try:
        with _errors(f"following {image}", "check the engine"):
            for line in _lines(container.logs(stream=True, follow=True, stdout=False,
                                              stderr=True)):
                log(line)
            status = int(container.wait().get("StatusCode", 1))
            stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)
    return status, stdout


@contextlib.contextmanager
def _errors(what: str, hint: str) -> Iterator[None]:
    """Engine failures (not already ours) -> ContainerError saying what failed and what to do."""
    try:
        yield
    except ContainerError:
        raise
    except Exception as e:  # noqa: BLE001 - the engine's errors have no common root
        raise ContainerError(f"{what} failed: {_short(e)}; {hint}") from None


def _lines(chunks: Iterable[bytes]) -> Iterable[str]:
    buf = b""
    for chunk in chunks:
        buf += chunk
        *done, buf = buf.split(b"\n")
        yield from (d.decode(errors="replace") for d in done)
    if buf:
        yield buf.decode(errors="replace")


def _raise_on_error(chunk: dict[str, Any], what: str) -> None:
    if "error" in chunk or "errorDetail" in chunk:
        msg = (chunk.get("errorDetail") or {}).get("message") or chunk.get("error")
        raise ContainerError(f"{what} failed: {str(msg).strip()}")


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__
