"""A write-only stream that becomes a blob: pyarrow and numpy write into it directly.

The producer hands over chunks; a background thread hashes them and writes
them to a temporary file in the store meanwhile, so the data is hashed
without a second read, and is installed under its hash when committed.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from typing import Any


class BlobWriter:
    """A write-only binary stream that becomes a blob when committed.

    The producer (pyarrow writing parquet, numpy writing ``.npy``) hands over
    chunks; a background thread hashes them and writes them to a temporary
    file meanwhile, so the data is hashed without a second read. Use it as a
    context manager: leaving the block normally commits the blob
    (``writer.result`` is then ``(id, size)``), an exception discards it.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._tmp = store.new_tmp()
        self._fd = store.create(self._tmp)
        self._hash = hashlib.sha256()
        self._size = 0
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        self.closed = False
        self.result: tuple[str, int] | None = None

    def _drain(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._error is not None:
                continue
            try:
                self._hash.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._fd, view):]
            except BaseException as e:  # noqa: BLE001 - re-raised in the producer's thread
                self._error = e

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Queue a chunk (copied: the producer may reuse its buffer)."""
        if self._error is not None:
            raise self._error
        chunk = bytes(data)
        self._chunks.put(chunk)
        self._size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def flush(self) -> None:
        """Nothing to do: chunks are written in order by the background thread."""

    def close(self) -> None:
        """Mark the stream closed (producers call this; :meth:`commit` finishes it)."""
        self.closed = True

    def writable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Always False: the stream is written front to back."""
        return False

    def _finish(self) -> None:
        self._chunks.put(None)
        self._thread.join()
        self.closed = True

    def commit(self, sync: bool = True) -> tuple[str, int]:
        """Finish writing and install the blob; return ``(id, size)``."""
        self._finish()
        try:
            if self._error is not None:
                raise self._error
            if sync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
        blob_id = self._hash.hexdigest()
        if self._store._present(blob_id, sync):
            os.unlink(self._tmp)
        else:
            self._store._place(self._tmp, blob_id, sync)
        self.result = (blob_id, self._size)
        return self.result

    def abort(self) -> None:
        """Discard everything written."""
        self._finish()
        os.close(self._fd)
        os.unlink(self._tmp)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
