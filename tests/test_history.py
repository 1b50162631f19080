"""``log`` and ``diff``: versions of a name, and what changed, from records only."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from test_cli import dsdt_cli, ok

import dsdt.api as api
from dsdt.errors import BundleNotFoundError, UsageError
from dsdt.objects import summary
from dsdt.objects.frames import write_frame
from dsdt.objects.valuediff import DataChange, diff_values
from dsdt.ops import history
from dsdt.repo import Repository


def two(ctx: str, old: Any, new: Any, name: str = "v") -> history.BundleDiff:
    """Store ``old`` then ``new`` under one name; diff them."""
    api.Bundle(ctx, name=name, data=old)
    api.Bundle(ctx, name=name, data=new)
    return api.diff(ctx, name)


def kinds(d: history.BundleDiff) -> list[tuple[str, str, str]]:
    return [(c.path, c.kind, c.item) for c in d.data]


def by_item(d: history.BundleDiff) -> dict[str, DataChange]:
    return {c.item: c for c in d.data if c.item}


def node_of(value: pd.DataFrame | pd.Series, summary_: bool = True) -> dict:
    node = write_frame(value, io.BytesIO(), summary=summary_)
    return yaml.safe_load(yaml.safe_dump(node))  # as read back from a record


# --- inline values and containers ---------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "shown"), [
    (1, 2, (1, 2)), ("a", "b", ("a", "b")), (1.5, float("inf"), (1.5, float("inf"))),
    (True, False, (True, False)), (b"xy", b"xz", ("b'xy'", "b'xz'")),
    (np.float32(1.5), np.float32(2.5), (1.5, 2.5)), (np.int64(-3), np.int64(4), (-3, 4)),
])
def test_scalar_value_changes(ctx: str, old: Any, new: Any, shown: tuple) -> None:
    d = two(ctx, old, new)
    assert [(c.kind, c.old, c.new) for c in d.data] == [("value", *shown)]
    assert not d.same


def test_same_value_has_no_data_change(ctx: str) -> None:
    d = two(ctx, {"a": [1, float("nan")]}, {"a": [1, float("nan")]})
    assert d.data == [] and d.same


def test_type_change(ctx: str) -> None:
    d = two(ctx, 1, "1")
    [c] = d.data
    assert (c.kind, c.old, c.new, c.detail["types"]) == ("type", "int 1", "str '1'", ["int", "str"])


def test_nested_containers_are_compared_by_key_and_position(ctx: str) -> None:
    old = {"a": [1, 2, 3], "b": {"x": (1, None)}, "gone": 1, 4: "int key", "s": {1, 2}}
    new = {"a": [1, 2, 4, 5], "b": {"x": (1, "y")}, "new": [1], 4: "int key", "s": {2, 3}}
    d = two(ctx, old, new)
    found = {(c.path, c.kind, c.item): (c.old, c.new) for c in d.data}
    assert found == {
        ('["a"][2]', "value", ""): (3, 4),
        ('["a"][3]', "added", ""): (None, "int 5"),
        ('["b"]["x"][1]', "type", ""): ("None", "str 'y'"),
        ('["gone"]', "removed", ""): ("int 1", None),
        ('["new"]', "added", ""): (None, "list of 1 items"),
        ('["s"]', "removed", "1"): ("int 1", None),
        ('["s"]', "added", "3"): (None, "int 3"),
    }


def test_tuple_keys_and_packed_containers(ctx: str) -> None:
    big = {f"k{i}": "x" * 100 for i in range(1000)}  # over 64 KiB of YAML: packed in a blob
    changed = {**big, "k5": "y", (1, "a"): 2}
    d = two(ctx, big, changed)
    assert api.get(ctx, "v").record.data["type"] == "packed"
    assert {(c.path, c.kind) for c in d.data} == {('["k5"]', "value"), ('[(1, "a")]', "added")}


def test_long_text_and_bytes_compare_by_blob(ctx: str) -> None:
    d = two(ctx, [b"a" * 10_000, "t" * 5000], [b"b" * 10_000, "t" * 5001])
    assert [(c.path, c.kind, c.old, c.new) for c in d.data] == [
        ("[0]", "content", 10_000, 10_000), ("[1]", "content", 5000, 5001)]


# --- arrays, files, directories -----------------------------------------------------------


def test_ndarray_changes(ctx: str) -> None:
    d = two(ctx, {"same": np.arange(3), "vals": np.arange(3), "shape": np.zeros((2, 2))},
            {"same": np.arange(3), "vals": np.array([0, 1, 5]), "shape": np.zeros(4, "f4")})
    assert kinds(d) == [('["vals"]', "content", ""), ('["shape"]', "shape", ""),
                        ('["shape"]', "dtype", ""), ('["shape"]', "content", "")]
    assert [(c.old, c.new) for c in d.data[1:3]] == [([2, 2], [4]), ("<f8", "<f4")]


def test_single_file_changed(ctx: str, project: Path) -> None:
    f = project / "model.bin"
    f.write_bytes(b"one")
    api.add(ctx, "model", str(f))
    f.write_bytes(b"three")
    api.add(ctx, "model", str(f))
    d = api.diff(ctx, "model")
    [c] = d.data
    assert (c.kind, c.item, c.old, c.new) == ("content", "model.bin", 3, 5)
    assert d.params.changed == {}  # same path param


def test_directory_files_added_removed_changed(ctx: str, project: Path) -> None:
    raw = project / "raw"
    (raw / "sub").mkdir(parents=True)
    for name, text in [("a.txt", "A"), ("sub/b.txt", "B"), ("gone.txt", "G")]:
        (raw / name).write_text(text)
    api.add(ctx, "raw", str(raw))
    (raw / "a.txt").write_text("AAA")
    (raw / "gone.txt").unlink()
    (raw / "sub" / "new.txt").write_text("NN")
    (raw / "empty").mkdir()
    api.add(ctx, "raw", str(raw))
    d = api.diff(ctx, "raw")
    assert [(c.kind, c.item, c.old, c.new) for c in d.data] == [
        ("file_changed", "a.txt", 1, 3), ("file_removed", "gone.txt", 1, None),
        ("file_added", "sub/new.txt", None, 2), ("dir_added", "empty", None, None)]


# --- frames ---------------------------------------------------------------------------------


@pytest.fixture
def frames_diff(ctx: str) -> history.BundleDiff:
    old = pd.DataFrame({"same": [1, 2, 3], "vals": [1.0, 2.0, 3.0], "gone": ["a", "b", "c"],
                        "retyped": [1, 2, 3]})
    new = pd.DataFrame({"same": [1, 2, 3, 4], "vals": [1.0, 2.0, 30.0, 4.0],
                        "retyped": [1.0, 2.0, 3.0, 4.0], "added": [True, False, None, True]})
    new.loc[3, "same"] = 4
    return two(ctx, old, new)


def test_frame_columns_added_removed_retyped(frames_diff: history.BundleDiff) -> None:
    c = by_item(frames_diff)
    assert (c["gone"].kind, c["gone"].old) == ("column_removed", "str[pyarrow]")
    assert (c["added"].kind, c["added"].new) == ("column_added", "object")
    assert c["added"].detail["nulls"] == 1
    assert (c["retyped"].kind, c["retyped"].old, c["retyped"].new) == (
        "column_retyped", "int64", "float64")
    assert c["retyped"].detail["content"] == "changed"


def test_frame_rows_and_changed_values(frames_diff: history.BundleDiff) -> None:
    rows = [x for x in frames_diff.data if x.kind == "rows"]
    assert [(x.old, x.new) for x in rows] == [(3, 4)]
    vals = by_item(frames_diff)["vals"]
    assert vals.kind == "column_changed" and vals.detail["content"] == "changed"
    assert vals.detail["stats"] == {"max": [3.0, 30.0], "mean": [2.0, 9.25]}
    assert by_item(frames_diff)["same"].detail["stats"]["max"] == [3, 4]  # more rows
    assert [x.kind for x in frames_diff.data if x.kind == "columns_reordered"] == []


def test_frame_unchanged_columns_are_not_listed(ctx: str) -> None:
    old = pd.DataFrame({"a": np.arange(10), "b": np.ones(10)})
    new = old.assign(b=np.arange(10.0))
    d = two(ctx, old, new)
    assert kinds(d) == [("", "column_changed", "b"), ("", "rows_changed", "")]
    assert d.data[0].detail["content"] == "changed"


def test_same_frame_written_twice_is_the_same(ctx: str) -> None:
    df = pd.DataFrame({"a": [1, None, 3]}, dtype="Int64", index=pd.Index([5, 6, 7], name="id"))
    assert two(ctx, df, df.copy()).data == []


def test_copied_summaries_do_not_make_other_bytes_look_the_same(ctx: str) -> None:
    """A record is written by others: its summaries can be copied from another frame's."""
    from dsdt.ops.difftext import change_lines

    old = api.Bundle(ctx, name="f", data=pd.DataFrame({"x": [1, 2, 3]})).record.data
    new = dict(api.Bundle(ctx, name="f", data=pd.DataFrame({"x": [7, 8, 9]})).record.data)
    new["stats"] = old["stats"]
    changes = diff_values(old, new, lambda blob, limit=0: b"")
    assert [(c.kind, c.old, c.new) for c in changes] == [("bytes", old["size"], new["size"])]
    shown = change_lines(dataclasses.replace(api.diff(ctx, "f"), data=changes))
    assert "stored bytes differ" in shown[-1]


