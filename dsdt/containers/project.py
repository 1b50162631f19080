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
    """
    name = re.sub(r"[-_.]+", "-", dist_name).lower().strip("-")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        raise UsageError(f"package name {dist_name!r} cannot name an image")
    return name


def dist_name(path: Path) -> str:
    """The distribution name of the package in ``path``.

    Read from ``pyproject.toml`` (``[project] name``), else ``setup.cfg``
    (``[metadata] name``), else by asking ``setup.py --name``.

    Raises:
        dsdt.errors.UsageError: No name can be found.
    """
    import configparser
    import subprocess
    import sys
    import tomllib

    if (path / "pyproject.toml").is_file():
        try:
            name = tomllib.loads((path / "pyproject.toml").read_text()).get(
                "project", {}).get("name")
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{path / 'pyproject.toml'} is not valid TOML: {e}") from None
        if isinstance(name, str) and name:
            return name
    if (path / "setup.cfg").is_file():
        cfg = configparser.ConfigParser()
        cfg.read(path / "setup.cfg")
        if cfg.get("metadata", "name", fallback=""):
            return cfg.get("metadata", "name")
    if (path / "setup.py").is_file():
        proc = subprocess.run([sys.executable, "setup.py", "--name"], cwd=path,
                              capture_output=True, text=True, check=False)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode == 0 and lines:
            return lines[-1].strip()
    raise UsageError(f"cannot find the package name of {path}: set [project] name in "
                     "pyproject.toml (or name= in setup.py)")
