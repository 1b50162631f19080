"""Copying a large file into the store while hashing it, as fast as the machine allows.

The kernel copies (``copy_file_range``: no trip through user space, a reflink
where the filesystem offers one) on one thread and flushes the copy to disk,
while this thread hashes the source through one reusable buffer. Hashing the
source instead of the copy is only correct if the source did not change in
between, so its size, mtime and ctime are compared before and after: a file
modified while it was being added is an error, never a corrupt blob.
"""

from __future__ import annotations

import hashlib
import os
import threading

from dsdt._fs import reflink
from dsdt.errors import PathError

_CHUNK = 8 << 20


def copy_and_hash(src_fd: int, dst_fd: int, name: str, sync: bool) -> tuple[str, int]:
    """Copy open file ``src_fd`` to ``dst_fd``; return ``(sha256 hex, size)``.

    Args:
        src_fd: The source, open for reading.
        dst_fd: The (empty) destination, open for writing.
        name: The source's name, for error messages.
        sync: Flush the copy to disk (``fdatasync``) before returning.
    """
    before = os.fstat(src_fd)
    errors: list[BaseException] = []

    def copy() -> None:
        try:
            if not reflink(src_fd, dst_fd):
                _kernel_copy(src_fd, dst_fd, before.st_size)
            if sync:
                os.fdatasync(dst_fd)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    try:
        digest, size = hash_fd(src_fd)
    finally:
        thread.join()
    if errors:
        raise errors[0]
    after = os.fstat(src_fd)
    changed = (before.st_size, before.st_mtime_ns, before.st_ctime_ns) != (
        after.st_size, after.st_mtime_ns, after.st_ctime_ns)
    if changed or size != before.st_size:
        raise PathError(f"{name} changed while it was being added; add it again")
    return digest, size


def _kernel_copy(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy ``size`` bytes at offset 0 in the kernel, falling back to read/write."""
    offset = 0
    try:
        while offset < size:
            n = os.copy_file_range(src_fd, dst_fd, min(size - offset, 1 << 30), offset, offset)
            if n == 0:
                break
            offset += n
    except OSError:  # not supported between these files: copy through user space
        buf = bytearray(_CHUNK)
        while offset < size:
            n = os.preadv(src_fd, [buf], offset)
            if n == 0:
                break
            os.pwrite(dst_fd, memoryview(buf)[:n], offset)
            offset += n
    if offset != size:
        raise PathError("the file shrank while it was being added; add it again")


def hash_fd(fd: int) -> tuple[str, int]:
    """sha256 and size of an open file, read from offset 0 through one reusable buffer."""
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    offset = 0
    while n := os.preadv(fd, [buf], offset):
        h.update(view[:n])
        offset += n
    return h.hexdigest(), offset


def hash_path(path: os.PathLike[str] | str) -> tuple[str, int]:
    """``(sha256 hex, size)`` of a file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return hash_fd(fd)
    finally:
        os.close(fd)
