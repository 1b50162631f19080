"""Where a team's data is: here, on the remote, or nowhere reachable (real git, two clones).

Alice commits bundles in dsdt and git; whether she also ran ``dsdt push``
decides what Bob, after ``git pull`` or a fresh ``git clone``, can read.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pipe_tasks as pt
import pytest
from clirun import dsdt_cli, ok
from team import Team, git, make_team, needs_git

import dsdt.api as api
from dsdt.errors import DataUnreachableError
from dsdt.repo import Repository

pytestmark = needs_git
UNREACHABLE = DataUnreachableError.exit_code


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Team, Path, Path]:
    team, alice = make_team(tmp_path, monkeypatch)
    return team, alice, team.clone("bob")


def _share(team: Team, project: Path) -> None:
    team.commit_all(project)
    git(project, "push", "-q", "origin", "main")


def _git_pull(project: Path) -> None:
    git(project, "pull", "-q", "--no-rebase", "origin", "main")


def test_committed_in_git_but_never_pushed_is_nowhere_for_bob(
        team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    api.Bundle("default", name="pushed", data="p" * 5000).commit()  # a blob, not inline
    api.push("default")
    api.Bundle("default", name="forgot", data="f" * 5000, owner="alice").commit()
    _share(t, alice)  # git push without dsdt push for "forgot"
    t.use(bob)
    api.pull("default")  # Bob read the remote before the record arrived
    _git_pull(bob)
    status = json.loads(ok("status", "--json").out)
    assert status["data"] == {"local": 0, "remote": 1, "nowhere": 0, "unknown": 1}
    assert status["only_here"] == 0
    r = dsdt_cli("cat", "forgot")
    assert r.code == UNREACHABLE and r.out == ""
    assert "forgot" in r.err and f"made by alice on {socket.gethostname()}" in r.err
    assert "ask them to commit and push it" in r.err
    r = dsdt_cli("pull", "forgot", "-l")
    assert r.code == UNREACHABLE and "forgot" in r.err
    r = dsdt_cli("fsck")
    assert r.code == UNREACHABLE
    assert any(line.startswith("unreachable: ") and "forgot" in line for line in r.lines)
    assert "1 bundle(s) have data on their remote, not pulled" in r.lines[0]
    status = json.loads(ok("status", "--json").out)  # fsck read the remote: now it is known
    assert status["data"]["nowhere"] == 1 and status["unreachable"][0]["name"] == "forgot"
    assert ok("cat", "pushed").out.strip() == "p" * 5000
    ls = {row["name"]: row["data"] for row in json.loads(ok("ls", "--json").out)}
    assert ls == {"pushed": "local", "forgot": "nowhere"}


def test_a_fresh_clone_before_any_pull_is_fine(team: tuple[Team, Path, Path],
                                               tmp_path: Path) -> None:
    t, alice, _bob = team
    d = tmp_path / "dir"
    d.mkdir()
    (d / "a.txt").write_text("a\n")
    api.add("default", "d", str(d)).commit()
    api.Bundle("default", name="arr", data="a" * 5000).commit()
    api.push("default")
    _share(t, alice)
    fresh = t.use(t.clone("carol"))
    r = dsdt_cli("fsck")
    assert r.code == 0, r.out
    assert "2 bundle(s) have data on their remote, not pulled" in r.lines[0]
    assert ok("cat", "arr").out.strip() == "a" * 5000
    [path] = map(Path, api.get("default", "d").data)  # remote until localized
    assert path.read_text() == "a\n"
    api.get("default", "d").localize()
    [path] = map(Path, api.get("default", "d").data)
    assert path.read_text() == "a\n" and fresh in path.parents


def test_apply_reruns_a_task_whose_bundle_has_no_data_anywhere(
        team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    day = {"day": "d"}
    api.apply("default", pt.Clean, params=day)  # a DataFrame: its data is a blob
    _share(t, alice)  # the bundle's record goes through git; its data stays with Alice
    t.use(bob)
    _git_pull(bob)
    pt.RUNS.clear()
    plan = api.apply("default", pt.Clean, params=day, explain=True)["plan"]
    assert [(p["action"], p["reason"]) for p in plan] == [("run", "data unreachable")]
    assert api.apply("default", pt.Clean, params=day)["did_work"] and pt.RUNS == {"Clean": 1}
    assert api.apply("default", pt.Clean, params=day, explain=True)["plan"][0]["action"] == \
        "reuse"


def test_fsck_repair_fetches_a_corrupt_blob_again(loose: None,
                                                  team: tuple[Team, Path, Path]) -> None:
    t, _alice, bob = team
    b = api.Bundle("default", name="x", data=b"x" * 5000).commit()
    api.push("default")
    t.use(bob)
    api.pull("default", localize=True)
    blob = Repository.current().blobs.path(b.record.data["blob"])
    with open(blob, "r+b") as f:  # root ignores the read-only bit; so does a bad disk
        f.write(b"y")
    r = dsdt_cli("fsck")
    assert r.code == 1 and any(b.record.data["blob"] in line for line in r.lines)
    shared = t.remote / "blobs" / blob.name[:2] / blob.name
    good = shared.read_bytes()
    shared.write_bytes(b"z" * len(good))  # the remote copy is bad too: nothing to repair from
    r = dsdt_cli("fsck", "--repair")
    assert r.code == 1 and not any(line.startswith("repaired") for line in r.lines)
    assert blob.exists()  # the corrupt copy stays, and fsck keeps naming it
    shared.write_bytes(good)
    r = dsdt_cli("fsck", "--repair")
    assert r.code == 0, r.out
    assert f"repaired: blob {b.record.data['blob']}" in r.lines
    assert api.get("default", "x").data == b"x" * 5000
    assert not os.stat(blob).st_mode & 0o222


def test_context_delete_decides_offline_like_git_branch_d(team: tuple[Team, Path, Path],
                                                          tmp_path: Path) -> None:
    t, _alice, _bob = team
    api.context("work")
    api.remote("work", "shared", str(t.remote))
    pushed = api.Bundle("work", name="pushed", data="p" * 5000).commit()
    api.push("work")
    t.remote.rename(tmp_path / "unreachable")  # from now on the remote cannot be read
    draft = api.Bundle("work", name="draft", data="d" * 5000)
    assert api.status("work")["only_here"] == 1  # the author sees what teammates cannot
    r = dsdt_cli("context", "-d", "work")
    assert r.code == 7 and "only here" in r.err and draft.uuid in r.err
    api.rm("work", uuid=draft.uuid)
    assert ok("context", "-d", "work").lines == ["Deleted context work"]  # no network needed
    assert pushed.uuid
    api.delete_context("work")  # gone already: Disdat code deletes defensively
    r = dsdt_cli("context", "-d", "work")
    assert r.code == 4 and "no context 'work'" in r.err


def test_a_path_to_data_only_on_a_directory_remote_is_never_the_teams_copy(
        loose: None, team: tuple[Team, Path, Path]) -> None:
    t, _alice, bob = team
    src = t.root / "w.txt"
    src.write_text("w1\n")
    blob = api.add("default", "w", str(src)).commit().record.data["blob"]
    api.push("default", delocalize=True)
    t.use(bob)
    api.pull("default")
    path = Path(api.get("default", "w").data)
    assert ".dsdt/cache/views/" in str(path)  # fetched, not the shared directory's file
    path.chmod(0o644)
    path.write_text("TAMPERED\n")
    assert (t.remote / "blobs" / blob[:2] / blob).read_text() == "w1\n"
    assert Path(api.get("default", "w").data).read_text() == "w1\n"
