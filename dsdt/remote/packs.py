"""What a remote's packs hold, cached here; writing packs and reading blobs out of them.

The client learns which blobs a remote holds in packs from the pack indexes
(:mod:`dsdt.remote.packindex`), not from one request per blob: one listing of
``packs/`` says which packs exist, and only indexes not seen before are
read. What they say is kept in ``cache/db-<token>/remote-packs.sqlite``
(derived state: rebuilt from the remote when missing or damaged). An index
counts only while its pack is listed beside it with the size it declares, so
a pack a killed push left without its index, or an index without its pack,
is never relied on.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dsdt._db import LocalConnection, healing, insert_many
from dsdt.errors import CorruptObjectError, NotFoundError
from dsdt.objects.ids import sha256_bytes
from dsdt.remote.packindex import (
    MAX_INDEX_BYTES,
    PACK_TARGET,
    PackEntry,
    PackIndex,
    decode_index,
    encode_index,
    index_key,
    pack_key,
    parse_key,
)
from dsdt.remote.transport import Transport, truncated

#: Wanted ranges of a pack this close together are read with one request.
_GAP = 256 << 10
_MAX_WHOLE = 4 * PACK_TARGET  # larger packs are read in ranges
#: ... up to this many bytes per request.
_MAX_RANGE = 8 << 20


def _setup(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS packs(url TEXT, pack TEXT, size INTEGER, "
               "PRIMARY KEY(url, pack))")
    db.execute("CREATE TABLE IF NOT EXISTS entries(url TEXT, blob TEXT, pack TEXT, "
               "offset INTEGER, length INTEGER, PRIMARY KEY(url, blob, pack))")
    db.execute("CREATE INDEX IF NOT EXISTS entries_pack ON entries(url, pack)")


@dataclass(frozen=True)
class Located:
    """Where a blob is in a pack of a remote."""

    pack: str
    pack_size: int
    entry: PackEntry


class PackCache:
    """The indexes of a remote's packs, as last read (an SQLite file of the cache)."""

    def __init__(self, path: Path) -> None:
        self._db = LocalConnection(path, _setup)

    @healing
    def known(self, url: str) -> dict[str, int]:
        """Pack id -> size of every pack of ``url`` whose index is cached."""
        return dict(self._db.get().execute("SELECT pack, size FROM packs WHERE url=?", [url]))

    @healing
    def add(self, url: str, index: PackIndex) -> None:
        """Remember a validated index (its entries first, then the pack)."""
        db = self._db.get()
        insert_many(db, "INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?)",
                    [(url, e.blob, index.pack, e.offset, e.length) for e in index.entries])
        db.execute("INSERT OR REPLACE INTO packs VALUES (?,?,?)", [url, index.pack, index.size])

    @healing
    def drop(self, url: str, packs: Iterable[str]) -> None:
        """Forget packs (gone from the remote)."""
        rows = [(url, p) for p in packs]
        db = self._db.get()
        insert_many(db, "DELETE FROM packs WHERE url=? AND pack=?", rows)
        insert_many(db, "DELETE FROM entries WHERE url=? AND pack=?", rows)

    @healing
    def copies(self, url: str, blob: str) -> list[Located]:
        """Every cached pack that lists ``blob`` (an index can lie: the others are spares)."""
        return [Located(pack, size, PackEntry(blob, offset, length))
                for pack, size, offset, length in self._db.get().execute(
                    "SELECT e.pack, p.size, e.offset, e.length FROM entries e JOIN packs p "
                    "ON p.url = e.url AND p.pack = e.pack WHERE e.url=? AND e.blob=? "
                    "ORDER BY e.pack", [url, blob])]

    @healing
    def locate(self, url: str, blobs: list[str]) -> dict[str, Located]:
        """Where these blobs are in cached packs (those in none are left out)."""
        out: dict[str, Located] = {}
        db = self._db.get()
        for i in range(0, len(blobs), 500):
            chunk = blobs[i:i + 500]
            marks = ",".join("?" * len(chunk))
            sql = (f"SELECT e.blob, e.pack, p.size, e.offset, e.length FROM entries e "  # noqa: S608
                   f"JOIN packs p ON p.url = e.url AND p.pack = e.pack "
                   f"WHERE e.url=? AND e.blob IN ({marks}) ORDER BY e.pack")
            for blob, pack, size, offset, length in db.execute(sql, [url, *chunk]):
                out.setdefault(blob, Located(pack, size, PackEntry(blob, offset, length)))
        return out

    @healing
    def entries(self, url: str, pack: str) -> list[PackEntry]:
        """The entries of one cached pack, by offset."""
        return [PackEntry(*row) for row in self._db.get().execute(
            "SELECT blob, offset, length FROM entries WHERE url=? AND pack=? ORDER BY offset",
            [url, pack])]


