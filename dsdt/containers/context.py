"""The Docker build context: a Dockerfile from dsdt's template, the wheelhouse, system packages.

Layout of a context directory::

    Dockerfile             from dsdt/_dockerizer/Dockerfile.in
    wheels/deps/*.whl      every dependency, resolved on the host
    wheels/packages/*.whl  dsdt and the pipeline package
    config/debs/*.deb      .deb files from the config directory (if any)
    train                  the SageMaker entrypoint (``--sagemaker`` only)
    .dsdt-context          marks a directory dsdt may overwrite
"""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from dsdt._fs import link_or_copy
from dsdt.containers.wheels import Wheelhouse
from dsdt.errors import PathError, UsageError
from dsdt.gitinfo import GitInfo

TEMPLATE = Path(__file__).resolve().parent.parent / "_dockerizer"
MARKER = ".dsdt-context"
#: A Debian package name, with an optional ``:arch`` and ``=version`` (never an option).
_DEB_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?")
#: An image reference: ``[HOST[:PORT]/]NAME[:TAG][@DIGEST]``, nothing a Dockerfile could misread.
_IMAGE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*(@sha256:[0-9a-f]{64})?")


@dataclass(frozen=True)
class SystemPackages:
    """What the config directory asks to install with apt.

    Attributes:
        names: Debian package names from ``deb.txt`` (needs the base image's
            package mirror at build time).
        debs: ``.deb`` files from the config directory (installed offline when
            their dependencies are already in the image).
    """

    names: tuple[str, ...] = ()
    debs: tuple[Path, ...] = ()