def test_renamed_columns_and_index_names(ctx: str) -> None:
    old = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}, index=pd.Index([1, 2], name="i"))
    new = old.rename(columns={"a": "x"}).rename_axis("j")  # the same parquet bytes
    d = two(ctx, old, new)
    assert [(c.kind, c.old, c.new) for c in d.data] == [
        ("column_renamed", "a", "x"), ("index", "index[int64] named i", "index[int64] named j")]
    moved = pd.DataFrame({"b": [3.0, 4.0], "y": [1, 2]}, index=old.index)  # other bytes
    d = two(ctx, old, moved)
    assert [(c.kind, c.old, c.new) for c in d.data] == [("column_renamed", "a", "y")]


def test_series_values_and_name(ctx: str) -> None:
    d = two(ctx, pd.Series([1.0, 2.0], name="x"), pd.Series([1.0, 2.5], name="y"))
    assert [(c.kind, c.item) for c in d.data] == [
        ("name", ""), ("column_changed", "values"), ("rows_changed", "")]
    assert (d.data[0].old, d.data[0].new) == ("x", "y")


def test_index_changes(ctx: str) -> None:
    old = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["p", "q"], name="k"))
    d = two(ctx, old, old.set_axis(pd.Index(["p", "r"], name="k")))
    assert [(c.kind, c.item) for c in d.data] == [("index_changed", "k"), ("rows_changed", "")]
    d = two(ctx, old, old.reset_index(drop=True))
    assert [c.kind for c in d.data][:1] == ["index"]


