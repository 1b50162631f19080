"""Re-reading shards of refs into the index, and writing the rows of many records at once.

Rebuilding the index of a fresh clone reads every ref and record and inserts
every record's fields: the refs and records of a shard are read through its
open directories, and the rows written with one statement per table, which
keeps per-file and per-statement costs out of the per-record cost.
"""

from __future__ import annotations

import contextlib
import gc
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from dsdt._fs import DirFiles
from dsdt.errors import CorruptObjectError
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.ids import is_uuid
from dsdt.refs.store import MAX_REF_BYTES

PARAM_PREFIX = "__param."
#: The members of one shard, whose uuids start with its name (the tracked members of a
#: context, shard "", are all of them), with the parameters :func:`in_shard` makes.
SHARD_MEMBERS = "SELECT uuid, sha FROM members WHERE ctx=? AND kind=? AND uuid >= ? AND uuid < ?"
DROP_SHARD = "DELETE FROM members WHERE ctx=? AND kind=? AND uuid >= ? AND uuid < ?"


def in_shard(ctx: str, kind: str, shard: str) -> tuple[str, str, str, str]:
    """The parameters of :data:`SHARD_MEMBERS` and :data:`DROP_SHARD`."""
    return ctx, kind, shard, shard + "\x7f"  # after every uuid character


def indexed_bundles(db: sqlite3.Connection, uuids: list[str]) -> dict[str, tuple[str, str, float]]:
    """``uuid -> (sha, name, created_ts)`` of those of ``uuids`` the index holds."""
    out: dict[str, tuple[str, str, float]] = {}
    for i in range(0, len(uuids), 500):
        chunk = uuids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for uuid, sha, name, ts in db.execute(
                f"SELECT uuid, sha, name, created_ts FROM bundles WHERE uuid IN ({marks})",  # noqa: S608
                chunk):
            out[uuid] = (sha, name, ts)
    return out


class Rows:
    """The index rows of many records, written with one statement per table."""

    def __init__(self) -> None:
        self.bundles: list[tuple[object, ...]] = []
        self.tags: list[tuple[str, str, str]] = []
        self.deps: list[tuple[str, str]] = []
        self.blobs: list[tuple[str, str, int, str | None]] = []
        self.replaced: list[tuple[str]] = []

    def add(self, rec: dict[str, Any], sha: str, replacing: bool) -> float:
        """Queue the searchable fields of one record, a mapping
        :func:`~dsdt.objects.record.check_record` passed (``replacing`` an older version).

        Returns:
            Its creation time, in seconds since the epoch.
        """
        u, created = rec["uuid"], rec["created"]
        ts = datetime.fromisoformat(created).timestamp()
        self.bundles.append((u, sha, rec["name"], rec["processing_name"], rec["owner"], created,
                             ts))
        if rec["tags"]:
            self.tags += [(u, k, v) for k, v in rec["tags"].items()]
        if rec["params"]:
            self.tags += [(u, PARAM_PREFIX + k, v) for k, v in rec["params"].items()]
        self.deps += [(u, d["uuid"]) for d in rec["lineage"]["depends_on"]]
        refs = blob_refs(rec["data"])  # directly named blobs; trees and packed values as meta
        self.blobs += [(u, b, s, None) for b, s in refs.data.items()]
        self.blobs += [(u, b, m.limit, m.kind) for b, m in refs.meta.items()]
        if replacing:
            self.replaced.append((u,))
        return ts

    def write(self, db: sqlite3.Connection) -> None:
        """Insert every queued row (after removing what the replaced records had)."""
        for table in ("tags", "deps", "blobs"):
            db.executemany(f"DELETE FROM {table} WHERE uuid=?", self.replaced)  # noqa: S608
        db.executemany("INSERT OR REPLACE INTO bundles VALUES (?,?,?,?,?,?,?)", self.bundles)
        db.executemany("INSERT OR REPLACE INTO tags VALUES (?,?,?)", self.tags)
        db.executemany("INSERT OR IGNORE INTO deps VALUES (?,?)", self.deps)
        db.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?,?,?)", self.blobs)


