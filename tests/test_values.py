"""Values come back exactly as stored (Disdat's value bugs, behaviour.md section 8.1)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import luigi
import numpy as np
import pandas as pd
import pytest
from conftest import assert_fsck_clean
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsdt.api as api
from dsdt.errors import PathError, UnsupportedValueError
from dsdt.repo import Repository


def roundtrip(ctx: str, value: Any) -> Any:
    api.Bundle(ctx, name="v", data=value) if value is not None else _store_none(ctx)
    Repository.current().index.close()
    return api.get(ctx, "v").data


def _store_none(ctx: str) -> None:
    with api.Bundle(ctx, "v") as b:
        b.add_data(None)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type, recursively (nan == nan, -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                     math.copysign(1, b))
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


DISDAT_BUGS = [
    {"a": "hello"},  # dict with a str value: TypeError in Disdat
    [],  # IndexError in Disdat
    ["a", 1, 2.0],  # mixed list: stringified in Disdat
    ("a", 1, 2.0),  # mixed tuple: stringified
    {"a": 1, "b": [1, 2, 3]},  # dict values came back as [x] / ndarray
    {"nested": {"deep": [{"x": 1}, (2, None)]}},  # nested objects came back as JSON strings
    b"\x00\xffbytes",  # bytes came back as str
    None, True, False, 0, -(2**100), 1.5, float("inf"), -0.0, "", "ünïcødé ✓", "a\nb\tc\r\n",
    {1: "int key", (1, 2): "tuple key", None: "none key", 2.5: "float key"},
    {1, 2, 3}, frozenset({"a"}), [[1, 2], [3, 4]], "x" * 10_000, b"y" * 10_000,
    "\ud800 lone surrogate",
]


@pytest.mark.parametrize("value", DISDAT_BUGS, ids=lambda v: type(v).__name__)
def test_python_values_round_trip(ctx: str, value: Any) -> None:
    assert same(roundtrip(ctx, value), value)


def test_nan_round_trips(ctx: str) -> None:
    assert math.isnan(roundtrip(ctx, float("nan")))


def test_large_container_is_packed_out_of_the_record(ctx: str) -> None:
    value = {f"key{i}": list(range(20)) for i in range(2000)}
    assert roundtrip(ctx, value) == value
    b = api.get(ctx, "v")
    assert b.record.data["type"] == "packed"
    assert_fsck_clean()


@pytest.mark.parametrize("value", [
    np.float32(0.1), np.int8(-3), np.uint64(2**63), np.bool_(True), np.complex128(1 + 2j),
    np.datetime64("2026-11-26T12:00:00.123", "ms"), np.str_("s"), np.str_(""), np.bytes_(b""),
    np.void(b"\x01\x02"), np.timedelta64(5, "ms"), np.float16(1.5), np.longdouble(1.1),
    np.clongdouble(1.1 + 2.2j),
])
def test_numpy_scalars(ctx: str, value: Any) -> None:
    back = roundtrip(ctx, value)
    assert type(back) is type(value) and back == value
    assert_fsck_clean()


def test_a_numpy_scalar_record_holds_its_value_only(ctx: str) -> None:
    """A longdouble's padding bytes are stray process memory: they are written as zeros."""
    x87 = np.finfo(np.longdouble).nmant == 63  # 10 bytes of value in 12 or 16
    for value in (np.longdouble(1.1), np.clongdouble(1.1 + 2.2j)):
        hexes = {api.Bundle(ctx, name=f"l{i}", data=value).record.data["hex"] for i in range(3)}
        assert len(hexes) == 1
        raw = bytes.fromhex(hexes.pop())
        assert np.frombuffer(raw, value.dtype)[0] == value
        part = np.dtype(np.longdouble).itemsize
        assert not x87 or all(raw[i + 10:i + part] == bytes(part - 10)
                              for i in range(0, len(raw), part))
    with pytest.raises(UnsupportedValueError, match="dtype"):
        api.Bundle(ctx, name="v0", data=np.void(b""))


