"""Filesystem primitives: atomic and write-once files, fsync, no-symlink reads, copies.

Everything that changes a file under ``.dsdt/`` goes through this module (and
:mod:`dsdt._locks` for lock files), so the crash-safety rules live in one
place: a new file is written to a temporary name in the target directory,
fsynced and moved into place with ``os.replace``; the directory is fsynced
after. Nothing under ``.dsdt/`` is read through a symlink (git can carry one).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from dsdt.errors import CorruptObjectError, PlantedPathError

_FICLONE = 0x40049409  # linux/fs.h: ioctl that makes a reflink copy


_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # O_NONBLOCK: a FIFO never blocks open


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, refusing a symlink, a FIFO or too many bytes.

    What git or a teammate put under ``.dsdt/`` may be a symlink to a secret
    or to ``/dev/zero``: this never follows one and never reads past ``limit``.

    Raises:
        FileNotFoundError: There is nothing at ``path``.
        PlantedPathError: It is a symlink or not a regular file.
        CorruptObjectError: It is too large.
    """
    try:
        fd = os.open(path, _READ)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise symlink_error(path) from None
        raise
    return _read_opened(fd, path, limit)


_FIRST_READ = 1 << 16


def _read_opened(fd: int, path: Path | str, limit: int, name: str = "") -> bytes:
    """Read (and close) the open file ``fd``: its bytes, if it is a regular file.

    A small file takes one ``read``: a short read is the end of a regular file
    (the open refused a symlink, reading a directory fails, and git makes no
    FIFO or device). Anything else is checked with ``fstat`` first. Errors name
    ``path``, joined with ``name`` when the file was opened in directory ``path``.
    """
    try:
        data = os.read(fd, min(limit + 1, _FIRST_READ))
        if 0 < len(data) < _FIRST_READ and len(data) <= limit:
            return data
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PlantedPathError(f"{_joined(path, name)} is not a regular file; remove it "
                                   "(run dsdt fsck)")
        if st.st_size > limit:
            raise CorruptObjectError(f"{_joined(path, name)} holds {st.st_size} bytes, more "
                                     f"than the {limit} a file of its kind may; remove it "
                                     "(run dsdt fsck)")
        while 0 < len(data) < st.st_size:
            more = os.read(fd, min(st.st_size - len(data), 1 << 30))
            if not more:
                break  # it shrank while it was read
            data += more
        return data[:limit]
    except (IsADirectoryError, BlockingIOError):
        raise PlantedPathError(f"{_joined(path, name)} is not a regular file; remove it "
                               "(run dsdt fsck)") from None
    finally:
        os.close(fd)


def _joined(path: Path | str, name: str) -> str:
    """How errors name a file (joined only then: an index rebuild reads 200,000 files)."""
    return f"{path}/{name}" if name else str(path)


