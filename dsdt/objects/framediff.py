"""Comparing two frame nodes from their recorded column summaries (``dsdt diff``).

Pure Python: only the nodes are read, never the parquet files; see
:mod:`dsdt.objects.summary` for what a summary holds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from dsdt.objects.summary import SCHEME

_STAT_KEYS = ("nulls", "min", "max", "mean")


@dataclass(frozen=True)
class DataChange:
    """One difference between two stored values.

    Attributes:
        path: Where in the value: ``""`` for the whole value, ``["a"][2]`` inside
            containers.
        kind: What changed: ``type``, ``value``, ``added``, ``removed``, ``content``,
            ``shape``, ``dtype``, ``rows``, ``rows_changed``, ``column_added``,
            ``column_removed``, ``column_renamed``, ``column_retyped``, ``column_changed``,
            ``column_unknown``, ``columns_reordered``, ``index``, ``index_changed``,
            ``index_unknown``, ``name``, ``file_added``, ``file_removed``,
            ``file_changed``, ``dir_added``, ``dir_removed``, ``files_unknown``,
            ``path_changed``, ``mode``, ``bytes`` (frames whose stored bytes differ
            while their recorded summaries agree).
        item: The column, index level or file concerned (``""`` for the value itself).
        old: The old value, dtype or size (None when added).
        new: The new one (None when removed).
        detail: More facts: ``stats`` (``{stat: [old, new]}``) and ``content``
            (``same``/``changed``/``unknown``) of columns, block counts of ``rows_changed``.
    """

    path: str
    kind: str
    item: str = ""
    old: Any = None
    new: Any = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _label_text(label: list) -> str:
    """Readable text of a typed label (``["str", "a"]`` -> ``a``)."""
    tag = label[0]
    if len(label) == 1:
        return {"none": "None", "nat": "NaT", "na": "<NA>"}.get(tag, tag)
    value = label[1]
    if tag == "float":
        return repr(float.fromhex(value))
    if tag == "tuple":
        return "(" + ", ".join(_label_text(item) for item in value) + ")"
    if tag == "utf8b":
        return bytes.fromhex(value).decode("utf-8", "surrogatepass").encode(
            "utf-8", "backslashreplace").decode("utf-8")
    return str(value)


def _axis_labels(spec: dict) -> list[list]:
    """Typed labels of a columns spec (range, flat or multi)."""
    if spec["kind"] == "range":
        return [["int", v] for v in range(*spec["range"])]
    levels = spec.get("labels", [])
    if spec["kind"] == "multi":
        return [["tuple", list(items)] for items in zip(*levels, strict=True)]
    return list(levels[0]) if levels else []


def _columns(node: dict) -> dict[str, tuple[str, str, dict | None, int]]:
    """``{key: (label text, dtype, stats, position)}`` of a frame node's data columns."""
    stats = _stats_list(node, "columns", len(node["dtypes"]))
    if node["type"] == "series":
        return {"values": ("values", node["dtypes"][0], stats[0], 0)}
    out: dict[str, tuple[str, str, dict | None, int]] = {}
    labels = _axis_labels(node["columns"])
    for pos, (label, dtype) in enumerate(zip(labels, node["dtypes"], strict=True)):
        key = json.dumps(label)
        while key in out:  # duplicate labels: match them by occurrence
            key += "'"
        out[key] = (_label_text(label), dtype, stats[pos], pos)
    return out


def _stats_list(node: dict, which: str, count: int) -> list[dict | None]:
    """Per-column stats of a node, or Nones (no summary, another scheme, or malformed)."""
    stats = node.get("stats") or {}
    found = stats.get(which) if stats.get("scheme") == SCHEME else None
    if not isinstance(found, list) or len(found) != count:
        return [None] * count
    return [s if isinstance(s, dict) else None for s in found]


def _compare(old: dict | None, new: dict | None, same: bool) -> tuple[dict[str, list], str]:
    """Differing stats (``{key: [old, new]}``) and ``same``/``changed``/``unknown`` content.

    ``same`` says the two frames are the same parquet bytes (so the same values).
    """
    if same:
        return {}, "same"
    if old is None or new is None:
        return {}, "unknown"
    stats = {k: [old.get(k), new.get(k)] for k in _STAT_KEYS if old.get(k) != new.get(k)}
    if "hash" not in old or "hash" not in new:
        return stats, "unknown"
    return stats, "same" if old["hash"] == new["hash"] else "changed"


def diff_frames(old: dict, new: dict, path: str = "") -> list[DataChange]:
    """Changes between two ``dataframe``/``series`` nodes of the same type, from nodes only."""
    same = old.get("blob") is not None and old.get("blob") == new.get("blob")  # labels may differ
    out: list[DataChange] = []
    rows = (old["shape"][0], new["shape"][0])
    if rows[0] != rows[1]:
        out.append(DataChange(path, "rows", old=rows[0], new=rows[1]))
    if old["type"] == "series" and old.get("name") != new.get("name"):
        out.append(DataChange(path, "name", old=_label_text(old["name"]),
                              new=_label_text(new["name"])))
    cols_old, cols_new = _columns(old), _columns(new)
    out += _diff_columns(cols_old, cols_new, path, same)
    out += _diff_index(old, new, path, same)
    out += [] if same else _rows_changed(old, new, cols_old, cols_new, path)
    if not out and not same and old.get("blob") != new.get("blob"):  # copied summaries?
        out.append(DataChange(path, "bytes", old=old.get("size"), new=new.get("size")))
    return out


