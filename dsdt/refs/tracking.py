"""Remote-tracking state: what a context's remote held when dsdt last looked.

Like git's ``refs/remotes/``, this is kept apart from the checked-in tree:
one file per local context, ``cache/tracking/<context>`` (ignored by git),
rewritten whole by ``push``, ``pull``, ``rmr`` and every other command that
reads the remote context's ref. It records the binding it belongs to, when
the listing was last read in full, and the members seen then::

    dsdt-tracking 1
    url<TAB><remote url>
    context<TAB><remote context>
    seen<TAB><ns since the epoch when the whole listing was read; 0: never>
    <uuid><TAB><record sha256>
    ...

The file is read-only: git checks files out writable, so one that is
writable was not written by dsdt (a ``git add -f`` of the cache) and is
treated as absent, as is one that does not parse. The next read of the
remote rewrites it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dsdt._fs import Confined, atomic_write, read_regular, remove_tree
from dsdt._locks import FileLock
from dsdt.errors import CorruptObjectError
from dsdt.objects.ids import is_sha256, is_uuid
from dsdt.refs.names import check_context_name

_MAGIC = "dsdt-tracking 1"
#: The most bytes a tracking file may hold (about 100 bytes per remote bundle).
MAX_TRACKING_BYTES = 1 << 30


@dataclass
class Listing:
    """The members of a remote context as last seen, for one binding."""

    url: str
    remote_context: str
    seen_ns: int = 0
    members: dict[str, str] = field(default_factory=dict)

    def bound_to(self, url: str | None, remote_context: str | None) -> bool:
        """True if this listing describes the remote context at ``url``."""
        return (self.url, self.remote_context) == (url, remote_context)

    def encode(self) -> bytes:
        """The file's bytes."""
        lines = [_MAGIC, f"url\t{self.url}", f"context\t{self.remote_context}",
                 f"seen\t{self.seen_ns}"]
        lines += [f"{u}\t{s}" for u, s in sorted(self.members.items())]
        return ("\n".join(lines) + "\n").encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> Listing:
        """Parse a tracking file (raises ValueError on anything malformed)."""
        lines = data.decode("utf-8").split("\n")
        if lines[:1] != [_MAGIC] or lines[-1] != "" or len(lines) < 5:
            raise ValueError("not a tracking file")
        head = dict(_pair(line) for line in lines[1:4])
        if set(head) != {"url", "context", "seen"} or not head["seen"].isdigit():
            raise ValueError("malformed header")
        check_context_name(head["context"])
        members = dict(_pair(line) for line in lines[4:-1])
        if not all(is_uuid(u) and is_sha256(s) for u, s in members.items()):
            raise ValueError("malformed member")
        return cls(head["url"], head["context"], int(head["seen"]), members)


def _pair(line: str) -> tuple[str, str]:
    key, sep, value = line.partition("\t")
    if not sep or not value or any(ord(c) < 32 for c in value):
        raise ValueError("malformed line")
    return key, value


class TrackingStore:
    """The tracking files of a repository, under ``cache/tracking``.

    Args:
        root: The ``cache/tracking`` directory.
        lock_timeout: Seconds to wait for another writer's lock.
    """

    def __init__(self, root: Path, lock_timeout: float = 30.0) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self._confined = Confined(root.parent.parent)
        self._parsed: dict[str, tuple[tuple[int, int, int], Listing | None]] = {}

    def path(self, ctx: str) -> Path:
        """The tracking file of context ``ctx`` (its directory checked: no symlink)."""
        return self._confined.dir(self.root) / check_context_name(ctx)

    def stamp(self, ctx: str) -> int:
        """A value that changes whenever the file of ``ctx`` does (0 when there is none)."""
        try:
            st = os.lstat(self.path(ctx))  # a symlink is no listing (read ignores it)
        except FileNotFoundError:
            return 0
        return hash((st.st_mtime_ns, st.st_size, st.st_ino)) & ((1 << 62) - 1) or 1

    def read(self, ctx: str) -> Listing | None:
        """The listing of ``ctx``, or None when there is none (or it does not parse)."""
        path = self.path(ctx)
        try:
            st = os.lstat(path)  # git can plant a symlink: its mode makes it no listing
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._parsed.get(ctx)
        if cached is not None and cached[0] == key:
            return cached[1]
        listing: Listing | None = None
        if not st.st_mode & 0o222:
            try:
                listing = Listing.decode(read_regular(path, MAX_TRACKING_BYTES))
            except (FileNotFoundError, ValueError, UnicodeDecodeError, CorruptObjectError):
                listing = None
        self._parsed[ctx] = (key, listing)
        return listing

    def update(self, ctx: str, url: str, remote_context: str,
               change: Callable[[Listing], None]) -> Listing:
        """Change the listing of ``ctx`` for this binding under its lock.

        A listing of another binding (the context was bound elsewhere since) is
        replaced by an empty one first.
        """
        path = self.path(ctx)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(path, self.lock_timeout):
            old = self.read(ctx)
            listing = old if old is not None and old.bound_to(url, remote_context) \
                else Listing(url, remote_context)
            change(listing)
            atomic_write(path, listing.encode(), mode=0o444)
        return listing

    def planted(self, ctx: str) -> bool:
        """True if something :meth:`read` ignores stands at the file of ``ctx``: a
        writable file (git writes files so), a symlink, a directory..."""
        return os.path.lexists(self.path(ctx)) and self.read(ctx) is None

    def drop(self, ctx: str) -> None:
        """Forget what was seen for ``ctx`` (it was deleted or bound elsewhere); what git
        planted there goes too, never followed."""
        path = self.path(ctx)
        with FileLock(path, self.lock_timeout):
            if path.is_dir() and not path.is_symlink():
                remove_tree(path)
            else:
                path.unlink(missing_ok=True)
