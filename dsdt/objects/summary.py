"""Column summaries of stored frames, so that ``dsdt diff`` never reads the data.

:func:`summarize` runs at write time on the Arrow table that becomes the
parquet file (on a worker thread, while pyarrow writes it). Per column it
records ``nulls``, ``min``, ``max`` (YAML-safe: numbers as numbers, dates and
times as ISO strings, text cut to 64 characters), ``mean`` (numbers only) and
``hash``: the hex CRC-32 of each block of ``block_rows`` rows, concatenated, so
two columns hold the same values exactly when their hashes are equal (up to
CRC collisions) and the blocks that differ bound how many rows changed. A
column whose stats cannot be computed gets ``{"nulls": n}`` only; a summary
never fails a write.

Hashes cover the values only, not their place in memory: the validity of each
row, the bytes of each valid value (null slots count as zeros), and for text
the length of each value. :func:`diff_frames` compares two frame nodes from
their summaries alone; it is pure Python (the Arrow and numpy imports are
local to the write side, which only runs once pyarrow is loaded anyway).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEME = 1  #: version of the hashing scheme; summaries of other schemes are not compared
MIN_BLOCK_ROWS = 1 << 16
_MAX_BLOCKS = 32  # per column
_HEX_BUDGET = 4096  # blocks per frame, over all columns, to keep records small
_TEXT_LIMIT = 64
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
            ``path_changed``, ``mode``.
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


# --- write side --------------------------------------------------------------------------


def block_rows(rows: int, columns: int) -> int:
    """Rows per hashed block: a power-of-two multiple of 65,536 (comparable across sizes)."""
    max_blocks = max(1, min(_MAX_BLOCKS, _HEX_BUDGET // max(1, columns)))
    size = MIN_BLOCK_ROWS
    while -(-rows // size) > max_blocks:
        size *= 2
    return size


def summarize(table: Any, n_data: int, n_index: int, categories: dict[str, bytes]) -> dict | None:
    """The ``stats`` of a frame node, or None if even that fails (the write goes on).

    Args:
        table: The flattened ``pyarrow.Table`` written as parquet (``c*`` data
            columns, then ``i*`` index levels, then side columns).
        n_data: Number of data columns.
        n_index: Number of index-level columns.
        categories: Serialised categories of categorical columns, by flat name;
            such columns hold codes, hashed together with their categories.
    """
    try:
        size = block_rows(table.num_rows, n_data + n_index)
        stats = [column_stats(table.column(k), size, categories.get(table.column_names[k]))
                 for k in range(n_data + n_index)]
    except Exception:  # noqa: BLE001 - a summary must never fail a write
        return None
    out: dict[str, Any] = {"scheme": SCHEME, "block_rows": size, "columns": stats[:n_data]}
    if n_index:
        out["index"] = stats[n_data:]
    return out


def column_stats(col: Any, size: int, categories: bytes | None = None) -> dict[str, Any]:
    """Stats of one column (a ``pyarrow.ChunkedArray``); ``{"nulls": n}`` if they fail."""
    import pyarrow as pa

    nulls = int(col.null_count)
    try:
        arr = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
        if categories is not None:
            return _categorical_stats(arr, size, categories)
        if isinstance(arr, pa.ExtensionArray):  # e.g. periods: the storage's min/max mislead
            return {"nulls": nulls, "hash": _hash(arr.storage, size)}
        return {"nulls": nulls, **_value_stats(arr), "hash": _hash(arr, size)}
    except Exception:  # noqa: BLE001 - a summary must never fail a write
        return {"nulls": nulls}


def _categorical_stats(codes: Any, size: int, categories: bytes) -> dict[str, Any]:
    """Missing values of a categorical are code -1; its hash covers the categories too."""
    import pyarrow.compute as pc

    nulls = pc.sum(pc.equal(codes, -1)).as_py() or 0
    return {"nulls": int(nulls), "hash": _hash(codes, size, zlib.crc32(categories))}


def _value_stats(arr: Any) -> dict[str, Any]:
    """``min``, ``max`` and (numbers only) ``mean`` of an array; those that fail are left out."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(arr) == arr.null_count or isinstance(arr.type, pa.DictionaryType):
        return {}
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        out.update(_min_max(arr))
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        with contextlib.suppress(Exception):
            out["mean"] = pc.mean(arr).as_py()
    return {k: v for k, v in ((k, _plain(v)) for k, v in out.items()) if v is not None}


