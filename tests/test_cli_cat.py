"""``dsdt cat``: bounded previews of large tables and arrays, --all, -n, and CSV/parquet files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clirun import dsdt_cli, fails, ok

from dsdt import api

BIG = 200_000


@pytest.fixture
def big(project: Path) -> pd.DataFrame:
    """A 200,000-row frame as bundle ``big``; its column ``col`` and an array ``arr`` as long."""
    df = pd.DataFrame({"n": np.arange(BIG), "x": np.arange(BIG) / 4, "s": ["v"] * BIG})
    api.Bundle("default", name="big", data=df)
    api.Bundle("default", name="col", data=df["n"])
    api.Bundle("default", name="arr", data=np.arange(BIG * 3).reshape(BIG, 3))
    return df


# --- previews -----------------------------------------------------------------------------


def test_a_large_frame_prints_head_tail_and_shape(big: pd.DataFrame) -> None:
    lines = ok("cat", "big").lines
    assert len(lines) == 14  # header, 5 rows, ..., 5 rows, blank, shape
    assert lines[0].split() == ["n", "x", "s"]
    assert lines[1].split() == ["0", "0", "0.00", "v"]
    assert lines[6].split() == ["...", "...", "...", ".."]
    assert lines[11].split() == ["199999", "199999", "49999.75", "v"]
    assert lines[-1] == "[200000 rows x 3 columns]"


def test_all_and_n_choose_the_rows(big: pd.DataFrame) -> None:
    every = ok("cat", "big", "--all").lines
    assert len(every) == BIG + 1 and every[-1].split()[0] == "199999"
    assert not any("..." in ln for ln in every[:3]) and "rows x" not in every[-1]
    first = ok("cat", "big", "-n", "5").lines
    assert first == big.head(5).to_string().splitlines() and len(first) == 6
    assert len(ok("cat", "big", "--rows", "1").lines) == 2


def test_a_large_series_and_array_preview_too(big: pd.DataFrame) -> None:
    col = ok("cat", "col").lines
    assert len(col) == 12 and col[-1] == "Name: n, Length: 200000, dtype: int64"
    assert len(ok("cat", "col", "-n", "5").lines) == 5
    assert len(ok("cat", "col", "--all").lines) == BIG
    arr = ok("cat", "arr").lines
    assert len(arr) == 9 and arr[-1] == "[array of shape (200000, 3), dtype int64]"
    assert arr[0] == "[[     0      1      2]" and arr[3].strip() == "..."
    assert ok("cat", "arr", "-n", "2").lines == ["[[0 1 2]", " [3 4 5]]"]
    assert len(ok("cat", "arr", "--all").lines) == BIG


def test_small_tables_print_in_full(project: Path) -> None:
    sixty = pd.DataFrame({"a": range(60)})
    api.Bundle("default", name="sixty", data=sixty)
    api.Bundle("default", name="sixty1", data=pd.DataFrame({"a": range(61)}))
    api.Bundle("default", name="small", data=np.arange(1000))
    assert ok("cat", "sixty").out == sixty.to_string() + "\n"
    assert ok("cat", "sixty1").lines[-1] == "[61 rows x 1 columns]"
    assert ok("cat", "sixty", "-n", "100").out == sixty.to_string() + "\n"
    assert "..." not in ok("cat", "small").out
    assert ok("cat", "sixty", "-n", "3").lines == ["   a", "0  0", "1  1", "2  2"]


def test_row_options_that_make_no_sense_are_refused(project: Path) -> None:
    api.Bundle("default", name="df", data=pd.DataFrame({"a": [1]}))
    assert "exclude each other" in fails(2, "cat", "df", "--all", "-n", "3")
    assert "-f writes every row" in fails(2, "cat", "df", "-n", "3", "-f", "x.csv")
    assert "--json" in fails(2, "cat", "df", "--all", "--json")
    assert "give one" in fails(2, "cat", "df", "--json", "-f", "x.csv")
    for bad in ("0", "many"):  # click's own usage errors
        r = dsdt_cli("cat", "df", "-n", bad)
        assert r.code == 2 and "'--rows'" in r.err and "Traceback" not in r.err
    assert not (project / "x.csv").exists()


def test_n_leaves_other_values_whole(project: Path) -> None:
    api.Bundle("default", name="text", data="a\nb\nc")
    assert ok("cat", "text", "-n", "1").out == "a\nb\nc\n"


# --- files ----------------------------------------------------------------------------------


def _frames() -> dict[str, pd.DataFrame]:
    plain = pd.DataFrame({"a": [1, 2, 3], "b": ["x:y", "z", "w"]})
    named = plain.set_index(pd.Index(["k1", "k2", "k3"], name="key"))
    multi = pd.DataFrame({"v": [0.5, 1.5, 2.5, 3.5]},
                         index=pd.MultiIndex.from_product([["p", "q"], [1, 2]],
                                                          names=["grp", "num"]))
    return {"plain": plain, "named": named, "multi": multi}


def test_csv_keeps_a_named_index_and_a_multiindex(project: Path) -> None:
    for name, df in _frames().items():
        api.Bundle("default", name=name, data=df)
        assert ok("cat", name, "-f", f"{name}.csv").out == f"Wrote {name}.csv\n"
    assert (project / "plain.csv").read_text() == "a,b\n1,x:y\n2,z\n3,w\n"  # no 0..n-1 column
    frames = _frames()
    back = pd.read_csv(project / "named.csv", index_col=0)
    assert back.index.name == "key"
    pd.testing.assert_frame_equal(back, frames["named"])
    back = pd.read_csv(project / "multi.csv", index_col=[0, 1])
    assert back.index.names == ["grp", "num"]
    pd.testing.assert_frame_equal(back, frames["multi"])


def test_parquet_round_trips_exactly(project: Path) -> None:
    for name, df in _frames().items():
        api.Bundle("default", name=name, data=df)
        ok("cat", name, "-f", f"{name}.PARQUET")  # the suffix in any case
        back = pd.read_parquet(project / f"{name}.PARQUET")
        pd.testing.assert_frame_equal(back, df)
    assert pd.read_parquet(project / "named.PARQUET").index.name == "key"
    assert list(pd.read_parquet(project / "multi.PARQUET").index.names) == ["grp", "num"]


def test_parquet_of_series_arrays_and_records(project: Path) -> None:
    s = pd.Series([1.0, 2.0], index=pd.Index(["a", "b"], name="id"), name="score")
    api.Bundle("default", name="s", data=s)
    api.Bundle("default", name="arr", data=np.arange(6).reshape(3, 2))
    api.Bundle("default", name="rec", data=[{"a": 1}, {"a": 2}])
    ok("cat", "s", "-f", "s.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(project / "s.parquet"), s.to_frame())
    ok("cat", "arr", "-f", "arr.parquet")  # parquet needs text column names
    back = pd.read_parquet(project / "arr.parquet")
    assert list(back.columns) == ["0", "1"] and back.to_numpy().tolist() == [[0, 1], [2, 3], [4, 5]]
    ok("cat", "rec", "-f", "rec.parquet")
    assert pd.read_parquet(project / "rec.parquet")["a"].tolist() == [1, 2]


def test_bad_files_are_one_line_errors(project: Path) -> None:
    api.Bundle("default", name="df", data=pd.DataFrame({"a": [1]}))
    api.Bundle("default", name="mixed", data=[{"a": 1}, {"a": "x"}])
    err = fails(2, "cat", "df", "-f", "out.xlsx")
    assert "'out.xlsx'" in err and ".csv or .parquet" in err
    fails(2, "cat", "df", "-f", "out")
    fails(2, "cat", "nope", "-f", "out.txt")  # refused before the bundle is looked up
    assert "cannot write" in fails(10, "cat", "df", "-f", "no/such/dir.parquet")
    (project / "keep.parquet").write_bytes(b"old")
    err = fails(2, "cat", "mixed", "-f", "keep.parquet")
    assert "as parquet" in err and "try a .csv file" in err
    assert (project / "keep.parquet").read_bytes() == b"old"
    assert sorted(p.name for p in project.iterdir() if "parquet" in p.name) == ["keep.parquet"]
    ok("cat", "mixed", "-f", "mixed.csv")
    assert (project / "mixed.csv").read_text() == "a\n1\nx\n"


def test_a_label_with_a_lone_surrogate_prints_escaped(project: Path, tmp_path: Path) -> None:
    """No UTF-8 output can hold one: cat, log and ui --export stopped with an internal error."""
    import subprocess
    import sys

    frame = pd.DataFrame([[1]], columns=pd.Index(["\ud800x"], dtype=object))
    api.Bundle("default", name="strs", data=frame)
    for args in (["cat", "strs"], ["log", "strs"], ["ui", "--export", str(tmp_path / "site")]):
        p = subprocess.run([sys.executable, "-m", "dsdt", *args], cwd=project,
                           capture_output=True, text=True, errors="strict")
        assert p.returncode == 0, p.stderr
    assert "\\ud800x" in subprocess.run([sys.executable, "-m", "dsdt", "cat", "strs"],
                                        cwd=project, capture_output=True, text=True).stdout
    page = next((tmp_path / "site").rglob("b/*.html")).read_text()
    assert "\\ud800x" in page
