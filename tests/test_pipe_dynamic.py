"""Dynamic dependencies (``yield_dependency``): real luigi builds."""

from __future__ import annotations

import pipe_tasks as pt
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api


def _deps(b: api.Bundle) -> dict[str, str]:
    return {d.arg_name: d.uuid for d in b.lineage.depends_on}


@pytest.mark.parametrize("workers", [1, 2])
def test_one_dynamic_dependency(ctx: str, workers: int) -> None:
    assert api.apply(ctx, pt.DynParent, workers=workers) == {"success": True, "did_work": True}
    parent, leaf = api.get(ctx, "DynParent"), api.get(ctx, "DynLeaf")
    assert parent.data["leaf"] == 101 and parent.data["b"] == 20
    assert parent.data["uuid"] == leaf.uuid and parent.data["tags"] == {}
    assert leaf.params["p"] == "1"
    assert _deps(parent) == {"b": api.get(ctx, "B").uuid, "leaf": leaf.uuid}
    assert _deps(leaf) == {"a": api.get(ctx, "A").uuid}
    if workers == 1:
        assert pt.RUNS["DynLeaf"] == 1 and pt.RUNS["A"] == 1
    assert api.apply(ctx, pt.DynParent, workers=workers)["did_work"] is False
    if workers == 1:
        assert pt.RUNS["DynLeaf"] == 1 and pt.RUNS["A"] == 1 and pt.RUNS["B"] == 1
    assert len(api.search(ctx, "DynParent")) == 1 and len(api.search(ctx, "DynLeaf")) == 1
    assert_fsck_clean()


def test_changed_params_rerun_dynamic_task(ctx: str) -> None:
    api.apply(ctx, pt.DynParent)
    old = api.get(ctx, "DynParent")
    assert api.apply(ctx, pt.DynParent, params={"p": 2})["did_work"] is True
    new = api.get(ctx, "DynParent")
    assert new.data["leaf"] == 201 and new.uuid != old.uuid
    assert pt.RUNS["DynLeaf"] == 2 and pt.RUNS["A"] == 1 and pt.RUNS["B"] == 1
    assert _deps(new)["leaf"] != _deps(old)["leaf"]
    # the old chain is still current
    assert api.apply(ctx, pt.DynParent)["did_work"] is False
    assert pt.RUNS["DynLeaf"] == 2
    assert_fsck_clean()


def test_upstream_of_dynamic_task_changes(ctx: str) -> None:
    api.apply(ctx, pt.DynParent)
    api.apply(ctx, pt.A, force=True)  # a newer A: DynLeaf's recorded input is stale
    assert api.apply(ctx, pt.DynParent)["did_work"] is True
    assert pt.RUNS["DynLeaf"] == 2
    leaf = api.get(ctx, "DynLeaf")
    assert _deps(leaf)["a"] == api.get(ctx, "A").uuid
    assert _deps(api.get(ctx, "DynParent"))["leaf"] == leaf.uuid
    assert api.apply(ctx, pt.DynParent)["did_work"] is False
    assert_fsck_clean()


@pytest.mark.parametrize("workers", [1, 2])
def test_two_dynamic_dependencies(ctx: str, workers: int) -> None:
    api.apply(ctx, pt.DynTwo, workers=workers)
    two = api.get(ctx, "DynTwo")
    assert two.data == 101 + 201
    leaves = {b.params["p"]: b.uuid for b in api.search(ctx, "DynLeaf")}
    assert _deps(two) == {"one": leaves["1"], "two": leaves["2"]}
    assert api.apply(ctx, pt.DynTwo, workers=workers)["did_work"] is False
    assert len(api.search(ctx, "DynTwo")) == 1
    assert_fsck_clean()


def test_dynamic_task_below_static_root(ctx: str) -> None:
    assert api.apply(ctx, pt.DynUpper)["did_work"] is True
    assert api.get(ctx, "DynUpper").data == 301
    assert api.apply(ctx, pt.DynUpper)["did_work"] is False
    assert pt.RUNS["DynLeaf"] == 1 and pt.RUNS["DynUpper"] == 1
    assert_fsck_clean()
