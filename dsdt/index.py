"""The derived SQLite index behind ``ls``, ``search`` and ``get``.

The index is a cache of what the refs and records say; it lives in
``cache/db-<token>/index.sqlite`` (gitignored) and can be deleted at any time. Before
answering a query it is brought up to date cheaply: membership refs are
sharded into 256 directories per context, and a shard is re-read only when
its directory's mtime differs from the one recorded (a shard modified within
the filesystem's timestamp granularity is re-read next time too). So records
that arrive by any route (``git pull``, a copy, another process) are seen,
and ``ls`` over 100,000 bundles reads no record. All SQL is parameterised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from operator import attrgetter
from pathlib import Path
from typing import ClassVar, Protocol

from dsdt._db import LocalConnection, bulk_journal, healing
from dsdt.indexquery import COMMITTED, Query, Row, where_sql
from dsdt.indexrows import DROP_SHARD, RecordSource, gc_paused, in_shard, read_shard, rescan
from dsdt.indexrows import PARAM_PREFIX as PARAM_PREFIX  # re-exported: tags of params

_log = logging.getLogger("dsdt")
_SCHEMA_VERSION = "12"
_TABLES = ("meta", "bundles", "tags", "deps", "blobs", "members", "shards", "skipped")
_RACY_NS = 2_000_000_000
_KINDS = ("bundles", "committed")
#: A first build re-reading more shards than this leaves WAL mode meanwhile (see
#: :func:`dsdt._db.bulk_journal`); switching costs a few ms, a small build less than that.
_BULK_SHARDS = 32
TRACKED = "tracked"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS bundles(uuid TEXT PRIMARY KEY, sha TEXT, name TEXT,
    processing_name TEXT, owner TEXT, created TEXT, created_ts REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags(uuid TEXT, key TEXT, value TEXT,
    PRIMARY KEY(uuid, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deps(uuid TEXT, dep_uuid TEXT,
    PRIMARY KEY(uuid, dep_uuid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs(uuid TEXT, blob TEXT, size INT, meta TEXT,
    PRIMARY KEY(uuid, blob)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members(ctx TEXT, kind TEXT, uuid TEXT, sha TEXT, name TEXT,
    created_ts REAL, PRIMARY KEY(ctx, kind, uuid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shards(ctx TEXT, kind TEXT, shard TEXT, mtime INT,
    PRIMARY KEY(ctx, kind, shard)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skipped(ctx TEXT, kind TEXT, uuid TEXT, shard TEXT,
    PRIMARY KEY(ctx, kind, uuid)) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS visible AS
    SELECT ctx, uuid, sha, name, created_ts, 0 AS tracked FROM members WHERE kind = 'bundles'
    UNION ALL
    SELECT t.ctx, t.uuid, t.sha, t.name, t.created_ts, 1 FROM members t WHERE t.kind = 'tracked'
    AND NOT EXISTS (SELECT 1 FROM members b WHERE b.ctx = t.ctx AND b.kind = 'bundles'
                    AND b.uuid = t.uuid);
"""
#: Secondary indexes. A first build makes them after inserting every row: sorting once
#: is cheaper than keeping them in order row by row.
_INDEXES = {
    "bundles_proc": "bundles(processing_name)",
    "tags_kv": "tags(key, value)",
    "deps_dep": "deps(dep_uuid)",
    "members_latest": "members(ctx, kind, name, created_ts, uuid, sha)",  # covers ls
}

_BY_NAME = attrgetter("name")  # shards in key order: a first build appends
_OUTER = ("SELECT b.uuid, x.sha, b.name, b.processing_name, b.owner, b.created, b.created_ts, "
          "x.tracked "
          "FROM ({}) x JOIN bundles b ON b.uuid = x.uuid AND b.sha = x.sha")


def _no_progress(done: int, total: int) -> None:
    """Progress nobody draws."""