def test_rows_changed_counts_blocks(ctx: str) -> None:
    old = pd.DataFrame({"a": np.arange(200_000), "b": np.zeros(200_000)})
    new = old.copy()
    new.loc[150_000, "b"] = 1.0
    d = two(ctx, old, new)
    [rows] = [c for c in d.data if c.kind == "rows_changed"]
    assert rows.new == summary.MIN_BLOCK_ROWS
    assert rows.detail == {"blocks": 1, "of": 4, "block_rows": summary.MIN_BLOCK_ROWS}


def test_frames_written_before_summaries_still_compare_schema() -> None:
    old = node_of(pd.DataFrame({"a": [1, 2], "b": [1, 2]}), summary_=False)
    new = node_of(pd.DataFrame({"a": [1, 3], "c": [1.0, 2.0]}))
    assert "stats" not in old
    changes = diff_values(old, new, lambda blob: b"")
    assert [(c.kind, c.item) for c in changes] == [
        ("column_removed", "b"), ("column_unknown", "a"), ("column_added", "c")]


def test_stats_example_in_the_format_doc() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "format.md").read_text()
    example = yaml.safe_load(doc.split("```yaml stats\n")[1].split("```")[0])["stats"]
    frame = pd.DataFrame({"n": [1, 2, 3], "t": pd.to_datetime(["2020-01-01", None, "2021-01-01"])},
                         index=pd.Index([10, 20, 30]))
    assert node_of(frame)["stats"] == example


def test_hash_depends_on_values_not_memory() -> None:
    big = pd.DataFrame({"f": np.arange(100_000.0), "s": [str(i) for i in range(100_000)],
                        "i": pd.array(np.arange(100_000), dtype="Int64"),
                        "b": np.arange(100_000) % 3 == 0})
    big.loc[7, ["f", "s", "i"]] = [np.nan, None, None]
    part = big.iloc[50_000:]
    copy = pd.DataFrame({c: part[c].array.copy() for c in part}, index=part.index)
    assert node_of(part)["stats"] == node_of(copy)["stats"]
    masked = pd.array([1, 2, 3], dtype="Int64")
    other = pd.array([1, 99, 3], dtype="Int64")
    masked[1] = other[1] = None  # different numbers under the mask
    assert node_of(pd.Series(masked))["stats"] == node_of(pd.Series(other))["stats"]


