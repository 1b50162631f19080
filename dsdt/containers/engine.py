"""The Docker Engine API, through the ``docker`` package (``pip install 'dsdt[docker]'``).

Every call here turns the engine's failures into :class:`~dsdt.errors.ContainerError`
with the engine's own message and what to do about it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dsdt.errors import ContainerError, UnsupportedValueError

Log = Callable[[str], None]


def client() -> Any:
    """A client of the engine at ``DOCKER_HOST`` (default: the local socket), checked with a ping.

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
    """Build the image of ``context`` as ``tag``, streaming the build's output to ``log``.

    Returns:
        The image id (``sha256:...``).
    """
    image_id = None
    try:
        stream = c.api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True)
        for chunk in stream:
            _raise_on_error(chunk, f"building {tag}")
            text = chunk.get("stream", "").rstrip()
            if text:
                log(text)
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
    except ContainerError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"building {tag} failed: {_short(e)}") from None
    if image_id is None:
        image_id = c.images.get(tag).id
    return image_id


def tag(c: Any, image: str, repository: str, tag_: str = "latest") -> None:
    """Tag ``image`` as ``repository:tag_``."""
    if not c.images.get(image).tag(repository, tag_):
        raise ContainerError(f"cannot tag {image} as {repository}:{tag_}")


def login(c: Any, registry: str, username: str, password: str) -> None:
    """Log the engine in to ``registry`` (the credentials stay in memory)."""
    try:
        c.login(username=username, password=password, registry=registry, reauth=True)
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"logging in to {registry} failed: {_short(e)}") from None


def push(c: Any, repository: str, tag_: str, log: Log,
         auth: dict[str, str] | None = None) -> str:
    """Push ``repository:tag_``; returns the pushed digest (``sha256:...``)."""
    digest = ""
    try:
        for chunk in c.images.push(repository, tag=tag_, stream=True, decode=True,
                                   auth_config=auth):
            _raise_on_error(chunk, f"pushing {repository}:{tag_}")
            if chunk.get("status") and not chunk.get("progressDetail"):
                log(f"{chunk.get('id', '')} {chunk['status']}".strip())
            digest = (chunk.get("aux") or {}).get("Digest", digest)
    except ContainerError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"pushing {repository}:{tag_} failed: {_short(e)}; check the "
                             "registry address and that you are logged in") from None
    return digest


def run(c: Any, image: str, command: list[str], *, environment: dict[str, str],
        volumes: dict[str, dict[str, str]], user: str | None, network_mode: str,
        log: Log) -> tuple[int, str]:
    """Run ``image`` with ``command`` to its end; stream its stderr lines to ``log``.

    Returns:
        ``(exit status, stdout)``. The container is removed afterwards.
    """
    try:
        container = c.containers.run(image, command, environment=environment,
                                     volumes=volumes, user=user, network_mode=network_mode,
                                     detach=True)
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"starting {image} failed: {_short(e)}; build it first with "
                             "dsdt dockerize") from None
    try:
        for line in _lines(container.logs(stream=True, follow=True, stdout=False, stderr=True)):
            log(line)
        status = int(container.wait().get("StatusCode", 1))
        stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
    finally:
        container.remove(force=True)
    return status, stdout


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
