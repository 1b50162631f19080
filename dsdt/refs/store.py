"""Ref stores: small mutable values changed only by compare-and-swap.

A ref holds one line (usually an object id) under a ``/``-separated name such
as ``HEAD`` or ``refs/contexts/main/bundles/ab/<uuid>``. Every change
compares the current value with the one the caller expects, and writes only
if they are equal (as dulwich's ``RefsContainer``). :class:`RefStore` keeps
refs as files under ``.dsdt/``; :class:`MemoryRefStore` keeps them in a dict,
and one contract test suite runs over both.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from dsdt._fs import Confined, atomic_write, fsync_dir, read_regular, write_once
from dsdt._locks import FileLock
from dsdt.errors import ConflictError, CorruptObjectError

#: Sentinel for "the ref must not exist" in compare-and-swap.
ABSENT = None
#: The most bytes a ref file (a sha256, a context name, ``context.yaml``) may hold.
MAX_REF_BYTES = 64 << 10


def _conflict(name: str, current: str | None, expected: str | None) -> ConflictError:
    return ConflictError(f"ref {name} is {current!r}, expected {expected!r}: another process "
                         "changed it; re-run the command")


class Refs(ABC):
    """What every ref store offers. Callers validate the user-given parts of names."""

    @abstractmethod
    def read(self, name: str) -> str | None:
        """Current value of a ref, or None if it does not exist."""

    @abstractmethod
    def swap(self, name: str, expected: str | None, new: str | None) -> None:
        """Set ref ``name`` to ``new`` (None deletes) if it currently equals ``expected``.

        Raises:
            ConflictError: The ref changed since the caller read it.
        """

    @abstractmethod
    def delete(self, name: str, expected: str | None = None) -> bool:
        """Delete a ref; with ``expected``, only if it still has that value.

        Returns:
            True if this call deleted it, False if it was already gone.

        Raises:
            ConflictError: ``expected`` was given and the ref holds another value.
        """

    @abstractmethod
    def names(self, prefix: str) -> Iterator[str]:
        """Names of the refs below ``prefix`` (a ``/``-separated directory), in any order."""

    def create(self, name: str, value: str) -> None:
        """Create a ref that must not exist yet."""
        self.swap(name, ABSENT, value)


class RefStore(Refs):
    """Refs stored as files under ``root`` (the ``.dsdt`` directory).

    Every change takes ``<ref>.lock``, re-reads the current value under the
    lock, writes the new value atomically (fsync, rename) and releases the
    lock. Nothing else under ``.dsdt/`` ever changes in place. Refs arrive
    through git: no symlink is followed and no ref file is read past
    :data:`MAX_REF_BYTES`.
    """

    def __init__(self, root: Path, lock_timeout: float = 30.0) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self._confined = Confined(root)

    def path(self, name: str) -> Path:
        """The file backing ref ``name`` (its directories checked: no symlink)."""
        path = self.root / name
        self._confined.dir(path.parent)
        return path

    def read(self, name: str) -> str | None:
        """Current value of a ref, or None if it does not exist."""
        try:
            data = read_regular(self.path(name), MAX_REF_BYTES)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CorruptObjectError(f"ref {name} is not UTF-8 text; run dsdt fsck") from None

    def swap(self, name: str, expected: str | None, new: str | None) -> None:
        """Set ref ``name`` to ``new`` (None deletes) if it currently equals ``expected``."""
        path = self.path(name)
        with FileLock(path, self.lock_timeout):
            current = self.read(name)
            if current != expected:
                raise _conflict(name, current, expected)
            if new is None:
                if current is not None:
                    os.unlink(path)
                    fsync_dir(path.parent)
            elif current is None:
                self._make(name, path, new)
            else:
                atomic_write(path, (new + "\n").encode("utf-8"))

    def create(self, name: str, value: str) -> None:
        """Create a ref that must not exist yet, without a lock file: see :meth:`_make`."""
        self._make(name, self.path(name), value)

    def _make(self, name: str, path: Path, value: str) -> None:
        """Make a ref that was absent with ``link(2)``, which fails when the name exists.

        Every ref comes into being this way, so a creation needs no lock: one
        racing a locked change (or another creation) either finds the name
        taken or takes it before the locked writer, whose own ``link`` then fails.
        """
        if not write_once(path, (value + "\n").encode("utf-8"), mode=0o644):
            raise _conflict(name, self.read(name), ABSENT)

    def delete(self, name: str, expected: str | None = None) -> bool:
        """Delete a ref; with ``expected``, only if it still has that value."""
        path = self.path(name)
        if expected is None and not path.exists():
            return False
        with FileLock(path, self.lock_timeout):
            current = self.read(name)
            if current is None:
                return False
            if expected is not None and current != expected:
                raise _conflict(name, current, expected)
            os.unlink(path)
            fsync_dir(path.parent)
        return True

    def names(self, prefix: str) -> Iterator[str]:
        """Names of the refs below ``prefix`` (lock and temporary files skipped)."""
        base = self.path(prefix)
        if not base.is_dir():
            return
        stack = [base]
        while stack:
            for entry in os.scandir(stack.pop()):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif not entry.name.startswith(".") and not entry.name.endswith(".lock"):
                    yield Path(entry.path).relative_to(self.root).as_posix()


class MemoryRefStore(Refs):
    """Refs in a dict, safe to share between threads (tests, throw-away work)."""

    def __init__(self) -> None:
        self._refs: dict[str, str] = {}
        self._lock = threading.Lock()

    def read(self, name: str) -> str | None:
        """Current value of a ref, or None if it does not exist."""
        return self._refs.get(name)

    def swap(self, name: str, expected: str | None, new: str | None) -> None:
        """Set ref ``name`` to ``new`` (None deletes) if it currently equals ``expected``."""
        with self._lock:
            current = self._refs.get(name)
            if current != expected:
                raise _conflict(name, current, expected)
            if new is None:
                self._refs.pop(name, None)
            else:
                self._refs[name] = new.strip()

    def delete(self, name: str, expected: str | None = None) -> bool:
        """Delete a ref; with ``expected``, only if it still has that value."""
        with self._lock:
            current = self._refs.get(name)
            if current is None:
                return False
            if expected is not None and current != expected:
                raise _conflict(name, current, expected)
            del self._refs[name]
        return True

    def names(self, prefix: str) -> Iterator[str]:
        """Names of the refs below ``prefix``."""
        start = prefix.rstrip("/") + "/"
        with self._lock:
            found = [n for n in self._refs if n.startswith(start)]
        yield from found
