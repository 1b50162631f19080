"""Tests of the ``dsdt`` command line (in process through ``main``, and as a real process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from clirun import dsdt_cli, fails, fsck_ok, ok, runner

import dsdt
from dsdt import api
from dsdt.commands.app import app

VERBS = ["init", "context", "switch", "status", "ls", "cat", "add", "rm", "commit", "lineage",
         "fsck"]
DSDT_BIN = Path(sys.executable).parent / "dsdt"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, with no DSDT_DIR."""
    monkeypatch.delenv("DSDT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def repo(here: Path) -> Path:
    """A fresh repository (made with ``dsdt init``) as the current directory."""
    ok("init")
    (here / "f.txt").write_text("hello\n")
    return here


def add(name: str, *extra: str) -> str:
    """``dsdt add`` a small file; return the new uuid."""
    return ok("add", name, "f.txt", *extra).out.strip()


# --- global options and help --------------------------------------------------------------


def test_help_lists_every_verb() -> None:
    r = ok("--help")
    for verb in VERBS:
        assert verb in r.out
    assert "--version" in r.out and "--profile" in r.out


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb: str) -> None:
    r = ok(verb, "--help")
    assert r.out.startswith(f"Usage: dsdt {verb}")
    assert len(r.out.splitlines()) > 4


def test_typer_runner_invoke_works() -> None:
    result = runner.invoke(app, ["ls", "-h"])
    assert result.exit_code == 0 and "--latest-by-date" in result.stdout


def test_version() -> None:
    assert ok("--version").out == f"dsdt {dsdt.__version__}\n"


def test_no_subcommand_prints_help_and_exits_2() -> None:
    r = dsdt_cli()
    assert r.code == 2
    assert "Commands:" in r.out + r.err


def test_unknown_option_is_usage_error(repo: Path) -> None:
    r = dsdt_cli("ls", "--no-such-flag")
    assert r.code == 2 and "No such option" in r.err


def test_profile_sets_aws_profile(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "before")
    ok("--profile", "research", "status")
    assert os.environ["AWS_PROFILE"] == "research"


def test_global_verbose(repo: Path) -> None:
    ok("-v", "status")


def test_keyboard_interrupt_exits_130(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "status", interrupted)
    assert dsdt_cli("status").code == 130


# --- init, context, switch, status ------------------------------------------------------


def test_no_repository(here: Path) -> None:
    for args in (("ls",), ("status",), ("context",), ("add", "x", "f.txt")):
        assert "dsdt init" in fails(3, *args)


def test_init(here: Path) -> None:
    r = ok("init")
    assert r.out == f"Initialized empty dsdt repository in {here / '.dsdt'}\n"
    assert "already" in fails(3, "init")
    ok("init", "sub")
    assert (here / "sub" / ".dsdt" / "config.yaml").is_file()
    fsck_ok()


def test_context_create_list_delete(repo: Path) -> None:
    assert ok("context", "work").out == "Created context work\n"
    assert ok("context", "work").out == "Context work already exists\n"
    assert ok("context", "origin/other").out.startswith(
        "Created context other, bound to remote context origin")
    assert ok("context").lines == [
        "*\tdefault", "\tother\t[origin@(no URL yet: dsdt remote)]", "\twork"]
    assert ok("switch", "work").out == "Switched to context work\n"
    assert ok("context").lines[2] == "*\twork"
    r = ok("context", "-d", "work")
    assert r.lines == ["Deleted context work",
                       "work was the current context; the current context is now default"]
    assert ok("context", "-d", "other").lines == ["Deleted context other"]
    assert "work" not in ok("context").out
    fsck_ok()


def test_context_delete_refuses_to_drop_data_only_here(repo: Path) -> None:
    ok("context", "w")
    ok("add", "x", "f.txt", "-c", "w")
    assert "only here" in fails(7, "context", "-d", "w")  # uncommitted: never pushed
    ok("commit", "x", "-c", "w")
    assert "force" in fails(7, "context", "-d", "w")
    assert "no remote" in fails(11, "context", "-d", "-r", "-f", "w")
    ok("context", "-d", "-f", "w")
    fsck_ok()


