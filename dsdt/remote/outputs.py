"""Outputs written straight to the remote (``get_remote_file``/``get_remote_directory``).

A task that writes to S3 itself (Spark, a big export) asks an open bundle
for a remote location: ``<remote>/staging/<uuid>/<name>``. When the bundle
closes, whatever was written there and named in the bundle's data is brought
into the bundle like a managed file (downloaded into its view, hashed, stored
content-addressed, so a later push lands it in the remote's ``blobs/``), and
the staging copy is deleted once the bundle is safely written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dsdt.errors import NoRemoteError, PathError
from dsdt.remote.sync import Remote, open_remote
from dsdt.repo import Repository


class RemoteOutputs:
    """The staged remote outputs of one open bundle."""

    def __init__(self, repo: Repository, ctx: str, uuid: str) -> None:
        self._repo, self._ctx, self._uuid = repo, ctx, uuid
        self._remote: Remote | None = None
        self._staged: dict[str, tuple[str, bool]] = {}  # url -> (relative name, is a directory)

    def _open(self) -> Remote:
        if self._remote is None:
            meta = self._repo.context_meta(self._ctx)
            if not meta.get("remote_url"):
                raise NoRemoteError(f"context {self._ctx!r} has no remote: bind one with dsdt "
                                    "remote before asking for remote output paths")
            self._remote = open_remote(self._repo, self._ctx)
        return self._remote

    def location(self, name: str, directory: bool) -> str:
        """The remote URL to write ``name`` to (a prefix for a directory)."""
        rel = Path(name.strip("/"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise PathError(f"{name!r} must be a relative name inside the bundle")
        remote = self._open()
        key = f"staging/{self._uuid}/{rel.as_posix()}"
        url = f"{remote.url}/{key}"
        if "://" not in url:  # a directory remote: the writer needs the directories
            (Path(url) if directory else Path(url).parent).mkdir(parents=True, exist_ok=True)
        self._staged[url] = (rel.as_posix(), directory)
        return url

    def bring_in(self, value: Any, view: Path) -> Any:
        """Download staged outputs named in ``value``; return it with local paths instead."""
        if not self._staged:
            return value
        fetched: dict[str, str] = {}
        for url, (rel, directory) in self._staged.items():
            if _mentions(value, url):
                fetched[url] = self._download(url, rel, directory, view)
        return _replace(value, fetched)

    def _download(self, url: str, rel: str, directory: bool, view: Path) -> str:
        remote = self._open()
        key = url[len(remote.url) + 1:]
        dest = view / rel
        if not directory:
            dest.parent.mkdir(parents=True, exist_ok=True)
            remote.transport.get_file(key, dest)
            return str(dest)
        for sub in remote.transport.list(key + "/"):
            target = dest / sub[len(key) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            remote.transport.get_file(sub, target)
        dest.mkdir(parents=True, exist_ok=True)
        return str(dest)

    def cleanup(self) -> None:
        """Delete this bundle's staging area (after the bundle is written).

        Everything under ``staging/<uuid>/`` goes: the outputs, and what
        writers left beside them (luigi's directory markers and temporaries).
        """
        if self._remote is None:
            return
        tr = self._remote.transport
        for key in list(tr.list(f"staging/{self._uuid}/")):
            tr.delete(key)


def _path_of(value: Any) -> str | None:
    """The location a str or a luigi file target (``S3Target``, ``LocalTarget``) names."""
    if isinstance(value, str):
        return value
    luigi = sys.modules.get("luigi")
    if luigi is not None and isinstance(value, luigi.target.FileSystemTarget):
        return str(value.path)
    return None


def _mentions(value: Any, url: str) -> bool:
    if (path := _path_of(value)) is not None:
        return path == url or path.startswith(url + "/")
    if isinstance(value, dict):
        return any(_mentions(k, url) or _mentions(v, url) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_mentions(v, url) for v in value)
    return False


def _replace(value: Any, fetched: dict[str, str]) -> Any:
    if (path := _path_of(value)) is not None:
        for url, local in fetched.items():
            if path == url or path.startswith(url + "/"):
                return local + path[len(url):]
        return value
    if type(value) is dict:
        return {_replace(k, fetched): _replace(v, fetched) for k, v in value.items()}
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_replace(v, fetched) for v in value)
    return value