@dataclass(frozen=True)
class Unit:
    """One read from a pack: ``length`` bytes from ``start``, holding ``entries``."""

    pack: str
    start: int
    length: int
    entries: tuple[PackEntry, ...]
    whole: bool


class RemotePacks:
    """The packs of one remote: which blobs they hold, and reading and writing them.

    Args:
        transport: The remote.
        cache: The local cache of its indexes.
    """

    def __init__(self, transport: Transport, cache: PackCache) -> None:
        self.tr, self.url, self.cache = transport, transport.url, cache
        self.refused: dict[str, str] = {}  # pack id -> why its index was refused
        self._fresh = False
        self._lock = threading.Lock()

    # -- what the remote holds -------------------------------------------------------

    def listing(self) -> dict[str, dict[str, tuple[int, float]]]:
        """Pack id -> {"pack"/"idx": (size, mtime)} of what ``packs/`` holds now."""
        out: dict[str, dict[str, tuple[int, float]]] = defaultdict(dict)
        for key, size, mtime in self.tr.list_info("packs/"):
            parsed = parse_key(key)
            if parsed is not None:
                out[parsed[0]][parsed[1]] = (size, mtime)
        return out

    def refresh(self) -> None:
        """Bring the cache up to date: one listing, and the indexes not read before."""
        with self._lock:
            listed = self.listing()
            usable = {p: kinds["pack"][0] for p, kinds in listed.items()
                      if "pack" in kinds and "idx" in kinds}
            known = self.cache.known(self.url)
            self.cache.drop(self.url, [p for p, s in known.items() if usable.get(p) != s])
            new = [p for p in usable if p not in known or known[p] != usable[p]]
            self.refused = {p: why for p, why in self.refused.items() if p in usable}

            def read(pack: str) -> None:
                try:
                    index = decode_index(self.tr.get(index_key(pack), MAX_INDEX_BYTES), pack,
                                         f"{self.url}/{index_key(pack)}")
                    if index.size != usable[pack]:
                        raise CorruptObjectError(f"pack index of {pack} declares {index.size} "
                                                 f"bytes, the pack holds {usable[pack]}")
                except (CorruptObjectError, NotFoundError) as e:
                    self.refused[pack] = " ".join(str(e).split())
                    return
                self.cache.add(self.url, index)

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(read, new))
            self._fresh = True

    def read_index(self, pack: str) -> PackIndex | None:
        """A pack's index as the remote holds it now (not the cache); None if unusable."""
        key = index_key(pack)
        try:
            return decode_index(self.tr.get(key, MAX_INDEX_BYTES), pack, f"{self.url}/{key}")
        except (CorruptObjectError, NotFoundError):
            return None

    def locate(self, blobs: list[str]) -> dict[str, Located]:
        """Where these blobs are in the remote's packs (reading the listing once if some
        are in no cached pack)."""
        found = self.cache.locate(self.url, blobs)
        if len(found) < len(blobs) and not self._fresh:
            self.refresh()
            found = self.cache.locate(self.url, blobs)
        return found

    def ensure_fresh(self) -> None:
        """Refresh once per :class:`RemotePacks` (a push relies on what the cache says)."""
        if not self._fresh:
            self.refresh()

    # -- writing ---------------------------------------------------------------

    def write(self, group: list[str], read: Callable[[str], bytes]) -> PackIndex | None:
        """Write one pack of these blobs (create-only): the pack, then its index.

        Returns:
            Its index; None when the remote already holds an index of that pack
            that says something else (the caller then sends the blobs alone).
        """
        parts, entries, offset = [], [], 0
        for blob in group:
            data = read(blob)
            entries.append(PackEntry(blob, offset, len(data)))
            parts.append(data)
            offset += len(data)
        body = b"".join(parts)  # the pack's one copy in memory
        del parts
        index = PackIndex(sha256_bytes(body), len(body), tuple(entries))
        key = pack_key(index.pack)
        if self.tr.put(key, body, if_absent=True) is None and self.tr.size(key) != len(body):
            self.tr.put(key, body)  # the name held something else (a truncated copy)
        text = encode_index(index)
        if self.tr.put(index_key(index.pack), text, if_absent=True) is None and \
                self.tr.get(index_key(index.pack), MAX_INDEX_BYTES) != text:
            return None
        self.cache.add(self.url, index)
        return index

    # -- reading ---------------------------------------------------------------

    def plan(self, located: dict[str, Located]) -> list[Unit]:
        """The reads that fetch these blobs: a whole pack when at least half of it is
        wanted (and it is no larger than dsdt writes them), else its wanted ranges,
        coalesced when close together. A remote's pack may be as large as its index
        may declare; reading one whole on each of several threads could exhaust memory."""
        by_pack: dict[str, list[PackEntry]] = defaultdict(list)
        sizes: dict[str, int] = {}
        for where in located.values():
            by_pack[where.pack].append(where.entry)
            sizes[where.pack] = where.pack_size
        units: list[Unit] = []
        for pack, entries in by_pack.items():
            entries.sort(key=lambda e: e.offset)
            if 2 * sum(e.length for e in entries) >= sizes[pack] and sizes[pack] <= _MAX_WHOLE:
                units.append(Unit(pack, 0, sizes[pack], tuple(entries), True))
                continue
            run = [entries[0]]
            for e in entries[1:]:
                start, end = run[0].offset, run[-1].offset + run[-1].length
                if e.offset - end <= _GAP and e.offset + e.length - start <= _MAX_RANGE:
                    run.append(e)
                else:
                    units.append(_range_unit(pack, run))
                    run = [e]
            units.append(_range_unit(pack, run))
        return units

    def read(self, unit: Unit) -> Iterator[tuple[str, bytes]]:
        """``(blob id, bytes)`` of each entry of a unit, cut from one request (unverified).

        Raises:
            NotFoundError: The pack is gone (repacked since the cache was read).
            CorruptObjectError: The pack is shorter or longer than its index says.
        """
        key = pack_key(unit.pack)
        if unit.whole:
            data = self.tr.get(key, unit.length)
            if len(data) != unit.length:
                raise truncated(self.url, key, 0, unit.length)
        else:
            data = self.tr.get_range(key, unit.start, unit.length)
        view = memoryview(data)
        for e in unit.entries:
            yield e.blob, bytes(view[e.offset - unit.start:e.offset - unit.start + e.length])

    def read_blob(self, blob: str, limit: int) -> bytes | None:
        """One blob's verified bytes from its pack; None when no pack holds it.

        Raises:
            CorruptObjectError: Its entry is larger than ``limit``, or the bytes in
                the pack do not hash to the blob's id.
        """
        where = self.locate([blob]).get(blob)
        if where is None:
            return None
        if where.entry.length > limit:
            raise CorruptObjectError(f"blob {blob} in pack {where.pack} on {self.url} holds "
                                     f"{where.entry.length} bytes, more than the {limit} "
                                     "declared for it; nothing was kept")
        data = self.tr.get_range(pack_key(where.pack), where.entry.offset, where.entry.length)
        if sha256_bytes(data) != blob:
            raise CorruptObjectError(f"blob {blob} in pack {where.pack} on {self.url} does not "
                                     "hash to its id (corrupt or hostile); nothing was kept")
        return data


def _range_unit(pack: str, run: list[PackEntry]) -> Unit:
    start = run[0].offset
    return Unit(pack, start, run[-1].offset + run[-1].length - start, tuple(run), False)


def groups(blobs: Iterable[tuple[str, int]], target: int = PACK_TARGET) -> Iterator[list[str]]:
    """The blobs cut into packs of ``target`` bytes or a little more, in the order given."""
    group: list[str] = []
    total = 0
    for blob, size in blobs:
        group.append(blob)
        total += size
        if total >= target:
            yield group
            group, total = [], 0
    if group:
        yield group