def test_context_flag_misuse(repo: Path) -> None:
    fails(2, "context", "-f", "x")
    fails(2, "context", "-d")
    fails(2, "context", "bad name")
    assert "'nope'" in fails(4, "context", "-d", "nope")


def test_switch_unknown_context(repo: Path) -> None:
    assert "'nope'" in fails(4, "switch", "nope")
    assert ok("status").lines[1].endswith("default")


def test_no_current_context(repo: Path) -> None:
    ok("context", "w")
    ok("switch", "w")
    ok("context", "-d", "default")
    ok("context", "-d", "w")
    assert "no current context" in fails(4, "ls")
    assert "'nope'" in fails(4, "switch", "nope")
    assert ok("status").lines[1] == "context:    (none)"
    ok("context", "x")
    ok("switch", "x")
    assert ok("ls").out == ""
    fsck_ok()


def test_status(repo: Path) -> None:
    add("a")
    add("a")
    add("b")
    ok("commit", "b")
    r = ok("status")
    assert r.lines == [f"repository: {repo / '.dsdt'}", "context:    default",
                       "remote:     none", "bundles:    3 (1 committed, 2 name(s))",
                       "data:       3 local, 0 remote, 0 nowhere, 0 unknown"]
    info = json.loads(ok("status", "--json").out)
    assert info["bundles"] == 3 and info["context"] == "default"
    assert info["data"] == {"local": 3, "remote": 0, "nowhere": 0, "unknown": 0}
    ok("context", "w")
    other = json.loads(ok("status", "-c", "w", "--json").out)
    assert (other["context"], other["bundles"], other["committed"]) == ("w", 0, 0)
    fails(4, "status", "-c", "nope")
    fsck_ok()


# --- add ------------------------------------------------------------------------------


def test_add_file_with_tag_containing_colons(repo: Path) -> None:
    uuid = add("a", "-t", "url:http://x:8080/p", "-t", "k:")
    assert re.fullmatch(r"[0-9a-f-]{36}", uuid)
    b = api.get("default", "a")
    assert b is not None and b.uuid == uuid
    assert b.user_tags == {"url": "http://x:8080/p", "k": ""}
    assert ok("cat", "a").out.strip().endswith("f.txt")
    fsck_ok()


def test_add_directory_and_several_paths(repo: Path) -> None:
    (repo / "d").mkdir()
    (repo / "d" / "x.txt").write_text("x")
    (repo / "g.txt").write_text("g")
    ok("add", "dir", "d")
    ok("add", "two", "f.txt", "g.txt", "-c", "default")
    assert len(json.loads(ok("cat", "two").out)) == 2
    assert json.loads(ok("cat", "dir").out)[0].endswith("x.txt")
    fsck_ok()


