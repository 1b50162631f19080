"""Helpers of the directory remote: copying between descriptors, version tokens, file names.

The names are those of its own temporary and lock files, which are never keys.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import uuid

from dsdt.remote.transport import Progress

#: Names the directory remote uses for its own temporary and lock files.
TMP_RE = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
_LOCK_SUFFIX = ".lock"
CHUNK = 8 * 1024 * 1024
#: copy_file_range cannot do this pair of files: fall back to read/write.
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


def is_internal(name: str) -> bool:
    """True for a temporary or lock file name (never a key)."""
    return name.endswith(_LOCK_SUFFIX) or bool(TMP_RE.match(name))


def tmp_name(name: str) -> str:
    """A unique temporary name beside ``name``, which :data:`TMP_RE` matches."""
    return f".{name}.{uuid.uuid4().hex[:12]}.tmp"


def token(data: bytes) -> str:
    """The version token of a ref's content: its sha256."""
    return hashlib.sha256(data).hexdigest()


def stamp(st: os.stat_result) -> str:
    """Inode, size and change time: no write to the file keeps all three."""
    return f"{st.st_ino}:{st.st_size}:{st.st_ctime_ns}"


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def copy_fd(src: int, dst: int, progress: Progress | None, limit: int | None) -> int:
    """Copy ``src`` to ``dst`` in chunks, reporting each; stop past ``limit`` bytes.

    ``copy_file_range`` lets the kernel (or an NFS server) copy without the
    bytes passing through this process; read/write is the fallback.

    Returns:
        The bytes copied (more than ``limit`` means the source is too large).
    """
    use_range = hasattr(os, "copy_file_range")
    total = 0
    while limit is None or total <= limit:
        want = CHUNK if limit is None else min(CHUNK, limit + 1 - total)
        if use_range:
            try:
                n = os.copy_file_range(src, dst, want)
            except OSError as e:
                if e.errno not in _NO_COPY_RANGE:
                    raise
                use_range = False
                continue
        else:
            buf = os.read(src, want)
            n = len(buf)
            write_all(dst, buf)
        if n == 0:
            break
        total += n
        if progress is not None:
            progress(n)
    return total
