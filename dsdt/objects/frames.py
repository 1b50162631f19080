"""Lossless storage of pandas DataFrames/Series (parquet) and numpy arrays (``.npy``).

Frames are *flattened* for pyarrow: data columns become ``c0 .. c{n-1}``, levels
of a non-range row index become columns ``i0 ..``, and the real labels go into
the node in a typed YAML-safe encoding (``["str", "a"]``, ``["int", 3]``,
``["float", "0x1.8p+1"]``, ``["bool", true]``, ``["none"]``, ``["na"]``,
``["nat"]``, ``["tuple", [...]]``, ``["timestamp", iso]``, ``["timedelta", ns]``).
Each column's exact dtype is kept as a code (``str(dtype)``, string dtypes as
``string[python]``, ``str[pyarrow]``, ...) and what pyarrow does not restore by
itself is repaired on read: object columns get back their dtype and missing
markers (None/NaN/pd.NA; an ``int8`` side column ``<flat>_na`` when mixed);
categoricals are written as codes with the categories in the schema metadata
(Arrow IPC, key ``dsdt.categories.<flat>``); string storage and datetime units
are cast back. Node keys: ``type``, ``shape``, ``dtypes``, ``index``,
``columns`` / ``name`` (series), ``extras`` (repair hints, when needed),
``stats`` (per-column summaries for ``dsdt diff``, see :mod:`dsdt.objects.summary`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import infer_dtype, is_object_dtype

from dsdt.errors import CorruptObjectError, UnsupportedValueError
from dsdt.objects.labels import (
    assemble_axis,
    decode_columns,
    decode_label,
    describe_axis,
    dtype_code,
    dtype_codes,
    encode_columns,
    encode_label,
    parse_dtype,
)
from dsdt.objects.summary import summarize

_OBJECT_KINDS = frozenset({"string", "bytes", "empty", "boolean", "integer", "floating", "date"})
_NA_KINDS = ("none", "nan", "na")
_NA_VALUES: tuple[Any, ...] = (None, np.nan, pd.NA)
_NA_TYPE_CODES: dict[type, int] = {type(None): 0, float: 1, np.float64: 1, type(pd.NA): 2}
_NA_CODE = np.frompyfunc(lambda value: _NA_TYPE_CODES.get(type(value), -1), 1, 1)
_CATS_KEY = "dsdt.categories."
_THREAD_CELLS = 1 << 18  # frames this large are summarised on a thread while parquet is written
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)
def _object_extra(values: np.ndarray, what: str) -> tuple[dict, np.ndarray | None]:
    """Check an object column; describe its missing markers (per row if mixed)."""
    kind = infer_dtype(values, skipna=True)
    if kind not in _OBJECT_KINDS:
        raise UnsupportedValueError(
            f"{what} has object dtype holding {kind} values; only str, bytes, bool, int, "
            "float or date objects can be stored"
        )
    mask = pd.isna(values)
    if not mask.any():
        return {}, None
    kinds = _NA_CODE(values[mask]).astype(np.int8)
    if (kinds < 0).any():
        raise UnsupportedValueError(f"{what} holds a missing value other than None, NaN or pd.NA")
    present = np.unique(kinds)
    if len(present) == 1:
        return {"na": _NA_KINDS[present[0]]}, None
    codes = np.zeros(len(values), dtype=np.int8)
    codes[mask] = kinds
    return {"na": "mixed"}, codes


def _ipc_bytes(values: pd.Index) -> bytes:
    """Serialise categories as an Arrow IPC stream."""
    batch = pa.record_batch([pa.array(values.to_numpy(), from_pandas=True)], names=["c"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _prepare(flat: pd.DataFrame, whats: list[str]) -> tuple[dict, dict[str, bytes]]:
    """Check object columns and swap categoricals for codes, in ``flat`` (a private copy)."""
    extras: dict[str, dict] = {}
    metadata: dict[str, bytes] = {}
    for name, dtype, what in zip(list(flat.columns), flat.dtypes, whats, strict=True):
        if dtype.kind != "O":  # fast path: categoricals and objects are both of kind "O"
            continue
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories
            extras[name] = {"ordered": bool(dtype.ordered), "categories": dtype_code(cats.dtype)}
            flat[name] = flat[name].cat.codes
            try:
                metadata[_CATS_KEY + name] = _ipc_bytes(cats)
            except _ARROW_ERRORS as exc:
                msg = f"categories of {what} cannot be stored: {exc}"
                raise UnsupportedValueError(msg) from exc
        elif is_object_dtype(dtype):
            extra, codes = _object_extra(flat[name].to_numpy(), what)
            if extra:
                extras[name] = extra
            if codes is not None:
                flat[f"{name}_na"] = codes
    return extras, metadata


def _to_table(flat: pd.DataFrame, whats: list[str]) -> pa.Table:
    """Convert to Arrow, naming the offending column when pyarrow refuses."""
    try:
        return pa.Table.from_pandas(flat, preserve_index=False)
    except _ARROW_ERRORS as exc:
        for pos, what in enumerate(whats):
            try:
                pa.Array.from_pandas(flat.iloc[:, pos])
            except _ARROW_ERRORS as col_exc:
                raise UnsupportedValueError(
                    f"{what} of dtype {flat.dtypes.iloc[pos]} cannot be stored: {col_exc}"
                ) from col_exc
        raise UnsupportedValueError(f"frame cannot be converted to Arrow: {exc}") from exc


def _flatten(frame: pd.DataFrame, whats: list[str]) -> tuple[pd.DataFrame, dict]:
    """Rename columns positionally and append non-range index levels as ``i*`` columns."""
    names = pd.Index([f"c{pos}" for pos in range(frame.shape[1])], dtype=object)
    flat = frame.set_axis(names, axis=1)  # object labels: faster lookups than "str" ones
    spec, levels = describe_axis(frame.index)
    for k, level in enumerate(levels):
        flat[f"i{k}"] = level
        whats.append(f"index level {frame.index.names[k]!r}")
    return flat, spec


def _write_parquet(frame: pd.DataFrame, whats: list[str], dest: BinaryIO, summary: bool) -> dict:
    """Write ``frame`` to ``dest``; return the node keys shared by frames and series."""
    flat, index_spec = _flatten(frame, whats)
    extras, metadata = _prepare(flat, whats)
    whats += [f"missing markers of {name}" for name in flat.columns[len(whats) :]]
    table = _to_table(flat, whats)
    if metadata:
        table = table.replace_schema_metadata({**table.schema.metadata, **metadata})
    cats = {key[len(_CATS_KEY):]: raw for key, raw in metadata.items()}
    layout = (table, frame.shape[1], len(index_spec.get("dtypes", [])), cats)
    stats = _write_table(table, dest, layout if summary else None)
    node = {"dtypes": dtype_codes(frame.dtypes), "index": index_spec}
    if extras:
        node["extras"] = extras
    if stats is not None:
        node["stats"] = stats
    return node


def _write_table(table: pa.Table, dest: BinaryIO, layout: tuple | None) -> dict | None:
    """Write the parquet file; return the column summary, computed meanwhile on a thread."""
    if layout is None or table.num_rows * max(table.num_columns, 1) < _THREAD_CELLS:
        _write_parquet_file(table, dest)
        return summarize(*layout) if layout is not None else None
    with ThreadPoolExecutor(1, thread_name_prefix="dsdt-summary") as pool:
        stats = pool.submit(summarize, *layout)
        _write_parquet_file(table, dest)
        return stats.result()


def _write_parquet_file(table: pa.Table, dest: BinaryIO) -> None:
    try:
        # The column statistics dsdt needs are in the record (summary); parquet's own
        # would only cost writer time.
        pq.write_table(table, dest, write_statistics=False)
    except pa.ArrowException as exc:
        raise UnsupportedValueError(f"frame cannot be written as parquet: {exc}") from exc


def write_frame(obj: pd.DataFrame | pd.Series, dest: BinaryIO, *, summary: bool = True) -> dict:
    """Store a DataFrame or Series losslessly as a parquet file.

    Args:
        obj: The frame or series to store. It is not modified.
        dest: A binary stream to write the parquet file to; the caller discards
            it when this raises.
        summary: Record per-column ``stats`` (for ``dsdt diff``) in the node.

    Returns:
        A node dict of YAML-safe plain data describing the stored value: ``type``
        (``"dataframe"`` or ``"series"``), ``shape``, ``dtypes``, what is needed
        to restore it exactly and ``stats``.

    Raises:
        UnsupportedValueError: If the value cannot be stored losslessly (e.g. an
            object column holding dicts or mixed types).
    """
    if isinstance(obj, pd.Series):
        head = {"type": "series", "shape": [len(obj)], "name": encode_label(obj.name)}
        whats = [f"series {obj.name!r}"]
        return head | _write_parquet(obj.to_frame(name=0), whats, dest, summary)
    if isinstance(obj, pd.DataFrame):
        head = {"type": "dataframe", "shape": list(obj.shape)}
        head["columns"] = encode_columns(obj.columns)
        whats = [f"column {label!r}" for label in obj.columns]
        return head | _write_parquet(obj, whats, dest, summary)
    raise UnsupportedValueError(f"write_frame expects a DataFrame or Series, not {type(obj)}")


def _restore_categorical(col: pd.Series, extra: dict, table: pa.Table) -> pd.Series:
    """Rebuild a categorical from its codes and the categories in the schema metadata."""
    raw = table.schema.metadata[(_CATS_KEY + str(col.name)).encode()]
    cats = pa.ipc.open_stream(raw).read_all().column(0).to_pandas()
    cats = pd.Index(cats, dtype=parse_dtype(extra["categories"])).rename(None)
    dtype = pd.CategoricalDtype(cats, ordered=extra["ordered"])
    values = pd.Categorical.from_codes(col.to_numpy(), dtype=dtype, validate=False)
    return pd.Series(values, index=col.index, name=col.name)


def _restore_object(col: pd.Series, kind: str | None, table: pa.Table) -> pd.Series:
    """Bring back object dtype and the original missing markers (``kind``)."""
    values = col.to_numpy(dtype=object, copy=True)
    if kind is not None:
        mask = pd.isna(values)
        na_codes = (  # per row when mixed, else the same code everywhere
            table.column(f"{col.name}_na").to_numpy() if kind == "mixed" else _NA_KINDS.index(kind)
        )
        for code, marker in enumerate(_NA_VALUES):
            values[mask & (na_codes == code)] = marker
    return pd.Series(values, index=col.index, name=col.name, dtype=object, copy=False)


def _restore(col: pd.Series, code: str, extra: dict, table: pa.Table) -> pd.Series | None:
    """Return ``col`` repaired to match the stored dtype, or None if already right."""
    if code == "category":
        return _restore_categorical(col, extra, table)
    if code == "object":
        if is_object_dtype(col.dtype) and extra.get("na", "none") == "none":
            return None
        return _restore_object(col, extra.get("na"), table)
    return col.astype(parse_dtype(code)) if dtype_code(col.dtype) != code else None


def _to_pandas(
    table: pa.Table, first: int, names: list[str], codes: list[str], extras: dict
) -> pd.DataFrame:
    """Convert ``names`` (columns from position ``first`` on) and repair them in place."""
    frame = table.select(range(first, first + len(names))).to_pandas(integer_object_nulls=True)
    found = dtype_codes(frame.dtypes)
    for pos, (name, code, actual) in enumerate(zip(names, codes, found, strict=True)):
        if code not in ("category", "object") and actual == code:
            continue  # the common case: pyarrow restored it exactly
        fixed = _restore(frame.iloc[:, pos], code, extras.get(name, {}), table)
        if fixed is not None:
            frame.isetitem(pos, fixed)
    return frame


def read_frame(node: dict, path: Path) -> pd.DataFrame | pd.Series:
    """Read back a value stored by :func:`write_frame`.

    Args:
        node: The node :func:`write_frame` returned (possibly after a YAML round trip).
        path: The parquet file.

    Returns:
        The DataFrame or Series, identical to the stored one (values, dtypes, axes).

    Raises:
        CorruptObjectError: If the node is not a frame node or does not fit the file.
    """
    if node.get("type") not in ("dataframe", "series"):
        raise CorruptObjectError(f"not a frame node: {node.get('type')!r}")
    try:
        table = pq.read_table(path)
        _check_rows(node, table.num_rows, table.num_columns, path)
        return _read_frame(node, table)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, pa.ArrowException) as exc:
        raise CorruptObjectError(f"frame file {path} does not match its node: {exc}") from exc


def read_head(node: dict, path: Path, rows: int) -> pd.DataFrame | pd.Series:
    """The first ``rows`` rows of a value stored by :func:`write_frame`, reading no more.

    Only the first record batch of the parquet file is decoded (``rows`` rows
    at most), so a preview of a large table costs what the preview shows.

    Raises:
        CorruptObjectError: If the node is not a frame node or does not fit the file.
    """
    if node.get("type") not in ("dataframe", "series"):
        raise CorruptObjectError(f"not a frame node: {node.get('type')!r}")
    try:
        with pq.ParquetFile(path) as parquet:  # a long-running server must not leak it
            _check_rows(node, parquet.metadata.num_rows, len(parquet.schema_arrow), path)
            batch = next(parquet.iter_batches(batch_size=max(rows, 1)), None)
            table = (parquet.schema_arrow.empty_table() if batch is None or rows <= 0
                     else pa.Table.from_batches([batch]).replace_schema_metadata(
                         parquet.schema_arrow.metadata))
        spec = dict(node["index"])
        if spec["kind"] == "range":
            start, _stop, step = spec["range"]
            spec["range"] = [start, start + table.num_rows * step, step]
        return _read_frame({**node, "index": spec}, table)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, pa.ArrowException) as exc:
        raise CorruptObjectError(f"frame file {path} does not match its node: {exc}") from exc


def _check_rows(node: dict, rows: int, columns: int, path: Path) -> None:
    """The file must hold the rows its record says (``ls``, ``diff`` and the catalog show
    the record's shape without reading the file); a file of no column holds no row (the
    record's range index gives them)."""
    if columns and rows != node["shape"][0]:
        raise CorruptObjectError(f"frame file {path} holds {rows} rows, its record says "
                                 f"{node['shape'][0]}")


def _read_frame(node: dict, table: pa.Table) -> pd.DataFrame | pd.Series:
    """Rebuild the frame or series from the parquet table and the node."""
    codes, extras, spec = node["dtypes"], node.get("extras", {}), node["index"]
    levels: list[pd.Index] = []
    if spec["kind"] != "range":
        level_names = [f"i{k}" for k in range(len(spec["dtypes"]))]
        levels_frame = _to_pandas(table, len(codes), level_names, spec["dtypes"], extras)
        levels = [pd.Index(col, dtype=col.dtype).rename(None) for _, col in levels_frame.items()]
    index = assemble_axis(levels, spec)
    names = [f"c{pos}" for pos in range(len(codes))]
    frame = _to_pandas(table, 0, names, codes, extras) if names else pd.DataFrame(index=index)
    frame.index = index
    if node["type"] == "series":
        return frame.iloc[:, 0].rename(decode_label(node["name"]))
    frame.columns = decode_columns(node["columns"])
    return frame


def write_array(arr: np.ndarray, dest: BinaryIO) -> dict:
    """Store a numpy array as a ``.npy`` file (never pickled).

    Args:
        arr: The array: any non-object dtype, any shape (0-d and empty included).
        dest: A binary stream to write the ``.npy`` bytes to; the caller discards
            it when this raises.

    Returns:
        A node dict with ``type`` (``"ndarray"``), ``shape`` and ``dtype``.

    Raises:
        UnsupportedValueError: For object dtypes, masked arrays and matrices.
    """
    if type(arr) not in (np.ndarray, np.memmap):
        raise UnsupportedValueError(f"cannot store an array of type {type(arr).__name__}")
    if arr.dtype.hasobject:
        raise UnsupportedValueError(f"cannot store an ndarray of dtype {arr.dtype} (objects)")
    np.save(dest, np.asarray(arr), allow_pickle=False)
    return {"type": "ndarray", "shape": list(arr.shape), "dtype": arr.dtype.str}


def read_array(node: dict, path: Path) -> np.ndarray:
    """Read back an array stored by :func:`write_array`.

    Args:
        node: The node :func:`write_array` returned.
        path: The ``.npy`` file.

    Returns:
        The array, with the stored shape and dtype.

    Raises:
        CorruptObjectError: If the file is unreadable or does not match the node.
    """
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise CorruptObjectError(f"array file {path} is not a readable .npy file: {exc}") from exc
    if list(arr.shape) != list(node["shape"]) or arr.dtype.str != node["dtype"]:
        found, expected = f"{arr.dtype.str}{list(arr.shape)}", f"{node['dtype']}{node['shape']}"
        raise CorruptObjectError(f"array file {path} holds {found}, node says {expected}")
    return arr
