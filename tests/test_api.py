"""Behaviour of the documented API on a local repository (each test ends with fsck)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
from dsdt.errors import (
    BundleNotFoundError,
    BundleStateError,
    ContextNotFoundError,
    NotARepositoryError,
    RepositoryExistsError,
    UsageError,
)
from dsdt.ops import remote as ops_remote
from dsdt.repo import Repository


def test_contexts(project: Path) -> None:
    assert api.ls_contexts() == ["default"]
    assert api.current_context() == "default"
    assert api.context("features") == 0
    assert api.context("features") == 1
    assert api.context("origin/local2") == 0
    api.switch("features")
    assert api.current_context() == "features"
    infos = {c.name: c for c in api.contexts()}
    assert infos["features"].current and not infos["default"].current
    assert infos["local2"].remote_context == "origin"
    with pytest.raises(ContextNotFoundError):
        api.switch("nope")
    api.delete_context("features")
    assert "features" not in api.ls_contexts()
    assert api.current_context() == "default"
    assert_fsck_clean()


def test_init_twice_and_discovery(project: Path, tmp_path_factory: pytest.TempPathFactory,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RepositoryExistsError):
        api.init(project)
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert api.current_context() == "default"  # found by walking up
    elsewhere = tmp_path_factory.mktemp("norepo")
    monkeypatch.chdir(elsewhere)
    with pytest.raises(NotARepositoryError, match="dsdt init"):
        api.current_context()
    monkeypatch.setenv("DSDT_DIR", str(project / ".dsdt"))
    assert api.current_context() == "default"


def test_bundle_08_form_and_get(ctx: str) -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.Index([5, 6], name="id"))
    with api.Bundle(ctx, "scores") as b:
        b.add_data(df)
        b.add_tags({"model": "xgb"})
    got = api.get(ctx, "scores")
    assert got is not None and got.uuid == b.uuid
    pd.testing.assert_frame_equal(got.data, df)
    assert got.user_tags == {"model": "xgb"}
    assert got.closed and got.presentation == "DF"
    assert api.get(ctx, "scores", tags={"model": "lgbm"}) is None
    assert api.get(ctx, "nope") is None
    assert api.get(ctx, None, uuid=b.uuid).name == "scores"
    assert_fsck_clean()


def test_bundle_09_form(ctx: str) -> None:
    b = api.Bundle(ctx, name="x", data={"a": 1}, tags={"k": "v"}, params={"p": "1"})
    assert b.closed
    assert api.cat(ctx, "x") == {"a": 1}
    assert b.tags == {"k": "v"}  # parameters are not tags, as in Disdat
    assert b.user_tags == {"k": "v"} and b.params == {"p": "1"}
    empty = api.Bundle(ctx, name="nothing")
    assert not empty.closed and api.get(ctx, "nothing") is None
    assert_fsck_clean()


def test_with_block_that_raises_writes_nothing(ctx: str, project: Path) -> None:
    before = sorted(p.name for p in (project / ".dsdt").rglob("*") if "cache" not in p.parts)
    with pytest.raises(RuntimeError), api.Bundle(ctx, "boom") as b:
        b.add_data([1, 2, 3])
        Path(b.get_file("f.txt")).write_text("hello")
        raise RuntimeError("user code failed")
    after = sorted(p.name for p in (project / ".dsdt").rglob("*") if "cache" not in p.parts)
    assert before == after
    assert api.get(ctx, "boom") is None
    assert not Path(b.local_dir).exists()
    assert_fsck_clean()


def test_unknown_context_raises(project: Path) -> None:
    with pytest.raises(ContextNotFoundError):
        api.Bundle("missing", "x")
    with pytest.raises(ContextNotFoundError):
        api.get("missing", "x")


def test_state_errors(ctx: str) -> None:
    b = api.Bundle(ctx, name="x", data=1)
    with pytest.raises(BundleStateError):
        b.add_data(2)
    with pytest.raises(BundleStateError):
        b.add_tags({"a": "b"})
    with pytest.raises(BundleStateError):
        api.Bundle(ctx, "y").cat()


def test_bundle_without_with_says_how_to_open_it(ctx: str) -> None:
    b = api.Bundle(ctx, "scores")  # the 0.8 form, used without `with`
    calls = {"add_data": lambda: b.add_data(1), "add_tags": lambda: b.add_tags({"a": "b"}),
             "make_file": lambda: b.make_file("f.csv"), "get_file": lambda: b.get_file("f"),
             "add_params": lambda: b.add_params({"p": "1"}), "cat": b.cat, "close": b.close,
             "uuid": lambda: b.uuid, "commit": b.commit}
    for what, call in calls.items():
        with pytest.raises(BundleStateError) as e:
            call()
        assert str(e.value) == (
            "bundle 'scores' is not open: use `with api.Bundle('t', 'scores') as b:` "
            "(or call b.open() first, and b.close() to write it)"), what
    b.open()  # what the message says works: open, add, close
    b.add_data(1)
    assert b.close().closed and api.get(ctx, "scores").data == 1
    with pytest.raises(BundleStateError, match=r"^bundle 'scores' is closed .*new Bundle"):
        b.add_tags({"a": "b"})
    with pytest.raises(BundleStateError, match=r"^bundle '\(unnamed\)' is not open: "
                                               r"use `with api.Bundle\('t'\) as b:`"):
        api.Bundle(ctx).add_data(1)
    with pytest.raises(KeyError), api.Bundle(ctx, "boom") as doomed:
        raise KeyError("boom")
    for call in (lambda: doomed.add_data(1), doomed.cat):
        with pytest.raises(BundleStateError, match=r"^bundle was abandoned .*: make a new Bundle$"):
            call()
    assert_fsck_clean()


def test_managed_files(ctx: str) -> None:
    with api.Bundle(ctx, "files") as b:
        target = b.make_file("out.csv")
        with target.open("w") as f:
            f.write("a,b\n1,2\n")
        d = b.make_directory("sub/dir")
        Path(d, "x.txt").write_text("x")
        plain = b.get_file("nested/plain.txt")
        Path(plain).write_text("plain")
        many = b.make_file({"m": "m.txt"})
        many["m"].open("w").close()
        b.add_data({"csv": target, "dir": d, "plain": plain, "m": many["m"]})
    data = api.get(ctx, "files").data
    assert Path(data["csv"]).read_text() == "a,b\n1,2\n"
    assert Path(data["csv"]).name == "out.csv"
    assert Path(data["dir"], "x.txt").read_text() == "x"
    assert data["plain"].endswith("nested/plain.txt")
    assert os.stat(data["csv"]).st_mode & 0o222 == 0  # presented files are read-only
    assert_fsck_clean()


def test_copy_in_file_and_db_table(ctx: str, project: Path) -> None:
    src = project / "orig.bin"
    src.write_bytes(b"\x00\x01")
    with api.Bundle(ctx, "copy") as b:
        t = b.copy_in_file(str(src))
        link = b.db_table("postgres://db", "t", "s")
        b.add_data([t, link])
    src.unlink()  # the bundle has its own copy
    f, link2 = api.cat(ctx, "copy")
    assert Path(f).read_bytes() == b"\x00\x01"
    assert link2 == link and link2.table_name == "t"
    assert_fsck_clean()


def test_add_file_dir_and_list(ctx: str, project: Path) -> None:
    raw = project / "data" / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "a.txt").write_text("A")
    (raw / "sub" / "b.txt").write_text("B")
    (raw / "empty").mkdir()
    b = api.add(ctx, "raw", str(raw), tags={"stage": "dev"})
    files = b.data
    assert sorted(Path(f).relative_to(b.local_dir).as_posix() for f in files) == [
        "raw/a.txt", "raw/sub/b.txt"]
    assert (Path(b.local_dir) / "raw" / "empty").is_dir()
    model = project / "model.pkl"
    model.write_bytes(b"m")
    m = api.add(ctx, "model", str(model))
    assert Path(m.data).name == "model.pkl" and Path(m.data).read_bytes() == b"m"
    both = api.add(ctx, "both", [str(model), str(raw / "a.txt")])
    assert [Path(p).name for p in both.data] == ["model.pkl", "a.txt"]
    assert m.code_ref == "add"
    assert_fsck_clean()


def test_search_filters(ctx: str) -> None:
    a = api.Bundle(ctx, name="scores", data=1, tags={"model": "xgb"})
    time.sleep(0.01)
    b = api.Bundle(ctx, name="scores", data=2, tags={"model": "lgbm"})
    c = api.Bundle(ctx, name="sc.x", data=3)
    api.Bundle(ctx, name="scYx", data=4)
    api.commit(ctx, "scores", uuid=a.uuid)
    names = lambda bs: [x.uuid for x in bs]  # noqa: E731
    assert names(api.search(ctx, search_name="scores")) == [b.uuid, a.uuid]
    assert names(api.search(ctx, "sc*", {"model": "xgb"})) == [a.uuid]
    assert names(api.search(ctx, human_name="scores", tags={"model": "lgbm"})) == [b.uuid]
    assert names(api.search(ctx, "sc.x")) == [c.uuid]  # '.' is literal, not a wildcard
    assert names(api.search(ctx, "scores", is_committed=True)) == [a.uuid]
    assert names(api.search(ctx, "scores", is_committed=False)) == [b.uuid]
    assert names(api.search(ctx, search_tags={"committed": "True"})) == [a.uuid]
    assert api.search(ctx, processing_name=a.processing_name)[0].processing_name == \
        a.processing_name
    assert len(api.search(ctx, after="01-01-2000", before="01-01-2100")) == 4
    assert api.search(ctx, before="01-01-2000") == []
    assert len(api.search(ctx, latest_per_name=True)) == 3
    with pytest.raises(UsageError):
        api.search(ctx, before="2000/01/01 nonsense")


def test_roots_and_intermediates(ctx: str) -> None:
    api.Bundle(ctx, name="root", data=1, tags={"root_task": "True"})
    api.Bundle(ctx, name="mid", data=2)
    assert [b.name for b in api.search(ctx, find_roots=True)] == ["root"]
    assert [b.name for b in api.search(ctx, find_intermediates=True)] == ["mid"]


def test_rm_variants(ctx: str) -> None:
    olds = [api.Bundle(ctx, name="m", data=i) for i in range(3)]
    other = api.Bundle(ctx, name="n", data=0)
    assert api.rm(ctx, "m") == [olds[-1].uuid]
    assert api.cat(ctx, "m") == 1
    api.Bundle(ctx, name="m", data=9)
    assert sorted(api.rm(ctx, "m", rm_old_only=True)) == sorted(u.uuid for u in olds[:2])
    assert api.cat(ctx, "m") == 9
    with pytest.raises(UsageError):
        api.rm(ctx)  # no name: refuse rather than remove "the newest of anything"
    api.commit(ctx, "n")
    with pytest.raises(BundleStateError, match="committed"):
        api.rm(ctx, "n")
    assert api.rm(ctx, "n", force=True) == [other.uuid]
    api.rm(ctx, rm_all=True)
    assert api.search(ctx) == []
    assert_fsck_clean()


def test_rm_old_is_per_name(ctx: str) -> None:
    for name in ("a1", "a2"):
        for i in range(2):
            api.Bundle(ctx, name=name, data=i)
    api.rm(ctx, "a*", rm_old_only=True)
    assert sorted((b.name, b.data) for b in api.search(ctx)) == [("a1", 1), ("a2", 1)]


def test_commit_idempotent_and_missing(ctx: str) -> None:
    api.Bundle(ctx, name="x", data=1)
    assert api.commit(ctx, "x").is_committed
    api.commit(ctx, "x")
    with pytest.raises(BundleNotFoundError):
        api.commit(ctx, "nope")
    with pytest.raises(BundleNotFoundError):
        api.cat(ctx, "nope")


def test_lineage_bfs(ctx: str) -> None:
    a = api.Bundle(ctx, name="a", data=1)
    with api.Bundle(ctx, "b") as b:
        b.add_data(2)
        b.add_dependencies(a, ["inp"])
    with api.Bundle(ctx, "c") as c:
        c.add_data(3)
        c.add_dependencies([a, b], ["x", "y"])
    walk = api.lineage(ctx, c.uuid)
    assert [(d, u) for d, u, _ in walk] == [(0, c.uuid), (1, a.uuid), (1, b.uuid)]
    assert walk[0][2].depends_on[1].arg_name == "y"
    assert b.dependencies == {"inp": (a.processing_name, a.uuid)}
    assert [u for _, u, _ in api.lineage(ctx, c.uuid, max_depth=0)] == [c.uuid]
    assert api.lineage(ctx, "00000000-0000-4000-8000-000000000000") == []
    api.rm(ctx, "a")
    assert api.lineage(ctx, b.uuid)[1][2] is None


def test_processing_names(ctx: str) -> None:
    x = api.Bundle(ctx, name="x", data=1)
    y = api.Bundle(ctx, name="y", data=1)
    assert x.processing_name != y.processing_name  # no more _d41d8cd98f_d41d8cd98f collisions
    p1 = api.Bundle(ctx, name="p", data=1, params={"a": "1", "b": "2"})
    p2 = api.Bundle(ctx, name="p", data=1, params={"b": "1", "a": "2"})
    assert p1.processing_name != p2.processing_name  # keys are hashed with values
    assert api.Bundle(ctx, name="p", data=5, params={"a": "1", "b": "2"}).processing_name == \
        p1.processing_name


def test_uncommitted_history_limit(ctx: str, project: Path) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("uncommitted_history: null",
                                           "uncommitted_history: 1"))
    Repository.forget()
    first = api.Bundle(ctx, name="h", data=0)
    api.commit(ctx, "h")
    for i in range(1, 5):
        api.Bundle(ctx, name="h", data=i)
    kept = sorted(b.data for b in api.search(ctx, "h"))
    assert kept == [0, 3, 4]  # the committed one, the newest, and one older uncommitted
    assert api.get(ctx, None, uuid=first.uuid) is not None
    assert_fsck_clean()


def test_vc_info_and_code_ref(ctx: str) -> None:
    b = api.Bundle(ctx, name="v", data=1, code_method="pkg.mod.Task",
                   vc_info=("git@x:y.git", "abc123", "main"), start_time=1.0, stop_time=2.5)
    assert b.git_info == {"repo": "git@x:y.git", "commit": "abc123", "branch": "main",
                          "dirty": False}
    assert b.code_ref == "pkg.mod.Task" and b.timing == (1.0, 2.5)
    unnamed = api.Bundle(ctx, data=3, code_method="pkg.mod.Task")
    assert unnamed.name == "Task"


def test_status(ctx: str) -> None:
    api.switch(ctx)
    api.Bundle(ctx, name="s", data=1)
    st = api.status()
    assert st["context"] == ctx and st["bundles"] == 1 and st["names"] == 1


def test_delete_context_with_committed_needs_force(ctx: str) -> None:
    api.Bundle(ctx, name="x", data=1).commit()
    with pytest.raises(BundleStateError, match="force"):
        api.delete_context(ctx)
    api.delete_context(ctx, force=True)
    assert ctx not in api.ls_contexts()


def test_status_of_another_context_and_error_messages(ctx: str, project: Path) -> None:
    api.Bundle(ctx, name="s", data=1).commit()
    st = api.status(ctx)
    assert (st["context"], st["bundles"], st["committed"]) == (ctx, 1, 1)
    with pytest.raises(BundleNotFoundError, match="with uuid"):
        api.cat(ctx, None, uuid="00000000-0000-4000-8000-000000000000")
    (project / "afile").write_text("x")
    from dsdt.errors import PathError

    with pytest.raises(PathError, match="is a file"):
        api.init(project / "afile")


def test_cache_deleted_under_a_running_process(ctx: str, project: Path) -> None:
    import shutil

    api.Bundle(ctx, name="a", data=b"x" * 5000)
    shutil.rmtree(project / ".dsdt" / "cache")  # e.g. a user reclaiming disk
    b = api.Bundle(ctx, name="b", data=pd.DataFrame({"x": [1]}))
    api.Bundle(ctx, name="c", data=b"y" * 5000)
    assert api.cat(ctx, "c") == b"y" * 5000 and b.data.shape == (1, 1)
    assert api.get(ctx, "a") is not None  # its record is still listed; its data is gone
    assert not api.fsck().ok  # ...and fsck says so


def test_a_bundle_acts_on_its_own_repository(project: Path, tmp_path: Path) -> None:
    """Bundle(..., repo=B) removes, pushes and pulls in B, whatever repository is current."""
    other = Repository.init(tmp_path / "other")
    here = api.Bundle("default", name="x", data=1)
    there = api.Bundle("default", name="x", data=2, repo=other)
    (tmp_path / "remote").mkdir()
    ops_remote.bind(other, "default", "shared", str(tmp_path / "remote"))
    there.commit().push()
    assert [e.name for e in ops_remote.sync.open_remote(other, "default").members().values()] \
        == ["x"]
    there.rm()
    assert other.member_sha("default", there.uuid) is None
    assert api.get("default", "x").uuid == here.uuid  # the current repository is untouched
    there.pull()
    assert other.member_sha("default", there.uuid) is not None
    assert there.rmr() == [there.uuid]
