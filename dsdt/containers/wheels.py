"""The wheelhouse built on the host: dsdt, the user's package, and every dependency.

The image installs these with ``pip install --no-index``, so its build needs
no network and installs exactly what was resolved here. Both expensive steps
are cached under ``$DSDT_CACHE_DIR`` (default ``~/.cache/dsdt``)/``dockerize``:

* the user's wheel, by the fingerprint of its source tree (paths, sizes,
  mtimes), so an unchanged package is not rebuilt;
* the dependency wheels, by the requirements of both packages, the Python
  version and platform, and the pip settings; so only a change of
  requirements resolves and downloads again.

Cached wheels are reused byte for byte, which is what lets Docker reuse its
cached layers on a re-``dockerize``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

import dsdt
from dsdt.containers.project import source_fingerprint
from dsdt.errors import ContainerError
from dsdt.repo import template_dir

_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same files give the same wheel


@dataclass(frozen=True)
class Wheelhouse:
    """Where the wheels are.

    Attributes:
        deps: Directory of the dependency wheels (neither dsdt nor the package).
        packages: The dsdt wheel and the user's wheel.
    """

    deps: Path
    packages: tuple[Path, ...]


def cache_root() -> Path:
    """``$DSDT_CACHE_DIR`` (else ``$XDG_CACHE_HOME/dsdt``, else ``~/.cache/dsdt``)/dockerize."""
    base = os.environ.get("DSDT_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dsdt"
    return Path(base) / "dockerize"


def build_wheelhouse(setup_dir: Path, pip_conf: Path | None = None,
                     log: Callable[[str], None] = lambda _: None) -> Wheelhouse:
    """Build (or reuse) the wheels of dsdt, the package in ``setup_dir`` and their dependencies.

    Args:
        setup_dir: The user's package directory.
        pip_conf: A ``pip.conf`` used for resolving and downloading (private
            indexes, proxies).
        log: Receives one line per step.

    Returns:
        Where the wheels are.

    Raises:
        dsdt.errors.ContainerError: This host cannot build Linux wheels, or pip
            could not build a wheel or resolve the dependencies (its output is
            in the message).
    """
    if sys.platform != "linux":
        raise ContainerError(
            f"dockerize builds the image's wheels with this machine's pip, so it runs on "
            f"Linux only (this is {sys.platform}): run it on a Linux machine or in a Linux "
            "container of the image's architecture")
    user_wheel = package_wheel(setup_dir, pip_conf, log)
    own = dsdt_wheel(cache_root() / "dsdt")
    deps_dir = cache_root() / "deps" / _key(wheel_requirements(own), wheel_requirements(
        user_wheel), pip_conf.read_bytes() if pip_conf else b"")
    if not _complete(deps_dir):
        log("resolving and downloading the dependencies")
        _build_into(deps_dir, ["wheel", str(own), str(user_wheel)], pip_conf,
                    drop=(own.name, user_wheel.name))
    return Wheelhouse(deps_dir, (own, user_wheel))


def package_wheel(setup_dir: Path, pip_conf: Path | None = None,
                  log: Callable[[str], None] = lambda _: None) -> Path:
    """The wheel of the package in ``setup_dir``, rebuilt only when its source changed.

    Args:
        setup_dir: The package's directory.
        pip_conf: A ``pip.conf`` for pip.
        log: Receives a line when the wheel is built.

    Returns:
        The cached wheel's path.

    Raises:
        dsdt.errors.ContainerError: pip could not build it.
    """
    pkg_dir = cache_root() / "packages" / _key(source_fingerprint(setup_dir))
    if not _complete(pkg_dir):
        log(f"building the wheel of {setup_dir}")
        _build_into(pkg_dir, ["wheel", "--no-deps", str(setup_dir)], pip_conf)
    wheels = sorted(pkg_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise ContainerError(f"expected one wheel in {pkg_dir}, found {len(wheels)}; delete "
                             f"{pkg_dir} and dockerize again")
    return wheels[0]


def wheel_name(wheel: Path) -> str:
    """The distribution name in a wheel's metadata."""
    return _metadata(wheel)["Name"] or wheel.name.split("-", 1)[0]


def wheel_requirements(wheel: Path) -> str:
    """A wheel's name and sorted ``Requires-Dist`` lines, as one string."""
    meta = _metadata(wheel)
    return "\n".join([meta["Name"] or "", *sorted(meta.get_all("Requires-Dist") or [])])


def dsdt_wheel(dest: Path) -> Path:
    """A wheel of the running dsdt, packed from its installed files (works for editable installs).

    The same installed files always give the same bytes (fixed timestamps,
    sorted entries), so Docker's layer cache holds across re-builds.

    Args:
        dest: Directory the wheel is written to.

    Returns:
        The wheel's path.
    """
    dist = importlib.metadata.distribution("dsdt")
    version = dist.version
    info = f"dsdt-{version}.dist-info"
    files: dict[str, bytes] = {}
    pkg = Path(dsdt.__file__).resolve().parent
    for path in sorted(pkg.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[f"dsdt/{path.relative_to(pkg).as_posix()}"] = path.read_bytes()
    if not (pkg / "_template").is_dir():  # a source checkout: the template sits beside it
        for path in sorted(template_dir().rglob("*")):
            if path.is_file():
                rel = path.relative_to(template_dir()).as_posix()
                files[f"dsdt/_template/{rel}"] = path.read_bytes()
    files[f"{info}/METADATA"] = (dist.read_text("METADATA") or "").encode()
    files[f"{info}/entry_points.txt"] = (dist.read_text("entry_points.txt") or "").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: dsdt\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{name},sha256={_b64sha(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"dsdt-{version}-py3-none-any.whl"
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, _EPOCH), data, zipfile.ZIP_DEFLATED)
    if out.exists() and out.read_bytes() == tmp.read_bytes():
        tmp.unlink()  # unchanged: keep the old file (and its mtime)
    else:
        tmp.replace(out)
    return out


def _b64sha(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _metadata(wheel: Path) -> Message:
    """The ``METADATA`` of a wheel."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            return Parser().parsestr(zf.read(name).decode())
    except (OSError, StopIteration, zipfile.BadZipFile, UnicodeDecodeError):
        raise ContainerError(f"{wheel} is not a readable wheel; delete it and dockerize "
                             "again") from None


def _key(*parts: str | bytes) -> str:
    """A cache key of ``parts``, this interpreter and this platform."""
    h = hashlib.sha256(f"{sys.implementation.cache_tag}\0{platform.machine()}\n".encode())
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _complete(d: Path) -> bool:
    return (d / ".complete").is_file()


def _build_into(dest: Path, pip_args: list[str], pip_conf: Path | None,
                drop: tuple[str, ...] = ()) -> None:
    """Run ``pip <args> -w TMP``, then move TMP to ``dest`` (complete or absent).

    Two processes may build the same ``dest`` at once: the first to finish
    wins and the other's result is dropped.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    if pip_conf is not None:
        env["PIP_CONFIG_FILE"] = str(pip_conf)
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", *pip_args, "-w", str(tmp)],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise ContainerError(f"pip {pip_args[0]} failed (exit {proc.returncode}):\n{tail}")
        for name in drop:
            (tmp / name).unlink(missing_ok=True)
        (tmp / ".complete").touch()  # dest appears whole (rename), never half-made
        try:
            tmp.rename(dest)
        except OSError:
            if not _complete(dest):  # anything but another process's finished build
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