def default_base_image() -> str:
    """The official slim Python image of the running Python's minor version."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def read_config_dir(config_dir: str | os.PathLike[str] | None) -> tuple[SystemPackages,
                                                                        Path | None]:
    """The system packages and the ``pip.conf`` of a config directory (both optional).

    ``deb.txt`` lists one Debian package per line (``#`` starts a comment);
    every ``*.deb`` file is installed too; ``pip.conf`` configures pip on the
    host while the wheelhouse is built (it is not copied into the image, so
    index credentials in it stay out of the image).

    Raises:
        dsdt.errors.PathError: ``config_dir`` is not a directory.
        dsdt.errors.UsageError: ``deb.txt`` names something that is not a package name.
    """
    if config_dir is None:
        return SystemPackages(), None
    path = Path(config_dir).expanduser().resolve()
    if not path.is_dir():
        raise PathError(f"config directory {config_dir} does not exist")
    names: list[str] = []
    if (path / "deb.txt").is_file():
        for line in (path / "deb.txt").read_text().splitlines():
            word = line.split("#", 1)[0].strip()
            if not word:
                continue
            if not _DEB_NAME.fullmatch(word):
                raise UsageError(f"{path / 'deb.txt'}: {word!r} is not a Debian package name")
            names.append(word)
    pip_conf = path / "pip.conf"
    return (SystemPackages(tuple(names), tuple(sorted(path.glob("*.deb")))),
            pip_conf if pip_conf.is_file() else None)


def render_dockerfile(base_image: str, packages: SystemPackages, sagemaker: bool,
                      git: GitInfo | None, image: str) -> str:
    """The Dockerfile: dsdt's template with these settings filled in.

    Args:
        base_image: The image to start from.
        packages: Debian packages and ``.deb`` files to install.
        sagemaker: Make SageMaker's ``train`` the command instead of the entrypoint.
        git: Git facts of the package, put into labels and ``PIPELINE_GIT_*``.
        image: The image's name (its title label).

    Returns:
        The Dockerfile's text.

    Raises:
        dsdt.errors.UsageError: ``base_image`` is not an image reference.
    """
    if not _IMAGE_REF.fullmatch(base_image):
        raise UsageError(f"base image {base_image!r} is not an image reference "
                         "([HOST/]NAME[:TAG][@DIGEST])")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return string.Template((TEMPLATE / "Dockerfile.in").read_text()).substitute(
        base_image=base_image, python_version=version, system_packages=_apt_lines(packages),
        entrypoint=('COPY train /usr/local/bin/train\nENTRYPOINT []\nCMD ["train"]'
                    if sagemaker else 'ENTRYPOINT ["dsdt-container"]\nCMD ["--help"]'),
        labels=_label_lines(git, image))


def _apt_lines(packages: SystemPackages) -> str:
    if not packages.names and not packages.debs:
        return ""
    lines, install = [], [*packages.names]
    if packages.debs:  # installed by a glob: no file name is written into the Dockerfile
        lines.append("COPY config/debs/ /opt/dsdt/debs/")
        install.append("/opt/dsdt/debs/*.deb")
    update = "apt-get update && " if packages.names else ""
    lines.append(f"RUN {update}DEBIAN_FRONTEND=noninteractive apt-get install -y "
                 f"--no-install-recommends {' '.join(install)} && rm -rf /var/lib/apt/lists/*")
    return "\n".join(lines)


def _label_lines(git: GitInfo | None, image: str) -> str:
    """The title label, and the git facts as labels and ``PIPELINE_GIT_*`` environment."""
    labels = {"org.opencontainers.image.title": image}
    env = {}
    if git is not None:
        labels.update({"org.opencontainers.image.source": git.repo,
                       "org.opencontainers.image.revision": git.commit,
                       "dsdt.git.branch": git.branch, "dsdt.git.dirty": str(git.dirty).lower()})
        env = {"PIPELINE_GIT_FETCH_URL": git.repo, "PIPELINE_GIT_HASH": git.commit,
               "PIPELINE_GIT_BRANCH": git.branch, "PIPELINE_GIT_DIRTY": str(git.dirty).lower()}
    out = "LABEL " + " ".join(f"{k}={_quoted(v)}" for k, v in labels.items())
    if env:
        out += "\nENV " + " ".join(f"{k}={_quoted(v)}" for k, v in env.items())
    return out


def _quoted(value: str) -> str:
    """A double-quoted Dockerfile word: escapes kept, ``$`` not expanded, one line."""
    return json.dumps(" ".join(value.split())).replace("$", "\\$")


def write_context(dest: Path, dockerfile: str, wheels: Wheelhouse, packages: SystemPackages,
                  sagemaker: bool) -> Path:
    """Fill ``dest`` with the build context (wheels are hard-linked from the cache when
    it is on the same filesystem).

    Args:
        dest: The context directory: new, empty, or one dsdt wrote before.
        dockerfile: The Dockerfile's text.
        wheels: The wheelhouse.
        packages: The ``.deb`` files among them are copied in.
        sagemaker: Add the ``train`` script.

    Returns:
        ``dest``.

    Raises:
        dsdt.errors.PathError: ``dest`` exists, is not empty and is not a
            context dsdt wrote before.
    """
    if dest.exists() and not dest.is_dir():
        raise PathError(f"{dest} is a file: give a new or empty directory for the context")
    if dest.exists() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        raise PathError(f"{dest} is not empty and not a dsdt build context; give a new "
                        "or empty directory")
    shutil.rmtree(dest, ignore_errors=True)
    for sub in ("wheels/deps", "wheels/packages"):
        (dest / sub).mkdir(parents=True)
    for whl in sorted(wheels.deps.glob("*.whl")):  # dsdt's cache: linked, not copied
        link_or_copy(whl, dest / "wheels/deps" / whl.name)
    for whl in wheels.packages:
        link_or_copy(whl, dest / "wheels/packages" / whl.name)
    if packages.debs:
        (dest / "config/debs").mkdir(parents=True)
        for deb in packages.debs:  # the user's own files: copied
            shutil.copy2(deb, dest / "config/debs" / deb.name)
    if sagemaker:
        shutil.copy2(TEMPLATE / "train", dest / "train")
    (dest / "Dockerfile").write_text(dockerfile)
    (dest / MARKER).write_text("written by dsdt dockerize; it may be replaced\n")
    return dest
