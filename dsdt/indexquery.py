"""Queries over the index: the filters of ``ls``, ``search`` and ``get``, and their SQL.

Only fixed fragments are joined into statements; every value a user gives is a
bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsdt.refs.names import glob_to_sqlite

#: A member ``m`` of the ``visible`` view that is committed (a pulled one always is).
COMMITTED = ("(m.tracked OR EXISTS (SELECT 1 FROM members c WHERE c.ctx=m.ctx "
             "AND c.kind='committed' AND c.uuid=m.uuid AND c.sha=m.sha))")
_HAS_TAG = "EXISTS (SELECT 1 FROM tags t WHERE t.uuid=m.uuid AND t.key=? AND t.value=?)"
_IS_ROOT = "EXISTS (SELECT 1 FROM tags t WHERE t.uuid=m.uuid AND t.key='root_task')"
_HAS_PROC = "EXISTS (SELECT 1 FROM bundles p WHERE p.uuid=m.uuid AND p.processing_name=?)"


@dataclass(frozen=True)
class Row:
    """One bundle as the index knows it, within one context."""

    uuid: str
    sha: str
    name: str
    processing_name: str
    owner: str
    created: str
    committed: bool
    pulled: bool = False  #: shown from the remote's tracking state, not checked in


@dataclass
class Query:
    """Filters for :meth:`Index.find`; every field is optional."""

    name_glob: str | None = None
    uuid: str | None = None
    processing_name: str | None = None
    tags: dict[str, str] | None = None
    committed: bool | None = None
    roots: bool | None = None
    before: float | None = None
    after: float | None = None
    latest_per_name: bool = False


def where_sql(ctx: str, q: Query) -> tuple[str, list[object]]:
    """The WHERE clause (over ``members m``) and its parameters for a query."""
    where = ["m.ctx = ?"]
    args: list[object] = [ctx]
    for cond, value in (("m.uuid = ?", q.uuid), ("m.name GLOB ?", q.name_glob and
                                                 glob_to_sqlite(q.name_glob)),
                        (_HAS_PROC, q.processing_name), ("m.created_ts < ?", q.before),
                        ("m.created_ts >= ?", q.after)):
        if value is not None:
            where.append(cond)
            args.append(value)
    for k, v in (q.tags or {}).items():
        where.append(_HAS_TAG)
        args += [k, v]
    if q.roots is not None:
        where.append(_IS_ROOT if q.roots else "NOT " + _IS_ROOT)
    if q.committed is not None:
        where.append(COMMITTED if q.committed else "NOT " + COMMITTED)
    return " AND ".join(where), args
