"""The ref store: small mutable files changed only by compare-and-swap.

A ref is a file holding one line (usually an object id). Every change takes
``<ref>.lock``, re-reads the current value under the lock, compares it with
what the caller expected, writes the new value atomically (fsync, rename)
and releases the lock. Nothing else under ``.dsdt/`` ever changes in place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from dsdt._fs import FileLock, atomic_write, fsync_dir
from dsdt.errors import ConflictError, CorruptObjectError

#: Sentinel for "the ref must not exist" in compare-and-swap.
ABSENT = None


class RefStore:
    """Refs stored as files under ``root`` (the ``.dsdt`` directory).

    Ref names are relative POSIX paths such as ``HEAD`` or
    ``refs/contexts/main/bundles/ab/<uuid>``; callers validate user-given parts.
    """

    def __init__(self, root: Path, lock_timeout: float = 30.0) -> None:
        self.root = root
        self.lock_timeout = lock_timeout

    def path(self, name: str) -> Path:
        """The file backing ref ``name``."""
        return self.root / name

    def read(self, name: str) -> str | None:
        """Current value of a ref, or None if it does not exist."""
        try:
            data = self.path(name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CorruptObjectError(f"ref {name} is not UTF-8 text; run dsdt fsck") from None

    def swap(self, name: str, expected: str | None, new: str | None) -> None:
        """Set ref ``name`` to ``new`` (None deletes) if it currently equals ``expected``.

        Raises:
            ConflictError: The ref changed since the caller read it.
        """
        path = self.path(name)
        with FileLock(path, self.lock_timeout):
            current = self.read(name)
            if current != expected:
                raise ConflictError(
                    f"ref {name} is {current!r}, expected {expected!r}: another process changed "
                    "it; re-run the command"
                )
            if new is None:
                if current is not None:
                    os.unlink(path)
                    fsync_dir(path.parent)
            else:
                atomic_write(path, (new + "\n").encode("utf-8"))

    def create(self, name: str, value: str) -> None:
        """Create a ref that must not exist yet."""
        self.swap(name, ABSENT, value)

    def delete(self, name: str, expected: str | None = None) -> bool:
        """Delete a ref; with ``expected``, only if it still has that value.

        Returns:
            True if this call deleted it, False if it was already gone.
        """
        path = self.path(name)
        if expected is None and not path.exists():
            return False
        with FileLock(path, self.lock_timeout):
            current = self.read(name)
            if current is None:
                return False
            if expected is not None and current != expected:
                raise ConflictError(f"ref {name} is {current!r}, expected {expected!r}: another "
                                    "process changed it; re-run the command")
            os.unlink(path)
            fsync_dir(path.parent)
        return True

    def list(self, prefix: str) -> Iterator[tuple[str, Path]]:
        """Leaf names and paths of refs below directory ``prefix`` (lock and temp files skipped)."""
        base = self.path(prefix)
        if not base.is_dir():
            return
        stack = [base]
        while stack:
            for entry in os.scandir(stack.pop()):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif not entry.name.startswith(".") and not entry.name.endswith(".lock"):
                    yield entry.name, Path(entry.path)
