"""Lossless storage of pandas DataFrames/Series (parquet) and numpy arrays (``.npy``).

A frame is *flattened* before it goes to pyarrow: data columns are renamed
positionally to ``c0 .. c{n-1}`` and the levels of a non-range row index become
extra columns ``i0 ..``. The real labels live in the node, in a typed YAML-safe
encoding: ``["str", "a"]``, ``["int", 3]``, ``["float", "0x1.8p+1"]``,
``["bool", true]``, ``["none"]``, ``["nat"]``, ``["tuple", [...]]``,
``["timestamp", iso]``, ``["timedelta", ns]``. Every column's exact dtype is
kept as a code (``str(dtype)``; string dtypes are written ``string[python]``,
``str[pyarrow]``, ...) and whatever pyarrow does not bring back by itself is
repaired on read:

* object columns are rebuilt from the ``str``/numeric arrays pyarrow returns,
  with their original missing marker (``None``, ``NaN`` or ``pd.NA``; when a
  column mixes them an ``int8`` side column ``<flat>_na`` records it per row);
* categoricals are stored as their integer codes, the categories going into the
  parquet schema metadata as Arrow IPC bytes (key ``dsdt.categories.<flat>``);
* string storage, datetime units and categories dtypes are cast back.

Node keys: ``type``, ``shape``, ``dtypes``, ``index`` and ``columns`` (axis
specs: ``kind`` = ``range``/``index``/``multi``, ``names``, ``range`` or level
``dtypes`` (+ ``levels`` dtypes of a MultiIndex, ``freq`` of a single level),
and ``labels`` for columns), ``name`` (series only) and ``extras`` (per flat
column repair hints, only when needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import infer_dtype, is_object_dtype, pandas_dtype

from dsdt.errors import CorruptObjectError, UnsupportedValueError

_OBJECT_KINDS = frozenset({"string", "bytes", "empty", "boolean", "integer", "floating", "date"})
_NA_KINDS = ("none", "nan", "na")
_NA_VALUES: tuple[Any, ...] = (None, np.nan, pd.NA)
_NA_TYPE_CODES: dict[type, int] = {type(None): 0, float: 1, type(pd.NA): 2}
_NA_CODE = np.frompyfunc(lambda value: _NA_TYPE_CODES.get(type(value), -1), 1, 1)
_CATS_KEY = "dsdt.categories."
_ARROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)
_LABEL_DTYPES_REFUSED = (pd.CategoricalDtype, pd.IntervalDtype, pd.PeriodDtype)


# --------------------------------------------------------------------------- labels & dtypes


def _encode_label(value: Any) -> list:
    """Encode a hashable axis label as a typed, YAML-safe list."""
    if value is None:
        return ["none"]
    if value is pd.NaT:
        return ["nat"]
    if isinstance(value, (bool, np.bool_)):
        return ["bool", bool(value)]
    if isinstance(value, (int, np.integer)):
        return ["int", int(value)]
    if isinstance(value, (float, np.floating)):
        return ["float", float(value).hex()]
    if isinstance(value, str):
        return ["str", str(value)]
    if isinstance(value, tuple):
        return ["tuple", [_encode_label(item) for item in value]]
    if isinstance(value, pd.Timestamp):
        return ["timestamp", value.isoformat()]
    if isinstance(value, pd.Timedelta):
        return ["timedelta", int(value.as_unit("ns").value)]
    raise UnsupportedValueError(f"cannot store a label of type {type(value).__name__}: {value!r}")


_DECODERS: dict[str, Any] = {
    "none": lambda _: None,
    "nat": lambda _: pd.NaT,
    "bool": bool,
    "int": int,
    "str": str,
    "float": float.fromhex,
    "tuple": lambda items: tuple(_decode_label(item) for item in items),
    "timestamp": pd.Timestamp,
    "timedelta": lambda ns: pd.Timedelta(ns, unit="ns"),
}


def _decode_label(item: list) -> Any:
    """Invert :func:`_encode_label`."""
    try:
        return _DECODERS[item[0]](item[1] if len(item) > 1 else None)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise CorruptObjectError(f"bad label encoding in frame node: {item!r}") from exc


def _dtype_code(dtype: Any) -> str:
    """Return a string that identifies ``dtype`` exactly (string storage included)."""
    if isinstance(dtype, pd.StringDtype):
        return f"{dtype.name}[{dtype.storage}]"
    return str(dtype)


def _parse_dtype(code: str) -> Any:
    """Invert :func:`_dtype_code`."""
    if code.startswith("str["):
        return pd.StringDtype(code[4:-1], na_value=np.nan)
    return pandas_dtype(code)


# --------------------------------------------------------------------------- axes


def _describe(index: pd.Index) -> tuple[dict, list[pd.Index]]:
    """Describe an axis (without its values); return the spec and its level values."""
    spec: dict[str, Any] = {"names": [_encode_label(name) for name in index.names]}
    if type(index) is pd.RangeIndex:
        spec.update(kind="range", range=[index.start, index.stop, index.step])
        return spec, []
    levels = [index.get_level_values(k) for k in range(index.nlevels)]
    spec["dtypes"] = [_dtype_code(level.dtype) for level in levels]
    if isinstance(index, pd.MultiIndex):
        spec.update(kind="multi", levels=[_dtype_code(level.dtype) for level in index.levels])
    else:
        spec["kind"] = "index"
        if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and index.freq is not None:
            spec["freq"] = index.freqstr
    return spec, levels


def _assemble(levels: list[pd.Index], spec: dict) -> pd.Index:
    """Build the axis described by ``spec`` from its level values."""
    names = [_decode_label(name) for name in spec["names"]]
    if spec["kind"] == "range":
        return pd.RangeIndex(*spec["range"], name=names[0])
    if spec["kind"] == "index":
        if spec.get("freq"):
            return type(levels[0])(levels[0], freq=spec["freq"], name=names[0])
        return levels[0].rename(names[0])
    index = pd.MultiIndex.from_arrays(levels, names=names)
    for k, code in enumerate(spec["levels"]):
        if _dtype_code(index.levels[k].dtype) != code:
            index = index.set_levels(index.levels[k].astype(_parse_dtype(code)), level=k)
    return index


def _encode_columns(columns: pd.Index) -> dict:
    """Describe a columns index, labels included, and check it decodes identically."""
    spec, levels = _describe(columns)
    if any(isinstance(level.dtype, _LABEL_DTYPES_REFUSED) for level in levels):
        raise UnsupportedValueError(f"cannot store column labels of dtype {levels[0].dtype}")
    spec["labels"] = [[_encode_label(v) for v in level.tolist()] for level in levels]
    decoded = _decode_columns(spec)
    shape = {key: value for key, value in spec.items() if key != "labels"}
    same = type(decoded) is type(columns) and decoded.equals(columns)
    if not same or decoded.names != columns.names or _describe(decoded)[0] != shape:
        raise UnsupportedValueError(f"cannot store column labels {columns!r} losslessly")
    return spec


def _decode_columns(spec: dict) -> pd.Index:
    """Rebuild a columns index from :func:`_encode_columns` output."""
    levels = [
        pd.Index([_decode_label(v) for v in labels], dtype=_parse_dtype(code), tupleize_cols=False)
        for labels, code in zip(spec.get("labels", []), spec.get("dtypes", []), strict=True)
    ]
    return _assemble(levels, spec)


# --------------------------------------------------------------------------- writing


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
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories
            extras[name] = {"ordered": bool(dtype.ordered), "categories": _dtype_code(cats.dtype)}
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
    flat = frame.set_axis([f"c{pos}" for pos in range(frame.shape[1])], axis=1)
    spec, levels = _describe(frame.index)
    for k, level in enumerate(levels):
        flat[f"i{k}"] = level
        whats.append(f"index level {frame.index.names[k]!r}")
    return flat, spec


def _write_parquet(frame: pd.DataFrame, whats: list[str], dest: Path) -> dict:
    """Write ``frame`` to ``dest``; return the node keys shared by frames and series."""
    flat, index_spec = _flatten(frame, whats)
    extras, metadata = _prepare(flat, whats)
    whats += [f"missing markers of {name}" for name in flat.columns[len(whats) :]]
    table = _to_table(flat, whats)
    if metadata:
        table = table.replace_schema_metadata({**table.schema.metadata, **metadata})
    try:
        pq.write_table(table, dest)
    except pa.ArrowException as exc:
        raise UnsupportedValueError(f"frame cannot be written as parquet: {exc}") from exc
    node = {"dtypes": [_dtype_code(dtype) for dtype in frame.dtypes], "index": index_spec}
    if extras:
        node["extras"] = extras
    return node


def write_frame(obj: pd.DataFrame | pd.Series, dest: Path) -> dict:
    """Store a DataFrame or Series losslessly as a parquet file.

    Args:
        obj: The frame or series to store. It is not modified.
        dest: Where to write the parquet file (a fresh path; overwritten if present).

    Returns:
        A node dict of YAML-safe plain data describing the stored value: ``type``
        (``"dataframe"`` or ``"series"``), ``shape``, ``dtypes`` and what is needed
        to restore it exactly.

    Raises:
        UnsupportedValueError: If the value cannot be stored losslessly (e.g. an
            object column holding dicts or mixed types). No file is left at
            ``dest`` then.
    """
    try:
        if isinstance(obj, pd.Series):
            head = {"type": "series", "shape": [len(obj)], "name": _encode_label(obj.name)}
            return head | _write_parquet(obj.to_frame(name=0), [f"series {obj.name!r}"], dest)
        if isinstance(obj, pd.DataFrame):
            head = {"type": "dataframe", "shape": list(obj.shape)}
            head["columns"] = _encode_columns(obj.columns)
            whats = [f"column {label!r}" for label in obj.columns]
            return head | _write_parquet(obj, whats, dest)
        raise UnsupportedValueError(f"write_frame expects a DataFrame or Series, not {type(obj)}")
    except BaseException:
        Path(dest).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- reading


def _read_categories(table: pa.Table, name: str, code: str) -> pd.Index:
    """Load the categories :func:`_prepare` stored in the schema metadata."""
    raw = (table.schema.metadata or {}).get((_CATS_KEY + name).encode())
    if raw is None:
        raise CorruptObjectError(f"categories of column {name} missing from parquet metadata")
    values = pa.ipc.open_stream(raw).read_all().column(0).to_pandas()
    return pd.Index(values, dtype=_parse_dtype(code), name=None)


def _restore_object(col: pd.Series, extra: dict, na_codes: np.ndarray | None) -> pd.Series:
    """Bring back object dtype and the original missing markers."""
    values = col.to_numpy(dtype=object, copy=True)
    kind = extra.get("na")
    if kind is not None:
        mask = pd.isna(values)
        for code, (name, marker) in enumerate(zip(_NA_KINDS, _NA_VALUES, strict=True)):
            if kind == name:
                values[mask] = marker
            elif kind == "mixed" and na_codes is not None:
                values[mask & (na_codes == code)] = marker
    return pd.Series(values, index=col.index, name=col.name, dtype=object, copy=False)


def _restore(col: pd.Series, code: str, extra: dict, table: pa.Table) -> pd.Series | None:
    """Return ``col`` repaired to match the stored dtype, or None if already right."""
    if code == "category":
        cats = _read_categories(table, str(col.name), extra["categories"])
        dtype = pd.CategoricalDtype(cats, ordered=extra["ordered"])
        values = pd.Categorical.from_codes(col.to_numpy(), dtype=dtype, validate=False)
        return pd.Series(values, index=col.index, name=col.name)
    if code == "object":
        if is_object_dtype(col.dtype) and extra.get("na", "none") == "none":
            return None
        mixed = extra.get("na") == "mixed"
        na_codes = table.column(f"{col.name}_na").to_numpy() if mixed else None
        return _restore_object(col, extra, na_codes)
    if _dtype_code(col.dtype) != code:
        return col.astype(_parse_dtype(code))
    return None


def _to_pandas(table: pa.Table, names: list[str], codes: list[str], extras: dict) -> pd.DataFrame:
    """Convert the ``names`` columns of ``table`` and repair them in place."""
    frame = table.select(names).to_pandas(integer_object_nulls=True)
    for pos, (name, code) in enumerate(zip(names, codes, strict=True)):
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
    table = pq.read_table(path)
    codes, extras, spec = node["dtypes"], node.get("extras", {}), node["index"]
    level_names = [f"i{k}" for k in range(len(spec.get("dtypes", [])))]
    levels_frame = _to_pandas(table, level_names, spec.get("dtypes", []), extras)
    levels = [pd.Index(levels_frame[name], dtype=levels_frame[name].dtype, name=None)
              for name in level_names]
    index = _assemble(levels, spec)
    names = [f"c{pos}" for pos in range(len(codes))]
    frame = _to_pandas(table, names, codes, extras) if names else pd.DataFrame(index=index)
    frame.index = index
    if node["type"] == "series":
        return frame.iloc[:, 0].rename(_decode_label(node["name"]))
    frame.columns = _decode_columns(node["columns"])
    return frame


# --------------------------------------------------------------------------- arrays


def write_array(arr: np.ndarray, dest: Path) -> dict:
    """Store a numpy array as a ``.npy`` file (never pickled).

    Args:
        arr: The array: any non-object dtype, any shape (0-d and empty included).
        dest: Where to write the file, used as is (no ``.npy`` suffix is added).

    Returns:
        A node dict with ``type`` (``"ndarray"``), ``shape`` and ``dtype``.

    Raises:
        UnsupportedValueError: For object dtypes, masked arrays and matrices. No
            file is left at ``dest`` then.
    """
    try:
        if type(arr) not in (np.ndarray, np.memmap):
            raise UnsupportedValueError(f"cannot store an array of type {type(arr).__name__}")
        if arr.dtype.hasobject:
            raise UnsupportedValueError(f"cannot store an ndarray of dtype {arr.dtype} (objects)")
        with open(dest, "wb") as handle:
            np.save(handle, np.asarray(arr), allow_pickle=False)
    except BaseException:
        Path(dest).unlink(missing_ok=True)
        raise
    return {"type": "ndarray", "shape": list(arr.shape), "dtype": arr.dtype.str}


def read_array(node: dict, path: Path) -> np.ndarray:
    """Read back an array stored by :func:`write_array`.

    Args:
        node: The node :func:`write_array` returned.
        path: The ``.npy`` file.

    Returns:
        The array, with the stored shape and dtype.

    Raises:
        CorruptObjectError: If the file does not match the node.
    """
    arr = np.load(path, allow_pickle=False)
    if list(arr.shape) != list(node["shape"]) or arr.dtype.str != node["dtype"]:
        raise CorruptObjectError(
            f"array file {path} holds {arr.dtype.str}{list(arr.shape)}, "
            f"node says {node['dtype']}{node['shape']}"
        )
    return arr
