"""The user's pipeline package: where it is, whether it changed, what its image is called."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from dsdt.errors import PathError, UsageError

#: Directories that never belong to a package's source (caches, builds, VCS, venvs).
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".dsdt", ".venv", "venv", "build", "dist",
                       "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
                       ".ruff_cache", "node_modules"})


def project_dir(setup_dir: str | os.PathLike[str]) -> Path:
    """The package directory, checked: it exists and has a ``pyproject.toml`` or ``setup.py``.

    Raises:
        dsdt.errors.PathError: The directory is missing.
        dsdt.errors.UsageError: It is not a Python package.
    """
    path = Path(setup_dir).expanduser().resolve()
    if not path.is_dir():
        raise PathError(f"{setup_dir}: no such directory (give the directory of your "
                        "pipeline's pyproject.toml or setup.py)")
    if not any((path / f).is_file() for f in ("pyproject.toml", "setup.py")):
        raise UsageError(f"{path} has no pyproject.toml or setup.py: dockerize packages a "
                         "normal Python package (see docs/containers.md)")
    return path


def source_fingerprint(path: Path) -> str:
    """A digest of every source file's path, size and mtime (caches and builds skipped).

    It changes whenever a file is added, removed or modified, and costs one
    ``stat`` per file, so checking an unchanged package is cheap.
    """
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = Path(root, name)
            try:
                st = full.stat()
            except FileNotFoundError:  # a dangling symlink
                continue
            rel = full.relative_to(path).as_posix()
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def image_name(dist_name: str) -> str:
    """The image repository name of a distribution: its normalised name (PEP 503).

    ``Churn_Pipeline`` becomes ``churn-pipeline``.

    Raises:
        dsdt.errors.UsageError: The name has characters an image name cannot have.
    """
    name = re.sub(r"[-_.]+", "-", dist_name).lower().strip("-")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        raise UsageError(f"package name {dist_name!r} cannot name an image (only ASCII "
                         "letters, digits, '-', '_' and '.'): rename the distribution")
    return name


def dist_name(path: Path) -> str | None:
    """The distribution name of the package in ``path``, when it is written down statically.

    Read from ``pyproject.toml`` (``[project] name``, else Poetry's
    ``[tool.poetry] name``), else ``setup.cfg`` (``[metadata] name``). None
    when only ``setup.py`` knows it (then the built wheel tells).

    Raises:
        dsdt.errors.UsageError: ``pyproject.toml`` or ``setup.cfg`` cannot be parsed.
    """
    import configparser
    import tomllib

    if (path / "pyproject.toml").is_file():
        try:
            data = tomllib.loads((path / "pyproject.toml").read_text())
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{path / 'pyproject.toml'} is not valid TOML: {e}") from None
        for table in (data.get("project", {}), data.get("tool", {}).get("poetry", {})):
            if isinstance(table.get("name"), str) and table["name"]:
                return table["name"]
    if (path / "setup.cfg").is_file():
        cfg = configparser.ConfigParser(interpolation=None)
        try:
            cfg.read(path / "setup.cfg")
        except configparser.Error as e:
            raise UsageError(f"{path / 'setup.cfg'} cannot be parsed: {e}") from None
        return cfg.get("metadata", "name", fallback="") or None
    return None
