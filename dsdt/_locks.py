"""Lock files: ``<path>.lock`` held with ``flock``, and long-lived ``flock`` fences and markers.

A lock is a ``<path>.lock`` file created with ``O_CREAT | O_EXCL`` and held
with ``flock`` for its whole life, so a lock whose owner died (even by
SIGKILL) is recognised as stale and cleared without manual clean-up. No
lock file is ever opened through a symlink or blocked on as a FIFO: git can
plant either.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dsdt._fs import misplaced_error, open_making_dir, symlink_error, tmp_name
from dsdt.errors import LockError, PlantedPathError


class FileLock:
    """A ``<target>.lock`` file held with ``flock`` for its lifetime.

    The lock file is prepared under a temporary name (owner ``pid@host``
    written, ``flock`` taken) and only then hard-linked to ``<target>.lock``,
    so a visible lock file always has an owner holding its ``flock``. A lock
    file whose ``flock`` somebody else can take has lost its owner (a crashed
    or killed process; the kernel drops the ``flock`` of a dead process) and is
    removed by the next process that wants the lock; so is anything at that
    name that no dsdt process made (a symlink, a FIFO), without following it.

    Args:
        target: What is locked; with ``dir_fd``, a name in that directory.
        timeout: Seconds to wait for another holder.
        dir_fd: A directory already opened (and checked) by the caller: every
            file of the lock is made there, never through a path lookup.
    """

    def __init__(self, target: Path, timeout: float = 30.0, *, dir_fd: int | None = None) -> None:
        self.path = target.with_name(target.name + ".lock")
        self.timeout = timeout
        self._dir = dir_fd
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, clearing a stale one, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        fd, tmp = self._prepare()
        try:
            while True:
                try:
                    os.link(tmp, self.path, src_dir_fd=self._dir, dst_dir_fd=self._dir,
                            follow_symlinks=False)
                    break
                except FileExistsError:
                    pass
                if self._clear_if_stale():
                    continue
                if time.monotonic() > deadline:
                    raise LockError(
                        f"{self.path} is held by another dsdt process; wait for it to finish "
                        "(or remove the file if no dsdt process is running)"
                    )
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        except BaseException:
            os.close(fd)  # drops our flock too: nothing is left held
            raise
        finally:
            self._unlink(tmp)
        self._fd = fd

    def _unlink(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path, dir_fd=self._dir)

    def _prepare(self) -> tuple[int, Path]:
        """A locked, owned temporary lock file next to the real one."""
        tmp = tmp_name(self.path)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = (open_making_dir(tmp, flags, 0o644) if self._dir is None
              else os.open(tmp, flags, 0o644, dir_fd=self._dir))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
        except BaseException:
            os.close(fd)
            self._unlink(tmp)
            raise
        return fd, tmp

    def release(self) -> None:
        """Remove the lock file (while still holding ``flock``), then let go."""
        if self._fd is None:
            return
        self._unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def _clear_if_stale(self) -> bool:
        """Remove the lock file if its owner is gone. True if the caller should retry now."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK,
                         dir_fd=self._dir)
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            self._unlink(self.path)  # a symlink: no dsdt lock, and never followed
            return True
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):  # git made it (a file below it): not ours to remove
                raise misplaced_error(self.path, directory=False)
            if not stat.S_ISREG(mode):
                self._unlink(self.path)  # a FIFO or device: no dsdt lock
                return True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return False  # a live owner holds it
                raise
            try:
                current = os.stat(self.path, dir_fd=self._dir, follow_symlinks=False)
                if current.st_ino != os.fstat(fd).st_ino:
                    return True  # already replaced by a new lock
            except FileNotFoundError:
                return True
            # We hold the flock of the dead owner's inode, so nobody else can be
            # clearing or taking this same file: removing it is safe.
            self._unlink(self.path)
            return True
        finally:
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def flocked(path: Path, *, shared: bool, timeout: float = 30.0) -> Iterator[None]:
    """Hold a ``flock`` on a long-lived file (created if missing) for a ``with`` block.

    Shared holders run together; an exclusive holder waits for them and keeps
    new ones out. The kernel drops the lock of a process that dies.
    """
    fd = _open_lock_file(path)
    try:
        _flock_until(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, timeout, path)
        yield
    finally:
        os.close(fd)


def _flock_until(fd: int, mode: int, timeout: float, path: Path) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() > deadline:
            raise LockError(f"{path} is held by another dsdt process (a gc, or writers while "
                            "gc waits); try again when it has finished")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _open_lock_file(path: Path) -> int:
    """Open (creating) a long-lived lock file, never through a symlink or into a FIFO."""
    try:
        fd = open_making_dir(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise symlink_error(path) from None
        if e.errno in (errno.EISDIR, errno.ENOTDIR):
            raise PlantedPathError(f"{path} is not a regular file (or is in one); "
                                   "remove it") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise misplaced_error(path, directory=False)
    return fd


def hold_open_marker(path: Path) -> int:
    """Create and share-lock ``path``; return the fd to keep while the thing it marks lives."""
    fd = _open_lock_file(path)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def marker_is_held(path: Path) -> bool:
    """True if a live process holds the marker at ``path`` (a symlink or FIFO never is)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        if e.errno == errno.ELOOP:
            return False
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)
