"""Pages of a context's bundle names, from the index: the catalog behind ``dsdt ui``.

One row per bundle name: its newest version among those matching the filters
and how many versions match. Rows come in name order, paged in SQL
(``LIMIT``/``OFFSET``), so a page of a 100,000-bundle context reads only its own
rows and no record. All SQL is parameterised; the filters are the ones of
:class:`dsdt.index.Query`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsdt._db import LocalConnection, healing
from dsdt.index import Index
from dsdt.indexquery import Query, where_sql

_PAGE = ("SELECT m.name, m.uuid, m.sha, COUNT(*), MAX(m.created_ts), m.tracked "
         "FROM {} m WHERE {} GROUP BY m.name ORDER BY m.name LIMIT ? OFFSET ?")
_TOTAL = "SELECT COUNT(DISTINCT m.name) FROM {} m WHERE {}"
_HAS_TRACKED = "SELECT 1 FROM members WHERE ctx=? AND kind='tracked' LIMIT 1"
# Without members from a remote, a context's members are its 'bundles' rows: reading them
# straight walks the members_latest index in name order and stops at the page's end.
_OWN = "(SELECT ctx, uuid, sha, name, created_ts, 0 AS tracked FROM members WHERE kind='bundles')"
_OWNER = "SELECT owner FROM bundles WHERE uuid=?"
_COMMITTED = ("SELECT 1 FROM members WHERE ctx=? AND kind='committed' AND uuid=? AND sha=?")


@dataclass(frozen=True)
class NameRow:
    """One bundle name of a context, as a catalog page lists it.

    Attributes:
        name: The bundle name.
        uuid: Its newest version (among those matching the filters).
        sha: The record sha of that version.
        versions: How many versions match the filters.
        created_ts: When the newest version was closed (seconds since the epoch).
        committed: Whether the newest version is committed (or came from the remote).
        pulled: The newest version is known from the remote's tracking state only.
        owner: Who made the newest version.
    """

    name: str
    uuid: str
    sha: str
    versions: int
    created_ts: float
    committed: bool
    pulled: bool
    owner: str


class NamePages:
    """Pages of names of one repository's index.

    Args:
        index: The repository's index.
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self._db: LocalConnection = index.handle

    @healing
    def page(self, ctx: str, q: Query, limit: int, offset: int) -> tuple[list[NameRow], int]:
        """The names of ``ctx`` matching ``q``, from ``offset`` on, and how many match in all.

        Args:
            ctx: The context.
            q: Filters (name glob, tags, dates...); ``latest_per_name`` is implied.
            limit: At most this many rows.
            offset: Rows to skip (in name order).

        Returns:
            ``(rows, total)``: the page's rows in name order and the count of matching names.
        """
        self.index.current()
        where, args = where_sql(ctx, q)
        db = self.index.connect()
        source = "visible" if db.execute(_HAS_TRACKED, (ctx,)).fetchone() else _OWN
        found = db.execute(_PAGE.format(source, where), [*args, limit, offset]).fetchall()
        total = db.execute(_TOTAL.format(source, where), args).fetchone()[0]
        rows = []
        for name, uuid, sha, count, created_ts, tracked in found:
            committed = bool(tracked) or db.execute(_COMMITTED, (ctx, uuid, sha)).fetchone()
            owner = db.execute(_OWNER, (uuid,)).fetchone()
            rows.append(NameRow(name, uuid, sha, count, created_ts, bool(committed),
                                bool(tracked), owner[0] if owner else ""))
        return rows, total
