"""Lock files on a remote, so pushes and remote gc never interleave (as restic's locks).

A remote has no lock server, only objects. So a writer announces itself with
a lock object, ``locks/<kind>-<random>.json``, and then looks at the others:

* a *push* takes a shared lock: pushes run together;
* a *sweep* (``gc --remote``, ``rmr``, deleting a remote context) takes an
  exclusive lock: it runs alone.

Each side creates its own lock *before* it lists the others, and backs off
(deletes its lock, waits, tries again) when it sees a conflicting one. With
a store whose listing shows every completed write (S3 and a directory both
do), two conflicting writers can both back off, but never both go ahead: the
later of the two creates its lock after the earlier one's exists, so its
listing shows it. A lock is refreshed every :data:`REFRESH` seconds while its
holder runs; one not refreshed for :data:`STALE` seconds belongs to a killed
process and is ignored (and removed by the next sweep).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from dsdt.errors import DsdtError, LockError
from dsdt.objects.record import now_iso
from dsdt.remote.transport import Transport

PREFIX = "locks/"
SHARED, EXCLUSIVE = "push", "sweep"
REFRESH = 300.0
STALE = 1800.0
_MAX_LOCK_BYTES = 64 << 10


def lock_key(kind: str) -> str:
    """A fresh lock object's key."""
    return f"{PREFIX}{kind}-{uuid.uuid4().hex}.json"


def _kind(key: str) -> str | None:
    name = key[len(PREFIX):]
    kind = name.split("-", 1)[0]
    return kind if kind in (SHARED, EXCLUSIVE) and name.endswith(".json") else None


def _stale(now: float, mtime: float) -> bool:
    """Not refreshed for STALE seconds; or dated more than STALE ahead, which no clock
    skew explains (a lock planted to block everyone forever)."""
    return abs(now - mtime) > STALE


def live_locks(tr: Transport, now: float | None = None) -> list[tuple[str, str, float]]:
    """``(key, kind, mtime)`` of the lock objects not yet stale."""
    now = time.time() if now is None else now
    return [(key, kind, mtime) for key, _size, mtime in tr.list_info(PREFIX)
            if (kind := _kind(key)) is not None and not _stale(now, mtime)]


def stale_locks(tr: Transport) -> list[str]:
    """Keys of lock objects whose holder stopped refreshing them (killed), or planted."""
    now = time.time()
    return [key for key, _size, mtime in tr.list_info(PREFIX)
            if _kind(key) is not None and _stale(now, mtime)]


def _blocker(tr: Transport, own: str, kind: str) -> str | None:
    """Key of a live lock that conflicts with ours, if any."""
    for key, other, _mtime in live_locks(tr):
        if key != own and EXCLUSIVE in (kind, other):
            return key
    return None


def _describe(tr: Transport, key: str) -> str:
    """Who holds a lock, from its content (best effort: it was written by others)."""
    try:
        doc = json.loads(tr.get(key, limit=_MAX_LOCK_BYTES))
        what = "gc or rmr" if _kind(key) == EXCLUSIVE else "a push"
        return (f"{what} by {str(doc['user'])[:40]}@{str(doc['host'])[:60]} "
                f"(pid {int(doc['pid'])}) since {str(doc['created'])[:32]}")
    except (DsdtError, ValueError, KeyError, TypeError):
        return f"another dsdt process ({key})"


@contextmanager
def holding(tr: Transport, kind: str, timeout: float) -> Iterator[None]:
    """Hold a remote lock of ``kind`` (SHARED or EXCLUSIVE) for a ``with`` block.

    Raises:
        LockError: A conflicting lock stayed for ``timeout`` seconds.
    """
    key = lock_key(kind)
    body = json.dumps({"kind": kind, "host": socket.gethostname(), "pid": os.getpid(),
                       "user": _user(), "created": now_iso()}).encode()
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        tr.put(key, body)
        blocker = _blocker(tr, key, kind)
        if blocker is None:
            break
        tr.delete(key)
        if time.monotonic() + delay > deadline:
            raise LockError(f"{tr.url} is busy: {_describe(tr, blocker)}; try again when it "
                            "has finished (a killed process's lock expires after "
                            f"{int(STALE // 60)} minutes)")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    stop = threading.Event()
    refresher = threading.Thread(target=_refresh, args=(tr, key, body, stop), daemon=True)
    refresher.start()
    try:
        yield
    finally:
        stop.set()
        refresher.join()
        tr.delete(key)


def _refresh(tr: Transport, key: str, body: bytes, stop: threading.Event) -> None:
    """Rewrite the lock every REFRESH seconds until ``stop`` (a failed refresh is retried)."""
    while not stop.wait(REFRESH):
        try:
            tr.put(key, body)
        except DsdtError:
            continue


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"