def _min_max(arr: Any) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = arr.type
    if pa.types.is_floating(kind) and not arr.null_count:
        values = arr.to_numpy()  # no copy; numpy is ~10x faster than Arrow for float min/max
        return {"min": values.min(), "max": values.max()}
    if pa.types.is_duration(kind):  # no Arrow kernel: compare the integer counts
        pair = pc.min_max(arr.view(pa.int64()))
        return {k: pa.scalar(pair[k].as_py(), type=kind).as_py() for k in ("min", "max")}
    pair = pc.min_max(arr)
    return {"min": pair["min"].as_py(), "max": pair["max"].as_py()}


def _plain(value: Any) -> Any:
    """A YAML-safe, comparable form of a stat (None when it has none, e.g. NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return value[:_TEXT_LIMIT] if isinstance(value, str) else value
    if isinstance(value, float) or type(value).__module__ == "numpy":
        number = value.item() if hasattr(value, "item") else value
        return None if isinstance(number, float) and math.isnan(number) else number
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return repr(value[: _TEXT_LIMIT // 2])
    return str(value)[:_TEXT_LIMIT]


def _hash(arr: Any, size: int, seed: int = 0) -> str:
    """Hex CRC-32 of each block of ``size`` rows, concatenated (see the module docstring)."""
    import pyarrow as pa

    kind = arr.type
    if pa.types.is_boolean(kind):
        arr, kind = arr.cast(pa.uint8()), pa.uint8()
    valid = _validity(arr) if arr.null_count else None
    if pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_string(kind) \
            or pa.types.is_large_binary(kind):
        parts = _text_parts(arr, size)
    elif (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind)
          or pa.types.is_decimal(kind) or pa.types.is_fixed_size_binary(kind)):
        parts = _fixed_parts(arr, size)
    elif pa.types.is_null(kind):  # all missing: the validity bytes say it all
        parts = [[] for _ in _blocks(len(arr), size)]
    else:
        raise TypeError(f"no hash for Arrow type {kind}")
    crcs = []
    for k, chunk in enumerate(parts):
        crc = seed
        if valid is not None:
            crc = zlib.crc32(valid[k * size:(k + 1) * size], crc)
        for piece in chunk:
            crc = zlib.crc32(piece, crc)
        crcs.append(f"{crc:08x}")
    return "".join(crcs)


def _validity(arr: Any) -> memoryview:
    """One byte per row: 1 where the value is present."""
    import pyarrow as pa

    flags = arr.is_valid().cast(pa.uint8())
    return memoryview(flags.buffers()[1])[flags.offset:flags.offset + len(flags)]


def _blocks(rows: int, size: int) -> range:
    """Start rows of the blocks (one empty block when there are no rows)."""
    return range(0, max(rows, 1), size)


def _fixed_parts(arr: Any, size: int) -> list[list[memoryview]]:
    """Per block, the bytes of a fixed-width array (null slots zeroed first)."""
    import pyarrow as pa

    width = arr.type.bit_width // 8
    if arr.null_count and width in (1, 2, 4, 8):  # what sits under a null is arbitrary
        as_int = getattr(pa, f"int{8 * width}")()
        ints = pa.Array.from_buffers(as_int, len(arr), arr.buffers()[:2], arr.null_count,
                                     arr.offset)
        arr = ints.fill_null(0)
    data = arr.buffers()[1]
    view = memoryview(data)[arr.offset * width:(arr.offset + len(arr)) * width] if data else b""
    return [[view[start * width:(start + size) * width]] for start in _blocks(len(arr), size)]


def _text_parts(arr: Any, size: int) -> list[list[Any]]:
    """Per block, the lengths (int64) and the bytes of a string or binary array."""
    import numpy as np
    import pyarrow as pa

    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if large else np.int32)
    offsets = offsets[arr.offset:arr.offset + len(arr) + 1]
    data = memoryview(data_buf) if data_buf is not None else memoryview(b"")
    parts = []
    for start in _blocks(len(arr), size):
        bounds = offsets[start:min(start + size, len(arr)) + 1]
        lengths = np.diff(bounds).astype(np.int64) if len(bounds) else np.zeros(0, np.int64)
        first, last = (int(bounds[0]), int(bounds[-1])) if len(bounds) else (0, 0)
        parts.append([lengths.tobytes(), data[first:last]])
    return parts


# --- read side: compare two frame nodes ----------------------------------------------------


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
    return out + ([] if same else _rows_changed(old, new, cols_old, cols_new, path))


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
