"""What every blob store offers (:class:`Blobs`), and the in-memory store.

A blob is an immutable byte string whose id is the sha256 of its bytes; one
contract test suite runs over this store and the directory store of
:mod:`dsdt.objects.blobs`.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator

from dsdt.errors import CorruptObjectError, NotFoundError, PlantedPathError


class Blobs(ABC):
    """What every blob store offers: write once by content, read by id."""

    @abstractmethod
    def has(self, blob_id: str) -> bool:
        """True if the blob is present in this store."""

    def here(self, blob_id: str) -> bool:
        """:meth:`has`, for reports (``fsck``, ``status``): a blob behind a planted path
        is not here (fsck names the path; reading or writing through it fails)."""
        try:
            return self.has(blob_id)
        except PlantedPathError:
            return False

    @abstractmethod
    def size(self, blob_id: str) -> int:
        """Size in bytes of a present blob."""

    @abstractmethod
    def read(self, blob_id: str, limit: int | None = None) -> bytes:
        """The whole content of a blob (refused if it holds more than ``limit`` bytes).

        Raises:
            NotFoundError: The blob is not in this store.
        """

    def put_bytes(self, data: bytes, *, sync: bool = True) -> str:
        """Store ``data`` (a no-op when it is there); return its id."""
        blob_id = hashlib.sha256(data).hexdigest()
        self._put(data, blob_id, sync)
        return blob_id

    @abstractmethod
    def _put(self, data: bytes, blob_id: str, sync: bool) -> None:
        """Store ``data``, whose sha256 is ``blob_id`` (a no-op when it is there)."""

    @abstractmethod
    def __iter__(self) -> Iterator[str]:
        """Ids of every blob in the store."""

    def put_verified(self, data: bytes, blob_id: str, *, sync: bool = True) -> None:
        """Store downloaded bytes as blob ``blob_id`` if they hash to that id.

        Raises:
            CorruptObjectError: They do not match; nothing enters the store.
        """
        actual = hashlib.sha256(data).hexdigest()
        if actual != blob_id:
            raise corrupt(blob_id, actual)
        self._put(data, blob_id, sync)  # hashed once: a pull stores 10,000s of small blobs

    def verify(self, blob_id: str) -> bool:
        """True if the blob's bytes still hash to its id."""
        return hashlib.sha256(self.read(blob_id)).hexdigest() == blob_id

    def check(self, blob_id: str) -> None:
        """Raise :class:`CorruptObjectError` unless the blob is present and intact."""
        if not self.has(blob_id):
            raise NotFoundError(f"blob {blob_id} is missing from the cache")
        if not self.verify(blob_id):
            raise CorruptObjectError(
                f"blob {blob_id} does not match its sha256 (disk corruption or a hand edit); "
                "remove it and pull or re-add the bundle"
            )


class MemoryBlobStore(Blobs):
    """Blobs in a dict, safe to share between threads (tests, throw-away work)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def has(self, blob_id: str) -> bool:
        """True if the blob is present in this store."""
        return blob_id in self._blobs

    def size(self, blob_id: str) -> int:
        """Size in bytes of a present blob."""
        return len(self.read(blob_id))

    def read(self, blob_id: str, limit: int | None = None) -> bytes:
        """The whole content of a blob (refused if it holds more than ``limit`` bytes)."""
        try:
            data = self._blobs[blob_id]
        except KeyError:
            raise NotFoundError(f"blob {blob_id} is not in this store") from None
        if limit is not None and len(data) > limit:
            raise CorruptObjectError(f"blob {blob_id} is larger than the {limit} bytes its "
                                     "record allows")
        return data

    def _put(self, data: bytes, blob_id: str, sync: bool) -> None:
        with self._lock:
            self._blobs.setdefault(blob_id, bytes(data))

    def __iter__(self) -> Iterator[str]:
        """Ids of every blob in the store."""
        with self._lock:
            ids = list(self._blobs)
        yield from ids


def corrupt(blob_id: str, actual: str) -> CorruptObjectError:
    return CorruptObjectError(
        f"blob {blob_id} arrived with sha256 {actual}: the remote copy is corrupt; "
        "nothing was stored (re-push it from a repository that has it intact)")


def missing(blob_id: str) -> NotFoundError:
    return NotFoundError(f"blob {blob_id} is not in the local cache; pull the bundle with "
                         "localize")
