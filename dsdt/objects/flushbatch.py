"""Blobs written but not yet durable: flushed on background threads, renamed in one go.

A batch writer (a directory of small files, a pull) hands each finished
temporary file to a :class:`FlushBatch`; its bytes are fsynced on a pool of
threads while the next files are written (the filesystem commits concurrent
fsyncs together), and :meth:`FlushBatch.flush` renames each to its name once
every flush is done. A blob therefore reaches its name only with its bytes
on disk, and dsdt never flushes more of the disk than the files it wrote.

The batch belongs to one process: a forked child (a luigi worker) starts with
an empty one, and never renames its parent's files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dsdt._fs import fsync_dir

_THREADS = 8  # fsyncs in flight at once


def fsync_path(path: Path) -> None:
    """Flush one file's bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FlushBatch:
    """The blobs of one store written with ``sync=False`` and not yet in place."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()  # guards _pending
        self._flushing = threading.Lock()  # one flush at a time; readers wait on it
        self._pending: dict[str, tuple[Future[None], Path]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def _mine(self) -> None:
        """After a fork, the parent's batch (its threads, its files) is not this process's."""
        if self._pid != os.getpid():
            self._reset()

    def __contains__(self, blob_id: object) -> bool:
        self._mine()
        return blob_id in self._pending

    def add(self, blob_id: str, tmp: Path) -> None:
        """Start flushing ``tmp``, the complete file of ``blob_id`` (dropped if already here)."""
        self._mine()
        with self._lock:
            if blob_id in self._pending:  # two writers wrote the same bytes
                os.unlink(tmp)
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="dsdt-fsync")
            self._pending[blob_id] = (self._pool.submit(fsync_path, tmp), tmp)

    def flush(self, place: Callable[[str, Path], Path]) -> None:
        """Wait for every flush, then ``place(blob_id, tmp)`` each file (it renames the file
        and returns the directory it entered), and flush those directories.

        A blob leaves the batch only once it is in place, so a reader that
        finds it in the batch and waits for this flush then finds it on disk.

        Raises:
            OSError: A flush or a rename failed; the files not yet in place are
                removed (the blobs are not stored).
        """
        self._mine()
        with self._flushing:
            with self._lock:
                batch = dict(self._pending)
            if not batch:
                return
            try:
                for future, _ in batch.values():
                    future.result()
                dirs = {place(blob_id, tmp) for blob_id, (_, tmp) in batch.items()}
                for directory in dirs:
                    fsync_dir(directory)
            except BaseException:
                for _, tmp in batch.values():
                    tmp.unlink(missing_ok=True)
                raise
            finally:
                with self._lock:
                    for blob_id in batch:
                        self._pending.pop(blob_id, None)