def test_add_follow_symlinks(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "o.txt"
    outside.write_text("o")
    (repo / "d").mkdir()
    (repo / "d" / "link").symlink_to(outside)
    r = dsdt_cli("add", "s", "d")
    assert r.code != 0 and r.err.startswith("dsdt: error: ")
    ok("add", "s", "d", "--follow-symlinks")
    fsck_ok()


@pytest.mark.parametrize("name", ["a/b", "..x", "x.lock", ".hidden", "a:b"])
def test_add_invalid_name(repo: Path, name: str) -> None:
    assert "invalid bundle name" in fails(2, "add", name, "f.txt")


def test_add_missing_path(repo: Path) -> None:
    assert "does not exist" in fails(10, "add", "x", "missing.txt")
    assert ok("ls").out == ""


@pytest.mark.parametrize("tag", ["novalue", ""])
def test_bad_tag_syntax(repo: Path, tag: str) -> None:
    assert "KEY:VALUE" in fails(2, "add", "x", "f.txt", "-t", tag)
    assert "KEY:VALUE" in fails(2, "ls", "-t", tag)


def test_unknown_context_option(repo: Path) -> None:
    fails(4, "add", "x", "f.txt", "-c", "nope")
    fails(4, "ls", "--context", "nope")


# --- ls -------------------------------------------------------------------------------


@pytest.fixture
def listed(repo: Path) -> dict[str, str]:
    """Bundles a (two versions, the newest committed), b (a root), c (tagged, with param)."""
    uuids = {"a1": add("a"), "b": add("b", "-t", "root_task:True"), "a2": add("a")}
    ok("commit", "a")
    api.Bundle("default", name="c", data=[1, 2], tags={"url": "s3://x:1"}, params={"n": "5"})
    uuids["c"] = api.get("default", "c").uuid
    return uuids


def test_ls_default_unique_names_newest_first(listed: dict[str, str]) -> None:
    assert ok("ls").lines == ["c", "a", "b"]
    assert ok("ls", "a").lines == ["a"]
    assert ok("ls", "*").lines == ["c", "a", "b"]
    assert ok("ls", "x*").lines == []
    fsck_ok()


def test_ls_uuid_and_latest(listed: dict[str, str]) -> None:
    assert ok("ls", "-u", "a").lines == [listed["a2"], listed["a1"]]
    assert ok("ls", "-u", "-l", "a").lines == [listed["a2"]]


def test_ls_verbose(listed: dict[str, str]) -> None:
    lines = ok("ls", "-v").lines
    assert lines[0].split() == ["NAME", "PROC_NAME", "OWNER", "DATE", "COMMITTED", "UUID", "TAGS"]
    assert len(lines) == 5
    assert [ln.split()[0] for ln in lines[1:]] == ["c", "a", "b", "a"]
    uuid_col = lines[0].index("UUID")
    assert all(ln[uuid_col:uuid_col + 36] in listed.values() for ln in lines[1:])
    b = api.get("default", "c")
    assert b.creation_date.astimezone().isoformat(" ", "seconds") in lines[1]
    assert lines[2].split()[5] == "True" and lines[3].split()[5] == "False"
    assert len(ok("ls", "-v", "-l").lines) == 4


def test_ls_print_tags_and_args(listed: dict[str, str]) -> None:
    r = ok("ls", "-p", "c")
    assert r.lines == ["c  [url]:[s3://x:1]"]
    r = ok("ls", "-a", "c")
    assert r.lines == ["c", "\t ARGS: [n]:[5]"]
    r = ok("ls", "-v", "-p", "-a", "c")
    assert r.lines[1].endswith("[url]:[s3://x:1]")
    assert r.lines[2] == "\t ARGS: [n]:[5]"
    assert "committed" not in ok("ls", "-p", "a").out


def test_ls_filters(listed: dict[str, str]) -> None:
    assert ok("ls", "--committed").lines == ["a"]
    assert ok("ls", "--committed", "-u").lines == [listed["a2"]]
    assert ok("ls", "--uncommitted").lines == ["c", "b", "a"]
    assert ok("ls", "--uncommitted", "-u", "a").lines == [listed["a1"]]
    fails(2, "ls", "--committed", "--uncommitted")
    assert ok("ls", "-r").lines == ["b"]
    assert ok("ls", "-i").lines == ["c", "a"]
    fails(2, "ls", "-i", "-r")
    assert ok("ls", "-t", "url:s3://x:1").lines == ["c"]
    assert ok("ls", "-t", "url:s3://x").lines == []


def test_ls_dates(listed: dict[str, str]) -> None:
    assert ok("ls", "-A", "01-01-2000").lines == ["c", "a", "b"]
    assert ok("ls", "--after", "01-01-2000 10:00:00").lines == ["c", "a", "b"]
    assert ok("ls", "-B", "01-01-2000").lines == []
    assert ok("ls", "--before", "2999-01-01T00:00:00+00:00").lines == ["c", "a", "b"]
    assert ok("ls", "-A", "2999-01-01").lines == []
    assert "bad date" in fails(2, "ls", "-A", "yesterday")


def test_ls_dates_are_local_time(listed: dict[str, str], kolkata: None) -> None:
    now = datetime.now()
    assert now.astimezone().utcoffset() == timedelta(hours=5, minutes=30)
    fmt = "%m-%d-%Y %H:%M:%S"
    assert ok("ls", "-A", (now - timedelta(minutes=5)).strftime(fmt)).lines == ["c", "a", "b"]
    assert ok("ls", "-A", (now + timedelta(minutes=5)).strftime(fmt)).lines == []
    assert ok("ls", "-B", (now + timedelta(minutes=5)).strftime(fmt)).lines == ["c", "a", "b"]
    created = api.get("default", "c").creation_date
    local = created.astimezone().isoformat(" ", "seconds")
    assert local.endswith("+05:30") and local in ok("ls", "-v", "c").lines[1]


def test_ls_json(listed: dict[str, str]) -> None:
    rows = json.loads(ok("ls", "--json").out)
    assert [r["name"] for r in rows] == ["c", "a", "b", "a"]
    c = rows[0]
    assert set(c) == {"name", "uuid", "processing_name", "owner", "created", "committed",
                      "tags", "params", "data"}
    assert {r["data"] for r in rows} == {"local"}
    assert c["tags"] == {"url": "s3://x:1"} and c["params"] == {"n": "5"}
    assert [r["committed"] for r in rows] == [False, True, False, False]
    assert c["created"].endswith("+00:00")
    assert len(json.loads(ok("ls", "--json", "-l").out)) == 3
    header, *rest = ok("ls", "-d").lines
    assert header.split() == ["NAME", "PROC_NAME", "OWNER", "DATE", "COMMITTED", "DATA", "UUID",
                              "TAGS"]
    assert len(rest) == 4 and all(" local " in line for line in rest)


def test_ls_other_context(listed: dict[str, str]) -> None:
    ok("context", "w")
    ok("add", "z", "f.txt", "-c", "w")
    assert ok("ls", "--context", "w").lines == ["z"]
    assert "z" not in ok("ls").lines
    fsck_ok()


def test_ls_never_loads_data(listed: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: object) -> None:
        raise AssertionError("ls touched .data")

    monkeypatch.setattr(api.Bundle, "data", property(boom))
    ok("ls", "-v", "-p", "-a")
    ok("ls", "--json")


# --- cat ------------------------------------------------------------------------------


def test_cat_values(repo: Path) -> None:
    import pandas as pd

    api.Bundle("default", name="df", data=pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    api.Bundle("default", name="text", data="line one\nline two")
    api.Bundle("default", name="nested", data={"k": [1, 2], "s": "v"})
    api.Bundle("default", name="num", data=3.5)
    api.Bundle("default", name="raw", data=b"ab\x00c")
    api.Bundle("default", name="pair", data=(1, "a"))
    assert ok("cat", "df").out == pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_string() + "\n"
    assert ok("cat", "text").out == "line one\nline two\n"
    assert json.loads(ok("cat", "nested").out) == {"k": [1, 2], "s": "v"}
    assert ok("cat", "num").out == "3.5\n"
    assert ok("cat", "raw").out == "ab\x00c"
    assert ok("cat", "pair").out == "(1, 'a')\n"
    fsck_ok()


def test_cat_by_uuid_and_tags(repo: Path) -> None:
    u1 = add("a", "-t", "v:1")
    add("a", "-t", "v:2")
    api.Bundle("default", name="t", data="first", tags={"v": "1"})
    api.Bundle("default", name="t", data="second", tags={"v": "2"})
    assert ok("cat", "t", "-t", "v:1").out == "first\n"
    assert ok("cat", "t").out == "second\n"
    assert ok("cat", "-u", u1).out.strip().endswith("f.txt")
    meta = json.loads(ok("cat", "-u", u1, "--json").out)
    assert meta["uuid"] == u1 and meta["tags"] == {"v": "1"}


def test_cat_file_writes_csv(repo: Path) -> None:
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2], "b": ["x:y", "z"]})
    api.Bundle("default", name="df", data=df)
    api.Bundle("default", name="records", data=[{"a": 1}, {"a": 2}])
    api.Bundle("default", name="text", data="hello")
    ok("cat", "df", "-f", "out.csv")
    assert (repo / "out.csv").read_text() == df.to_csv(index=False)
    ok("cat", "records", "--file", "rec.csv")
    assert (repo / "rec.csv").read_text() == "a\n1\n2\n"
    assert "not a table" in fails(2, "cat", "text", "-f", "bad.csv")
    assert not (repo / "bad.csv").exists()
    assert "cannot write" in fails(10, "cat", "df", "-f", "no/such/dir.csv")


