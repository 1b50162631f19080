"""``dockerize``: build (and push) the image of a pipeline package.

Steps: find the package's name, build or reuse the wheelhouse, write the build
context, build it through the engine, and push it to the configured registry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dsdt.config import ContainerSettings
from dsdt.containers import engine, registry
from dsdt.containers.context import (
    default_base_image,
    read_config_dir,
    render_dockerfile,
    write_context,
)
from dsdt.containers.project import dist_name, image_name, project_dir
from dsdt.containers.wheels import build_wheelhouse, cache_root, package_wheel, wheel_name
from dsdt.errors import UsageError
from dsdt.gitinfo import git_info

SAGEMAKER_SUFFIX = "-sagemaker"


@dataclass(frozen=True)
class ImageInfo:
    """What ``dockerize`` made.

    Attributes:
        name: The image's name (the package's normalised name, ``-sagemaker``
            appended for the SageMaker variant).
        tag: The local tag, ``NAME:latest``.
        image_id: The built image's id; ``None`` when only the context was written.
        context: The build context directory, when it was kept.
        pushed: The pushed reference (``REGISTRY/NAME:latest``), when pushed.
        base_image: The image it starts from.
    """

    name: str
    tag: str
    image_id: str | None
    context: Path | None
    pushed: str | None
    base_image: str


def pipeline_image_name(setup_dir: Path, sagemaker: bool = False,
                        pip_conf: Path | None = None) -> str:
    """The image name of the package in ``setup_dir`` (from its wheel when only
    ``setup.py`` knows the package's name)."""
    name = dist_name(setup_dir) or wheel_name(package_wheel(setup_dir, pip_conf))
    return image_name(name) + (SAGEMAKER_SUFFIX if sagemaker else "")


def dockerize(setup_dir: str | os.PathLike[str], config_dir: str | os.PathLike[str] | None,
              settings: ContainerSettings, *, build: bool = True, push: bool = False,
              sagemaker: bool = False, base_image: str | None = None,
              output_dir: str | os.PathLike[str] | None = None,
              log: Callable[[str], None] = lambda _: None) -> ImageInfo:
    """Build the image of the package in ``setup_dir``; see :func:`dsdt.api.build_image`."""
    path = project_dir(setup_dir)
    if push and not build:
        raise UsageError("push needs build: an image that is not built cannot be pushed")
    packages, pip_conf = read_config_dir(config_dir)
    name = pipeline_image_name(path, sagemaker, pip_conf)
    target = registry.target(settings, name) if push else None  # a bad registry fails now
    client = engine.client() if build else None  # no engine fails before the slow part
    base = base_image or settings.base_image or default_base_image()
    dockerfile = render_dockerfile(base, packages, sagemaker, git_info(path), name)
    wheels = build_wheelhouse(path, pip_conf, log)
    if output_dir is not None:
        ctx = Path(output_dir).expanduser().resolve()
    elif build:
        ctx = Path(tempfile.mkdtemp(prefix="dsdt-context-")) / "context"
    else:
        ctx = cache_root() / "contexts" / name
    write_context(ctx, dockerfile, wheels, packages, sagemaker)
    info = ImageInfo(name, f"{name}:latest", None, ctx, None, base)
    if client is None:
        log(f"wrote the build context to {ctx}")
        return info
    try:
        log(f"building {info.tag} from {base}")
        image_id = engine.build(client, ctx, info.tag, log)
    finally:
        if output_dir is None:
            shutil.rmtree(ctx.parent, ignore_errors=True)
    pushed = registry.push_image(client, image_id, target, log) if target else None
    return replace(info, image_id=image_id, pushed=pushed,
                   context=ctx if output_dir is not None else None)
