"""git's and DVC's habits: short uuids, names where uuids go, one meaning per flag, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clirun import dsdt_cli, fails, ok
from exit_codes import table

from dsdt import api
from dsdt.commands.app import _command
from dsdt.errors import BundleNotFoundError, UsageError

README = Path(__file__).resolve().parents[1] / "README.md"
TWINS = ["1a2b3c4d-0000-4000-8000-000000000001", "1a2b3c4e-0000-4000-8000-000000000002"]


@pytest.fixture
def here(project: Path) -> Path:
    """A repository as the current directory, with a file to add."""
    (project / "f.txt").write_text("hello\n")
    return project


def _twin(name: str, uuid: str, value: object) -> str:
    """A bundle with a chosen uuid (to make two uuids share a prefix)."""
    b = api.Bundle("default", name)
    b.open(force_uuid=uuid)
    b.add_data(value)
    b.close()
    return b.uuid


# --- short uuids and names ------------------------------------------------------------------


def test_a_unique_prefix_works_wherever_a_uuid_does(here: Path) -> None:
    first = ok("add", "a", "f.txt").out.strip()
    second = ok("add", "a", "f.txt", "-t", "v:2").out.strip()
    short = second[:6]
    assert ok("cat", "-u", short).out.endswith(f"{second}/f.txt\n")
    assert json.loads(ok("cat", "-u", short.upper(), "--json").out)["uuid"] == second
    assert ok("commit", "-u", short).out.strip() == f"Committed a {second}"
    assert ok("lineage", short).lines[3].split()[-1] == second
    assert "v" in json.loads(ok("diff", first[:8], short, "--json").out)["tags"]["added"]
    assert ok("log", short).lines[1].startswith(second)
    assert ok("rm", "-u", first[:4], "-f").lines[1:] == [first]


def test_lineage_diff_and_log_take_a_name(here: Path) -> None:
    older = ok("add", "a", "f.txt").out.strip()
    (here / "f.txt").write_text("changed\n")
    newer = ok("add", "a", "f.txt").out.strip()
    assert ok("lineage", "a").lines[3].split()[-1] == newer
    d = json.loads(ok("diff", "a", "--json").out)
    assert (d["old_uuid"], d["new_uuid"]) == (older, newer)
    d = json.loads(ok("diff", newer[:5], "--json").out)  # a version: against the one before it
    assert (d["old_uuid"], d["new_uuid"]) == (older, newer)
    assert "no version older" in fails(2, "diff", older)
    assert [line.split()[0] for line in ok("log", older[:7]).lines[1:]] == [newer, older]


def test_a_name_wins_over_a_prefix_it_spells(here: Path) -> None:
    target = ok("add", "a", "f.txt").out.strip()
    named = ok("add", target[:4], "f.txt").out.strip()  # a bundle named like the prefix
    assert ok("lineage", target[:4]).lines[3].split()[-1] == named
    assert ok("lineage", target[:5]).lines[3].split()[-1] == target


def test_an_ambiguous_prefix_lists_the_candidates(project: Path) -> None:
    for uuid, name in zip(TWINS, ("x", "y"), strict=True):
        _twin(name, uuid, 1)
    err = fails(2, "cat", "-u", "1a2b3c4")
    assert all(u in err for u in TWINS) and "(x)" in err and "more characters" in err
    fails(2, "lineage", "1a2b")
    assert ok("cat", "-u", TWINS[1][:8]).out == "1\n"  # long enough to be unique
    with pytest.raises(UsageError, match="ambiguous"):
        api.get("default", None, uuid="1a2b3c")
    assert api.get("default", None, uuid=TWINS[0][:8]).name == "x"


def test_short_or_malformed_prefixes_are_usage_errors(here: Path) -> None:
    ok("add", "a", "f.txt")
    for bad in ("1a2", "zzzz-", "1a2b?", ""):
        assert "uuid prefix of at least 4" in fails(2, "cat", "-u", bad)
    assert "no bundle with a uuid starting 'ffff'" in fails(4, "cat", "-u", "ffff")
    with pytest.raises(BundleNotFoundError):
        api.rm("default", uuid="ffff")


def test_remote_verbs_take_prefixes(here: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    remote = str(tmp_path_factory.mktemp("remote"))
    ok("remote", "shared", remote)
    uuid = ok("add", "a", "f.txt").out.strip()
    ok("commit", "a")
    assert "Pushed 1 bundle" in ok("push", "-u", uuid[:6]).out
    ok("rm", "-u", uuid[:6], "-f")
    ok("pull", "-u", uuid[:6])  # only on the remote now: the prefix is resolved there
    assert ok("ls", "-u").lines == [uuid]
    assert ok("rmr", "-u", uuid[:6], "--dryrun").lines[-1] == uuid
    assert "no bundle with a uuid starting 'ffff'" in fails(4, "pull", "-u", "ffff")


# --- one meaning per flag ----------------------------------------------------------------


def _params(group: Any) -> list[tuple[str, Any]]:
    """``(verb param, param)`` of every verb (typer vendors click: no isinstance)."""
    out = []
    for name, cmd in group.commands.items():
        out += [(f"{name} {p.name}", p) for p in cmd.params]
        out += _params(cmd) if hasattr(cmd, "commands") else []
    return out


def test_dash_c_means_context_on_every_verb() -> None:
    with_c = [(where, p) for where, p in _params(_command())
              if p.param_type_name == "option" and "-c" in p.opts]
    assert len(with_c) > 10
    assert [where for where, p in with_c if "--context" not in p.opts] == []


def test_ls_dash_c_names_the_context(here: Path) -> None:
    ok("context", "other")
    ok("add", "a", "f.txt", "-c", "other")
    assert ok("ls", "-c", "other").lines == ["a"]
    assert ok("ls").lines == []
    assert ok("ls", "-c", "other", "--committed").lines == []
    r = dsdt_cli("ls", "-c")  # no value: a usage error, not an empty listing
    assert r.code == 2 and "requires an argument" in r.err


# --- exit codes ---------------------------------------------------------------------------


def test_user_errors_exit_with_their_documented_code(here: Path) -> None:
    assert "no bundle named 'nosuch'" in fails(4, "rm", "nosuch")
    assert "no bundle" in fails(4, "rm", "-u", "5f0e8c1e-2f4b-4d38-9f5e-0c6a3e9d1b27")
    fails(4, "diff", "nosuch")
    fails(4, "lineage", "nosuch")
    fails(4, "log", "nosuch")
    ok("add", "a", "f.txt")
    assert "no remote" in fails(11, "push", "a")
    assert "no remote" in fails(11, "pull")
    ok("commit", "a")
    assert "committed" in fails(7, "rm", "a")
    ok("add", "b", "f.txt")
    assert ok("rm", "b", "--old").out == "No bundles to remove.\n"  # it exists: not an error


def test_the_readme_exit_code_table_is_generated_from_errors() -> None:
    text = README.read_text()
    assert table() in text, "README.md is stale: paste the output of python tests/exit_codes.py"
    assert dsdt_cli("--nosuch").code == 2


# --- help: examples, completion ------------------------------------------------------------


def _examples(help_text: str) -> list[list[str]]:
    """The dsdt commands in the Examples block of a help page, as argument lists."""
    import shlex

    block = help_text.split("Examples:", 1)[1].split("\n\n", 2)
    text = block[0] if block[0].strip() else block[1]
    out = []
    for line in text.splitlines():
        for part in line.split("#", 1)[0].split("&&"):
            words = shlex.split(part.split(">", 1)[0])
            if words[:1] == ["dsdt"]:
                out.append(words[1:])
    return out


@pytest.mark.parametrize("verb", sorted(_command().commands))
def test_every_verb_ends_its_help_with_examples_that_parse(verb: str) -> None:
    if _command().commands[verb].hidden:
        return
    page = ok(verb, "--help").out
    assert page.index("Examples:") > page.index("Options:")  # they end the page
    examples = _examples(page)
    assert len(examples) >= 2 and any(args[0] == verb for args in examples), examples
    for args in examples:
        if "--help" not in args:  # raises on an unknown option or a missing value:
            _command().commands[args[0]].make_context(args[0], args[1:])


def _complete(monkeypatch: pytest.MonkeyPatch, line: str) -> list[str]:
    words = line.split(" ")
    monkeypatch.setenv("_DSDT_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    r = dsdt_cli()
    assert r.code == 0 and r.err == "", r
    return [w for w in r.lines if w]


def test_completion_of_verbs_contexts_and_bundle_names(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok("context", "features")
    ok("add", "scores", "f.txt")
    ok("add", "scales", "f.txt", "-c", "features")
    ok("add", "other", "f.txt")
    assert _complete(monkeypatch, "dsdt co") == ["context", "commit", "config"]
    assert _complete(monkeypatch, "dsdt cat sc") == ["scores"]
    assert _complete(monkeypatch, "dsdt lineage -c features s") == ["scales"]
    assert _complete(monkeypatch, "dsdt ls -c f") == ["features"]
    assert _complete(monkeypatch, "dsdt switch ") == ["default", "features"]
    monkeypatch.delenv("_DSDT_COMPLETE")
    assert "--install-completion" in ok("--help").out


def test_completion_outside_a_repository_completes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSDT_DIR", raising=False)
    assert _complete(monkeypatch, "dsdt cat sc") == []


# --- --json on the verbs that change things -------------------------------------------------


def test_json_of_add_commit_and_context(here: Path) -> None:
    added = json.loads(ok("add", "a", "f.txt", "-t", "k:v", "--json").out)
    assert added["context"] == "default" and added["name"] == "a" and added["tags"] == {"k": "v"}
    assert added["committed"] is False and added["created"].endswith("+00:00")
    done = json.loads(ok("commit", "-u", added["uuid"][:6], "--json").out)
    assert (done["uuid"], done["committed"]) == (added["uuid"], True)
    made = json.loads(ok("context", "shared/mine", "--json").out)
    assert made == {"context": "mine", "remote_context": "shared", "created": True}
    assert json.loads(ok("context", "mine", "--json").out)["created"] is False
    listed = json.loads(ok("context", "--json").out)
    assert [(c["name"], c["current"], c["remote_context"]) for c in listed] == [
        ("default", True, None), ("mine", False, "shared")]
    assert json.loads(ok("context", "-d", "mine", "--json").out) == {
        "deleted": "mine", "current": "default"}


def test_context_a_slash_b_says_it_binds_remote_context_a(here: Path) -> None:
    out = ok("context", "team/mine").out
    assert "Created context mine, bound to remote context team" in out
    assert "dsdt remote team URL -c mine" in out


def test_json_of_push_and_pull(here: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    remote = str(tmp_path_factory.mktemp("remote"))
    ok("remote", "shared", remote)
    uuid = ok("add", "a", "f.txt").out.strip()
    ok("commit", "a")
    pushed = json.loads(ok("push", "--json").out)
    assert pushed["pushed"] == [uuid] and pushed["skipped"] == [] and pushed["blobs"] == 1
    assert pushed["bytes"] == 6 and pushed["foreign"] == [] and pushed["delocalized"] == 0
    assert pushed["remote"]["context"] == "shared" and pushed["context"] == "default"
    assert json.loads(ok("push", "--json").out)["skipped"] == [uuid]
    ok("rm", "a", "-f")
    pulled = json.loads(ok("pull", "-l", "--json").out)
    assert pulled["pulled"] == [uuid] and pulled["refused"] == {}
    assert pulled["blobs"] == 0  # rm left the data in the cache: nothing to download


# --- found by a new user -------------------------------------------------------------------


def test_a_name_and_a_uuid_must_name_the_same_bundle(here: Path) -> None:
    a = ok("add", "a", "f.txt").out.strip()
    ok("add", "b", "f.txt")
    assert "no bundle named 'b' with uuid" in fails(4, "cat", "b", "-u", a[:6])
    fails(4, "commit", "b", "-u", a[:6])
    fails(4, "rm", "b", "-u", a[:6])
    assert ok("ls").lines == ["b", "a"]  # nothing was removed
    assert ok("commit", "a", "-u", a[:6]).out.strip() == f"Committed a {a}"


def test_rm_of_several_keeps_the_committed_ones(here: Path) -> None:
    old = ok("add", "a", "f.txt").out.strip()
    ok("commit", "-u", old)
    mid = ok("add", "a", "f.txt").out.strip()
    ok("add", "a", "f.txt")
    assert ok("rm", "a", "--old").lines == ["Removed 1 bundle(s)", mid]
    assert "bundle " + old + " is committed" in fails(7, "rm", "a", "--old")


def test_usage_errors_are_one_line_too(here: Path) -> None:
    assert "Missing argument 'BUNDLE'" in fails(2, "lineage")
    assert "(see 'dsdt ls --help')" in fails(2, "ls", "--nope")
    assert "No such command" in fails(2, "nosuchverb")


def test_pull_and_adopt_of_a_name_nobody_has_exit_4(
        here: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ok("remote", "shared", str(tmp_path_factory.mktemp("remote")))
    assert "no bundle named 'nosuch' on the remote" in fails(4, "pull", "nosuch")
    assert "pull it first" in fails(4, "adopt", "nosuch")
    assert json.loads(ok("adopt", "--json").out) == {"context": "default", "adopted": []}


def test_a_bad_output_name_is_refused_before_anything_runs(here: Path) -> None:
    fails(2, "apply", "pipe_tasks.Fails", "-o", "bad/name")


def test_log_n_shows_the_newest_versions(here: Path) -> None:
    made = [ok("add", "a", "f.txt").out.strip() for _ in range(3)]
    assert [line.split()[0] for line in ok("log", "a", "-n", "2").lines[1:]] == made[:0:-1]
    assert len(json.loads(ok("log", "a", "--max-count", "1", "--json").out)) == 1


def test_bidi_controls_show_escaped_as_other_controls_do(here: Path) -> None:
    ok("add", "a", "f.txt", "-t", "file:rtl\u202egnp.exe")
    assert "[file]:[rtl\\u202egnp.exe]" in ok("ls", "-p").out


def test_the_readme_starts_with_exactly_the_two_commands() -> None:
    first = README.read_text().split("```", 2)[1].splitlines()[1:]
    assert [line.split("#")[0].strip() for line in first] == [
        "bash scripts/demo.sh", "bash scripts/test.sh"]