def test_stats_are_yaml_safe_and_never_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.DataFrame({
        "t": pd.to_datetime(["2020-01-01", None, "2021-06-01"]).tz_localize("UTC"),
        "d": pd.to_timedelta([1, None, 3], unit="s"), "c": pd.Categorical(["u", None, "v"]),
        "iv": pd.interval_range(0, 3), "s": ["é" * 100, "b", None], "f": [np.inf, -0.0, 1.0],
    })
    stats = node_of(df)["stats"]["columns"]
    assert stats[0]["min"] == "2020-01-01T00:00:00+00:00" and stats[0]["nulls"] == 1
    assert stats[1]["max"] == "0:00:03"
    assert stats[2] == {"nulls": 1, "hash": stats[2]["hash"]}
    assert stats[3] == {"nulls": 0}  # intervals: no stats beyond the null count
    assert stats[4]["max"] == "é" * 64
    assert stats[5]["max"] == float("inf")

    def broken(*args: Any) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(summary, "_hash", broken)
    assert node_of(pd.DataFrame({"a": [1, None]}))["stats"]["columns"] == [{"nulls": 1}]


# --- metadata, lineage, remote ----------------------------------------------------------------


def test_tags_params_and_lineage(ctx: str) -> None:
    up1 = api.Bundle(ctx, name="up", data=1)
    up2 = api.Bundle(ctx, name="up", data=2)
    other = api.Bundle(ctx, name="other", data=3)
    api.Bundle(ctx, name="out", data=1, tags={"a": "1", "gone": "x"}, params={"p": "1"},
               dependencies=[up1, other], code_method="pkg.Train",
               vc_info=("repo", "c0ffee", "main"))
    with api.Bundle(ctx, "out") as b:
        b.add_data(1)
        b.add_tags({"a": "2", "new": "y"})
        b.add_params({"p": "2"})
        b.add_dependencies([up2], ["_arg_0"])
        b.add_code_ref("pkg.Train2")
        b.add_git_info("repo", "beef", "main")
    d = api.diff(ctx, "out")
    assert d.tags == history.MapDiff({"new": "y"}, {"gone": "x"}, {"a": ["1", "2"]})
    assert d.params.changed == {"p": ["1", "2"]}
    assert d.lineage.inputs.changed == {"_arg_0": [up1.uuid, up2.uuid]}
    assert d.lineage.inputs.removed == {"_arg_1": other.uuid}
    assert d.lineage.code_ref == ["pkg.Train", "pkg.Train2"]
    assert d.lineage.code_commit == ["c0ffee", "beef"]
    assert d.data == [] and not d.same


def test_diff_by_uuids_and_errors(ctx: str) -> None:
    a = api.Bundle(ctx, name="x", data=1)
    with pytest.raises(UsageError, match="no version older"):
        api.diff(ctx, "x")
    b = api.Bundle(ctx, name="y", data=2)
    d = api.diff(ctx, uuids=[b.uuid, a.uuid])
    assert (d.old_uuid, d.new_uuid, d.old_name, d.new_name) == (b.uuid, a.uuid, "y", "x")
    assert [(c.old, c.new) for c in d.data] == [(2, 1)]
    with pytest.raises(UsageError, match="named 'y'"):
        api.diff(ctx, "x", [a.uuid, b.uuid])
    with pytest.raises(UsageError, match="two bundles"):
        api.diff(ctx, None, [a.uuid])
    with pytest.raises(UsageError):
        api.diff(ctx)
    with pytest.raises(BundleNotFoundError):
        api.diff(ctx, uuids=[a.uuid, "5f0e8c1e-2f4b-4d38-9f5e-0c6a3e9d1b27"])


