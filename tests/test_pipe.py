"""Pipelines: real luigi builds (local scheduler, one worker) of dsdt PipeTasks."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pipe_tasks as pt
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import ApplyError, UsageError


def _labels(ctx: str, tmp: Path, text: str = "l1,l2", tags: dict[str, str] | None = None) -> str:
    f = tmp / "labels.csv"
    f.write_text(text)
    return api.add(ctx, "labels", f, tags=tags).uuid


def test_user_story(ctx: str, project: Path) -> None:
    _labels(ctx, project)
    assert api.apply(ctx, pt.Train, params={"day": "2026-11-01"}) == {"success": True,
                                                                       "did_work": True}
    assert pt.RUNS == {"Clean": 1, "Train": 1}
    assert api.apply(ctx, pt.Train, params={"day": "2026-11-01"}) == {"success": True,
                                                                       "did_work": False}
    assert pt.RUNS == {"Clean": 1, "Train": 1}
    train = api.get(ctx, "Train")
    assert train.data["auc"] == 0.91
    model = Path(train.data["model"])
    assert model.name == "model.bin" and float(model.read_text()) > 6.0
    clean = api.get(ctx, "Clean")
    pd.testing.assert_frame_equal(clean.data, pt.load("2026-11-01"))
    assert train.tags["root_task"] == "True" and "root_task" not in clean.tags
    assert train.params == {"day": "2026-11-01", "lr": "0.1"}
    lin = train.lineage
    assert {d.arg_name: d.uuid for d in lin.depends_on} == {
        "clean": clean.uuid, "labels": api.get(ctx, "labels").uuid}
    assert lin.code_ref == "pipe_tasks.Train" and len(lin.code_hash) == 64
    assert lin.start_time <= lin.stop_time and lin.start_time > 0
    assert train.processing_name.startswith("Train_") and len(train.processing_name) == 22
    assert_fsck_clean()


def test_new_params_rerun_and_old_chain_is_reused(ctx: str, project: Path) -> None:
    _labels(ctx, project)
    api.apply(ctx, pt.Train, params={"day": "d1"})
    api.apply(ctx, pt.Train, params={"day": "d1", "lr": 0.5})
    assert pt.RUNS == {"Clean": 1, "Train": 2}
    api.apply(ctx, pt.Train, params={"day": "d2"})
    assert pt.RUNS == {"Clean": 2, "Train": 3}
    assert api.apply(ctx, pt.Train, params={"day": "d1"})["did_work"] is False
    assert_fsck_clean()


def test_mark_force_upstream_reruns_downstream(ctx: str) -> None:
    api.apply(ctx, pt.Sum)
    old = api.get(ctx, "Sum")
    api.apply(ctx, pt.Sum, params={"force_a": True})
    assert pt.RUNS == {"A": 2, "B": 1, "Sum": 2}
    new = api.get(ctx, "Sum")
    assert new.data["uuid_x"] != old.data["uuid_x"] == api.search(ctx, "A")[1].uuid
    assert new.data["tags_x"] == {} and api.get(ctx, "A").params["n"] == "1"  # tags: user's only
    assert_fsck_clean()


def test_swapped_arg_names_rerun(ctx: str) -> None:
    api.apply(ctx, pt.Sum)
    assert api.apply(ctx, pt.Sum, params={"swap": True})["did_work"] is True
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 2}
    assert api.get(ctx, "Sum").data["x"] == 20
    assert api.get(ctx, "Sum").processing_name != api.search(ctx, "Sum")[1].processing_name
    assert_fsck_clean()


def test_new_upstream_version_reruns_only_dependents(ctx: str) -> None:
    api.apply(ctx, pt.Top)
    assert pt.RUNS == {"A": 1, "B": 1, "Sum": 1, "OnlyB": 1, "Top": 1}
    api.apply(ctx, pt.A, force=True)  # a new version of A's bundle
    assert api.apply(ctx, pt.Top)["did_work"] is True
    assert pt.RUNS == {"A": 2, "B": 1, "Sum": 2, "OnlyB": 1, "Top": 2}
    assert api.get(ctx, "Sum").dependencies["x"][1] == api.get(ctx, "A").uuid
    assert_fsck_clean()


def test_force_and_force_all_never_rerun_externals(ctx: str, project: Path) -> None:
    labels = _labels(ctx, project)
    api.apply(ctx, pt.Train, params={"day": "d"})
    api.apply(ctx, pt.Train, params={"day": "d"}, force=True)
    assert pt.RUNS == {"Clean": 1, "Train": 2}
    api.apply(ctx, pt.Train, params={"day": "d"}, force_all=True)
    assert pt.RUNS == {"Clean": 2, "Train": 3}
    assert [b.uuid for b in api.search(ctx, "labels")] == [labels]
    assert api.get(ctx, "Train").dependencies["labels"][1] == labels
    api.apply(ctx, pt.Top, force_all=True)
    assert pt.RUNS["A"] == 1 and pt.RUNS["Top"] == 1
    assert_fsck_clean()


def test_missing_external_is_a_clear_error(ctx: str) -> None:
    with pytest.raises(ApplyError, match=r"^pipeline Train failed: external dependency "
                       r"'labels' \(BundleWrapperTask .*\) has no bundle in context 't'; make it "
                       r"first") as e:
        api.apply(ctx, pt.Train, params={"day": "d"})
    assert "\n" not in str(e.value) and e.value.result["success"] is False
    assert pt.RUNS == {"Clean": 1}  # what needs no missing input still runs
    with pytest.raises(ApplyError, match="uuid 00000000"):
        api.apply(ctx, pt.UsesExternal,
                  params={"ext_uuid": "00000000-0000-4000-8000-000000000000"})
    assert "Train" not in pt.RUNS and "UsesExternal" not in pt.RUNS
    assert [b.name for b in api.search(ctx)] == ["Clean"]
    assert_fsck_clean()


def test_external_by_uuid_and_input_tags(ctx: str, project: Path) -> None:
    old = _labels(ctx, project, "old", tags={"ver": "1"})
    new = _labels(ctx, project, "new")
    api.apply(ctx, pt.UsesExternal)
    assert api.get(ctx, "UsesExternal").data["uuid"] == new
    api.apply(ctx, pt.UsesExternal, input_tags={"ver": "1"})
    assert api.get(ctx, "UsesExternal").data["uuid"] == old
    assert pt.RUNS == {"UsesExternal": 2}
    api.apply(ctx, pt.UsesExternal, params={"ext_uuid": old})
    assert Path(api.get(ctx, "UsesExternal").data["e"]).read_text() == "old"
    with pytest.raises(ApplyError, match="no bundle"):
        api.apply(ctx, pt.UsesExternal, input_tags={"ver": "9"})
    assert_fsck_clean()


def test_input_tags_select_reused_upstream_bundles(ctx: str) -> None:
    api.apply(ctx, pt.Sum)
    api.apply(ctx, pt.Sum, input_tags={"batch": "7"})  # no tagged inputs yet: made now
    assert pt.RUNS == {"A": 2, "B": 2, "Sum": 2}
    assert api.get(ctx, "A", tags={"batch": "7"}) is not None
    assert api.apply(ctx, pt.Sum, input_tags={"batch": "7"})["did_work"] is False
    assert_fsck_clean()


_EXPECTED: dict[str, Any] = {
    "int": 3, "float": 2.5, "str": "hi", "bool": True, "none": None, "bytes": b"\x00b",
    "list": [1, "a", None], "tuple": (1, 2), "dict": {"a": 1, "b": "s", "c": [1]},
    "set": {1, 2}, "nested": {"a": {"b": [1, {"c": 2}]}},
}


def test_every_output_type_round_trips(ctx: str) -> None:
    for kind, expected in _EXPECTED.items():
        api.apply(ctx, pt.Echo, params={"kind": kind})
        assert api.get(ctx, "Echo").data == expected, kind
        assert api.get(ctx, "Value").data == expected, kind
    api.apply(ctx, pt.Echo, params={"kind": "df"})
    pd.testing.assert_frame_equal(api.get(ctx, "Echo").data,
                                  pd.DataFrame({"a": [1, 2]}, index=[5, 6]))
    api.apply(ctx, pt.Echo, params={"kind": "series"})
    pd.testing.assert_series_equal(api.get(ctx, "Echo").data,
                                   pd.Series([1.5, 2.5], name="s"))
    api.apply(ctx, pt.Echo, params={"kind": "array"})
    np.testing.assert_array_equal(api.get(ctx, "Echo").data, np.arange(6).reshape(2, 3))
    api.apply(ctx, pt.Echo, params={"kind": "file"})
    assert Path(api.get(ctx, "Value").data).read_text() == "file"
    assert Path(api.get(ctx, "Echo").data).read_text() == "file"
    api.apply(ctx, pt.Echo, params={"kind": "files"})
    files = api.get(ctx, "Echo").data
    assert {k: Path(v).read_text() for k, v in files.items()} == {"a": "a", "b": "b"}
    api.apply(ctx, pt.Echo, params={"kind": "dir"})
    assert [Path(p).read_text() for p in api.get(ctx, "Echo").data] == ["x"]
    assert_fsck_clean()


def test_failing_task_leaves_nothing_and_upstream_stays(ctx: str, project: Path) -> None:
    with pytest.raises(api.ApplyError, match="Fails") as err:
        api.apply(ctx, pt.Fails)
    assert err.value.result == {"success": False, "did_work": True}
    assert [b.name for b in api.search(ctx)] == ["A"]
    assert not list((project / ".dsdt").rglob("half.txt"))
    assert pt.RUNS == {"A": 1}
    assert_fsck_clean()


def test_output_bundle_tags_and_uuid(ctx: str) -> None:
    u = "12345678-1234-4123-8123-123456789abc"
    api.apply(ctx, pt.Tagged, output_bundle="named", output_tags={"v": "1"},
              output_bundle_uuid=u)
    b = api.get(ctx, None, uuid=u)
    assert b.name == "named" and b.data == "t"
    assert b.user_tags == {"v": "1", "root_task": "True", "made_by": "tagged",
                           "__transient": "True", "__push_meta": "True"}
    assert api.apply(ctx, pt.Tagged, output_bundle="named",
                     output_tags={"v": "1"})["did_work"] is False
    assert api.apply(ctx, pt.Tagged, output_bundle="named",
                     output_tags={"v": "2"})["did_work"] is True
    plan = api.apply(ctx, pt.Tagged, explain=True)["plan"]
    assert [p["reason"] for p in plan] == ["renamed"]
    api.apply(ctx, pt.Tagged)
    assert api.get(ctx, "tagged_out").user_tags["made_by"] == "tagged"
    assert_fsck_clean()


def test_processing_names_include_inherited_params_and_class(ctx: str) -> None:
    api.apply(ctx, pt.Child)
    api.apply(ctx, pt.Child, params={"alpha": 2})
    api.apply(ctx, pt.Other)
    child1, child2 = api.search(ctx, "Child")[::-1]
    other = api.get(ctx, "Other")
    assert len({child1.processing_name, child2.processing_name, other.processing_name}) == 3
    assert child2.params == {"alpha": "2"} and child2.data == 2
    assert pt.A(n=1).processing_name != pt.B(n=1).processing_name
    assert_fsck_clean()


_MODULE = '''
from dsdt.pipe import PipeTask


class Edited(PipeTask):
    def pipe_run(self):
        return {value!r}
'''


def test_code_change_reruns(ctx: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = project / "edited_tasks_mod.py"
    src.write_text(_MODULE.format(value=1))
    monkeypatch.syspath_prepend(str(project))
    mod = importlib.import_module("edited_tasks_mod")
    try:
        api.apply(ctx, mod.Edited)
        assert api.apply(ctx, mod.Edited)["did_work"] is False
        src.write_text(_MODULE.format(value="two"))
        mod = importlib.reload(mod)
        plan = api.apply(ctx, mod.Edited, explain=True)["plan"]
        assert [(p["action"], p["reason"]) for p in plan] == [("run", "code changed")]
        assert api.apply(ctx, mod.Edited)["did_work"] is True
        assert api.get(ctx, "Edited").data == "two"
    finally:
        sys.modules.pop("edited_tasks_mod", None)
    assert_fsck_clean()


def test_explain_runs_nothing(ctx: str) -> None:
    out = api.apply(ctx, pt.Top, explain=True)
    assert out["success"] is True and out["did_work"] is False
    assert [(p["action"], p["reason"]) for p in out["plan"]] == [("run", "no bundle")] * 5
    assert out["plan"][-1]["task"] == "Top()"
    assert api.search(ctx) == [] and pt.RUNS == {}
    api.apply(ctx, pt.Sum)
    plan = api.apply(ctx, pt.Sum, params={"swap": True}, force_all=False, explain=True)["plan"]
    assert [(p["action"], p["reason"]) for p in plan] == [
        ("reuse", "reused"), ("reuse", "reused"), ("run", "new params")]
    assert plan[0]["uuid"] == api.get(ctx, "A").uuid and plan[2]["uuid"] is None
    plan = api.apply(ctx, pt.Sum, params={"force_a": True}, explain=True)["plan"]
    assert [p["reason"] for p in plan] == ["forced", "reused", "upstream changed"]
    assert_fsck_clean()


def test_bad_dependencies_are_usage_errors(ctx: str) -> None:
    with pytest.raises(UsageError, match="twice"):
        api.apply(ctx, pt.BadDeps, params={"mode": "dup"})
    with pytest.raises(UsageError, match="must be a dict"):
        api.apply(ctx, pt.BadDeps, params={"mode": "list"})
    with pytest.raises(UsageError, match="PipeTask"):
        api.apply(ctx, int)
    assert_fsck_clean()


def test_bad_root_parameters_are_usage_errors(ctx: str) -> None:
    with pytest.raises(UsageError, match=r"^Train needs a value for its day parameter"):
        api.apply(ctx, pt.Train)
    with pytest.raises(UsageError, match=r"^Train has no parameter dya; its parameters: day, lr"):
        api.apply(ctx, pt.Train, params={"dya": "x"})
    with pytest.raises(UsageError, match="data_context is set by apply itself"):
        api.apply(ctx, pt.Train, params={"day": "d", "data_context": "other"})
    assert api.search(ctx) == []