def test_cat_missing_bundle(repo: Path) -> None:
    assert "'nope'" in fails(4, "cat", "nope")
    assert "'nope'" in fails(4, "cat", "nope", "--json")
    fails(4, "cat", "-u", "6f1e3c3e-2f55-4a49-9a39-1a4c8ef8d0a1")
    fails(2, "cat", "-u", "not-a-uuid")
    fails(2, "cat")


# --- rm, commit -----------------------------------------------------------------------


def test_rm(repo: Path) -> None:
    a1, a2, a3 = add("a"), add("a"), add("a")
    b1 = add("b")
    r = ok("rm", "a")
    assert r.lines == ["Removed 1 bundle(s)", a3]
    r = ok("rm", "a", "--old")
    assert r.lines == ["Removed 1 bundle(s)", a1]
    assert ok("ls", "-u").lines == [b1, a2]
    assert ok("rm", "-u", b1).lines == ["Removed 1 bundle(s)", b1]
    assert "no bundle named" in fails(4, "rm", "zzz")
    fails(2, "rm")
    fails(2, "rm", "a", "--all", "--old")
    fsck_ok()


def test_rm_all_and_committed(repo: Path) -> None:
    add("a", "-t", "k:v:w")
    add("a")
    add("b")
    ok("commit", "b")
    assert "committed" in fails(7, "rm", "b")  # the one named is committed: refused
    assert ok("rm", "--all").lines[0] == "Removed 2 bundle(s)"  # of several: b is kept
    assert ok("ls").lines == ["b"]
    assert ok("rm", "--all", "-f").lines[0] == "Removed 1 bundle(s)"
    assert ok("ls").out == ""
    fsck_ok()