def test_diff_of_pulled_bundles_needs_no_data(
        project: Path, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    remote = str(tmp_path_factory.mktemp("remote"))
    raw = project / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("A")
    api.remote("default", "shared", remote)
    api.Bundle("default", name="s", data={"df": pd.DataFrame({"x": [1, 2]}), "d": raw}).commit()
    (raw / "a.txt").write_text("AA")
    api.Bundle("default", name="s", data={"df": pd.DataFrame({"x": [1, 3]}), "d": raw}).commit()
    api.push("default")
    other = tmp_path_factory.mktemp("clone")
    api.init(other)
    monkeypatch.chdir(other)
    api.remote("default", "shared", remote)
    api.pull("default")
    repo = Repository.current()
    assert not repo.blobs.has(api.get("default", "s").record.data["items"][0][1]["blob"])
    d = api.diff("default", "s")
    assert [(c.path, c.kind, c.item) for c in d.data] == [
        ('["df"]', "column_changed", "x"), ('["df"]', "rows_changed", ""),
        ('["d"]', "file_changed", "a.txt")]
    entries = api.log("default", "s")
    assert [e.committed for e in entries] == [True, True]
    assert entries[0].size > 0


# --- log ----------------------------------------------------------------------------------------


def test_log_order_and_fields(ctx: str, project: Path) -> None:
    f = project / "f.bin"
    f.write_bytes(b"x" * 1000)
    first = api.Bundle(ctx, name="m", data={"a": str(f), "b": str(f)}, tags={"k": "v"})
    first.commit()
    second = api.Bundle(ctx, name="m", data=np.zeros(10), code_method="pkg.T",
                        vc_info=("r", "abc123", "main"))
    api.Bundle(ctx, name="other", data=1)
    entries = api.log(ctx, "m")
    assert [e.uuid for e in entries] == [second.uuid, first.uuid]
    newest, oldest = entries
    assert (oldest.committed, oldest.tags, oldest.size, oldest.code_commit) == (
        True, {"k": "v"}, 1000, "")  # the same file twice counts once
    assert (newest.committed, newest.code_commit, newest.size) == (False, "abc123", 208)
    assert newest.created > oldest.created and newest.created.tzinfo is not None
    assert newest.processing_name == second.processing_name
    assert [e.name for e in api.log(ctx, all=True)] == ["other", "m", "m"]
    with pytest.raises(UsageError):
        api.log(ctx)
    with pytest.raises(UsageError):
        api.log(ctx, "m", all=True)
    assert api.log(ctx, "nothing") == []


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_log_text_and_json(ctx: str) -> None:
    api.switch(ctx)
    b = api.Bundle(ctx, name="m", data=np.zeros(10), tags={"k": "v"})
    lines = ok("log", "m").lines
    assert lines[0].split()[:3] == ["UUID", "DATE", "COMMITTED"]
    assert lines[1].startswith(b.uuid) and "208 B" in lines[1] and "[k]:[v]" in lines[1]
    [entry] = json.loads(ok("log", "m", "--json").out)
    assert entry["uuid"] == b.uuid and entry["size"] == 208 and entry["committed"] is False
    assert ok("log", "--all", "-c", ctx).lines[0].startswith("NAME")
    assert dsdt_cli("log").code == 2
    assert dsdt_cli("log", "nothing").code == 4


def test_cli_diff_text_and_json(ctx: str) -> None:
    api.switch(ctx)
    api.Bundle(ctx, name="s", data={"df": pd.DataFrame({"a": [1, 2]}), "n": 1}, tags={"t": "1"})
    api.Bundle(ctx, name="s", data={"df": pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]}), "n": 2},
               tags={"t": "2"})
    lines = ok("diff", "s").lines
    assert lines[0].startswith("--- s ") and lines[1].startswith("+++ s ")
    assert lines[2:] == [
        "~ tag t: 1 -> 2",
        '~ ["df"] column a: int64 -> float64; content changed',
        '+ ["df"] column b: int64 (nulls 0, min 3, max 4, mean 3.5)',
        '~ ["df"] rows changed: at most 2 (1 of 1 blocks of 65,536 rows)',
        '~ ["n"]: 1 -> 2',
    ]
    out = json.loads(ok("diff", "s", "--json").out)
    assert out["tags"]["changed"] == {"t": ["1", "2"]} and out["same"] is False
    assert out["data"][0] == {"path": '["df"]', "kind": "column_retyped", "item": "a",
                              "old": "int64", "new": "float64",
                              "detail": {"stats": {}, "content": "changed"}}
    uuids = [e.uuid for e in api.log(ctx, "s")]
    same = ok("diff", "-u", uuids[0], "-u", uuids[0]).lines
    assert same[-1] == "no differences"
    assert dsdt_cli("diff", "nothing").code == 4


def test_diff_of_ints_too_large_for_yaml(ctx: str) -> None:
    api.Bundle(ctx, name="big", data=10**5000)
    api.Bundle(ctx, name="big", data=10**5000 + 1)
    [change] = api.diff(ctx, "big").data
    assert str(change.old).startswith("0x") and change.old != change.new
