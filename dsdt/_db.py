"""SQLite connections for derived caches: one per thread and per process.

Every SQLite file dsdt keeps is derived state (``docs/format.md``): a
database that SQLite reports as corrupt is thrown away and built again,
never shown to the user as a traceback.

Git can put any file under ``.dsdt/cache`` (``git add -f`` by a teammate),
a database, its write-ahead log or journal included, and SQLite would replay
a planted log into the database before dsdt could look at it. So the
databases live in ``cache/db-<token>/``, where the token is 32 random hex
digits kept in the read-only file ``cache/owner``: git checks files out
writable (a planted token is replaced), and nobody else knows the token, so
nothing can be planted where dsdt looks.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dsdt._fs import read_regular, write_once
from dsdt.errors import CorruptObjectError, FileSystemError, PlantedPathError

T = TypeVar("T")


_PATIENCE = 60.0  # seconds a connection waits for another one's lock
_DAMAGE = ("malformed", "no such table", "no such column", "disk i/o error", "not a database")


def is_corrupt(e: sqlite3.Error) -> bool:
    """True when ``e`` says the database files are damaged (not merely busy or locked).

    A ``disk I/O error`` on a healthy disk comes from a write-ahead log left
    beside a database file that was deleted or replaced: throwing both away
    and starting again is the cure.
    """
    text = str(e).lower()
    if isinstance(e, sqlite3.OperationalError):
        return any(word in text for word in _DAMAGE)
    return isinstance(e, sqlite3.DatabaseError)


def cache_token(cache: Path) -> str:
    """The token of the cache directory ``cache`` (made on first use).

    A token file that is writable, not a regular file or malformed was not
    made by dsdt: it is replaced, and with it the databases' directory.
    Threads and processes making the token at once agree on one: only a
    file found bad is removed, and only while it is still the one looked at.
    """
    path = cache / "owner"
    for _ in range(5):  # planted: unlink, make, read; racing makers: a read more
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            write_once(path, (os.urandom(16).hex() + "\n").encode())
            continue
        token = _token(path, st)
        if token is not None:
            return token
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISDIR(st.st_mode) and os.lstat(path).st_ino == st.st_ino:
                os.unlink(path)
    raise PlantedPathError(f"cannot make {path}: remove whatever is there")


def _token(path: Path, st: os.stat_result) -> str | None:
    """The token in ``path`` (as ``lstat`` found it), if dsdt made it."""
    if st.st_mode & 0o222 or not stat.S_ISREG(st.st_mode):
        return None  # git checks files out writable: a planted one
    try:
        data = read_regular(path, 64).decode("ascii", "replace").strip()
    except (FileNotFoundError, CorruptObjectError):
        return None
    return data if len(data) == 32 and set(data) <= set("0123456789abcdef") else None


class LocalConnection:
    """Opens ``path`` lazily, giving each thread (and a forked child) its own connection.

    Args:
        path: Where the database belongs (``cache/index.sqlite``); the file itself
            is ``cache/db-<token>/index.sqlite`` (see the module docs).
        setup: Runs once on every new connection (pragmas, schema).
    """

    def __init__(self, path: Path, setup: Callable[[sqlite3.Connection], None]) -> None:
        self.nominal = path
        self.path = path  # the real file, once the token is known
        self.setup = setup
        self._local = threading.local()
        self._generation = 0

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened (in WAL mode, autocommit) on first use."""
        local = self._local
        if (getattr(local, "pid", None) != os.getpid() or local.db is None
                or local.generation != self._generation):
            try:
                db = self._open()
            except sqlite3.DatabaseError as e:
                if not is_corrupt(e):
                    raise _unusable(self.path, e) from None
                self.reset()
                db = self._open()
            local.pid, local.db, local.generation = os.getpid(), db, self._generation
        return local.db

    def _open(self) -> sqlite3.Connection:
        cache = self.nominal.parent
        cache.mkdir(parents=True, exist_ok=True)
        self.path = cache / f"db-{cache_token(cache)}" / self.nominal.name
        if self.path.parent.is_symlink():
            self.path.parent.unlink()
        self.path.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):  # derived: anything odd just goes
            file = f"{self.path}{suffix}"
            with contextlib.suppress(FileNotFoundError):  # another connection's may come and go
                mode = os.lstat(file).st_mode
                if stat.S_ISDIR(mode):
                    shutil.rmtree(file)
                elif not stat.S_ISREG(mode):
                    os.unlink(file)
        db = self._connect()
        try:
            self.setup(db)
        except BaseException:
            db.close()
            raise
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_PATIENCE, isolation_level=None)
        try:
            _wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            db.close()
        self._local.db = None

    def reset(self) -> None:
        """Throw the database away (it is derived state): every thread opens a new one."""
        self.close()
        self._generation += 1
        self._remove_files()

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")


def _wal(db: sqlite3.Connection) -> None:
    """Put the database in WAL mode (a no-op once it is).

    Making a new database WAL takes an exclusive lock, which SQLite refuses at
    once, without waiting, while another connection (a thread, a process)
    holds the file: threads that open a new index together retry.
    """
    deadline, delay = time.monotonic() + _PATIENCE, 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def bulk_journal(db: sqlite3.Connection) -> Iterator[None]:
    """Write the database through a rollback journal, not the write-ahead log, meanwhile.

    A transaction that fills a new database writes every page twice in WAL
    mode: into the log, then into the database at the checkpoint. A rollback
    journal of a new database holds next to nothing, so each page is written
    once. Leaving WAL mode needs the only connection to the file: with another
    one open (a thread, a process) it fails at once and the writes go through
    the log as always. WAL mode, which readers beside a writer need, is back
    when the block ends.
    """
    try:
        left = db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "wal"
    except sqlite3.OperationalError as e:
        if "locked" not in str(e).lower():
            raise
        left = False
    try:
        yield
    finally:
        if left:
            _wal(db)


def insert_many(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run ``sql`` for every row in one transaction (connections are in autocommit mode)."""
    if not rows:
        return
    db.execute("BEGIN")
    try:
        db.executemany(sql, rows)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def healing(method: Callable[..., T]) -> Callable[..., T]:
    """Run a method of an object holding ``self._db`` (a :class:`LocalConnection`);
    if SQLite reports the file corrupt, rebuild it from nothing and run it once more."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            if not is_corrupt(e):
                raise _unusable(self._db.path, e) from None
            self._db.reset()
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise _unusable(self._db.path, e) from None

    return wrapper


def _unusable(path: Path, e: sqlite3.Error) -> FileSystemError:
    return FileSystemError(f"cannot use {path} ({e}); it is a rebuildable cache: check the "
                           "disk and permissions, or delete it")
