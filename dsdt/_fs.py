"""Filesystem primitives: atomic writes, lock files, fsync, link-or-copy.

Everything that changes a file under ``.dsdt/`` goes through this module, so
the crash-safety rules live in one place:

* a new file is written to a temporary name in the target directory, fsynced
  and moved into place with ``os.replace``; the directory is fsynced after;
* a lock is a ``<path>.lock`` file created with ``O_CREAT | O_EXCL`` and held
  with ``flock`` for its whole life, so a lock whose owner died (even by
  SIGKILL) is recognised as stale and cleared without manual clean-up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dsdt.errors import CorruptObjectError, LockError

_FICLONE = 0x40049409  # linux/fs.h: ioctl that makes a reflink copy


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, refusing a symlink, a FIFO or too many bytes.

    What git or a teammate put under ``.dsdt/`` may be a symlink to a secret
    or to ``/dev/zero``: this never follows one and never reads past ``limit``.

    Raises:
        FileNotFoundError: There is nothing at ``path``.
        CorruptObjectError: It is a symlink, not a regular file, or too large.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _symlink(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CorruptObjectError(f"{path} is not a regular file; remove it (run dsdt fsck)")
        if st.st_size > limit:
            raise CorruptObjectError(f"{path} holds {st.st_size} bytes, more than the {limit} a "
                                     "file of its kind may; remove it (run dsdt fsck)")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise CorruptObjectError(f"{path} grew past {limit} bytes while it was read")
    return data


def is_regular(path: Path) -> bool:
    """True if ``path`` is a regular file itself (a symlink to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _symlink(path: Path) -> CorruptObjectError:
    return CorruptObjectError(f"{path} is a symlink: dsdt never follows a symlink inside .dsdt "
                              "(git can carry one); remove it")


class Confined:
    """A directory dsdt owns (``.dsdt``): nothing below it is reached through a symlink.

    Args:
        root: The directory (itself may be reached through symlinks: the user chose it).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real = os.path.realpath(root)
        self._checked: set[str] = set()

    def dir(self, directory: Path) -> Path:
        """``directory`` if no symlink stands between the root and it (checked once).

        Raises:
            CorruptObjectError: A component below the root is a symlink.
        """
        key = str(directory)
        if key not in self._checked:
            rel = os.path.relpath(directory, self.root)
            expected = os.path.normpath(os.path.join(self._real, rel))
            if rel.startswith("..") or os.path.realpath(directory) != expected:
                raise _symlink(directory)
            self._checked.add(key)
        return directory


def shard_files(top: Path, *, hidden: bool = False) -> Iterator[Path]:
    """Files two levels below ``top`` (``top/<shard>/<name>``), never through a symlink.

    Args:
        top: A sharded directory of ``.dsdt`` (``records``, ``cache/blobs``).
        hidden: Yield only names starting with ``.`` (temporary files), else only the others.
    """
    if top.is_symlink() or not top.is_dir():
        return
    for shard in os.scandir(top):
        if shard.is_dir(follow_symlinks=False):
            for entry in os.scandir(shard.path):
                if entry.name.startswith(".") == hidden and entry.is_file(follow_symlinks=False):
                    yield Path(entry.path)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(path: Path) -> Path:
    """A unique temporary sibling of ``path`` (same directory, so same filesystem)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new content.

    Args:
        path: Destination file. Its parent directory is created if needed.
        data: The complete new content.
        mode: Permission bits of the new file.
        sync: Fsync the file and its directory (durability), default True.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if sync:
        fsync_dir(path.parent)


def write_once(path: Path, data: bytes, *, mode: int = 0o444) -> bool:
    """Create ``path`` with ``data`` unless it already exists (immutable objects).

    Returns:
        True if this call created the file, False if it was already there.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if somebody else won the race: never overwrite
            created = True
        except FileExistsError:
            created = False
    finally:
        _unlink_quietly(tmp)
    if created:
        fsync_dir(path.parent)
    return created


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def reflink(src_fd: int, dst_fd: int) -> bool:
    """Try a copy-on-write clone of ``src_fd`` into ``dst_fd``; False if unsupported."""
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
    except OSError:
        return False
    return True


def link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` show the bytes of read-only ``src``: hardlink, else copy.

    Only used for files dsdt owns and keeps read-only (blobs), never for a file
    the user can still edit.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o444)


def clone_file(src: Path, dst: Path) -> None:
    """Make a new file ``dst`` with the bytes and mtime of ``src``, sharing no inode with it.

    A reflink (copy-on-write clone) where the file system has one, else a
    kernel copy. The copy is read-only. Used for views: whatever a user (even
    root) writes through a view's path never reaches the blob it shows.

    Raises:
        FileExistsError: ``dst`` exists.
    """
    src_fd = os.open(src, os.O_RDONLY)
    try:
        st = os.fstat(src_fd)
        tmp = tmp_name(dst)
        dst_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        try:
            if not reflink(src_fd, dst_fd):
                offset = 0
                while offset < st.st_size:
                    n = os.copy_file_range(src_fd, dst_fd, st.st_size - offset, offset, offset)
                    if n == 0:
                        break
                    offset += n
        except OSError:
            os.close(dst_fd)
            _unlink_quietly(tmp)
            shutil.copyfile(src, tmp)  # copy_file_range refused this pair: plain read/write
            os.chmod(tmp, 0o444)
        else:
            os.close(dst_fd)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        try:
            os.link(tmp, dst)  # fails when dst exists: never overwrite
        finally:
            _unlink_quietly(tmp)
    finally:
        os.close(src_fd)


def remove_tree(path: Path) -> None:
    """Remove a directory tree dsdt made (read-only files in writable dirs go too)."""
    shutil.rmtree(path, ignore_errors=not path.exists())


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
        if self._dir is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
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
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                     dir_fd=self._dir)
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
            if not stat.S_ISREG(os.fstat(fd).st_mode):
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
def locked(target: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold ``<target>.lock`` for the duration of a ``with`` block."""
    with FileLock(target, timeout):
        yield


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
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _symlink(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CorruptObjectError(f"{path} is not a regular file; remove it")
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
