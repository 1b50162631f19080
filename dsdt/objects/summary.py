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
the length of each value. :mod:`dsdt.objects.framediff` compares two frame
nodes from their summaries alone. The Arrow and numpy imports are local:
summaries are only made once pyarrow is loaded anyway.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import zlib
from typing import Any

SCHEME = 1  #: version of the hashing scheme; summaries of other schemes are not compared
MIN_BLOCK_ROWS = 1 << 16
_MAX_BLOCKS = 32  # per column
_HEX_BUDGET = 4096  # blocks per frame, over all columns, to keep records small
_TEXT_LIMIT = 64


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