def test_commit(repo: Path) -> None:
    u1 = add("a")
    u2 = add("a", "-t", "x:1")
    assert ok("commit", "a", "-t", "x:1").out == f"Committed a {u2}\n"
    assert ok("commit", "-u", u1).out == f"Committed a {u1}\n"
    assert ok("commit", "a").out == f"Committed a {u2}\n"
    assert ok("ls", "--committed", "-u").lines == [u2, u1]
    assert "'nope'" in fails(4, "commit", "nope")
    fails(2, "commit")
    fsck_ok()


# --- lineage --------------------------------------------------------------------------


@pytest.fixture
def chain(repo: Path) -> list[str]:
    """up <- mid <- top, with git facts and timing on mid; returns [top, mid, up] uuids."""
    up = api.Bundle("default", name="up", data=1)
    mid = api.Bundle("default", name="mid", data=2, dependencies=[up], code_method="m.Mid",
                     vc_info=("git@h:r.git", "abc123", "main"), start_time=100, stop_time=102.5)
    top = api.Bundle("default", name="top", data=3, dependencies=[mid])
    return [top.uuid, mid.uuid, up.uuid]


def test_lineage_text(chain: list[str]) -> None:
    top, mid, up = chain
    lines = ok("lineage", top).lines
    assert lines[0] == "------ Lineage @ depth 0 -----"
    assert "\t------ Lineage @ depth 1 -----" in lines
    assert f"\t\tuuid:            {up}" in lines
    assert "\tcode ref:        m.Mid" in lines
    assert "\tgit commit:      abc123" in lines
    assert "\tduration:        2.500s" in lines
    assert f"input:           _arg_0 {mid} ({api.get('default', 'mid').processing_name})" in lines
    shallow = ok("lineage", top, "-d", "1").lines
    assert "\t------ Lineage @ depth 1 -----" in shallow
    assert not any(ln.endswith(f"uuid:            {up}") for ln in shallow)
    fsck_ok()


def test_lineage_json_and_missing_input(chain: list[str]) -> None:
    top, mid, up = chain
    ok("rm", "-u", up)
    nodes = json.loads(ok("lineage", top, "--json").out)
    assert [(n["depth"], n["uuid"]) for n in nodes] == [(0, top), (1, mid), (2, up)]
    assert nodes[1]["git"]["branch"] == "main"
    assert nodes[1]["start_time"] == "1970-01-01T00:01:40.000000+00:00"
    [dep] = nodes[1]["depends_on"]
    assert (dep["uuid"], dep["arg_name"]) == (up, "_arg_0")
    assert dep["processing_name"].startswith("up")
    assert nodes[2]["name"] is None and nodes[2]["depends_on"] is None
    assert f"\t\t{up} (not in this context)" in ok("lineage", top).lines
    fsck_ok()


