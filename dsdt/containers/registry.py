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
import re
from dataclasses import dataclass
from typing import Any

from dsdt.config import ContainerSettings
from dsdt.containers import engine
from dsdt.errors import ContainerError, UsageError

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
    auth = None
    if t.ecr_region is not None:
        repo_name = t.repository.split("/", 1)[1]
        _ecr_repository(repo_name, t.ecr_region, log)
        user, password, endpoint = _ecr_token(t.ecr_region)
        host, push_host = (r.split("/", 1)[0] for r in (t.repository, t.push_repository))
        engine.login(c, endpoint if push_host == host else push_host, user, password)
        auth = {"username": user, "password": password}
    engine.tag(c, image, t.repository, TAG)
    if t.push_repository != t.repository:
        engine.tag(c, image, t.push_repository, TAG)
    log(f"pushing {t.push_repository}:{TAG}")
    engine.push(c, t.push_repository, TAG, log, auth)
    return t.reference


def _ecr_client(region: str) -> Any:
    import boto3

    return boto3.client("ecr", region_name=region)


def _ecr_repository(name: str, region: str, log: engine.Log) -> None:
    """Find the ECR repository ``name``, creating it when missing."""
    ecr = _ecr_client(region)
    try:
        ecr.describe_repositories(repositoryNames=[name])
        return
    except ecr.exceptions.RepositoryNotFoundException:
        pass
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"cannot read ECR repository {name} in {region}: {e}; check "
                             "your AWS credentials (AWS_PROFILE) and region") from None
    log(f"creating ECR repository {name}")
    try:
        ecr.create_repository(repositoryName=name)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass  # created meanwhile by someone else
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"cannot create ECR repository {name}: {e}") from None


def _ecr_token(region: str) -> tuple[str, str, str]:
    """``(user, password, registry endpoint)`` from ``get_authorization_token``."""
    try:
        data = _ecr_client(region).get_authorization_token()["authorizationData"][0]
    except Exception as e:  # noqa: BLE001
        raise ContainerError(f"cannot get an ECR login token in {region}: {e}") from None
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return user, password, data["proxyEndpoint"]
