"""Real Docker for the tests: the engine, the offline base image, a local registry.

A pytest plugin (``pytest_plugins`` in conftest.py). ``scripts/test.sh`` sources
``scripts/_docker.sh``, which starts the engine and builds the base image when
needed. Without Docker the fixtures skip the tests, except in CI (``CI=true``) or
when ``DSDT_DOCKER=1`` says the engine was set up: there they fail, so container
tests never go silently unrun. Docker Hub may be unreachable, so nothing here
pulls: images come from the base image, registries are ``docker-registry`` on
the loopback interface.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import yaml

if TYPE_CHECKING:
    import docker

DEFAULT_BASE_IMAGE = "dsdt-test-base:bookworm"

# No proxy: every URL here is on the loopback interface.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def docker_required() -> bool:
    """Whether missing Docker is a failure rather than a skip.

    Returns:
        True in CI (``CI=true``) or when ``scripts/_docker.sh`` set ``DSDT_DOCKER=1``.
    """
    return os.environ.get("CI") == "true" or os.environ.get("DSDT_DOCKER") == "1"


def unavailable(reason: str) -> NoReturn:
    """Fail (when Docker is required) or skip the test for want of Docker.

    Call it outside ``except`` blocks: a failure then reports just the reason.

    Args:
        reason: What is missing, and how to get it.
    """
    if docker_required():
        pytest.fail(f"{reason} (Docker is required in CI or with DSDT_DOCKER=1)", pytrace=False)
    pytest.skip(reason)


def loopback_get(url: str, timeout: float = 5.0) -> bytes:
    """GET a URL on the loopback interface, bypassing any configured HTTP proxy.

    Args:
        url: An ``http://127.0.0.1:PORT/...`` URL.
        timeout: Seconds for the connection and the read.

    Returns:
        The response body.

    Raises:
        ValueError: The URL is not on 127.0.0.1.
        urllib.error.URLError: On a connection error or an HTTP error status.
    """
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not a loopback URL: {url}")
    with _opener.open(url, timeout=timeout) as response:
        return response.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the Docker engine from the environment (``DOCKER_HOST`` or the socket).

    Yields:
        A ``docker.DockerClient`` whose engine answered a ping.
    """
    import docker

    error = None
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        error = str(exc)
    if error is not None:
        unavailable(f"no Docker engine: {error} (scripts/test.sh starts one when run as root)")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The local Debian image with python3 and venv; nothing is pulled.

    Returns:
        Its name, ``$DSDT_TEST_BASE_IMAGE`` or ``dsdt-test-base:bookworm``.
    """
    import docker

    name = os.environ.get("DSDT_TEST_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        pass
    else:
        return name
    unavailable(f"no image {name} (scripts/_docker.sh builds it)")


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``docker-registry`` (distribution v2) on 127.0.0.1, a free port, for the session.

    dockerd talks plain HTTP to registries on 127.0.0.0/8, so pushes need no TLS.
    Storage is a temporary directory.

    Yields:
        The registry's ``host:port``, e.g. ``127.0.0.1:40123``: image names are
        ``{registry}/name:tag``.
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("docker-registry is not installed (apt-get install docker-registry)")
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{_free_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": address},
    }
    (root / "config.yml").write_text(yaml.safe_dump(config))
    log = root / "registry.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "serve", str(root / "config.yml")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_serving(address, process, log)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait (at most 15 s) until the registry answers ``GET /v2/`` with 200."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            loopback_get(f"http://{address}/v2/", timeout=1)
            return
        except OSError:  # URLError included: not listening yet
            time.sleep(0.05)
    state = "exited" if process.poll() is not None else "not ready within 15 s"
    unavailable(f"docker-registry on {address} {state}: {log.read_text()[-2000:]}")