@pytest.mark.parametrize("value", [
    np.arange(12, dtype=np.int16).reshape(3, 4), np.array([], dtype=np.float64),
    np.array(3.5), np.array(["a", "bc"]), np.array([1 + 1j]),
])
def test_arrays(ctx: str, value: np.ndarray) -> None:
    back = roundtrip(ctx, value)
    assert back.dtype == value.dtype and back.shape == value.shape
    np.testing.assert_array_equal(back, value)


def test_dataframe_index_columns_dtypes(ctx: str) -> None:
    df = pd.DataFrame({
        0: [1, 2, 3],  # non-str column names: TypeError in Disdat
        "cat": pd.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True),
        ("t", 1): pd.to_datetime(["2026-01-01", "2026-06-01", None]).tz_localize("Europe/Paris"),
        "Unnamed: 3": [1.5, None, 2.5],  # Disdat skipped such columns
    }, index=pd.Index(["x", "y", "z"], name="key"))  # Disdat dropped the index
    back = roundtrip(ctx, df)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert list(back.columns) == list(df.columns)


def test_series_and_containers_of_frames(ctx: str) -> None:
    s = pd.Series([1.0, 2.0], index=pd.date_range("2026-01-01", periods=2), name=7)
    back = roundtrip(ctx, {"s": s, "arr": np.ones(2), "df": pd.DataFrame({"a": [1]})})
    pd.testing.assert_series_equal(back["s"], s)
    np.testing.assert_array_equal(back["arr"], np.ones(2))


def test_files_in_containers(ctx: str, project: Path) -> None:
    (project / "d").mkdir()
    a = project / "d" / "a.txt"
    a.write_text("A")
    b = project / "b.csv"
    b.write_text("B")
    back = roundtrip(ctx, {"one": str(a), "many": [str(a), luigi.LocalTarget(str(b))],
                           "path": Path(project / "d"), "not_a_file": "d/missing.txt"})
    assert Path(back["one"]).read_text() == "A" and Path(back["one"]).name == "a.txt"
    assert [Path(p).read_text() for p in back["many"]] == ["A", "B"]
    assert Path(back["path"], "a.txt").read_text() == "A"
    assert back["not_a_file"] == "d/missing.txt"
    assert_fsck_clean()


class Weird:
    pass


@pytest.mark.parametrize("value", [
    Weird(), [1, Weird()], {"k": object()}, {Weird(): 1}, np.array([{"a": 1}], dtype=object),
    pd.DataFrame({"a": [{"x": 1}, {"y": 2}]}),
])
def test_unsupported_types_are_refused_and_nothing_is_written(ctx: str, project: Path,
                                                             value: Any) -> None:
    def snapshot() -> list[str]:
        return sorted(str(p.relative_to(project)) for p in (project / ".dsdt").rglob("*")
                      if p.is_file() and p.name not in ("gc-fence", "owner")
                      and "index.sqlite" not in p.name)

    before = snapshot()
    with pytest.raises(UnsupportedValueError) as err:
        api.Bundle(ctx, name="bad", data=value)
    assert "type" in str(err.value) or "dtype" in str(err.value) or "column" in str(err.value)
    assert api.get(ctx, "bad") is None
    assert snapshot() == before
    assert_fsck_clean()


def test_missing_path_is_an_error(ctx: str) -> None:
    with pytest.raises(PathError):
        api.Bundle(ctx, name="p", data=Path("/definitely/not/here"))


scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=20) | st.binary(max_size=20))
keys = st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.tuples(st.integers())
values = st.recursive(scalars, lambda inner: (
    st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_property_round_trip(ctx: str, value: Any) -> None:
    if isinstance(value, str) and Path(value).exists():
        return  # an existing path is stored as a file by design
    b = api.Bundle(ctx, name="prop", data=value) if value is not None else None
    if b is None:
        return
    assert same(api.get(ctx, None, uuid=b.uuid).data, value)
