"""A team of two clones of one git project sharing a directory remote, with real git.

Each test is a scenario of issue 13: what git carries (records, refs) and
what dsdt carries (data, remote-tracking state) never disagree in a way
that loses data or shows it twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clirun import dsdt_cli, ok
from team import Team, git, make_team, needs_git

import dsdt.api as api

pytestmark = needs_git


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Team, Path, Path]:
    """The team, Alice's project (current) and Bob's fresh clone."""
    team, alice = make_team(tmp_path, monkeypatch)
    return team, alice, team.clone("bob")


def _share(team: Team, project: Path, message: str = "work") -> None:
    """Commit everything in ``project`` and push it to the origin."""
    team.commit_all(project, message)
    git(project, "pull", "-q", "--no-rebase", "origin", "main")
    git(project, "push", "-q", "origin", "main")


def _names(ctx: str = "default") -> list[str]:
    return sorted(b.name for b in api.search(ctx))


def _clean(project: Path) -> bool:
    return git(project, "status", "--porcelain").stdout == ""


def test_dsdt_pull_then_git_pull(team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    api.Bundle("default", name="x", data=1).commit()
    api.push("default")
    _share(t, alice)
    t.use(bob)
    assert api.pull("default").bundles and _names() == ["x"]
    assert _clean(bob)  # pull wrote nothing git tracks
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    assert _names() == ["x"]  # checked in now, and shown once
    assert api.pull("default").bundles == []
    assert api.fsck().ok


def test_git_pull_then_dsdt_pull(team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    api.Bundle("default", name="y", data=2).commit()
    api.push("default")
    _share(t, alice)
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    report = api.pull("default")
    assert report.bundles == [] and len(report.skipped) == 1
    assert _names() == ["y"] and _clean(bob)
    assert api.get("default", "y").data == 2


def test_a_bundle_removed_on_the_other_side_stays_removed(team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    gone = api.Bundle("default", name="gone", data=1).commit()
    kept = api.Bundle("default", name="kept", data=2).commit()
    api.push("default")
    _share(t, alice)
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    api.pull("default")
    t.use(alice)
    api.rm("default", uuid=gone.uuid, force=True)
    api.rmr("default", uuid=gone.uuid)
    api.rm("default", uuid=kept.uuid, force=True)  # removed here, still on the remote
    _share(t, alice, "remove")
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    api.pull("default")
    assert _names() == ["kept"]  # still in the remote context: it may stay
    assert _clean(bob)


def test_a_bundle_only_git_brought_goes_when_git_removes_it(
        team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    b = api.Bundle("default", name="local", data=1).commit()
    _share(t, alice)
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    assert _names() == ["local"]
    t.use(alice)
    api.rm("default", uuid=b.uuid, force=True)
    _share(t, alice, "remove")
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    api.pull("default")
    assert _names() == []


def test_rm_of_a_pulled_bundle_hides_it_until_it_is_pulled_again(
        team: tuple[Team, Path, Path]) -> None:
    t, _alice, bob = team
    b = api.Bundle("default", name="x", data=1).commit()
    api.push("default")
    t.use(bob)
    api.pull("default")
    api.rm("default", uuid=b.uuid, force=True)
    assert _names() == []
    api.pull("default", "other-name")
    assert _names() == []
    api.pull("default")
    assert _names() == ["x"]


def test_adopt_checks_pulled_bundles_in(team: tuple[Team, Path, Path]) -> None:
    t, _alice, bob = team
    b = api.Bundle("default", name="model", data={"w": 1}).commit()
    api.push("default")
    t.use(bob)
    api.pull("default")
    [row] = api.search("default")
    assert row.is_committed
    assert api.adopt("default", "other") == []
    assert api.adopt("default") == [b.uuid]
    assert not _clean(bob)  # the record and refs are now in the work tree
    t.commit_all(bob, "adopt")
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    assert _names() == ["model"] and api.adopt("default") == []
    assert api.fsck().ok


def test_gc_keeps_data_of_bundles_git_holds_elsewhere(team: tuple[Team, Path, Path]) -> None:
    t, alice, _bob = team
    git(alice, "checkout", "-qb", "c")
    on_c = api.Bundle("default", name="on-c", data="c" * 5000).commit()
    t.commit_all(alice, "a bundle on branch c")
    git(alice, "checkout", "-q", "main")
    stashed = api.Bundle("default", name="stashed", data="s" * 5000)
    git(alice, "add", "-A")
    git(alice, "stash", "-q")
    untracked = api.Bundle("default", name="untracked", data="u" * 5000)
    git(alice, "stash", "-q", "-u")  # its files live in the stash's untracked-files commit
    staged = api.Bundle("default", name="staged", data="i" * 5000)
    git(alice, "add", "-A")
    api.rm("default", uuid=staged.uuid)  # gone from the work tree, still in the index
    assert _names() == []
    report = api.gc()
    assert report.blobs == [] and report.git_records == 4
    git(alice, "checkout", "-q", "--", ".")
    git(alice, "stash", "pop", "-q")
    assert api.get("default", None, uuid=untracked.uuid).data == "u" * 5000
    git(alice, "stash", "pop", "-q")
    assert api.get("default", None, uuid=stashed.uuid).data == "s" * 5000
    assert api.get("default", None, uuid=staged.uuid).data == "i" * 5000
    t.commit_all(alice, "main's bundles")
    git(alice, "checkout", "-q", "c")
    assert api.get("default", "on-c").data == "c" * 5000
    assert api.fsck().ok
    git(alice, "checkout", "-q", "main")
    narrow = api.gc(dry_run=True, workspace_only=True)
    assert narrow.blobs == [] and narrow.unpushed == 1  # on no remote: never the only copy
    api.remote("default", "shared", str(t.remote))
    git(alice, "checkout", "-q", "c")
    api.push("default")
    git(alice, "checkout", "-q", "main")
    narrow = api.gc(workspace_only=True)
    assert narrow.blobs == [on_c.record.data["blob"]]  # on the remote now: DVC's behaviour
    git(alice, "checkout", "-q", "c")
    assert api.get("default", "on-c").data == "c" * 5000  # fetched back when read


def test_gc_outside_git_behaves_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    api.init(tmp_path)
    b = api.Bundle("default", name="x", data="x" * 5000)
    api.rm("default", uuid=b.uuid)
    report = api.gc()
    assert report.blobs == [b.record.data["blob"]] and report.git_records == 0


def test_pre_push_hook_pushes_the_data_a_git_push_publishes(
        team: tuple[Team, Path, Path], tmp_path: Path) -> None:
    t, alice, bob = team
    hooks = [Path(p).name for p in api.install_hooks()]
    assert hooks == ["pre-push", "post-checkout", "post-merge"]
    model = api.Bundle("default", name="model", data="m" * 5000).commit()
    api.Bundle("default", name="scratch", data="s" * 5000)  # not committed: not pushed
    t.commit_all(alice, "a model")
    pushed = git(alice, "push", "-q", "origin", "main", check=False)
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed the data of 1 bundle(s) of default" in pushed.stderr
    assert "1 uncommitted bundle(s) in these commits" in pushed.stderr  # scratch: a warning
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    assert api.get("default", "model").data == "m" * 5000  # Bob never ran dsdt pull
    report = api.fsck()  # the uncommitted one went into git, its data did not: fsck says so
    assert not report.errors and len(report.unreachable) == 1
    assert "scratch" in report.unreachable[0]
    t.use(alice)
    api.Bundle("default", name="late", data="l" * 5000).commit()
    t.commit_all(alice, "another")
    t.remote.rename(tmp_path / "gone")
    refused = git(alice, "push", "-q", "origin", "main", check=False)
    assert refused.returncode != 0 and "dsdt: error:" in refused.stderr
    assert git(alice, "rev-parse", "HEAD").stdout != git(
        alice, "ls-remote", "origin", "main").stdout.split()[0] + "\n"
    (tmp_path / "gone").rename(t.remote)
    assert git(alice, "push", "-q", "origin", "main", check=False).returncode == 0
    assert model.uuid
    assert git(alice, "checkout", "-qb", "other", check=False).returncode == 0  # post-checkout


def test_install_hooks_keeps_a_hook_it_did_not_write(team: tuple[Team, Path, Path]) -> None:
    _t, alice, _bob = team
    mine = alice / ".git" / "hooks" / "post-merge"
    mine.write_text("#!/bin/sh\necho mine\n")
    r = dsdt_cli("install-hooks")
    assert r.code == 2 and "post-merge" in r.err and "--force" in r.err
    assert mine.read_text() == "#!/bin/sh\necho mine\n"
    assert ok("install-hooks", "--force").lines[-1] == f"Installed {mine}"


def test_git_facts_are_fresh_for_every_bundle_however_made(
        team: tuple[Team, Path, Path]) -> None:
    t, alice, _bob = team
    first = api.Bundle("default", name="a", data=1)
    head = git(alice, "rev-parse", "HEAD").stdout.strip()
    assert first.git_info["commit"] == head and first.git_info["branch"] == "main"
    assert first.code_ref.startswith("test_team:")  # the code that made it
    t.commit_all(alice, "next")
    second = api.Bundle("default", name="a", data=2)  # same process, after a git commit
    now = git(alice, "rev-parse", "HEAD").stdout.strip()
    assert now != head and second.git_info["commit"] == now
    (alice / "f.txt").write_text("x")
    added = api.add("default", "f", str(alice / "f.txt"))
    assert added.git_info["commit"] == now and added.git_info["dirty"] is False
    git(alice, "checkout", "-qb", "feature")
    assert api.Bundle("default", name="b", data=3).git_info["branch"] == "feature"


def test_rmr_by_name_finds_a_bundle_already_removed_here(team: tuple[Team, Path, Path]) -> None:
    _t, _alice, _bob = team
    b = api.Bundle("default", name="feat", data="f" * 5000).commit()
    api.push("default")
    api.rm("default", uuid=b.uuid, force=True)
    assert api.rmr("default", "feat") == [b.uuid]  # the remote knows its name
    api.pull("default")
    assert _names() == []


def test_a_binding_changed_through_git_is_used_only_once_accepted(
        team: tuple[Team, Path, Path]) -> None:
    """context.yaml comes with git: a teammate (or an intruder) rebinding it must not send
    this clone's pushes elsewhere without a word, as ssh refuses a changed host key."""
    t, alice, bob = team
    api.Bundle("default", name="x", data=1).commit()
    api.push("default")  # Alice has used the team's remote
    z = api.Bundle("default", name="z", data=b"z" * 5000).commit()
    api.push("default", uuid=z.uuid, delocalize=True)  # z's data is on the remote only
    _share(t, alice)
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    elsewhere = t.root / "elsewhere"
    elsewhere.mkdir()
    ok("remote", "--force", "shared", str(elsewhere))  # Bob's own rebinding: accepted at once
    _share(t, bob, "rebind")
    t.use(alice)
    git(alice, "pull", "-q", "--no-rebase", "origin", "main")
    api.Bundle("default", name="y", data=2).commit()
    for verb in (("push",), ("pull",)):
        r = dsdt_cli(*verb)
        assert r.code == 8 and f"now bound to shared@{elsewhere}" in r.err, r.err
        assert f"last used shared@{t.remote}" in r.err
    r = dsdt_cli("cat", "z")  # reading data from the remote is refused too, and said so
    assert r.code == 8 and f"now bound to shared@{elsewhere}" in r.err, r.err
    assert list(elsewhere.iterdir()) == []  # nothing went there
    assert "its context.yaml changed" in ok("status").out
    api.rm("default", uuid=z.uuid, force=True)  # its data stays on the old remote
    r = dsdt_cli("fsck")
    assert r.code == 1 and f"now bound to shared@{elsewhere}" in r.out
    ok("remote", "shared", str(elsewhere))  # Alice accepts it
    ok("push")
    assert (elsewhere / "contexts").is_dir() and api.fsck().ok


def test_status_of_a_fresh_clone_says_the_remote_was_not_read_rather_than_push(
        team: tuple[Team, Path, Path]) -> None:
    t, alice, bob = team
    api.Bundle("default", name="x", data=1).commit()
    api.push("default")
    _share(t, alice)
    t.use(bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    out = ok("status").out
    assert "not read by this clone yet" in out and "dsdt push" not in out, out
    api.pull("default")
    out = ok("status").out
    assert "last read" in out and "dsdt push" not in out, out
    api.Bundle("default", name="y", data=2).commit()
    assert "1 local bundle(s) not on the remote: dsdt push" in ok("status").out
