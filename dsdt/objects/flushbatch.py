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
_CHUNK = 16  # files a thread flushes in turn: one hand-off per chunk, not per file
_forks = [0]  # how many times this process was forked into (a child's batch starts empty)
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


def fsync_path(path: Path | str) -> None:
    """Flush one file's bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_all(paths: list[Path]) -> None:
    for path in paths:
        fsync_path(path)


class FlushBatch:
    """The blobs of one store written with ``sync=False`` and not yet in place."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._fork = _forks[0]
        self._lock = threading.Lock()  # guards _pending and _chunk
        self._flushing = threading.Lock()  # one flush at a time; readers wait on it
        self._pending: dict[str, tuple[Future[None] | None, Path]] = {}  # None: not sent yet
        self._chunk: list[str] = []  # blob ids whose files wait for a thread
        self._pool: ThreadPoolExecutor | None = None

    def _mine(self) -> None:
        """After a fork, the parent's batch (its threads, its files) is not this process's."""
        if self._fork != _forks[0]:
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
            self._pending[blob_id] = (None, tmp)
            self._chunk.append(blob_id)
            if len(self._chunk) >= _CHUNK:
                self._send(self._chunk)
                self._chunk = []

    def _send(self, ids: list[str]) -> None:
        """Hand the files of these blobs to a flushing thread (``_lock`` held)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="dsdt-fsync")
        future = self._pool.submit(_fsync_all, [self._pending[b][1] for b in ids])
        for blob_id in ids:
            self._pending[blob_id] = (future, self._pending[blob_id][1])

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
            with self._lock:  # the last files are flushed side by side, a share of them here
                ids, self._chunk = self._chunk, []
                shares = [ids[i::_THREADS] for i in range(min(_THREADS, len(ids)))]
                for share in shares[1:]:
                    self._send(share)
                own = [self._pending[b][1] for b in shares[0]] if shares else []
                batch = dict(self._pending)
            if not batch:
                return
            try:
                _fsync_all(own)  # a lone file never waits for a thread
                for future in {id(f): f for f, _ in batch.values() if f is not None}.values():
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
