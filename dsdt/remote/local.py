"""A remote that is a plain directory (a local disk, a NAS or an NFS mount).

Keys map to files under the root. Every write goes to a temporary sibling
first and is moved into place with a rename, so readers never see a partial
file. Creating without overwriting uses a hard link (``link`` fails when the
name exists), which is atomic on local file systems and on NFS. The mutable
objects (refs) change under a ``<key>.lock`` file; their version token is the
sha256 of their content.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from dsdt._fs import FileLock, atomic_write, fsync_dir, tmp_name
from dsdt.errors import ConflictError, NotFoundError, RemoteError, UsageError
from dsdt.remote.transport import Progress, Transport, Versioned

_CHUNK = 8 * 1024 * 1024
#: Names this transport uses for its own temporary and lock files.
_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
_LOCK_SUFFIX = ".lock"
#: copy_file_range cannot do this pair of files: fall back to read/write.
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


def _token(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_internal(name: str) -> bool:
    """True for a temporary or lock file name (never a key)."""
    return name.endswith(_LOCK_SUFFIX) or bool(_TMP_RE.match(name))


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

    def _path(self, key: str) -> Path:
        """The file of ``key``; UsageError for a key that could escape the root."""
        parts = key.split("/")
        if (
            not key
            or key.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or _is_internal(parts[-1])
        ):
            raise UsageError(f"invalid remote key {key!r}: use a relative path without '..'")
        return self.root.joinpath(*parts)

    def _fail(self, op: str, key: str, e: OSError) -> RemoteError:
        return RemoteError(f"{op} {key!r} in directory remote {self.url} failed: {e}")

    # -- Transport -----------------------------------------------------------

    def check(self) -> None:
        """Raise RemoteError unless the root is an existing directory."""
        if not self.root.is_dir():
            what = "is not a directory" if self.root.exists() else "does not exist"
            raise RemoteError(
                f"remote directory {self.url} {what}: create it (mkdir -p {self.url}) "
                "or fix the remote path"
            )

    def size(self, key: str) -> int | None:
        """Size of the file of ``key``, or None if there is none."""
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise self._fail("stat", key, e) from e
        return None if stat.S_ISDIR(st.st_mode) else st.st_size

    def get(self, key: str) -> bytes:
        """The content of ``key``."""
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
            raise NotFoundError(f"{key} not found in remote {self.url}") from e
        except OSError as e:
            raise self._fail("read", key, e) from e

    def get_file(self, key: str, dest: Path, progress: Progress | None = None) -> None:
        """Copy ``key`` to ``dest`` (through a temporary sibling of ``dest``)."""
        src = self._path(key)
        dest = Path(dest)
        try:
            src_fd = os.open(src, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError) as e:
            raise NotFoundError(f"{key} not found in remote {self.url}") from e
        except OSError as e:
            raise self._fail("read", key, e) from e
        try:
            _copy_to_new(src_fd, dest, progress, sync=False)
        except IsADirectoryError as e:
            raise NotFoundError(f"{key} not found in remote {self.url}") from e
        except OSError as e:
            raise self._fail("download", key, e) from e
        finally:
            os.close(src_fd)

    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Write ``key``; with ``if_absent``, only if it does not exist yet."""
        path = self._path(key)
        try:
            if if_absent:
                return _create(path, data)
            atomic_write(path, data, mode=0o666)
        except OSError as e:
            raise self._fail("write", key, e) from e
        return True

    def put_file(self, key: str, src: Path, progress: Progress | None = None) -> None:
        """Copy the local file ``src`` to ``key`` (replacing it atomically)."""
        path = self._path(key)
        try:
            src_fd = os.open(src, os.O_RDONLY)
        except OSError as e:
            raise RemoteError(f"cannot read {src} to upload it: {e}") from e
        try:
            _copy_to_new(src_fd, path, progress, sync=True)
        except OSError as e:
            raise self._fail("upload to", key, e) from e
        finally:
            os.close(src_fd)

    def list(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``; only the prefix's directory is walked."""
        head, _, name_start = prefix.rpartition("/")
        top = self._path(head) if head else self.root
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, self.root)
            base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            if dirpath == str(top):  # deeper levels are inside the prefix already
                dirnames[:] = [d for d in dirnames if d.startswith(name_start)]
            for name in filenames:
                key = base + name
                if key.startswith(prefix) and not _is_internal(name):
                    yield key

    def list_info(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        """Keys under ``prefix`` with their size and modification time."""
        for key in self.list(prefix):
            try:
                st = os.stat(self._path(key))
            except FileNotFoundError:
                continue  # deleted meanwhile
            yield key, st.st_size, st.st_mtime

    def delete(self, key: str) -> None:
        """Remove the file of ``key`` (empty directories stay)."""
        try:
            os.unlink(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as e:
            raise self._fail("delete", key, e) from e

    def read_versioned(self, key: str) -> Versioned:
        """Content of ``key`` and its sha256 as the token."""
        try:
            data = self.get(key)
        except NotFoundError:
            return Versioned(None, None)
        return Versioned(data, _token(data))

    def swap(self, key: str, expected: str | None, data: bytes) -> str:
        """Replace ``key`` if its content still hashes to ``expected`` (see Transport)."""
        path = self._path(key)
        try:
            with FileLock(path):
                current = self.read_versioned(key).token
                if current != expected:
                    raise ConflictError(
                        f"{key} in remote {self.url} was changed by somebody else; "
                        "read it again and retry"
                    )
                if expected is None:
                    if not _create(path, data):  # a writer that ignores the lock
                        raise ConflictError(f"{key} in remote {self.url} was created meanwhile")
                else:
                    atomic_write(path, data, mode=0o666)
        except OSError as e:
            raise self._fail("update", key, e) from e
        return _token(data)


def _create(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` unless it exists (temp file, then ``link``)."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(path.parent)
    return True


def _copy_to_new(src_fd: int, dest: Path, progress: Progress | None, *, sync: bool) -> None:
    """Copy an open file to ``dest`` through a temporary sibling and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(dest)
    try:
        with open(tmp, "xb") as out:
            _copy_fd(src_fd, out.fileno(), progress)
            if sync:
                os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync:
        fsync_dir(dest.parent)


def _copy_fd(src: int, dst: int, progress: Progress | None) -> None:
    """Copy all of ``src`` to ``dst`` in chunks, reporting each chunk.

    ``copy_file_range`` lets the kernel (or an NFS server) copy without the
    bytes passing through this process; read/write is the fallback.
    """
    use_range = hasattr(os, "copy_file_range")
    while True:
        if use_range:
            try:
                n = os.copy_file_range(src, dst, _CHUNK)
            except OSError as e:
                if e.errno not in _NO_COPY_RANGE:
                    raise
                use_range = False
                continue
        else:
            buf = os.read(src, _CHUNK)
            n = len(buf)
            view = memoryview(buf)
            while view:
                view = view[os.write(dst, view):]
        if n == 0:
            return
        if progress is not None:
            progress(n)
