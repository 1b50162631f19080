"""A remote that is a plain directory (a local disk, a NAS or an NFS mount).

Keys map to files under the root. Every write goes to a temporary sibling
first and is moved into place with a rename, so readers never see a partial
file. Creating without overwriting uses a hard link (``link`` fails when the
name exists), which is atomic on local file systems and on NFS. The mutable
objects (refs) change under a ``<key>.lock`` file; their version token is the
sha256 of their content.

Whoever can write to the remote directory is not trusted: below the root
(which the user named), no symlink is ever followed. Every path is walked
from the root one directory at a time with ``O_NOFOLLOW``, and only regular
files are read, each no further than the size the caller expects.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from dsdt._locks import FileLock
from dsdt.errors import ConflictError, CorruptObjectError, NotFoundError, RemoteError, UsageError
from dsdt.remote.localio import (
    CHUNK,
    TMP_RE,
    copy_fd,
    is_internal,
    stamp,
    tmp_name,
    token,
    write_all,
)
from dsdt.remote.transport import (
    Leftover,
    Progress,
    Transport,
    Versioned,
    too_large,
    truncated,
)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_SYMLINK_ERRNOS = {errno.ELOOP, errno.ENOTDIR}


class LocalTransport(Transport):
    """A remote store in a directory.

    Args:
        root: The directory. It must exist (see :meth:`check`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(os.path.expanduser(root)))
        self.url = str(self.root)

    def __repr__(self) -> str:
        return f"LocalTransport({self.url!r})"

    # -- paths -------------------------------------------------------------

    def _split(self, key: str, *, internal: bool = False) -> tuple[list[str], str]:
        """Directories and file name of ``key``; UsageError for a key that could escape."""
        parts = key.split("/") if isinstance(key, str) else [""]
        if (not key or key.startswith("/") or "\0" in key
                or any(p in ("", ".", "..") for p in parts)
                or (is_internal(parts[-1]) and not internal)):
            raise UsageError(f"invalid remote key {key!r}: use a relative path without '..'")
        return parts[:-1], parts[-1]

    @contextlib.contextmanager
    def _dir(self, key: str, dirs: list[str], *, create: bool = False) -> Iterator[int]:
        """An fd of the directory ``dirs`` below the root, reached without following symlinks.

        Raises:
            NotFoundError: A directory is missing (and ``create`` is False).
            CorruptObjectError: A component is a symlink or not a directory.
        """
        fd = self._open_root()
        try:
            for part in dirs:
                try:
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise NotFoundError(f"{key} not found in remote {self.url}") from None
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                    nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
            yield fd
        except OSError as e:
            if e.errno in _SYMLINK_ERRNOS:
                raise self._symlink(key) from None
            raise
        finally:
            os.close(fd)

    def _open_root(self) -> int:
        """An fd of the root (the user named it: it may be reached through symlinks).

        Raises:
            RemoteError: It is missing (an unmounted share): the remote cannot be
                read, which is never the same as an empty remote.
        """
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise RemoteError(f"remote directory {self.url} is not there (not mounted, moved "
                              "or deleted?); nothing was read from it") from None

    def _symlink(self, key: str) -> CorruptObjectError:
        return CorruptObjectError(
            f"{key} in directory remote {self.url} goes through a symlink or a non-directory; "
            "dsdt never follows symlinks in a remote (remove it there)")

    @contextlib.contextmanager
    def _reading(self, key: str, limit: int | None) -> Iterator[tuple[int, int]]:
        """An fd of the regular file of ``key`` open for reading, and its size."""
        dirs, name = self._split(key)
        try:
            with self._dir(key, dirs) as dfd:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        except FileNotFoundError:
            raise NotFoundError(f"{key} not found in remote {self.url}") from None
        except OSError as e:
            if e.errno in _SYMLINK_ERRNOS:
                raise self._symlink(key) from None
            raise self._fail("read", key, e) from e
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise NotFoundError(f"{key} not found in remote {self.url}")
            if not stat.S_ISREG(st.st_mode):
                raise CorruptObjectError(f"{key} in directory remote {self.url} is not a "
                                         "regular file (a FIFO?); dsdt never reads one "
                                         "(remove it there)")
            if limit is not None and st.st_size > limit:
                raise too_large(self.url, key, limit)
            yield fd, st.st_size
        finally:
            os.close(fd)

    def _fail(self, op: str, key: str, e: OSError) -> RemoteError:
        return RemoteError(f"{op} {key!r} in directory remote {self.url} failed: {e}")

    # -- Transport -----------------------------------------------------------

    def check(self) -> None:
        """Raise RemoteError unless the root is an existing directory."""
        if self.root.is_dir():
            return
        if self.root.exists():
            raise RemoteError(f"remote {self.url} is a file, not a directory: give the path "
                              "of a directory")
        raise RemoteError(f"remote directory {self.url} does not exist: create it "
                          f"(mkdir -p {self.url}) or fix the remote path")

    def size(self, key: str) -> int | None:
        """Size of the regular file of ``key``, or None if there is none."""
        st = self._lstat(key)
        return st.st_size if st is not None and stat.S_ISREG(st.st_mode) else None

    def _lstat(self, key: str) -> os.stat_result | None:
        dirs, name = self._split(key)
        try:
            with self._dir(key, dirs) as dfd:
                return os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except (FileNotFoundError, NotFoundError, CorruptObjectError):
            return None
        except OSError as e:
            raise self._fail("stat", key, e) from e

    def stamp(self, key: str) -> str | None:
        """Inode, size and change time of the file: any later write changes them."""
        st = self._lstat(key)
        return stamp(st) if st is not None and stat.S_ISREG(st.st_mode) else None

    def get(self, key: str, limit: int | None = None) -> bytes:
        """The content of ``key`` (at most ``limit`` bytes)."""
        with self._reading(key, limit) as (fd, size):
            chunks = []
            want = size if limit is None else min(size, limit) + 1
            while want > 0 and (chunk := os.read(fd, min(want, CHUNK))):
                chunks.append(chunk)
                want -= len(chunk)
        data = b"".join(chunks)
        if limit is not None and len(data) > limit:
            raise too_large(self.url, key, limit)
        return data

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the file of ``key`` from ``offset`` (seek and read)."""
        with self._reading(key, None) as (fd, size):
            if offset < 0 or length < 0 or offset + length > size:
                raise truncated(self.url, key, offset, length)
            chunks, done = [], 0
            while done < length and (chunk := os.pread(fd, min(length - done, CHUNK),
                                                       offset + done)):
                chunks.append(chunk)
                done += len(chunk)
        if done != length:
            raise truncated(self.url, key, offset, length)
        return b"".join(chunks)

    def get_file(self, key: str, dest: Path, progress: Progress | None = None,
                 limit: int | None = None) -> None:
        """Copy ``key`` to ``dest`` (through a temporary sibling of ``dest``)."""
        with self._reading(key, limit) as (src_fd, _size):
            dest = Path(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(tmp_name(dest.name))
            try:
                with open(tmp, "xb") as out:
                    copied = copy_fd(src_fd, out.fileno(), progress, limit)
                if limit is not None and copied > limit:
                    raise too_large(self.url, key, limit)
                os.replace(tmp, dest)
            except OSError as e:
                raise self._fail("download", key, e) from e
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def sha256(self, key: str, limit: int | None = None) -> str:
        """sha256 of the file's bytes, read here (a directory remote is a local read)."""
        h = hashlib.sha256()
        with self._reading(key, limit) as (fd, _size):
            while chunk := os.read(fd, CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> str | None:
        """Write ``key``; with ``if_absent``, only if it does not exist yet."""
        return self._write(key, lambda fd: write_all(fd, data), if_absent=if_absent)

    def put_file(self, key: str, src: Path, progress: Progress | None = None) -> str | None:
        """Copy the local file ``src`` to ``key`` (replacing it atomically)."""
        try:
            src_fd = os.open(src, os.O_RDONLY)
        except OSError as e:
            raise RemoteError(f"cannot read {src} to upload it: {e}") from e
        try:
            return self._write(key, lambda fd: copy_fd(src_fd, fd, progress, None))
        finally:
            os.close(src_fd)

    def _write(self, key: str, fill: object, *, if_absent: bool = False) -> str | None:
        """Write a temporary sibling, fsync it, then rename (or link) it to ``key``.

        Returns:
            The stamp of the file written, or None when ``if_absent`` found the
            name taken, or when another file took the name right after ours
            (its stamp proves nothing about our bytes).
        """
        dirs, name = self._split(key)
        tmp = tmp_name(name)
        try:
            with self._dir(key, dirs, create=True) as dfd:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666,
                             dir_fd=dfd)
                try:
                    try:
                        fill(fd)  # type: ignore[operator]
                        os.fsync(fd)
                        ours = os.fstat(fd).st_ino
                    finally:
                        os.close(fd)
                    if if_absent:
                        try:
                            os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd,
                                    follow_symlinks=False)
                        except FileExistsError:
                            return None
                    else:
                        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp, dir_fd=dfd)
                os.fsync(dfd)
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except OSError as e:
            raise self._fail("write", key, e) from e
        return stamp(st) if st.st_ino == ours else None

    def list(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``; only the prefix's directory is walked."""
        return (key for key, _size, _mtime in self.list_info(prefix))

    def list_info(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        """Keys under ``prefix`` (regular files only) with their size and modification time."""
        for key, st in self._walk(prefix):
            if not is_internal(key.rsplit("/", 1)[-1]):
                yield key, st.st_size, st.st_mtime

    def _walk(self, prefix: str, odd: list[str] | None = None
              ) -> Iterator[tuple[str, os.stat_result]]:
        """Regular files whose key starts with ``prefix``, never through a symlink.

        Args:
            prefix: The key prefix.
            odd: Collects the keys of what is not a regular file or a plain
                directory (symlinks, FIFOs): they are never followed or read.
        """
        odd = [] if odd is None else odd
        head, _, name_start = prefix.rpartition("/")
        try:
            dirs = self._split(head + "/x")[0] if head else []
            with self._dir(prefix, dirs) as top:
                fd = os.dup(top)
        except NotFoundError:
            return
        except CorruptObjectError:
            odd.append(head)
            return
        base = head + "/" if head else ""
        try:
            for dirpath, dirnames, filenames, dfd in os.fwalk(".", dir_fd=fd):
                rel = "" if dirpath == "." else dirpath[2:] + "/"
                if not rel:
                    dirnames[:] = [d for d in dirnames if d.startswith(name_start)]
                odd += [base + rel + d for d in dirnames
                        if stat.S_ISLNK(os.stat(d, dir_fd=dfd, follow_symlinks=False).st_mode)]
                for file_name in filenames:
                    key = base + rel + file_name
                    if not key.startswith(prefix):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        st = os.stat(file_name, dir_fd=dfd, follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode):
                            yield key, st
                        else:
                            odd.append(key)
        finally:
            os.close(fd)

    def irregular(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` that are symlinks or special files (never followed or read)."""
        odd: list[str] = []
        for _ in self._walk(prefix, odd):
            pass
        return odd

    def misplaced(self, dirs: Iterable[str], inner: Iterable[str] = ()) -> list[str]:
        """Those of ``dirs`` (below the root), and of the entries of ``inner`` ones, that are
        a symlink or not a directory."""
        found = [d for d in dirs if (st := self._lstat(d)) and not stat.S_ISDIR(st.st_mode)]
        for d in (d for d in inner if d not in found):
            with contextlib.suppress(NotFoundError), self._dir(d, [d]) as dfd, \
                    os.scandir(dfd) as entries:
                found += [f"{d}/{e.name}" for e in entries
                          if not e.is_dir(follow_symlinks=False) and not is_internal(e.name)]
        return found

    def delete(self, key: str) -> None:
        """Remove the file of ``key`` (empty directories stay)."""
        self._unlink(key, internal=False)

    def _unlink(self, key: str, *, internal: bool) -> None:
        dirs, name = self._split(key, internal=internal)
        try:
            with self._dir(key, dirs) as dfd:
                os.unlink(name, dir_fd=dfd)
        except (FileNotFoundError, NotFoundError):
            return
        except OSError as e:
            raise self._fail("delete", key, e) from e

    def leftovers(self) -> Iterator[Leftover]:
        """Temporary files of writers that were killed (or are still running)."""
        for key, st in self._walk(""):
            if TMP_RE.match(key.rsplit("/", 1)[-1]):
                yield Leftover(key, st.st_size, st.st_mtime)

    def remove_leftover(self, leftover: Leftover) -> None:
        """Delete one temporary file found by :meth:`leftovers`."""
        self._unlink(leftover.name, internal=True)

    def read_versioned(self, key: str) -> Versioned:
        """Content of ``key`` and its sha256 as the token."""
        try:
            data = self.get(key)
        except NotFoundError:
            return Versioned(None, None)
        return Versioned(data, token(data))

    def swap(self, key: str, expected: str | None, data: bytes) -> str:
        """Replace ``key`` if its content still hashes to ``expected`` (see Transport)."""
        dirs, name = self._split(key)
        try:
            with self._dir(key, dirs, create=True) as dfd, FileLock(Path(name), dir_fd=dfd):
                current = self.read_versioned(key).token
                if current != expected:
                    raise ConflictError(
                        f"{key} in remote {self.url} was changed by somebody else; "
                        "read it again and retry"
                    )
                if self._write(key, lambda fd: write_all(fd, data),
                               if_absent=expected is None) is None and expected is None:
                    raise ConflictError(f"{key} in remote {self.url} was created meanwhile")
        except OSError as e:
            raise self._fail("update", key, e) from e
        return token(data)
