"""The stat cache: which blob a file held when it last had this size, mtime, ctime and inode.

Adding a directory again reads no file whose stat is unchanged. The cache
lives in ``cache/db-<token>/stat.sqlite`` (gitignored) and can be deleted at
any time; a file modified within the filesystem's timestamp granularity of
when it was stored is read again.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from dsdt._db import LocalConnection, healing, insert_many


def _racy_window_ns(st: os.stat_result) -> int:
    # A whole-second mtime suggests a coarse filesystem clock: distrust 2 s; else 100 ms.
    return 2_000_000_000 if st.st_mtime_ns % 1_000_000_000 == 0 else 100_000_000


class StatCache:
    """Remembers the blob id of files by (path, size, mtime, ctime, inode).

    An entry is only stored when the file's mtime is old enough that a later
    change could not keep the same mtime (the "racy" window of the filesystem's
    timestamp granularity), so a hit always means the bytes are unchanged.
    """

    def __init__(self, path: Path) -> None:
        self._db = LocalConnection(path, lambda db: db.execute(
            "CREATE TABLE IF NOT EXISTS stat(path TEXT PRIMARY KEY, size INT, mtime INT,"
            " ctime INT, ino INT, blob TEXT)"))

    def _conn(self) -> sqlite3.Connection:
        return self._db.get()

    def close(self) -> None:
        """Close this thread's connection."""
        self._db.close()

    @staticmethod
    def _key(st: os.stat_result) -> tuple[int, int, int, int]:
        return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino

    @healing
    def lookup_many(self, items: list[tuple[str, os.stat_result]]) -> dict[str, str]:
        """Blob ids of the given (path, stat) pairs that are known and unchanged."""
        if not items:
            return {}
        db = self._conn()
        db.execute("CREATE TEMP TABLE IF NOT EXISTS q(path TEXT PRIMARY KEY)")
        db.execute("BEGIN")
        try:
            db.execute("DELETE FROM q")
            db.executemany("INSERT OR IGNORE INTO q VALUES (?)", [(p,) for p, _ in items])
            rows = db.execute("SELECT s.path, s.size, s.mtime, s.ctime, s.ino, s.blob "
                              "FROM stat s JOIN q USING(path)").fetchall()
        finally:
            db.execute("COMMIT")
        stats = dict(items)
        return {r[0]: r[5] for r in rows if self._key(stats[r[0]]) == tuple(r[1:5])}

    @healing
    def store_many(self, items: list[tuple[str, os.stat_result, str]]) -> None:
        """Remember blob ids of files whose mtime is outside the racy window."""
        now = time.time_ns()
        rows = [(p, *self._key(st), blob) for p, st, blob in items
                if now - st.st_mtime_ns > _racy_window_ns(st)]
        if rows:
            insert_many(self._conn(), "INSERT OR REPLACE INTO stat VALUES (?,?,?,?,?,?)", rows)