def _diff_columns(old: dict, new: dict, path: str, same: bool) -> list[DataChange]:
    out, renamed = _renamed(old, new, path, same)
    out += [DataChange(path, "column_removed", text, old=dtype)
            for key, (text, dtype, _, _) in old.items() if key not in new and key not in renamed]
    for key, (text, dtype, stats, _) in new.items():
        if key in renamed:
            continue
        if key not in old:
            shown = {k: v for k, v in (stats or {}).items() if k != "hash"}
            out.append(DataChange(path, "column_added", text, new=dtype, detail=shown))
            continue
        _, old_dtype, old_stats, _ = old[key]
        changed, content = _compare(old_stats, stats, same)
        detail = {"stats": changed, "content": content}
        if old_dtype != dtype:
            out.append(DataChange(path, "column_retyped", text, old_dtype, dtype, detail))
        elif content == "changed" or changed:
            out.append(DataChange(path, "column_changed", text, detail=detail))
        elif content == "unknown":
            out.append(DataChange(path, "column_unknown", text))
    common_old = [old[k][0] for k in old if k in new]
    common_new = [new[k][0] for k in new if k in old]
    if common_old != common_new:
        out.append(DataChange(path, "columns_reordered", old=common_old, new=common_new))
    return out


def _renamed(old: dict, new: dict, path: str, same: bool) -> tuple[list[DataChange], set[str]]:
    """Columns only in one frame holding the same values as a column only in the other."""
    def content(entry: tuple) -> tuple | None:
        _, dtype, stats, pos = entry
        if same:
            return dtype, pos
        return (dtype, stats["hash"]) if stats and "hash" in stats else None

    gone: dict[tuple, str] = {}
    for key, entry in old.items():
        found = content(entry)
        if key not in new and found is not None:
            gone.setdefault(found, key)
    out, keys = [], set()
    for key, entry in new.items():
        found = content(entry)
        was = gone.pop(found, None) if key not in old and found is not None else None
        if was is not None:
            out.append(DataChange(path, "column_renamed", entry[0], old[was][0], entry[0]))
            keys |= {was, key}
    return out, keys


def _index_text(spec: dict) -> str:
    """Readable description of a row index spec."""
    names = ", ".join(_label_text(n) for n in spec["names"])
    named = f" named {names}" if any(n != ["none"] for n in spec["names"]) else ""
    if spec["kind"] == "range":
        start, _, step = spec["range"]
        return f"range(start={start}, step={step}){named}"
    kinds = ", ".join(spec["dtypes"])
    freq = f" freq={spec['freq']}" if spec.get("freq") else ""
    return f"{spec['kind']}[{kinds}]{freq}{named}"


def _diff_index(old: dict, new: dict, path: str, same: bool) -> list[DataChange]:
    a, b = old["index"], new["index"]
    if _index_text(a) != _index_text(b):
        return [DataChange(path, "index", old=_index_text(a), new=_index_text(b))]
    if a["kind"] == "range":
        return []
    out = []
    levels = len(a["dtypes"])
    pairs = zip(_stats_list(old, "index", levels), _stats_list(new, "index", levels), strict=True)
    for k, (so, sn) in enumerate(pairs):
        name = _label_text(b["names"][k]) if b["names"][k] != ["none"] else f"level {k}"
        changed, content = _compare(so, sn, same)
        if content == "changed" or changed:
            detail = {"stats": changed, "content": content}
            out.append(DataChange(path, "index_changed", name, detail=detail))
        elif content == "unknown":
            out.append(DataChange(path, "index_unknown", name))
    return out


def _rows_changed(old: dict, new: dict, cols_old: dict, cols_new: dict,
                  path: str) -> list[DataChange]:
    """At most how many rows changed, from the blocks whose hashes differ."""
    size = (old.get("stats") or {}).get("block_rows")
    if not size or size != (new.get("stats") or {}).get("block_rows"):
        return []
    pairs = [(cols_old[k][2], cols_new[k][2]) for k in cols_old if k in cols_new]
    levels = len(old["index"].get("dtypes", [])) if old["index"] == new["index"] else 0
    pairs += list(zip(_stats_list(old, "index", levels), _stats_list(new, "index", levels),
                      strict=True))
    hashes = [(a["hash"], b["hash"]) for a, b in pairs if a and b and "hash" in a and "hash" in b]
    if not hashes:
        return []
    changed: set[int] = set()
    for ha, hb in hashes:
        blocks_a, blocks_b = _split(ha), _split(hb)
        for k in range(max(len(blocks_a), len(blocks_b))):
            if blocks_a[k:k + 1] != blocks_b[k:k + 1]:
                changed.add(k)
    if not changed:
        return []
    rows = max(old["shape"][0], new["shape"][0])
    at_most = sum(min(size, rows - k * size) for k in changed)
    total = max(len(_split(h)) for pair in hashes for h in pair)
    detail = {"blocks": len(changed), "of": total, "block_rows": size}
    return [DataChange(path, "rows_changed", new=max(at_most, 0), detail=detail)]


def _split(hashes: str) -> list[str]:
    return [hashes[k:k + 8] for k in range(0, len(hashes), 8)]
