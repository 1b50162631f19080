"""``dsdt diff``: what changed between two versions of a bundle, from their records only."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsdt.commands import _complete
from dsdt.commands._render import ContextOpt, JsonOpt, context_or_current, print_json, text_date

if TYPE_CHECKING:
    from dsdt.ops.history import BundleDiff, DataChange, MapDiff

NAME = "diff"
_TEXT_LIMIT = 60
_MARKS = {"added": "+", "removed": "-", "column_added": "+", "column_removed": "-",
          "file_added": "+", "file_removed": "-", "dir_added": "+", "dir_removed": "-",
          "column_unknown": "?", "index_unknown": "?", "files_unknown": "?"}


def run(
    bundles: Annotated[list[str] | None, typer.Argument(
        metavar="[[OLD] NEW]", autocompletion=_complete.bundle_names,
        help="One bundle: compare it with the version of its name before "
             "it. Two: compare OLD with NEW. Each is a name (its latest "
             "version), a uuid or a unique uuid prefix.")] = None,
    uuid: Annotated[list[str] | None, typer.Option(
        "-u", "--uuid", metavar="UUID",
        help="Compare these two bundles instead (give -u twice: old, then new).")] = None,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what changed between two versions of a bundle.

    'dsdt diff NAME' compares the latest version of NAME with the one before;
    'dsdt diff UUID' compares that version with the one before it; 'dsdt diff
    OLD NEW' (or -u OLD -u NEW) compares any two bundles.

    One line per change: '+' added, '-' removed, '~' changed, '?' unknown (no
    summary recorded). Tags, params, inputs, code commit, and the data:
    columns, stats and rows of DataFrames, arrays, files of directories, and
    values inside containers. Only records are read, never the data, so it
    works for bundles whose data is only on a remote. The two header lines
    show each bundle's creation date in local time (--json: UTC).

    \b
    Examples:
      dsdt diff scores                   # latest vs the one before
      dsdt diff 1a2b3c4d 5e6f7a8b        # any two bundles
      dsdt diff scores --json
    """
    from dsdt import api
    from dsdt.errors import UsageError

    refs = list(bundles or [])
    if len(refs) > 2 or (refs and uuid):
        raise UsageError("give one bundle, two bundles (OLD NEW), or -u OLD -u NEW")
    pair = refs if len(refs) == 2 else uuid
    result = api.diff(context_or_current(context), refs[0] if len(refs) == 1 else None, pair)
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo("\n".join(render(result)))


def render(d: "BundleDiff") -> list[str]:
    """The text lines of a diff: two header lines, then one line per change."""
    from datetime import datetime

    lines = [f"--- {d.old_name} {d.old_uuid} {text_date(datetime.fromisoformat(d.old_created))}",
             f"+++ {d.new_name} {d.new_uuid} {text_date(datetime.fromisoformat(d.new_created))}"]
    lines += _map_lines("tag", d.tags) + _map_lines("param", d.params)
    lines += _map_lines("input", d.lineage.inputs)
    for label, pair in (("code ref", d.lineage.code_ref), ("code hash", d.lineage.code_hash),
                        ("code commit", d.lineage.code_commit)):
        if pair is not None:
            lines.append(f"~ {label}: {pair[0] or '-'} -> {pair[1] or '-'}")
    lines += [_change_line(c) for c in d.data]
    if d.same:
        lines.append("no differences")
    return lines


def _map_lines(what: str, m: "MapDiff") -> list[str]:
    return ([f"- {what} {k}: {v}" for k, v in m.removed.items()]
            + [f"+ {what} {k}: {v}" for k, v in m.added.items()]
            + [f"~ {what} {k}: {a} -> {b}" for k, (a, b) in m.changed.items()])


def _change_line(c: "DataChange") -> str:
    """``<mark> <path> <what>``: one line for one data change."""
    mark = _MARKS.get(c.kind, "~")
    if c.kind == "value":
        return f"~ {c.path or 'value'}: {_value(c.old)} -> {_value(c.new)}"
    if c.kind in ("added", "removed") and not c.item:  # a key or position of a container
        return f"{mark} {c.path}: {_text(c.new if c.kind == 'added' else c.old)}"
    where = f"{c.path} " if c.path else ""
    return f"{mark} {where}{_describe(c)}"


def _describe(c: "DataChange") -> str:
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


def _generic(c: "DataChange") -> str:
    labels = {"columns_reordered": "column order", "column_renamed": "column renamed",
              "name": "series name", "path_changed": "path", "files_unknown": "files unknown"}
    if c.kind in ("added", "removed"):  # an item of a set
        return f"item {c.item}"
    if c.kind == "content":
        what = f"{c.item} " if c.item else ""
        return f"{what}content changed ({_bytes(c.old)} -> {_bytes(c.new)})"
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
    from dsdt.commands._render import fmt_bytes

    return fmt_bytes(size) if isinstance(size, int) else "?"
