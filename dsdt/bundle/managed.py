"""Managed files: paths inside an open bundle that users write files to."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsdt.errors import PathError
from dsdt.objects.codecs import DBLink
from dsdt.repo import Repository


class ManagedFiles:
    """``get_file``/``make_file``/``get_directory``/``copy_in_file``/``db_table`` of a Bundle.

    The paths are inside the open bundle's view directory; files written
    there are stored without a copy when the bundle closes.
    """

    _repo: Repository
    uuid: str
    local_context: str
    _outputs: Any
    _need_open: Callable[[], Any]  # Bundle's check that it is open

    def _managed(self, rel: str) -> Path:
        self._need_open()
        view = self._view().resolve()
        path = (view / rel).resolve() if not Path(rel).is_absolute() else Path(rel).resolve()
        if path != view and not path.is_relative_to(view):
            raise PathError(f"{rel!r} is outside this bundle's directory {view}")
        return path

    def get_file(self, filename: str) -> str:
        """A path inside the bundle to write a file to; add it with ``add_data``."""
        path = self._managed(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def make_file(self, filename: str | list[str] | dict[str, str]) -> Any:
        """Like :meth:`get_file`, returning ``luigi.LocalTarget``(s) of the same shape."""
        import luigi

        if isinstance(filename, dict):
            return {k: luigi.LocalTarget(self.get_file(v)) for k, v in filename.items()}
        if isinstance(filename, list):
            targets = [luigi.LocalTarget(self.get_file(v)) for v in filename]
            return targets[0] if len(targets) == 1 else targets
        return luigi.LocalTarget(self.get_file(filename))

    def get_directory(self, dir_name: str) -> str:
        """Create a directory inside the bundle and return its path."""
        path = self._managed(dir_name.rstrip("/"))
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    make_directory = get_directory

    def copy_in_file(self, existing_file: str) -> Any:
        """Copy an existing file into the bundle; returns a ``luigi.LocalTarget`` for it."""
        import luigi

        src = Path(existing_file)
        if not src.is_file():
            raise PathError(f"{existing_file} is not a file")
        dst = Path(self.get_file(src.name))
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        return luigi.LocalTarget(str(dst))

    def get_remote_file(self, filename: str) -> str:
        """A location on the context's remote to write a file to; add it with ``add_data``.

        The file is brought into the bundle when it closes (see
        :mod:`dsdt.remote.outputs`).
        """
        return self._remote_outputs().location(filename, directory=False)

    def get_remote_directory(self, dir_name: str) -> str:
        """A location (prefix) on the context's remote to write a directory of files to."""
        return self._remote_outputs().location(dir_name, directory=True)

    def _remote_outputs(self) -> Any:
        self._need_open()
        if self._outputs is None:
            from dsdt.remote.outputs import RemoteOutputs

            self._outputs = RemoteOutputs(self._repo, self.local_context, self.uuid)
        return self._outputs

    def db_table(self, dsn: str, table_name: str, schema_name: str) -> DBLink:
        """A reference to a database table to store in the bundle (never copied)."""
        self._need_open()
        return DBLink(dsn, table_name, schema_name,
                      f"db://{schema_name}.{table_name}@{dsn}")
