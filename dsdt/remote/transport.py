"""The one small interface every remote store implements.

A transport stores opaque objects under ``/``-separated keys relative to its
root (``s3://bucket/prefix`` or a directory). Everything dsdt puts on a
remote goes through these few calls, so the S3 and directory remotes share
one layout and one push/pull implementation, and one contract test suite
runs against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dsdt.errors import CorruptObjectError

#: Called with a number of bytes just transferred (for progress bars).
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Leftover:
    """Something a killed writer left on the remote: a temporary file, an unfinished upload.

    Attributes:
        name: What identifies it to :meth:`Transport.remove_leftover`.
        size: Its size in bytes (0 when the store does not say).
        mtime: When it was started or last written, as epoch seconds.
    """

    name: str
    size: int
    mtime: float


def too_large(url: str, key: str, limit: int) -> CorruptObjectError:
    """The error for a remote object larger than the bytes declared for it."""
    return CorruptObjectError(f"{url}/{key} is larger than the {limit} bytes declared for it; "
                              "nothing was kept (the remote copy is corrupt or hostile)")


def truncated(url: str, key: str, offset: int, length: int) -> CorruptObjectError:
    """The error for an object that ends before a byte range it should hold."""
    return CorruptObjectError(f"{url}/{key} ends before bytes {offset}..{offset + length} that "
                              "its index declares; nothing was kept (the remote copy is "
                              "truncated, corrupt or hostile)")


@dataclass(frozen=True)
class Versioned:
    """An object's content with the token that identifies this version of it.

    Attributes:
        data: The bytes, or None when the object does not exist.
        token: An opaque version token (the S3 ETag, a hash for directories);
            None when the object does not exist.
    """

    data: bytes | None
    token: str | None


class Transport(ABC):
    """A remote object store rooted at :attr:`url`.

    Keys are relative POSIX paths without a leading ``/``. Implementations
    retry transient failures (throttling, 5xx, timeouts) themselves and raise
    :class:`dsdt.errors.RemoteError` for anything else; a missing object is
    :class:`dsdt.errors.NotFoundError`.
    """

    url: str

    @abstractmethod
    def check(self) -> None:
        """Raise RemoteError unless the root (bucket, directory) exists and is reachable."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes of an object, or None if it does not exist."""

    @abstractmethod
    def stamp(self, key: str) -> str | None:
        """An opaque stamp of the object's current version (None if it does not exist).

        Any write to the object, by anyone, changes its stamp (the S3 ETag; a
        directory file's inode, size and change time), so a stamp recorded when
        dsdt wrote the object proves later that the bytes are still dsdt's.
        """

    @abstractmethod
    def get(self, key: str, limit: int | None = None) -> bytes:
        """The whole content of a (small) object.

        Raises:
            CorruptObjectError: It holds more than ``limit`` bytes.
        """

    @abstractmethod
    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes of an object from ``offset`` on (one request).

        Raises:
            NotFoundError: The object does not exist.
            CorruptObjectError: It ends before ``offset + length`` (truncated).
        """

    @abstractmethod
    def get_file(self, key: str, dest: Path, progress: Progress | None = None,
                 limit: int | None = None) -> None:
        """Download an object to a new local file ``dest`` (streamed, multipart if large).

        Raises:
            CorruptObjectError: It holds more than ``limit`` bytes (nothing is kept).
        """

    @abstractmethod
    def sha256(self, key: str, limit: int | None = None) -> str:
        """The sha256 of the object's bytes, streamed through this process and not stored."""

    @abstractmethod
    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> str | None:
        """Store a (small) object.

        Args:
            key: Where.
            data: The content.
            if_absent: Do not overwrite an existing object (atomically).

        Returns:
            The stamp of the object written; None when ``if_absent`` and the
            object already existed, or when the stamp cannot be proven to be of
            this write (the object was replaced at once).
        """

    @abstractmethod
    def put_file(self, key: str, src: Path, progress: Progress | None = None) -> str | None:
        """Upload a local file (streamed, multipart if large); never visible half-written.

        Returns:
            The stamp of the object written, or None when it cannot be proven
            to be of this write.
        """

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (a key prefix, usually ending in ``/``), in any order."""

    @abstractmethod
    def list_info(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        """``(key, size, last modified as epoch seconds)`` of the objects under ``prefix``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object (no error if it is already gone)."""

    def irregular(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` that are not plain objects (a directory's symlinks, FIFOs).

        Such entries are never followed or read; a sweep that meets one stops,
        since it might hide what it lists. Object stores have none.
        """
        return []

    def misplaced(self, dirs: Iterable[str], inner: Iterable[str] = ()) -> list[str]:
        """Those of ``dirs`` (directories of the root), and of the entries of the ``inner``
        ones (shards), where something other than a directory stands.

        A directory remote's symlink, file or FIFO there stops every read and
        write below it (none is followed). Object stores have none.
        """
        return []

    @abstractmethod
    def leftovers(self) -> Iterator[Leftover]:
        """What interrupted writers left behind (temporary files, unfinished uploads)."""

    @abstractmethod
    def remove_leftover(self, leftover: Leftover) -> None:
        """Remove one thing :meth:`leftovers` found."""

    @abstractmethod
    def read_versioned(self, key: str) -> Versioned:
        """Content and version token of a mutable object (the remote context refs)."""

    @abstractmethod
    def swap(self, key: str, expected: str | None, data: bytes) -> str:
        """Compare-and-swap: write ``data`` if the object is still at version ``expected``.

        Args:
            key: The mutable object.
            expected: The token read before (None: the object must not exist).
            data: The new content.

        Returns:
            The new version token.

        Raises:
            ConflictError: Somebody else changed (or created) the object meanwhile.
        """