def test_lineage_errors(repo: Path) -> None:
    fails(4, "lineage", "6f1e3c3e-2f55-4a49-9a39-1a4c8ef8d0a1")
    fails(4, "lineage", "xyz")


# --- fsck -----------------------------------------------------------------------------


def test_fsck(repo: Path) -> None:
    uuid = add("a")
    r = ok("fsck")
    assert r.lines[0].startswith("checked 1 context(s), 1 ref(s), 1 record(s)")
    assert r.lines[-1] == "ok"
    assert json.loads(ok("fsck", "--json").out)["ok"] is True
    record = repo / ".dsdt" / "records" / uuid[:2] / f"{uuid}.yaml"
    record.write_text(record.read_text().replace('"name": "a"', '"name": "b"'))
    r = dsdt_cli("fsck")
    assert r.code == 1
    assert any(ln.startswith("error: ") for ln in r.lines)
    assert r.lines[-1] == "1 problem(s)"
    report = json.loads(dsdt_cli("fsck", "--json").out)
    assert report["ok"] is False and len(report["errors"]) == 1


# --- real processes -------------------------------------------------------------------


def _proc(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DSDT_DIR"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_process_module_help(tmp_path: Path) -> None:
    r = _proc([sys.executable, "-m", "dsdt", "--help"], tmp_path)
    assert r.returncode == 0 and "lineage" in r.stdout


def test_process_console_script_version(tmp_path: Path) -> None:
    r = _proc([str(DSDT_BIN), "--version"], tmp_path)
    assert (r.returncode, r.stdout) == (0, f"dsdt {dsdt.__version__}\n")


def test_process_round_trip(here: Path) -> None:
    tmp_path = here
    (tmp_path / "data.txt").write_text("x")
    assert _proc([str(DSDT_BIN), "init"], tmp_path).returncode == 0
    uuid = _proc([str(DSDT_BIN), "add", "thing", "data.txt", "-t", "a:b:c"], tmp_path)
    assert uuid.returncode == 0, uuid.stderr
    ls = _proc([sys.executable, "-m", "dsdt", "ls", "-u", "-p"], tmp_path)
    assert ls.stdout == f"{uuid.stdout.strip()}  [a]:[b:c]\n"
    cat = _proc([str(DSDT_BIN), "cat", "thing"], tmp_path)
    assert Path(cat.stdout.strip()).read_text() == "x"
    missing = _proc([str(DSDT_BIN), "cat", "nope"], tmp_path)
    assert missing.returncode == 4
    assert missing.stderr.startswith("dsdt: error: ") and missing.stderr.count("\n") == 1
    fsck_ok()


def test_startup_imports_stay_light(tmp_path: Path) -> None:
    code = ("import sys, dsdt.commands.app; heavy = ('pandas', 'numpy', 'pyarrow', 'luigi', "
            "'yaml', 'dsdt.api'); print([m for m in heavy if m in sys.modules])")
    r = _proc([sys.executable, "-c", code], tmp_path)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


def test_add_imports_no_remote_machinery(repo: Path) -> None:
    """A verb imports what it uses: adding a file needs no push, pull, prune or remote gc."""
    Path("data.txt").write_text("x")
    code = ("import sys; from dsdt.commands.app import main\ntry: main(['add', 'x', 'data.txt'])\n"
            "except SystemExit: pass\nprint(sorted(m for m in sys.modules if m in "
            "('dsdt.remote.push', 'dsdt.remote.pull', 'dsdt.remote.prune', 'dsdt.remote.gc', "
            "'dsdt.remote.sync', 'dsdt.ops.remote', 'boto3')))")
    r = _proc([sys.executable, "-c", code], repo)
    assert r.stdout.splitlines()[-1] == "[]", r.stdout + r.stderr


def test_ls_json_data_states_of_many_bundles(repo: Path) -> None:
    for i in range(40):  # more than are looked up one by one: one query for them all
        add(f"n{i % 3}")
    rows = json.loads(ok("ls", "--json").out)
    assert len(rows) == 40 and {r["data"] for r in rows} == {"local"}
    assert json.loads(ok("ls", "--json", "-l").out)[0]["data"] == "local"
