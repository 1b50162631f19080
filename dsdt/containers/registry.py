"""Registries: where images are pushed and where AWS Batch and SageMaker pull them from.

``containers.registry`` in ``config.yaml`` is ``HOST[:PORT][/PREFIX]``. An
image ``NAME`` is then ``HOST[:PORT]/PREFIX/NAME:latest``. An ECR host
(``<account>.dkr.ecr.<region>.amazonaws.com``) is handled through boto3: the
repository is created when missing and the engine logs in with a token from
``get_authorization_token``. ``containers.registry_endpoint`` sends the push to
another ``HOST[:PORT]`` (a mirror, or a local registry in tests); the image
keeps its canonical name as well.
"""

from __future__ import annotations

import base64
import contextlib
import re
from dataclasses import dataclass
from typing import Any

from dsdt.config import ContainerSettings
from dsdt.containers import engine
from dsdt.containers.aws import aws_client, aws_errors, new_session
from dsdt.errors import UsageError

ECR_HOST = re.compile(r"^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
TAG = "latest"


@dataclass(frozen=True)
class Target:
    """Where an image goes.

    Attributes:
        repository: The canonical repository (``HOST/PREFIX/NAME``), which jobs pull.
        push_repository: The repository the push goes to (``registry_endpoint`` applied).
        ecr_region: The region of an ECR registry, else ``None``.
    """

    repository: str
    push_repository: str
    ecr_region: str | None

    @property
    def reference(self) -> str:
        """``repository:latest``."""
        return f"{self.repository}:{TAG}"


def target(settings: ContainerSettings, name: str) -> Target:
    """The registry target of image ``name``.

    Raises:
        dsdt.errors.UsageError: No registry is configured, or it is malformed.
    """
    if not settings.registry:
        raise UsageError("no registry is configured: set containers.registry in "
                         ".dsdt/config.yaml to HOST[:PORT][/PREFIX] (or an ECR registry, "
                         "<account>.dkr.ecr.<region>.amazonaws.com[/PREFIX])")
    host, _, prefix = settings.registry.strip("/").partition("/")
    if not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", host) or (
            prefix and not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", prefix)):
        raise UsageError(f"containers.registry {settings.registry!r} is not "
                         "HOST[:PORT][/PREFIX] (a lowercase prefix)")
    path = f"{prefix}/{name}" if prefix else name
    push_host = (settings.registry_endpoint or host).strip("/")
    m = ECR_HOST.match(host)
    return Target(f"{host}/{path}", f"{push_host}/{path}", m.group(1) if m else None)


def push_image(c: Any, image: str, t: Target, log: engine.Log) -> str:
    """Tag ``image`` for ``t`` and push it (creating the ECR repository and logging in first).

    Returns:
        The canonical reference, ``HOST/PREFIX/NAME:latest``.
    """
    if t.ecr_region is not None:
        ecr = aws_client(new_session(), "ecr", region=t.ecr_region)
        _ecr_repository(ecr, t.repository.split("/", 1)[1], log)
        user, password, endpoint = _ecr_token(ecr)
        host, push_host = (r.split("/", 1)[0] for r in (t.repository, t.push_repository))
        engine.login(c, endpoint if push_host == host else push_host, user, password)
    engine.tag(c, image, t.repository, TAG)
    if t.push_repository != t.repository:
        engine.tag(c, image, t.push_repository, TAG)
    log(f"pushing {t.push_repository}:{TAG}")
    engine.push(c, t.push_repository, TAG, log)
    return t.reference


def _ecr_repository(ecr: Any, name: str, log: engine.Log) -> None:
    """Find the ECR repository ``name``, creating it when missing."""
    with aws_errors(f"reading ECR repository {name}"):
        try:
            ecr.describe_repositories(repositoryNames=[name])
            return
        except ecr.exceptions.RepositoryNotFoundException:
            pass
    log(f"creating ECR repository {name}")
    with aws_errors(f"creating ECR repository {name}"), contextlib.suppress(
            ecr.exceptions.RepositoryAlreadyExistsException):  # made meanwhile by another
        ecr.create_repository(repositoryName=name)


def _ecr_token(ecr: Any) -> tuple[str, str, str]:
    """``(user, password, registry endpoint)`` from ``get_authorization_token``."""
    with aws_errors("getting an ECR login token"):
        data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return user, password, data["proxyEndpoint"]