def _setup(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if row is not None and row[0] != _SCHEMA_VERSION:  # made by another dsdt: rebuild it
        db.execute("DROP VIEW IF EXISTS visible")
        for table in _TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")
    db.executescript(_SCHEMA)
    _make_indexes(db)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
    db.execute("PRAGMA cache_size=-65536")  # 64 MiB: a first build touches every page


def _make_indexes(db: sqlite3.Connection) -> None:
    for name, on in _INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")


class TrackedSource(Protocol):
    """Where the index learns which members come from a context's remote (the repository)."""

    def tracking_stamps(self) -> dict[str, int]:
        """Per context with tracking state, a value that changes when it does."""

    def tracked(self, ctx: str) -> dict[str, str]:
        """``uuid -> record sha`` of the members of ``ctx`` that come from its remote."""


class Index:
    """The SQLite index of one repository.

    Attributes:
        progress: Process-wide: called as ``progress(done, total)`` while a refresh
            re-reads shards (``done`` from 0 to ``total``, which is always reached,
            also on failure); a fresh clone's first query reads every shard. The
            CLI draws a bar from it (:func:`dsdt.api.on_index_progress`).

    Args:
        path: The database file.
        refs_root: The ``refs/contexts`` directory it mirrors.
        records: Opens a reader of records, which verifies each against the
            record sha its ref names.
        tracking: The members that come from each context's remote.
    """

    progress: ClassVar[Callable[[int, int], None] | None] = None

    def __init__(self, path: Path, refs_root: Path, records: Callable[[], RecordSource],
                 tracking: TrackedSource) -> None:
        self.path = path
        self.refs_root = refs_root
        self.records = records
        self.tracking = tracking
        self._db = LocalConnection(path, _setup)
        self._warned: set[str] = set()

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (created, with the schema, on first use)."""
        return self._db.get()

    @property
    def handle(self) -> LocalConnection:
        """The per-thread connection holder (queries kept in other modules heal through it)."""
        return self._db

    def close(self) -> None:
        """Close this thread's database connection."""
        self._db.close()

    # --- keeping up to date ------------------------------------------------------------

    def reported(self, problems: list[str]) -> None:
        """Problems the caller shows itself (``fsck``): no query warns about them again."""
        self._warned.update(problems)

    def current(self) -> None:
        """Bring the index up to date before a query. What could not be read is left out,
        and said once per process as a warning (``dsdt fsck`` names each problem)."""
        new = [p for p in self.refresh() if p not in self._warned]
        if new:
            self.reported(new)
            _log.warning("dsdt: warning: %d ref(s) or record(s) could not be read; what they "
                         "name is left out (run dsdt fsck)", len(new))

    @healing
    def refresh(self) -> list[str]:
        """Bring the index up to date with the refs; return problems met (for fsck)."""
        db = self.connect()
        known = {(c, k, s): m for c, k, s, m in db.execute("SELECT * FROM shards")}
        seen: set[tuple[str, str, str]] = set()
        problems: list[str] = []
        changes: list[tuple[str, str, str, int, Path | None]] = []
        now = time.time_ns()
        for ctx, kind, shard, path in self._shard_dirs(problems):
            seen.add((ctx, kind, shard))
            try:
                mtime = os.stat(path).st_mtime_ns
            except FileNotFoundError:
                continue
            if known.get((ctx, kind, shard)) != mtime:
                changes.append((ctx, kind, shard, 0 if now - mtime < _RACY_NS else mtime, path))
        for ctx, stamp in self.tracking.tracking_stamps().items():
            seen.add((ctx, TRACKED, ""))
            if known.get((ctx, TRACKED, "")) != stamp:
                changes.append((ctx, TRACKED, "", stamp, None))
        gone = [key for key in known if key not in seen]
        if not changes and not gone:
            return problems
        big = not known and len(changes) > _BULK_SHARDS  # a first build worth a journal switch
        with bulk_journal(db) if big else contextlib.nullcontext():
            return self._apply(db, changes, gone, not known, problems)

    def _apply(self, db: sqlite3.Connection, changes: list[tuple[str, str, str, int, Path | None]],
               gone: list[tuple[str, str, str]], unbuilt: bool, problems: list[str]) -> list[str]:
        """Re-read the ``changes`` shards and drop the ``gone`` ones, in one transaction."""
        reader, report = self.records(), Index.progress or _no_progress  # not bound: a plain hook
        db.execute("BEGIN IMMEDIATE")
        try:
            first = unbuilt and not db.execute("SELECT 1 FROM bundles LIMIT 1").fetchone()
            for name in _INDEXES if first else ():
                db.execute(f"DROP INDEX {name}")
            with gc_paused():
                for ctx, kind, shard in gone:
                    db.execute(DROP_SHARD, in_shard(ctx, kind, shard))
                    for table in ("shards", "skipped"):
                        db.execute(f"DELETE FROM {table} WHERE ctx=? AND kind=? AND shard=?",  # noqa: S608
                                   (ctx, kind, shard))
                for done, (ctx, kind, shard, mtime, path) in enumerate(changes):
                    report(done, len(changes))
                    read = ((self.tracking.tracked(ctx), []) if path is None
                            else read_shard(path, problems))
                    ok = rescan(db, reader, (ctx, kind, shard), read, problems, first)
                    db.execute("INSERT OR REPLACE INTO shards VALUES (?,?,?,?)",
                               (ctx, kind, shard, mtime if ok else 0))
            _make_indexes(db)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            reader.close()
            report(len(changes), len(changes))
        return problems

    def _shard_dirs(self, problems: list[str]) -> Iterable[tuple[str, str, str, Path]]:
        """Every shard directory of every context; anything else where one belongs (a
        symlink, a file) is a problem: members behind it cannot be read."""
        if not self.refs_root.is_dir():
            return
        for ctx in os.scandir(self.refs_root):  # symlinks are never followed (fsck names them)
            if ctx.name.startswith("."):
                continue
            if not ctx.is_dir(follow_symlinks=False):
                problems.append(f"{ctx.path} is not a directory (a symlink?)")
                continue
            for kind in _KINDS:
                base = Path(ctx.path) / kind
                if base.is_symlink() or (base.exists() and not base.is_dir()):
                    problems.append(f"{base} is not a directory (a symlink?)")
                    continue
                shards = sorted(os.scandir(base), key=_BY_NAME) if base.is_dir() else []
                for shard in shards:
                    if shard.is_dir(follow_symlinks=False):
                        yield ctx.name, kind, shard.name, Path(shard.path)
                    elif not shard.name.startswith("."):
                        problems.append(f"{shard.path} is not a directory (a symlink?)")

    # --- queries -----------------------------------------------------------------------

    @healing
    def find(self, ctx: str, q: Query) -> list[Row]:
        """Bundles of context ``ctx`` matching ``q``, newest first."""
        self.current()
        where, args = where_sql(ctx, q)
        # Only fixed fragments are joined; every user value is a bound parameter. The
        # latest-per-name query walks the members_latest index; SQLite takes the bare
        # columns of a GROUP BY from the row holding the MAX.
        inner = "SELECT m.uuid, m.sha, m.tracked FROM visible m WHERE " + where  # noqa: S608
        if q.latest_per_name:
            inner = inner.replace(" FROM", ", MAX(m.created_ts) FROM", 1) + " GROUP BY m.name"
        db = self.connect()
        rows = db.execute(_OUTER.format(inner), args).fetchall()
        rows.sort(key=lambda r: (r[6], r[0]), reverse=True)
        one = (" AND m.uuid=?", [q.uuid]) if q.uuid else ("", [])  # one bundle: no scan
        committed = {u for (u,) in db.execute(
            "SELECT m.uuid FROM visible m WHERE m.ctx=? AND " + COMMITTED + one[0],  # noqa: S608
            [ctx, *one[1]])}
        return [Row(*r[:6], r[0] in committed, bool(r[7])) for r in rows]

    @healing
    def tags_of(self, uuids: list[str]) -> dict[str, dict[str, str]]:
        """All tags (user and ``__param.``) of the given bundles."""
        out: dict[str, dict[str, str]] = {u: {} for u in uuids}
        db = self.connect()
        for i in range(0, len(uuids), 500):
            chunk = uuids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for uuid, k, v in db.execute(
                    f"SELECT uuid, key, value FROM tags WHERE uuid IN ({marks})",  # noqa: S608
                    chunk):
                out[uuid][k] = v
        return out

    @healing
    def dependents(self, ctx: str, uuids: list[str]) -> dict[str, list[str]]:
        """Members of ``ctx`` whose lineage names each of ``uuids`` (from the index, no scan)."""
        self.current()
        out: dict[str, list[str]] = {u: [] for u in uuids}
        db = self.connect()
        for i in range(0, len(uuids), 500):
            chunk = uuids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                "SELECT d.dep_uuid, d.uuid FROM deps d JOIN visible m ON m.uuid = d.uuid "  # noqa: S608
                f"WHERE m.ctx = ? AND d.dep_uuid IN ({marks})",
                [ctx, *chunk])
            for dep, uuid in rows:
                out[dep].append(uuid)
        return out

    @healing
    def member_blobs(self, ctx: str | None = None) -> list[tuple[str, str, str, int, str | None]]:
        """``(ctx, uuid, blob, size, meta kind)`` for the blobs members name directly.

        Trees and packed values are listed with their kind (``tree``,
        ``packed``) and the most bytes they may hold; what is inside them is
        not (see :func:`dsdt.objects.codecs.expand_meta`). Data blobs have kind
        None and their declared size.
        """
        self.current()
        sql = ("SELECT m.ctx, m.uuid, b.blob, b.size, b.meta FROM visible m "
               "JOIN blobs b ON b.uuid = m.uuid")
        rows = (self.connect().execute(sql + " WHERE m.ctx = ?", (ctx,)) if ctx is not None
                else self.connect().execute(sql))
        return [tuple(row) for row in rows]

    @healing
    def blobs_of(self, uuids: list[str]) -> list[tuple[str, str, int, str | None]]:
        """``(uuid, blob, size, meta kind)`` for the blobs these bundles name directly."""
        self.current()
        out: list[tuple[str, str, int, str | None]] = []
        db = self.connect()
        for i in range(0, len(uuids), 500):
            chunk = uuids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out += db.execute(f"SELECT uuid, blob, size, meta FROM blobs "  # noqa: S608
                              f"WHERE uuid IN ({marks})", chunk).fetchall()
        return out

    @healing
    def member_uuids(self) -> set[str]:
        """Uuids that are members of any context."""
        self.current()
        rows = self.connect().execute("SELECT DISTINCT uuid FROM visible")
        return {u for (u,) in rows}

    @healing
    def member_names(self) -> list[tuple[str, str, str]]:
        """``(ctx, uuid, name)`` of every member of every context."""
        self.current()
        return list(self.connect().execute(
            "SELECT ctx, uuid, name FROM visible"))

    @healing
    def names(self, ctx: str, prefix: str = "", limit: int = 1000) -> list[str]:
        """Distinct bundle names of ``ctx`` starting with ``prefix``, sorted (up to ``limit``)."""
        self.current()
        rows = self.connect().execute(
            "SELECT DISTINCT name FROM visible WHERE ctx = ? AND name >= ? AND name < ? "
            "ORDER BY name LIMIT ?", (ctx, prefix, prefix + "\U0010ffff", limit))
        return [n for (n,) in rows]

    @healing
    def uuids_with_prefix(self, ctx: str, prefix: str, limit: int = 10) -> list[tuple[str, str]]:
        """``(uuid, name)`` of up to ``limit`` members of ``ctx`` whose uuid starts ``prefix``.

        ``prefix`` must be lower-case hex digits and dashes (it is a range bound).
        """
        self.current()
        rows = self.connect().execute(
            "SELECT uuid, name FROM visible WHERE ctx = ? AND uuid >= ? AND uuid < ? "
            "ORDER BY uuid LIMIT ?", (ctx, prefix, prefix + "\x7f", limit))
        return [(u, n) for u, n in rows]

    @healing
    def skipped(self, ctx: str) -> int:
        """How many bundles of ``ctx`` the index left out: their ref or record is unreadable."""
        self.current()
        return self.connect().execute(
            "SELECT COUNT(DISTINCT uuid) FROM skipped WHERE ctx=?", (ctx,)).fetchone()[0]

    @healing
    def contexts_of(self, uuid: str) -> list[str]:
        """Contexts a bundle is a member of."""
        self.current()
        rows = self.connect().execute(
            "SELECT ctx FROM visible WHERE uuid=?", (uuid,))
        return sorted(r[0] for r in rows)