def read_shard(path: Path, problems: list[str]) -> tuple[dict[str, str], list[str]]:
    """``uuid -> record sha`` of the readable ref files in one shard directory, and the
    names of the other files there (reported in ``problems`` and left out; the other
    members of the shard are not)."""
    out: dict[str, str] = {}
    bad: list[str] = []
    shard = path.name
    with DirFiles(path) as files:
        for name in files.names():
            if name[:2] != shard or not is_uuid(name):  # git can put any file here
                if name.startswith(".") or name.endswith(".lock"):
                    continue
                problems.append(f"ref {path}/{name}: not a bundle uuid of this shard; "
                                "it was left out (run dsdt fsck)")
                bad.append(name)
                continue
            try:
                out[name] = files.read(name, MAX_REF_BYTES).decode("utf-8").strip()
            except FileNotFoundError:
                continue  # removed (rm) since the directory was listed
            except (OSError, UnicodeDecodeError, CorruptObjectError) as e:
                problems.append(f"ref {path}/{name}: unreadable ({e})")
                bad.append(name)
    return out, bad


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a rebuild makes millions of short-lived
    objects and no cycles, and every collection would walk all of them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class RecordSource(Protocol):
    """Reads records for the index (:class:`dsdt.members.RecordReader`)."""

    def read_checked(self, uuid: str, sha: str | None = None) -> dict[str, Any]:
        """The record of ``uuid``, verified against ``sha`` and passed through
        :func:`~dsdt.objects.record.check_record`; raises if missing or corrupt."""

    def close(self) -> None:
        """Release what reading held open."""


def rescan(db: sqlite3.Connection, reader: RecordSource, where: tuple[str, str, str],
           read: tuple[dict[str, str], list[str]], problems: list[str], first: bool) -> bool:
    """Make the index's members of one shard (or a context's tracked ones) be the refs
    ``read`` as :func:`read_shard` returns them: the readable refs, and the files that
    were not (in the ``first`` build, the index holds no member yet).

    Returns:
        True if every ref and record was read (else the shard is read again next time).
    """
    (ctx, kind, shard), (refs, bad) = where, read
    have = {} if first else dict(db.execute(SHARD_MEMBERS, in_shard(ctx, kind, shard)))
    wanted = {u: s for u, s in sorted(refs.items()) if have.get(u) != s}  # in key order
    indexed = indexed_bundles(db, list(wanted))
    rows = Rows()
    members = []
    gone = [(ctx, kind, u) for u in set(have) - set(refs)]
    ok = not bad
    db.execute("DELETE FROM skipped WHERE ctx=? AND kind=? AND shard=?", (ctx, kind, shard))
    if kind == "bundles":  # a bundle left out: the catalog counts it
        db.executemany("INSERT OR REPLACE INTO skipped VALUES (?,?,?,?)",
                       [(ctx, kind, name, shard) for name in bad])
    for uuid, sha in wanted.items():
        known = indexed.get(uuid)
        if known is not None and known[0] == sha:
            members.append((ctx, kind, uuid, sha, known[1], known[2]))
            continue
        try:
            rec = reader.read_checked(uuid, sha)
        except Exception as e:  # noqa: BLE001 - reported, the member is skipped
            problems.append(f"{kind} ref {ctx}/{uuid}: {e}")
            db.execute("INSERT OR REPLACE INTO skipped VALUES (?,?,?,?)",
                       (ctx, kind, uuid, shard))  # counted by the catalog's pages
            gone.append((ctx, kind, uuid))  # what it named before is no longer shown
            ok = False
            continue
        created_ts = rows.add(rec, sha, replacing=known is not None)
        members.append((ctx, kind, uuid, sha, rec["name"], created_ts))
    rows.write(db)
    db.executemany("INSERT OR REPLACE INTO members VALUES (?,?,?,?,?,?)", members)
    db.executemany("DELETE FROM members WHERE ctx=? AND kind=? AND uuid=?", gone)
    return ok
