"""The Docker fixtures work: a container runs in the base image (pushes: test_containers_docker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import docker

pytestmark = pytest.mark.docker


def test_base_image_runs_python(docker_client: docker.DockerClient, base_image: str) -> None:
    out = docker_client.containers.run(
        base_image, ["python3", "-c", "print(6*7)"], network_mode="none", remove=True
    )
    assert out.decode().strip() == "42"
