"""Proofs that a remote holds a blob's exact bytes, so a local copy may be dropped.

Before ``push -d`` (delocalize) removes the local copy of a blob, the remote
copy's content must be proven, not just its size. Anyone with write access to
the remote could have planted a corrupt object of the right size. The
object is read back and hashed, with its stamp (an S3 ETag; a file's inode,
size and change time) taken before and after: equal stamps mean the bytes
hashed are the object's. That stamp is kept here, and any later write by
anyone changes it, so an equal stamp later proves the bytes at the cost of
one stat. Having written an object proves nothing: a writer on the remote can
change it in place before its stamp is first read.

The store is ``cache/db-<token>/remote-proofs.sqlite``: derived state, rebuildable (losing
it only costs read-backs), and owned by this cache (see :mod:`dsdt._db`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from dsdt._db import LocalConnection, healing, insert_many


def _setup(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS proofs(url TEXT, key TEXT, stamp TEXT, "
               "PRIMARY KEY(url, key))")


class Proofs:
    """Stamps of remote objects whose bytes dsdt read back and verified.

    Args:
        path: The SQLite file.
    """

    def __init__(self, path: Path) -> None:
        self._db = LocalConnection(path, _setup)

    @healing
    def remember(self, url: str, stamps: Iterable[tuple[str, str]]) -> None:
        """Record ``(key, stamp)`` pairs of objects on the remote at ``url``."""
        insert_many(self._db.get(), "INSERT OR REPLACE INTO proofs VALUES (?,?,?)",
                    [(url, key, stamp) for key, stamp in stamps])

    @healing
    def stamps(self, url: str, keys: list[str]) -> dict[str, str]:
        """The recorded stamps of these keys (those that have one)."""
        out: dict[str, str] = {}
        db = self._db.get()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(db.execute(
                f"SELECT key, stamp FROM proofs WHERE url=? AND key IN ({marks})",  # noqa: S608
                [url, *chunk]))
        return out
