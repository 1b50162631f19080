"""SQLite connections for derived caches: one per thread and per process."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path


class LocalConnection:
    """Opens ``path`` lazily, giving each thread (and a forked child) its own connection.

    Args:
        path: The database file (its directory is created).
        setup: Runs once on every new connection (pragmas, schema).
    """

    def __init__(self, path: Path, setup: Callable[[sqlite3.Connection], None]) -> None:
        self.path = path
        self.setup = setup
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened (in WAL mode, autocommit) on first use."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self.setup(db)
            local.pid, local.db = os.getpid(), db
        return local.db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            db.close()
        self._local.db = None
