"""Writing the index's rows of many records at once (one statement per table).

Rebuilding the index of a fresh clone inserts every record's fields; batching
them per shard keeps SQLite's per-statement cost out of the per-record cost.
"""

from __future__ import annotations

import sqlite3

from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.record import BundleRecord

PARAM_PREFIX = "__param."


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

    def add(self, rec: BundleRecord, sha: str, replacing: bool) -> None:
        """Queue the searchable fields of one record (``replacing`` an older version)."""
        u = rec.uuid
        self.bundles.append((u, sha, rec.name, rec.processing_name, rec.owner, rec.created,
                             rec.created_at.timestamp()))
        self.tags += [(u, k, v) for k, v in rec.tags.items()]
        self.tags += [(u, PARAM_PREFIX + k, v) for k, v in rec.params.items()]
        self.deps += [(u, d.uuid) for d in rec.lineage.depends_on]
        refs = blob_refs(rec.data)  # directly named blobs; trees and packed values as meta
        self.blobs += [(u, b, s, None) for b, s in refs.data.items()]
        self.blobs += [(u, b, m.limit, m.kind) for b, m in refs.meta.items()]
        if replacing:
            self.replaced.append((u,))

    def write(self, db: sqlite3.Connection) -> None:
        """Insert every queued row (after removing what the replaced records had)."""
        for table in ("tags", "deps", "blobs"):
            db.executemany(f"DELETE FROM {table} WHERE uuid=?", self.replaced)  # noqa: S608
        db.executemany("INSERT OR REPLACE INTO bundles VALUES (?,?,?,?,?,?,?)", self.bundles)
        db.executemany("INSERT OR REPLACE INTO tags VALUES (?,?,?)", self.tags)
        db.executemany("INSERT OR IGNORE INTO deps VALUES (?,?)", self.deps)
        db.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?,?,?)", self.blobs)
