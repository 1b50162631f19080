"""Disdat code runs unchanged: tests written the way Disdat users write theirs.

Plain pytest functions calling ``api.*`` and luigi ``PipeTask``s run with a
real ``api.apply``; each one pins a behaviour Disdat code relies on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import luigi
import pytest

import dsdt.api as api
from dsdt.errors import ApplyError, BundleStateError
from dsdt.pipe import PipeTask

TEST_CONTEXT = "compat"
FOUND: dict[str, Any] = {}  # what add_external_dependency returned, by task


@pytest.fixture(autouse=True)
def _context(project: Path) -> Iterator[None]:
    api.delete_context(TEST_CONTEXT)  # as Disdat tests start: defensively
    api.context(TEST_CONTEXT)
    FOUND.clear()
    yield
    api.delete_context(TEST_CONTEXT, force=True)  # and end


class Producer(PipeTask):
    """Has a required parameter: it cannot be made without one."""

    n = luigi.IntParameter()

    def pipe_run(self) -> int:
        return self.n * 10


class ByUuid(PipeTask):
    ext = luigi.Parameter()

    def pipe_requires(self) -> None:
        FOUND["ByUuid"] = self.add_external_dependency("x", Producer, {}, uuid=self.ext)

    def pipe_run(self, x: int) -> int:
        return x + 1


class ByName(PipeTask):
    ext = luigi.Parameter(default="Producer")

    def pipe_requires(self) -> None:
        FOUND["ByName"] = self.add_external_dependency("x", Producer, {}, human_name=self.ext)

    def pipe_run(self, x: int) -> int:
        return x + 2


class ByParams(PipeTask):
    n = luigi.IntParameter()

    def pipe_requires(self) -> None:
        FOUND["ByParams"] = self.add_external_dependency("x", Producer, {"n": self.n})

    def pipe_run(self, x: int) -> int:
        return x + 3


class FallsBack(PipeTask):
    """Uses the bundle named ``raw`` if there is one, else makes its input."""

    def pipe_requires(self) -> None:
        if self.add_external_dependency("x", Producer, {}, human_name="raw") is None:
            self.add_dependency("x", Producer, {"n": 4})

    def pipe_run(self, x: int) -> int:
        return x


def test_delete_context_that_does_not_exist_returns_quietly() -> None:
    assert api.delete_context("never_made") is None
    api.delete_context(TEST_CONTEXT)
    assert api.delete_context(TEST_CONTEXT) is None  # twice: still quiet
    assert api.delete_context("never_made", remote=True, force=True) is None
    assert TEST_CONTEXT not in api.ls_contexts()
    assert api.context(f"shared/{TEST_CONTEXT}") == 0  # the remote/local form, as context()
    api.delete_context(f"shared/{TEST_CONTEXT}")
    assert TEST_CONTEXT not in api.ls_contexts()


def test_delete_context_never_needs_the_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    api.remote(TEST_CONTEXT, TEST_CONTEXT, str(remote))
    api.Bundle(TEST_CONTEXT, name="pushed", data=[1, 2]).commit()
    api.push(TEST_CONTEXT, "pushed")
    remote.rename(tmp_path / "gone")  # the remote cannot be read any more
    api.delete_context(TEST_CONTEXT)  # decided from what the push saw
    assert TEST_CONTEXT not in api.ls_contexts()


def test_bundle_tags_are_user_tags_and_params_are_params() -> None:
    b = api.Bundle(TEST_CONTEXT, name="x", data=1, tags={"k": "v"}, params={"p": "1"})
    assert b.tags == {"k": "v"} and b.user_tags == {"k": "v"} and b.params == {"p": "1"}
    got = api.get(TEST_CONTEXT, "x")
    assert got.tags == {"k": "v"} and got.params == {"p": "1"}
    got.commit()
    assert api.get(TEST_CONTEXT, "x").tags == {"k": "v", "committed": "True"}
    # as Disdat's search, tags match parameters by their __param. name
    assert [r.uuid for r in api.search(TEST_CONTEXT, tags={"__param.p": "1"})] == [b.uuid]
    assert api.search(TEST_CONTEXT, tags={"__param.p": "2"}) == []
    assert api.get(TEST_CONTEXT, None, uuid=b.uuid, tags={"__param.p": "1"}).uuid == b.uuid


def test_pipeline_bundle_tags_hold_no_params() -> None:
    api.apply(TEST_CONTEXT, Producer, params={"n": 3}, output_tags={"run": "a"})
    b = api.get(TEST_CONTEXT, "Producer")
    assert b.data == 30
    assert b.params == {"n": "3"}
    assert b.tags == {"run": "a", "root_task": "True"}


def test_is_committed_is_a_method_and_a_property() -> None:
    b = api.Bundle(TEST_CONTEXT, name="c", data="v")
    assert b.is_committed() is False and not b.is_committed and b.is_committed == False  # noqa: E712
    api.commit(TEST_CONTEXT, "c")
    b = api.get(TEST_CONTEXT, "c")
    assert b.is_committed() is True and b.is_committed and b.is_committed == True  # noqa: E712
    assert str(b.is_committed) == "True"
    assert [x.uuid for x in api.search(TEST_CONTEXT, "c") if x.is_committed()] == [b.uuid]


def test_external_dependency_by_uuid_needs_no_task_params() -> None:
    api.apply(TEST_CONTEXT, Producer, params={"n": 1})
    made = api.get(TEST_CONTEXT, "Producer")
    result = api.apply(TEST_CONTEXT, ByUuid, params={"ext": made.uuid})
    assert result["success"] is True
    assert FOUND["ByUuid"].uuid == made.uuid and FOUND["ByUuid"].data == 10
    out = api.get(TEST_CONTEXT, "ByUuid")
    assert out.data == 11 and out.dependencies["x"] == (made.processing_name, made.uuid)
    assert api.apply(TEST_CONTEXT, ByUuid, params={"ext": made.uuid})["did_work"] is False


def test_external_dependency_by_name_needs_no_task_params() -> None:
    api.apply(TEST_CONTEXT, Producer, params={"n": 2})
    api.apply(TEST_CONTEXT, ByName)
    assert FOUND["ByName"].data == 20
    assert api.get(TEST_CONTEXT, "ByName").data == 22


def test_external_dependency_missing_returns_none_and_fails_the_run() -> None:
    with pytest.raises(ApplyError, match=r"external dependency 'x' .* has no bundle in context "
                                         r"'compat'") as e:
        api.apply(TEST_CONTEXT, ByName, params={"ext": "nosuch"})
    assert FOUND["ByName"] is None
    planned = api.apply(TEST_CONTEXT, ByName, params={"ext": "nosuch"}, explain=True)["plan"]
    assert [(p["action"], p["reason"], p["uuid"]) for p in planned] == [
        ("missing", "no bundle", None), ("run", "no bundle", None)]
    assert "\n" not in str(e.value) and e.value.result == {"success": False, "did_work": False}
    with pytest.raises(ApplyError, match="uuid 00000000"):
        api.apply(TEST_CONTEXT, ByUuid, params={"ext": "00000000-0000-4000-8000-000000000000"})
    assert FOUND["ByUuid"] is None
    assert api.search(TEST_CONTEXT) == []


def test_external_dependency_by_params_missing_returns_none() -> None:
    api.apply(TEST_CONTEXT, Producer, params={"n": 5})
    api.apply(TEST_CONTEXT, ByParams, params={"n": 5})
    assert FOUND["ByParams"].data == 50 and api.get(TEST_CONTEXT, "ByParams").data == 53
    with pytest.raises(ApplyError, match="no bundle"):
        api.apply(TEST_CONTEXT, ByParams, params={"n": 6})
    assert FOUND["ByParams"] is None


def test_external_dependency_missing_lets_the_task_fall_back() -> None:
    api.apply(TEST_CONTEXT, FallsBack)
    assert api.get(TEST_CONTEXT, "FallsBack").data == 40  # made its own input
    api.Bundle(TEST_CONTEXT, name="raw", data=7)
    api.apply(TEST_CONTEXT, FallsBack)
    assert api.get(TEST_CONTEXT, "FallsBack").data == 7  # the existing bundle now


def test_calling_twice_and_asking_for_nothing_are_no_errors(tmp_path: Path) -> None:
    assert api.context(TEST_CONTEXT) == 1  # exists already
    assert api.get(TEST_CONTEXT, "nope") is None
    assert api.lineage(TEST_CONTEXT, "00000000-0000-4000-8000-000000000000") == []
    assert api.rm(TEST_CONTEXT, "nope") == [] and api.rm(TEST_CONTEXT, rm_all=True) == []
    api.remote(TEST_CONTEXT, TEST_CONTEXT, str(tmp_path))
    b = api.Bundle(TEST_CONTEXT, name="b", data={"k": [1, 2]})
    api.commit(TEST_CONTEXT, "b")
    api.commit(TEST_CONTEXT, "b")
    assert api.push(TEST_CONTEXT, "b").bundles == [b.uuid]
    assert api.push(TEST_CONTEXT, "b").bundles == []
    api.pull(TEST_CONTEXT)
    api.pull(TEST_CONTEXT, uuid=b.uuid, localize=True)
    assert b.rmr() == [b.uuid] and b.rmr() == []
    assert api.cat(TEST_CONTEXT, "b") == {"k": [1, 2]}


# -- the set-up and tear-down Disdat test files use ---------------------------------------


def test_a_context_of_uncommitted_bundles_is_deleted_as_in_disdat() -> None:
    for n in range(3):  # what one test leaves for the next test's set-up to delete
        api.Bundle(TEST_CONTEXT, name="scratch", data=n)
        api.delete_context(TEST_CONTEXT)
        api.context(TEST_CONTEXT)
        assert api.search(TEST_CONTEXT) == []


def test_a_committed_bundle_only_here_is_not_deleted_silently() -> None:
    api.Bundle(TEST_CONTEXT, name="kept", data=1).commit()
    with pytest.raises(BundleStateError, match="committed bundle"):
        api.delete_context(TEST_CONTEXT)
    api.delete_context(TEST_CONTEXT, force=True)
    assert TEST_CONTEXT not in api.ls_contexts()
