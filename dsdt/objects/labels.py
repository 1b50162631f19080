"""Axis labels and dtypes of frames, in the typed YAML-safe form frame nodes store.

Labels become ``["str", "a"]``, ``["int", 3]``, ``["float", "0x1.8p+1"]``,
``["bool", true]``, ``["none"]``, ``["na"]``, ``["nat"]``, ``["tuple", [...]]``,
``["timestamp", iso]``, ``["timedelta", ns]``; dtypes become exact codes
(``str(dtype)``, string dtypes as ``string[python]``, ``str[pyarrow]``...).
An axis (row index or columns) is described without its values (range,
flat or multi-level) and rebuilt from its level values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import pandas_dtype

from dsdt.errors import CorruptObjectError, UnsupportedValueError
from dsdt.objects.valueforms import label_problem

_LABEL_DTYPES_REFUSED = (pd.CategoricalDtype, pd.IntervalDtype, pd.PeriodDtype)
_SINGLETONS: dict[str, Any] = {"none": None, "nat": pd.NaT, "na": pd.NA}
_ENCODERS: tuple[tuple[Any, str, Any], ...] = (  # order matters: bool before int
    ((bool, np.bool_), "bool", bool),
    ((int, np.integer), "int", int),
    ((float, np.floating), "float", lambda value: float(value).hex()),
    (str, "str", str),
    (tuple, "tuple", lambda value: [encode_label(item) for item in value]),
    (pd.Timestamp, "timestamp", lambda value: value.isoformat()),
    (pd.Timedelta, "timedelta", lambda value: int(value.as_unit("ns").value)),
)
_DECODERS: dict[str, Any] = {
    "bool": bool,
    "int": int,
    "str": str,
    "float": float.fromhex,
    "tuple": lambda items: tuple(decode_label(item) for item in items),
    "timestamp": pd.Timestamp,
    "timedelta": lambda ns: pd.Timedelta(ns, unit="ns"),
    "utf8b": lambda hexed: bytes.fromhex(hexed).decode("utf-8", "surrogatepass"),
}


def encode_label(value: Any) -> list:
    """Encode a hashable axis label as a typed, YAML-safe list."""
    for tag, singleton in _SINGLETONS.items():
        if value is singleton:
            return [tag]
    if isinstance(value, str) and any("\ud800" <= char <= "\udfff" for char in value):
        return ["utf8b", value.encode("utf-8", "surrogatepass").hex()]  # not UTF-8 text
    for types, tag, encode in _ENCODERS:
        if isinstance(value, types):
            label = [tag, encode(value)]
            problem = label_problem(label)  # e.g. an offset in seconds: no reader takes it
            if problem is not None:
                raise UnsupportedValueError(f"cannot store the label {value!r}: {problem}")
            return label
    raise UnsupportedValueError(f"cannot store a label of type {type(value).__name__}: {value!r}")


def decode_label(item: list) -> Any:
    """Invert :func:`encode_label`.

    Raises:
        CorruptObjectError: ``item`` is not a label :func:`encode_label` writes
            (:func:`~dsdt.objects.valueforms.label_problem`).
    """
    problem = label_problem(item)
    if problem is None:
        try:
            if len(item) == 1:
                return _SINGLETONS[item[0]]
            return _DECODERS[item[0]](item[1])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:  # a date out of range
            problem = str(exc)
    raise CorruptObjectError(f"bad label encoding in frame node: {item!r:.80} ({problem})")


def dtype_code(dtype: Any) -> str:
    """Return a string that identifies ``dtype`` exactly (string storage included)."""
    if isinstance(dtype, pd.StringDtype):
        return f"{dtype.name}[{dtype.storage}]"
    return str(dtype)


def dtype_codes(dtypes: Any) -> list[str]:
    """Codes of many dtypes, memoised within the call (``str(dtype)`` is slow)."""
    memo: dict[Any, str] = {}
    return [memo[dt] if dt in memo else memo.setdefault(dt, dtype_code(dt)) for dt in dtypes]


def parse_dtype(code: str) -> Any:
    """Invert :func:`dtype_code`."""
    if code.startswith("str["):
        return pd.StringDtype(code[4:-1], na_value=np.nan)
    return pandas_dtype(code)


def describe_axis(index: pd.Index) -> tuple[dict, list[pd.Index]]:
    """Describe an axis (without its values); return the spec and its level values."""
    spec: dict[str, Any] = {"names": [encode_label(name) for name in index.names]}
    if type(index) is pd.RangeIndex:
        spec.update(kind="range", range=[index.start, index.stop, index.step])
        return spec, []
    positional = index.set_names(list(range(index.nlevels)))  # level names may be ints
    levels = [positional.get_level_values(k).rename(None) for k in range(index.nlevels)]
    spec["dtypes"] = [dtype_code(level.dtype) for level in levels]
    if isinstance(index, pd.MultiIndex):
        spec.update(kind="multi", levels=[dtype_code(level.dtype) for level in index.levels])
    else:
        spec["kind"] = "index"
        if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and index.freq is not None:
            spec["freq"] = index.freqstr
    return spec, levels


def assemble_axis(levels: list[pd.Index], spec: dict) -> pd.Index:
    """Build the axis described by ``spec`` from its level values."""
    names = [decode_label(name) for name in spec["names"]]
    if spec["kind"] == "range":
        return pd.RangeIndex(*spec["range"], name=names[0])
    if spec["kind"] == "index":
        if spec.get("freq"):
            return type(levels[0])(levels[0], freq=spec["freq"]).rename(names[0])
        return levels[0].rename(names[0])
    index = pd.MultiIndex.from_arrays(levels, names=names)
    if [dtype_code(level.dtype) for level in index.levels] == spec["levels"]:
        return index
    pairs = zip(index.levels, spec["levels"], strict=True)
    levels = [level.astype(parse_dtype(code)) for level, code in pairs]
    return index.set_levels(levels)  # a whole list: level numbers could clash with int names


def _columns_spec(columns: pd.Index) -> dict:
    """Describe a columns index, labels included."""
    spec, levels = describe_axis(columns)
    for level in levels:
        if isinstance(level.dtype, _LABEL_DTYPES_REFUSED):
            raise UnsupportedValueError(f"cannot store column labels of dtype {level.dtype}")
    if levels:
        spec["labels"] = [[encode_label(v) for v in level.tolist()] for level in levels]
    return spec


def encode_columns(columns: pd.Index) -> dict:
    """Describe a columns index and check that it decodes to the same labels and dtypes."""
    spec = _columns_spec(columns)
    try:
        decoded = decode_columns(spec)
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnsupportedValueError(f"cannot store column labels {columns!r}: {exc}") from exc
    if type(decoded) is not type(columns) or _columns_spec(decoded) != spec:
        raise UnsupportedValueError(f"cannot store column labels {columns!r} losslessly")
    return spec


def decode_columns(spec: dict) -> pd.Index:
    """Rebuild a columns index from :func:`encode_columns` output."""
    levels = [
        pd.Index([decode_label(v) for v in labels], dtype=parse_dtype(code), tupleize_cols=False)
        for labels, code in zip(spec.get("labels", []), spec.get("dtypes", []), strict=True)
    ]
    return assemble_axis(levels, spec)
