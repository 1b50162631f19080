"""Content-addressed blob stores.

A blob is an immutable byte string whose id is the sha256 of its bytes.
Writing a blob that exists is a no-op, so identical data in two bundles (or
two contexts) is stored once. :class:`BlobStore` keeps them at
``blobs/<id[:2]>/<id>``, streamed to a temporary file while hashing, then
moved into place and made read-only. The contract (:class:`Blobs`) and the
in-memory store are in :mod:`dsdt.objects.blobbase`; they are re-exported here.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dsdt._fs import Confined, fsync_dir, shard_files
from dsdt.errors import CorruptObjectError, PathError
from dsdt.objects._copy import copy_and_hash, hash_fd, hash_path
from dsdt.objects.blobbase import Blobs, MemoryBlobStore, corrupt, missing
from dsdt.objects.flushbatch import FlushBatch, fsync_path
from dsdt.objects.ids import is_sha256

if TYPE_CHECKING:
    from dsdt.objects.blobwriter import BlobWriter

__all__ = ["BlobStore", "Blobs", "MemoryBlobStore", "hash_file"]

_SMALL = 1 << 20  # files up to this size are read into memory in one go


class BlobStore(Blobs):
    """A directory of content-addressed, read-only blobs.

    Args:
        root: The ``blobs`` directory.
        tmp: A scratch directory on the same filesystem as ``root``.
        confined: Checks the directories below ``.dsdt`` for symlinks (the
            repository's; by default one rooted at ``root``'s parent).
    """

    def __init__(self, root: Path, tmp: Path, confined: Confined | None = None) -> None:
        self.root = root
        self.tmp = tmp
        self._confined = confined or Confined(root.parent)  # no symlink on the way to a blob
        self._batch = FlushBatch()  # blobs written with sync=False, not yet in place
        self._made_dirs: set[str] = set()
        self._tmp_count = itertools.count()
        self._tmp_random = os.urandom(4).hex()
        self._shards: dict[str, Path] = {}  # shard directories (checked on each use)

    def path(self, blob_id: str) -> Path:
        """Where blob ``blob_id`` lives (whether or not it exists).

        Raises:
            CorruptObjectError: ``blob_id`` is not 64 lower-case hex digits (it
                came from a hostile or broken record; it never names a path).
        """
        return Path(self._locate(blob_id))

    def _locate(self, blob_id: str) -> str:
        """:meth:`path` as a string (``has`` and ``sealed`` run once per file of a re-add)."""
        if not is_sha256(blob_id):
            raise CorruptObjectError(f"{str(blob_id)[:80]!r} is not a blob id; run dsdt fsck")
        shard = self._shards.get(blob_id[:2])
        if shard is None:
            shard = self._shards[blob_id[:2]] = self.root / blob_id[:2]
        self._confined.dir(shard)  # git can plant a symlink (git add -f of the cache)
        return f"{shard}/{blob_id}"

    def has(self, blob_id: str) -> bool:
        """True if the blob is present in this store (a regular file, not a symlink).

        A blob written with ``sync=False`` counts from the moment it is written;
        reading it makes the whole batch durable first (:meth:`sync`).
        """
        if blob_id in self._batch:
            return True
        try:
            return stat.S_ISREG(os.lstat(self._locate(blob_id)).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False

    def sealed(self, blob_id: str) -> bool:
        """True if the blob is here as dsdt leaves it: a read-only regular file.

        Writers replace anything else at its name (git writes files writable).
        """
        try:
            st = os.lstat(self._locate(blob_id))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return stat.S_ISREG(st.st_mode) and not st.st_mode & 0o222

    def trusted_path(self, blob_id: str) -> Path:
        """The path of a present blob, once it is known to hold its bytes.

        dsdt makes every blob it writes read-only. A blob file that is writable
        or not a regular file was put there by something else (a ``git add -f``
        of the cache, a hand copy): its bytes are hashed before first use.

        Raises:
            NotFoundError: The blob is not here.
            CorruptObjectError: It is a symlink or special file, or does not
                hash to its id.
        """
        if blob_id in self._batch:
            self.sync()
        path = self.path(blob_id)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise missing(blob_id) from None
        if not stat.S_ISREG(st.st_mode):
            raise CorruptObjectError(f"blob {blob_id} in the cache is not a regular file "
                                     "(a symlink?); remove it and run dsdt fsck")
        if st.st_mode & 0o222:
            if _hash_regular(path) != blob_id:
                raise CorruptObjectError(
                    f"blob {blob_id} in the cache does not match its sha256 (written by "
                    "something other than dsdt); run dsdt fsck --repair")
            os.chmod(path, 0o444)
        return path

    def size(self, blob_id: str) -> int:
        """Size in bytes of a present blob (never through a symlink)."""
        if blob_id in self._batch:
            self.sync()
        try:
            return os.lstat(self.path(blob_id)).st_size
        except FileNotFoundError:
            raise missing(blob_id) from None

    def open(self, blob_id: str):  # type: ignore[no-untyped-def]
        """Open a blob for binary reading, once it is known to hold its bytes."""
        return open(self.trusted_path(blob_id), "rb")

    def read(self, blob_id: str, limit: int | None = None) -> bytes:
        """The whole content of a blob (refused if it holds more than ``limit`` bytes)."""
        with self.open(blob_id) as f:
            data = f.read() if limit is None else f.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise CorruptObjectError(f"blob {blob_id} is larger than the {limit} bytes its "
                                     "record allows; run dsdt fsck")
        return data

    def _mkdir(self, path: Path) -> None:
        key = str(path)
        if key not in self._made_dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(key)

    def create(self, path: Path) -> int:
        """Create a new read-only file for writing (its directory too); return its fd."""
        try:  # its directory is there but for the first file (no mkdir before each)
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileNotFoundError:  # or the cache was deleted under us: forget what we made
            self._made_dirs.clear()
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)

    def new_tmp(self, suffix: str = "") -> Path:
        """A fresh path in the scratch directory, for writers that produce a blob file."""
        return self._confined.dir(self.tmp) / f"{self._tmp_name()}{suffix}"

    def _tmp_name(self) -> str:
        """A name no other writer uses (the pid: forked workers share the rest)."""
        return f"{os.getpid()}-{self._tmp_random}-{next(self._tmp_count)}"

    def _present(self, blob_id: str, sync: bool) -> bool:
        """True if the blob needs no writing (with ``sync``: once it is durable)."""
        if blob_id in self._batch:
            if sync:  # another writer's batch holds it: it must be on disk before we return
                self.sync()
            return True
        return self.sealed(blob_id)

    def _put(self, data: bytes, blob_id: str, sync: bool) -> None:
        if not self._present(blob_id, sync):  # which checked blob_id and its shard (path())
            # The temp file sits beside its final name: a rename within one directory.
            tmp = self._shards[blob_id[:2]] / f".{self._tmp_name()}.tmp"
            fd = self.create(tmp)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._place(tmp, blob_id, sync)

    def put_file(self, src: Path, *, how: str = "copy", sync: bool = True) -> tuple[str, int]:
        """Store the content of file ``src``; return ``(id, size)``.

        Args:
            src: The file to store. It is read once.
            how: ``"copy"`` for a user's file (the store never shares its
                inode); ``"move"`` for a scratch file dsdt owns (moved into place).
            sync: Fsync the blob now. Batch writers pass False and call
                :meth:`sync` once before writing anything that refers to the blobs.
        """
        if how == "move":
            blob_id, size = hash_file(src)
            if self._present(blob_id, sync):
                os.unlink(src)
            else:
                self._install(src, blob_id, sync)
            return blob_id, size
        fd = _open_regular(src)
        try:
            size = os.fstat(fd).st_size
            if size <= _SMALL:
                data = os.read(fd, size + 1)  # one more byte: notices a file that grew
                if len(data) <= _SMALL:
                    return self.put_bytes(data, sync=sync), len(data)
        finally:
            os.close(fd)
        return self._put_large(src, sync)

    def _put_large(self, src: Path, sync: bool) -> tuple[str, int]:
        src_fd = _open_regular(src)
        tmp = self.new_tmp()
        try:
            dst_fd = self.create(tmp)
            try:
                blob_id, size = copy_and_hash(src_fd, dst_fd, str(src), sync)
            finally:
                os.close(dst_fd)
        except BaseException:
            os.unlink(tmp)
            raise
        finally:
            os.close(src_fd)
        if self._present(blob_id, sync):
            os.unlink(tmp)
        else:
            self._place(tmp, blob_id, sync)
        return blob_id, size

    def _install(self, tmp: Path, blob_id: str, sync: bool) -> None:
        os.chmod(tmp, 0o444)
        if sync:
            fsync_path(tmp)
        self._place(tmp, blob_id, sync)

    def _place(self, tmp: Path, blob_id: str, sync: bool) -> None:
        """Rename a complete, read-only temp file to its blob path.

        Without ``sync`` the file is flushed on a background thread meanwhile
        and renamed by :meth:`sync`: a blob reaches its name only once its
        bytes are on disk, so a power cut never leaves a sealed blob that does
        not hold its bytes.
        """
        if not sync:
            self._batch.add(blob_id, tmp)
            return
        fsync_dir(self._rename(blob_id, tmp))

    def _rename(self, blob_id: str, tmp: Path) -> Path:
        """Move a complete temp file to its blob path; return the directory it entered."""
        dest = self._locate(blob_id)
        shard = self._shards[blob_id[:2]]
        self._mkdir(shard)
        os.replace(tmp, dest)
        return shard

    def install_verified(self, tmp: Path, blob_id: str, *, sync: bool = True) -> None:
        """Install a downloaded file as blob ``blob_id`` if its bytes hash to that id.

        Raises:
            CorruptObjectError: The bytes do not match; the file is removed and
                nothing enters the store.
        """
        actual, _ = hash_file(tmp)
        if actual != blob_id:
            os.unlink(tmp)
            raise corrupt(blob_id, actual)
        if self._present(blob_id, sync):
            os.unlink(tmp)
        else:
            self._install(tmp, blob_id, sync=sync)

    def writer(self) -> BlobWriter:
        """A stream that becomes a blob (see :class:`BlobWriter`)."""
        from dsdt.objects.blobwriter import BlobWriter

        return BlobWriter(self)

    def sync(self) -> None:
        """Make every blob written with ``sync=False`` durable and put it in place.

        Only the files written and the directories they enter are flushed (in
        parallel, so the filesystem commits them together), never the rest of
        the disk. Each blob is renamed to its name after its bytes are flushed.

        Raises:
            OSError: A flush or a rename failed; the blobs not yet in place
                are not stored.
        """
        self._batch.flush(self._rename)

    def verify(self, blob_id: str) -> bool:
        """True if the blob's bytes still hash to its id (never read through a symlink)."""
        if blob_id in self._batch:
            self.sync()
        return _hash_regular(self.path(blob_id)) == blob_id

    def __iter__(self) -> Iterator[str]:
        """Ids of every blob in the store."""
        if not self.root.is_dir():
            return
        for path in shard_files(self.root):
            if is_sha256(path.name):
                yield path.name


def _hash_regular(path: Path) -> str:
    """sha256 of the regular file at ``path`` (never through a symlink)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        return hash_fd(fd)[0]
    finally:
        os.close(fd)


def hash_file(path: Path) -> tuple[str, int]:
    """Return ``(sha256 hex, size)`` of a file."""
    return hash_path(path)


def _open_regular(path: Path) -> int:
    """Open a user's file for reading, refusing anything but a regular file.

    ``O_NONBLOCK`` keeps a FIFO swapped in after the caller's check from
    blocking the open; it changes nothing for regular files.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PathError(f"{path} is not a regular file; nothing was stored")
    return fd
