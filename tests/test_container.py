"""The in-container entrypoint ``dsdt-container``, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dsdt.api as api
from dsdt.remote.layout import context_key, decode_ref
from dsdt.remote.open import open_transport
from dsdt.repo import Repository

TESTS = Path(__file__).resolve().parent
UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("DSDT_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "dsdt.commands.container", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def summary(p: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(p.stdout.strip().splitlines()[-1])


def remote_members(url: str, remote_ctx: str = "shared") -> set[str]:
    t = open_transport(url)
    keys = set(t.list("contexts/"))
    key = context_key(remote_ctx)
    return set(decode_ref(t.get(key) if key in keys else None, key))


def data_of(b: api.Bundle) -> object:
    d = b.data
    return Path(d).read_text() if isinstance(d, str) and Path(d).is_file() else d


def pull_into(dirname: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a second repository in ``dirname`` bound to the same remote, and pull all."""
    monkeypatch.chdir(dirname)
    api.init(dirname)
    api.context("t")
    api.remote("t", "shared", url)
    api.pull("t", localize=True)


@pytest.fixture
def remote_dir(tmp_path: Path) -> str:
    d = tmp_path / "remote"
    d.mkdir()
    return str(d)


def test_outputs_land_on_the_remote_and_pull_identically(
        project: Path, remote_dir: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    p = run(project, "--context", "shared/t", "--remote", remote_dir,
            "--output-bundle-uuid", UUID, "--output-tag", "run:one", "pipe_tasks.Echo",
            "--kind", "file")
    assert p.returncode == 0, p.stderr
    out = summary(p)
    assert out == {"success": True, "did_work": True, "output_uuid": UUID}
    made = {b.uuid: data_of(b) for b in api.search("t")}
    assert len(made) == 2 and UUID in made and made[UUID] == "file"
    assert all(b.is_committed for b in api.search("t"))
    assert api.get("t", None, uuid=UUID).tags["run"] == "one"
    assert remote_members(remote_dir) == set(made)

    # Nothing to do the second time: the output is the reused bundle.
    again = run(project, "--context", "shared/t", "--remote", remote_dir, "pipe_tasks.Echo",
                "--kind", "file")
    assert again.returncode == 0, again.stderr
    assert summary(again) == {"success": True, "did_work": False, "output_uuid": UUID}

    pull_into(tmp_path_factory.mktemp("second"), remote_dir, monkeypatch)
    assert {b.uuid: data_of(b) for b in api.search("t")} == made
    assert api.fsck(remote=True).ok
    assert api.fsck().ok


def test_failing_task_exits_1_and_upstream_stays_on_the_remote(
        project: Path, remote_dir: str) -> None:
    p = run(project, "--context", "shared/t", "--remote", remote_dir, "pipe_tasks.Fails")
    assert p.returncode == 1, p.stderr
    assert "dsdt-container: error: pipeline Fails failed" in p.stderr
    assert summary(p)["success"] is False
    a = api.get("t", "A")
    assert a is not None and remote_members(remote_dir) == {a.uuid}


def test_no_push_leaves_the_remote_empty(project: Path, remote_dir: str) -> None:
    p = run(project, "--context", "shared/t", "--remote", remote_dir, "--no-push",
            "pipe_tasks.Sum", "--swap")
    assert p.returncode == 0, p.stderr
    assert api.get("t", "Sum").data["x"] == 20
    assert remote_members(remote_dir) == set()


def test_no_remote_creates_the_repository(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "fresh"
    p = run(tmp_path, "--repo-dir", str(repo), "--context", "c", "pipe_tasks.A", "--n", "7")
    assert p.returncode == 0, p.stderr
    monkeypatch.chdir(repo)
    assert api.cat("c", "A") == 7 and summary(p)["output_uuid"] == api.get("c", "A").uuid
    Repository.forget()


@pytest.mark.parametrize("args, needle", [
    (["pipe_tasks.Nope"], "has no class 'Nope'"),
    (["pipe_tasks.A", "--nope", "1"], "has no parameter --nope"),
    (["--input-tag", "bad", "pipe_tasks.A"], "bad tag"),
    (["pipe_tasks.A", "--n", "x"], "bad value"),
])
def test_bad_arguments_exit_2(project: Path, args: list[str], needle: str) -> None:
    p = run(project, "--context", "t", *args)
    assert p.returncode == 2 and needle in p.stderr and p.stderr.startswith("dsdt-container:")


def test_unreachable_remote_exits_3(project: Path, tmp_path: Path) -> None:
    p = run(project, "--context", "t", "--remote", str(tmp_path / "missing"), "pipe_tasks.A")
    assert p.returncode == 3, p.stderr
    assert "dsdt-container: error:" in p.stderr
    assert api.search("t") == []


def test_s3_remote(project: Path, s3_bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
                   tmp_path_factory: pytest.TempPathFactory) -> None:
    bucket, _ = s3_bucket
    url = f"s3://{bucket}/pipes"
    p = run(project, "--context", "shared/t", "--remote", url, "--output-bundle-uuid", UUID,
            "pipe_tasks.Sum")
    assert p.returncode == 0, p.stderr
    made = {b.uuid: b.data for b in api.search("t")}
    assert len(made) == 3 and remote_members(url) == set(made)
    pull_into(tmp_path_factory.mktemp("second"), url, monkeypatch)
    pulled = {b.uuid: b.data for b in api.search("t")}
    assert pulled[UUID] == made[UUID] and set(pulled) == set(made)
    assert api.fsck(remote=True).ok
