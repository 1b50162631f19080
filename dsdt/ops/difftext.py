"""A diff of two bundles as text lines: what ``dsdt diff`` prints and ``dsdt ui`` shows.

Pure functions of a :class:`dsdt.ops.history.BundleDiff`; the text is not
escaped here (the terminal shows it as is, the web pages escape it).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dsdt._dates import text_date
from dsdt.objects.gate import printable

if TYPE_CHECKING:  # light: the CLI imports this module to start
    from dsdt.ops.history import BundleDiff, DataChange, MapDiff

__all__ = ["change_lines", "fmt_bytes", "render"]

_TEXT_LIMIT = 60
_MARKS = {"added": "+", "removed": "-", "column_added": "+", "column_removed": "-",
          "file_added": "+", "file_removed": "-", "dir_added": "+", "dir_removed": "-",
          "column_unknown": "?", "index_unknown": "?", "files_unknown": "?"}
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def fmt_bytes(n: int) -> str:
    """A byte count for humans: ``512 B``, ``1.2 MiB``."""
    size = float(n)
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def render(d: BundleDiff) -> list[str]:
    """The text lines of a diff: two header lines, then one line per change.

    Every line is shown through :func:`~dsdt.objects.gate.printable`: a tag value or a
    column label with a line break cannot forge a line, even into a pipe.
    """
    lines = [f"--- {d.old_name} {d.old_uuid} {text_date(datetime.fromisoformat(d.old_created))}",
             f"+++ {d.new_name} {d.new_uuid} {text_date(datetime.fromisoformat(d.new_created))}"]
    lines += change_lines(d)
    if d.same:
        lines.append("no differences")
    return [printable(line) for line in lines]


def change_lines(d: BundleDiff) -> list[str]:
    """One line per change (tags, params, inputs, code, data), each starting with its mark.

    Marks: ``+`` added, ``-`` removed, ``~`` changed, ``?`` unknown (no summary).
    """
    lines = _map_lines("tag", d.tags) + _map_lines("param", d.params)
    lines += _map_lines("input", d.lineage.inputs)
    for label, pair in (("code ref", d.lineage.code_ref), ("code hash", d.lineage.code_hash),
                        ("code commit", d.lineage.code_commit)):
        if pair is not None:
            lines.append(f"~ {label}: {pair[0] or '-'} -> {pair[1] or '-'}")
    return lines + [_change_line(c) for c in d.data]


def _map_lines(what: str, m: MapDiff) -> list[str]:
    return ([f"- {what} {k}: {v}" for k, v in m.removed.items()]
            + [f"+ {what} {k}: {v}" for k, v in m.added.items()]
            + [f"~ {what} {k}: {a} -> {b}" for k, (a, b) in m.changed.items()])


def _change_line(c: DataChange) -> str:
    """``<mark> <path> <what>``: one line for one data change."""
    mark = _MARKS.get(c.kind, "~")
    if c.kind == "value":
        return f"~ {c.path or 'value'}: {_value(c.old)} -> {_value(c.new)}"
    if c.kind in ("added", "removed") and not c.item:  # a key or position of a container
        return f"{mark} {c.path}: {_text(c.new if c.kind == 'added' else c.old)}"
    where = f"{c.path} " if c.path else ""
    return f"{mark} {where}{_describe(c)}"


def _describe(c: DataChange) -> str:
    kind, item = c.kind, c.item
    if kind in ("column_added", "column_removed"):
        extra = _stats_text(c.detail) if kind == "column_added" else ""
        return f"column {item}: {c.new or c.old}{extra}"
    if kind == "column_retyped":
        return f"column {item}: {c.old} -> {c.new}; {_content_text(c.detail)}"
    if kind in ("column_changed", "index_changed"):
        what = "column" if kind == "column_changed" else "index level"
        return f"{what} {item}: {_content_text(c.detail)}"
    if kind in ("column_unknown", "index_unknown"):
        what = "column" if kind == "column_unknown" else "index level"
        return f"{what} {item}: content unknown (no summary recorded)"
    if kind == "rows_changed":
        d = c.detail
        return (f"rows changed: at most {c.new:,} ({d['blocks']} of {d['of']} blocks of "
                f"{d['block_rows']:,} rows)")
    if kind in ("file_added", "file_removed"):
        return f"{item} ({_bytes(c.new if kind == 'file_added' else c.old)})"
    if kind == "file_changed":
        return f"{item} ({_bytes(c.old)} -> {_bytes(c.new)})"
    if kind in ("dir_added", "dir_removed"):
        return f"{item}/ (empty directory)"
    return _generic(c)


def _generic(c: DataChange) -> str:
    labels = {"columns_reordered": "column order", "column_renamed": "column renamed",
              "name": "series name", "path_changed": "path", "files_unknown": "files unknown"}
    if c.kind in ("added", "removed"):  # an item of a set
        return f"item {c.item}"
    if c.kind == "content":
        what = f"{c.item} " if c.item else ""
        return f"{what}content changed ({_bytes(c.old)} -> {_bytes(c.new)})"
    if c.kind == "bytes":
        return (f"stored bytes differ ({_bytes(c.old)} -> {_bytes(c.new)}) while the recorded "
                "summaries agree")
    if c.kind == "mode":
        return f"{c.item}: executable {c.old} -> {c.new}"
    if c.kind == "shape":
        return f"shape: {tuple(c.old or ())} -> {tuple(c.new or ())}"
    label = labels.get(c.kind, c.kind)
    return f"{label}: {_text(c.old)} -> {_text(c.new)}"


def _content_text(detail: dict[str, Any]) -> str:
    content = detail.get("content", "unknown")
    stats = ", ".join(f"{k} {_text(a)} -> {_text(b)}" for k, (a, b) in
                      detail.get("stats", {}).items())
    text = f"content {content}"
    return f"{text}; {stats}" if stats else text


def _stats_text(stats: dict[str, Any]) -> str:
    parts = [f"{k} {_text(stats[k])}" for k in ("nulls", "min", "max", "mean") if k in stats]
    return f" ({', '.join(parts)})" if parts else ""


def _text(value: Any) -> str:
    """A value for one line: numbers with separators, long text cut, lists joined."""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) if len(value) < 20 else f"{len(value)} items"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value) if isinstance(value, str) and not value.strip() else str(value)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT - 3] + "..."


def _value(value: Any) -> str:
    """An inline value: text quoted, so that ``'1'`` and ``1`` differ."""
    return _text(repr(value) if isinstance(value, str) else value)


def _bytes(size: Any) -> str:
    return fmt_bytes(size) if isinstance(size, int) else "?"