class DirFiles:
    """Reads small regular files of one directory through the directory's descriptor.

    Opening each file relative to the open directory spares the kernel a path
    walk and Python a ``Path`` per file: an index rebuild reads two files per
    bundle this way. The directory must have passed :meth:`Confined.dir`; it
    is opened without following a symlink, and may be absent (nothing to read).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            self._fd = None
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PlantedPathError(f"{path} is not a directory (a symlink?); remove it "
                                       "(run dsdt fsck)") from None
            raise

    def names(self) -> list[str]:
        """The names in the directory (none if it is absent)."""
        return [] if self._fd is None else os.listdir(self._fd)

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of regular file ``name`` (see :func:`read_regular`)."""
        if self._fd is None:
            raise FileNotFoundError(errno.ENOENT, "no such directory", str(self.path))
        try:
            fd = os.open(name, _READ, dir_fd=self._fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise symlink_error(self.path / name) from None
            raise
        return _read_opened(fd, self.path, limit, name)

    def close(self) -> None:
        """Close the directory (reads fail after this)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_regular(path: Path) -> bool:
    """True if ``path`` is a regular file itself (a symlink to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def symlink_error(path: Path) -> PlantedPathError:
    return PlantedPathError(f"{path} is a symlink: dsdt never follows a symlink inside .dsdt "
                            "(git can carry one); remove it")


def misplaced(path: Path, *, directory: bool) -> bool:
    """True if something other than a directory (or, with ``directory`` False, a regular
    file) stands at ``path``: a symlink, a FIFO... (nothing there is not misplaced)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not (stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode))


def misplaced_error(path: Path, *, directory: bool) -> PlantedPathError:
    """The error naming what :func:`misplaced` found at ``path``."""
    if os.path.islink(path):
        return symlink_error(path)
    what = "directory" if directory else "regular file"
    return PlantedPathError(f"{path} is not a {what} (git can put one where dsdt keeps its "
                            "own); remove it")


class Confined:
    """A directory dsdt owns (``.dsdt``): nothing below it is reached through a symlink.

    A long-running process checks again: a ``git pull`` can replace a
    directory checked earlier with a symlink. Each directory checked is
    remembered with its identity (device, inode), and a later use costs one
    ``stat``: a directory that no longer resolves to that identity is
    checked step by step again.

    Args:
        root: The directory (itself may be reached through symlinks: the user chose it).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._checked: dict[str, tuple[int, int] | None] = {  # None: the root, trusted
            str(root): None, os.path.abspath(root): None}

    def dir(self, directory: Path) -> Path:
        """``directory`` if no symlink stands between the root and it.

        Raises:
            PlantedPathError: A component below the root is a symlink or not a
                directory (or the path is not below the root).
        """
        key = str(directory)
        if not self._still(key):
            self._check(key if os.path.isabs(key) else os.path.abspath(key))
        return directory

    def _still(self, key: str) -> bool:
        """True if ``key`` was checked and still resolves to the directory checked."""
        if key not in self._checked:
            return False
        ident = self._checked[key]
        if ident is None:
            return True
        try:
            st = os.stat(key)
        except OSError:
            st = None
        if st is not None and (st.st_dev, st.st_ino) == ident and stat.S_ISDIR(st.st_mode):
            return True  # (a file put there may get the inode number the directory freed)
        del self._checked[key]
        return False

    def _check(self, key: str) -> None:
        """Look at each step from the root down to ``key`` that is not known to be sound."""
        parent, name = os.path.split(key)
        if name in ("", ".", ".."):  # above the root, or a step that is not one
            raise symlink_error(Path(key))
        if not self._still(parent):
            self._check(parent)
        try:
            st = os.lstat(key)
        except OSError:  # not there (yet): nothing to follow
            return
        if stat.S_ISLNK(st.st_mode):
            raise symlink_error(Path(key))
        if not stat.S_ISDIR(st.st_mode):
            raise misplaced_error(Path(key), directory=True)
        self._checked[key] = (st.st_dev, st.st_ino)


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


def open_making_dir(path: Path, flags: int, mode: int) -> int:
    """``os.open`` a file to create, making its directory first if it is missing (it
    usually exists: one failed open costs less than a ``mkdir`` before every file)."""
    try:
        return os.open(path, flags, mode)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, mode)


_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, sync: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new content.

    Args:
        path: Destination file. Its parent directory is created if needed.
        data: The complete new content.
        mode: Permission bits of the new file.
        sync: Fsync the file and its directory (durability), default True.
    """
    tmp = tmp_name(path)
    fd = open_making_dir(tmp, _NEW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
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
    tmp = tmp_name(path)
    fd = open_making_dir(tmp, _NEW, mode)
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
        unlink_quietly(tmp)
    if created:
        fsync_dir(path.parent)
    return created


def unlink_quietly(path: Path) -> None:
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
            unlink_quietly(tmp)
            shutil.copyfile(src, tmp)  # copy_file_range refused this pair: plain read/write
            os.chmod(tmp, 0o444)
        else:
            os.close(dst_fd)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        try:
            os.link(tmp, dst)  # fails when dst exists: never overwrite
        finally:
            unlink_quietly(tmp)
    finally:
        os.close(src_fd)


def remove_tree(path: Path) -> None:
    """Remove a directory tree dsdt made (read-only files in writable dirs go too)."""
    shutil.rmtree(path, ignore_errors=not path.exists())
