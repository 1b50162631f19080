"""Git can write anything under ``.dsdt/cache`` (``git add -f``): nothing there is trusted.

Each test plays a second round of the attack: a teammate force-adds files to
the cache in git, the victim runs ``git pull`` and then an ordinary dsdt
command. Nothing outside ``.dsdt`` is touched, nothing private is uploaded,
no only copy is dropped, and hostile YAML does not stall a reader.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from clirun import dsdt_cli, fails, ok
from hostile import dump, plant_local, plant_remote, put_blob, record, within
from team import Team, git, make_team, needs_git

import dsdt.api as api
from dsdt.errors import CorruptObjectError, PathError, UsageError
from dsdt.objects.ids import sha256_bytes
from dsdt.remote.layout import blob_key
from dsdt.repo import Repository

pytestmark = needs_git


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Team, Path, Path]:
    """The team, the victim's (Alice's) project, current, and the attacker's (Mallory's) clone."""
    team, alice = make_team(tmp_path, monkeypatch)
    return team, alice, team.clone("mallory")


def _plant(team: Team, mallory: Path, victim: Path, files: dict[str, bytes | Path]) -> None:
    """Mallory force-adds these paths (bytes, or a symlink target), pushes; the victim pulls."""
    for rel, what in files.items():
        path = mallory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        if isinstance(what, Path):
            path.symlink_to(what)
        else:
            path.write_bytes(what)
        git(mallory, "add", "-f", rel)
    git(mallory, "commit", "-qm", "innocent")
    git(mallory, "push", "-q", "origin", "main")
    git(victim, "pull", "-q", "--no-rebase", "origin", "main")
    Repository.forget()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("victim's secret\n")
    return d


@pytest.mark.parametrize("cache_dir", ["tmp", "open", "blobs", "made"])
def test_a_symlinked_cache_directory_stops_every_command(team: tuple[Team, Path, Path],
                                                          outside: Path, cache_dir: str) -> None:
    t, alice, mallory = team
    api.Bundle("default", name="x", data=1)
    _plant(t, mallory, alice, {f".dsdt/cache/{cache_dir}": outside})
    assert "is a symlink" in fails(9, "gc")
    assert (outside / "secret.txt").read_text() == "victim's secret\n"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_gc_fence_symlink_is_refused_not_followed(team: tuple[Team, Path, Path],
                                                  outside: Path) -> None:
    t, alice, mallory = team
    _plant(t, mallory, alice, {".dsdt/cache/gc-fence": outside / "created"})
    assert "symlink" in fails(9, "add", "x", str(alice / ".dsdt" / "config.yaml"))
    assert not (outside / "created").exists()


def test_a_planted_pulled_records_shard_hides_no_checked_in_bundle(
        team: tuple[Team, Path, Path], outside: Path) -> None:
    """``cache/records/<ab>`` holds pulled records: a symlink there leaves the checked-in
    bundles of that shard alone, and fsck names it without advising to remove a bundle."""
    t, alice, mallory = team
    b = api.Bundle("default", name="x", data=1)
    _plant(t, mallory, alice, {f".dsdt/cache/records/{b.uuid[:2]}": outside})
    for db in (alice / ".dsdt" / "cache").glob("db-*"):
        shutil.rmtree(db)  # the index is built again, reading the shard
    assert [f.uuid for f in api.search("default")] == [b.uuid]
    assert api.get("default", "x").data == 1
    r = dsdt_cli("fsck")
    assert r.code == 1 and f"cache/records/{b.uuid[:2]} is a symlink" in r.out + r.err
    assert "dsdt rm" not in r.out + r.err
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def _plant_at(path: Path, what: str, outside: Path) -> None:
    """Put a symlink, a regular file, a directory or a self-loop at ``path``."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if what == "symlink":
        path.symlink_to(outside)
    elif what == "loop":
        path.symlink_to(path.name)
    elif what == "file":
        path.write_text("planted\n")
    else:
        path.mkdir()


@pytest.mark.parametrize(("where", "what"), [
    ("records/ab", "symlink"), ("cache/records/ab", "symlink"), ("cache/made/ab", "symlink"),
    ("cache/blobs/ab", "symlink"), ("cache/views/v", "symlink"), ("cache/gc-fence", "symlink"),
    ("cache/tmp", "symlink"), ("cache/open", "symlink"), ("cache/tracking/default", "loop"),
    ("records/ff", "file"), ("cache/blobs/ab", "file"), ("cache/tmp", "file"),
    ("cache/open", "file"), ("cache/gc-fence", "directory"),
    ("cache/tracking/default", "directory"), ("cache/open/u", "directory"),
    ("records/ab/u.yaml", "directory"), ("refs/contexts/evil", "file"), ("HEAD", "symlink"),
    ("HEAD", "directory"), ("cache/views/v/d/inner", "symlink"), ("cache/views/v/d", "loop")])
def test_fsck_names_every_planted_path(project: Path, outside: Path, where: str,
                                       what: str) -> None:
    """Each stops the writes that reach it: fsck must not call the repository ok."""
    api.Bundle("default", name="x", data=1)
    path = project / ".dsdt" / where
    _plant_at(path, what, outside)
    r = dsdt_cli("fsck")
    assert r.code == 1, r.out + r.err
    kind = "a symlink" if what in ("symlink", "loop") else "not a"
    assert f"{path} is {kind}" in r.out + r.err and "dsdt rm" not in r.out + r.err


@pytest.mark.parametrize(("where", "what"), [("{shard}", "file"), ("{shard}", "symlink"),
                                           ("{shard}/{blob}", "directory")])
def test_fsck_reports_a_planted_path_over_a_blob_in_use(project: Path, outside: Path,
                                                         where: str, what: str) -> None:
    """fsck prints its whole report (exit 1), not one error line, and names the path."""
    blob = api.Bundle("default", name="x", data=b"x" * 5000).record.data["blob"]
    path = project / ".dsdt" / "cache" / "blobs" / where.format(shard=blob[:2], blob=blob)
    _plant_at(path, what, outside)
    r = dsdt_cli("fsck")
    assert r.code == 1 and r.err == "", r.out + r.err
    assert f"{path} is" in r.out and "remove it" in r.out


@pytest.mark.parametrize(("where", "what", "verb"), [
    ("cache/gc-fence", "directory", "add"), ("cache/tmp", "file", "add"),
    ("cache/open", "file", "bundle"), ("cache/blobs/{blob}", "file", "cat")])
def test_a_planted_file_of_the_wrong_kind_is_named_not_an_os_error(
        project: Path, outside: Path, where: str, what: str, verb: str) -> None:
    b = api.Bundle("default", name="x", data=b"x" * 5000)
    blob = b.record.data["blob"]
    Repository.forget()
    shutil.rmtree(project / ".dsdt" / "cache" / "views", ignore_errors=True)
    path = project / ".dsdt" / where.format(blob=blob[:2])
    _plant_at(path, what, outside)
    (project / "big.bin").write_bytes(os.urandom(3 << 20))
    if verb == "bundle":
        with pytest.raises(CorruptObjectError, match="remove it"), \
                api.Bundle("default", name="y") as y:
            y.get_file("f.txt")
        return
    args = ("add", "y", str(project / "big.bin")) if verb == "add" else ("cat", "x")
    assert "remove it" in fails(9, *args)


def test_pushed_bundles_behind_a_planted_pulled_records_shard_stay_listed(
        project: Path, outside: Path, tmp_path: Path) -> None:
    """The remote's listing names them: a pulled record is looked for, and not found."""
    (tmp_path / "remote").mkdir()
    api.remote("default", "shared", str(tmp_path / "remote"))
    made = [api.Bundle("default", name=f"n{i}", data=i).commit() for i in range(6)]
    api.push("default")
    Repository.forget()
    for db in (project / ".dsdt" / "cache").glob("db-*"):
        shutil.rmtree(db)
    _plant_at(project / ".dsdt" / "cache" / "records" / made[0].uuid[:2], "symlink", outside)
    assert sorted(b.uuid for b in api.search("default")) == sorted(b.uuid for b in made)
    assert api.get("default", "n0").data == 0
    r = dsdt_cli("fsck")
    assert r.code == 1 and "is a symlink" in r.out and "dsdt rm" not in r.out


@pytest.mark.parametrize(("where", "what"), [
    ("records/{shard}", "symlink"), ("records/{shard}", "file"),
    ("records/{shard}/{uuid}.yaml", "directory"), ("cache/records/{shard}", "symlink"),
    ("cache/records/{shard}/{uuid}.yaml", "directory")])
def test_pull_names_a_planted_local_path_and_never_blames_the_remote(
        project: Path, outside: Path, tmp_path: Path, where: str, what: str) -> None:
    """A sound remote bundle kept out by a path planted here: the path is named (exit 9),
    the remote is not called corrupt or hostile, and the other bundles are pulled."""
    (tmp_path / "remote").mkdir()
    api.remote("default", "shared", str(tmp_path / "remote"))
    made = [api.Bundle("default", name=f"n{i}", data=i).commit() for i in range(4)]
    api.push("default")
    for b in made:
        api.rm("default", uuid=b.uuid, force=True)
    victim = made[0].uuid
    path = project / ".dsdt" / where.format(shard=victim[:2], uuid=victim)
    _plant_at(path, what, outside)
    err = fails(9, "pull")
    assert f"{path} is " in err and "remove it" in err and "dsdt fsck" in err, err
    assert "hostile" not in err and "corrupt" not in err and victim in err, err
    others = {b.uuid for b in made if b.uuid[:2] != victim[:2]}
    assert others <= {b.uuid for b in api.search("default")}
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_planted_pulled_record_file_is_named_by_fsck(project: Path, tmp_path: Path) -> None:
    (tmp_path / "remote").mkdir()
    api.remote("default", "shared", str(tmp_path / "remote"))
    b = api.Bundle("default", name="x", data=1).commit()
    api.push("default")
    api.rm("default", uuid=b.uuid, force=True)
    api.pull("default")
    pulled = project / ".dsdt" / "cache" / "records" / b.uuid[:2] / f"{b.uuid}.yaml"
    assert pulled.is_file()
    pulled.unlink()
    pulled.symlink_to("/etc/passwd")
    r = dsdt_cli("fsck")
    assert r.code == 1 and f"{pulled} is a symlink" in r.out


def test_push_never_uploads_a_file_a_planted_blob_points_to(
        team: tuple[Team, Path, Path], outside: Path) -> None:
    t, alice, mallory = team
    secret = outside / "secret.txt"
    blob_id = sha256_bytes(secret.read_bytes())
    rec = record({"type": "file", "path": "s.txt", "blob": blob_id,
                  "size": secret.stat().st_size, "exec": False})
    text = dump(rec)
    uuid = rec["uuid"]
    sha = sha256_bytes(text)
    plant_local(mallory / ".dsdt", "default", text, uuid)
    git(mallory, "add", "-A")
    _plant(t, mallory, alice, {
        f".dsdt/cache/blobs/{blob_id[:2]}/{blob_id}": secret,
        f".dsdt/cache/made/{uuid[:2]}/{uuid}": f"default\t{sha}\n".encode()})
    report = api.push("default")
    assert uuid in report.foreign  # the planted marker is writable: git made it, not dsdt
    assert not (t.remote / blob_key(blob_id)).exists()
    with pytest.raises(UsageError, match="not local"):  # a symlink is no blob
        api.push("default", uuid=uuid, ours=True)
    assert not (t.remote / blob_key(blob_id)).exists()


def test_refs_naming_a_private_bundle_in_a_shared_context_do_not_upload_it(
        team: tuple[Team, Path, Path]) -> None:
    t, alice, mallory = team
    api.context("private")
    private = api.Bundle("private", name="payroll", data={"alice": 1_000_000}).commit()
    sha = (alice / ".dsdt" / "refs/contexts/private/bundles" / private.uuid[:2] /
           private.uuid).read_text().strip()
    for kind in ("bundles", "committed"):
        ref = f".dsdt/refs/contexts/default/{kind}/{private.uuid[:2]}/{private.uuid}"
        (mallory / ref).parent.mkdir(parents=True, exist_ok=True)
        (mallory / ref).write_text(sha + "\n")
    t.commit_all(mallory, "refs")
    git(mallory, "push", "-q", "origin", "main")
    t.commit_all(alice, "alice's work")
    git(alice, "pull", "-q", "--no-rebase", "origin", "main")
    Repository.forget()
    report = api.push("default")
    assert report.foreign == [private.uuid] and report.bundles == []
    assert not list((t.remote / "blobs").rglob("*")) if (t.remote / "blobs").exists() else True


def test_a_record_pulled_from_the_remote_is_not_vouched_for(
        team: tuple[Team, Path, Path]) -> None:
    """An attacker's pulled record naming a private blob, gone from the remote, uploads nothing."""
    t, _alice, _mallory = team
    private = api.Bundle("default", name="mine", data=b"private bytes" * 1000)
    blob_id = private.record.data["blob"]
    rec = record({"type": "bytes", "blob": blob_id, "size": 13000}, name="bait")
    text = dump(rec)
    plant_remote(t.remote, "shared", text, rec["uuid"], name="bait")
    api.pull("default")
    ref = t.remote / "contexts" / "shared" / "bundles.json"
    doc = json.loads(ref.read_text())
    del doc["bundles"][rec["uuid"]]  # gone from the remote again
    ref.write_text(json.dumps(doc))
    report = api.push("default")
    assert rec["uuid"] not in report.bundles  # pulled records are never ours to push
    assert not (t.remote / blob_key(blob_id)).exists()


def test_a_planted_tree_is_verified_before_it_is_believed(team: tuple[Team, Path, Path],
                                                          tmp_path: Path) -> None:
    t, alice, mallory = team
    d = tmp_path / "reports"
    d.mkdir()
    (d / "r.txt").write_text("quarterly\n")
    b = api.add("default", "rep", str(d)).commit()
    api.push("default", delocalize=True)
    tree = next(n for n in Repository.current().index.member_blobs() if n[4] == "tree")[2]
    _plant(t, mallory, alice, {f".dsdt/cache/blobs/{tree[:2]}/{tree}":
                               b'{"files": [], "dirs": ["x"]}'})
    before = sorted(p for p in t.remote.rglob("*") if p.is_file() and "locks" not in p.parts)
    with pytest.raises(CorruptObjectError, match="does not match its sha256"):
        api.gc(remote=True)
    assert before == sorted(p for p in t.remote.rglob("*")
                            if p.is_file() and "locks" not in p.parts)  # nothing removed
    assert [p.name for p in before if p.name == tree or p.suffix == ".pack"]
    assert b.uuid


def test_planted_proofs_cannot_make_push_d_drop_the_only_copy(
        loose: None, team: tuple[Team, Path, Path]) -> None:
    t, alice, mallory = team
    b = api.Bundle("default", name="precious", data=b"P" * 5000).commit()
    blob_id = b.record.data["blob"]
    put_blob(t.remote, b"G" * 5000, blob_id)  # same-size garbage under the blob's key
    st = os.stat(t.remote / blob_key(blob_id))
    proofs = mallory / "forged.sqlite"
    db = sqlite3.connect(proofs)
    db.execute("CREATE TABLE proofs(url TEXT, key TEXT, stamp TEXT, PRIMARY KEY(url, key))")
    db.execute("INSERT INTO proofs VALUES (?,?,?)",
               (str(t.remote), blob_key(blob_id), f"{st.st_ino}:{st.st_size}:{st.st_ctime_ns}"))
    db.commit()
    db.close()
    _plant(t, mallory, alice, {".dsdt/cache/remote-proofs.sqlite": proofs.read_bytes()})
    with pytest.raises(CorruptObjectError, match="not its bytes"):
        api.push("default", delocalize=True)
    assert Repository.current().blobs.has(blob_id)
    assert api.get("default", "precious").data == b"P" * 5000


def test_bytes_changed_in_place_before_the_stamp_is_read_are_not_proven(
        loose: None, team: tuple[Team, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer on the remote races push: it rewrites each new blob in place at once."""
    import dsdt.remote.local as local

    b = api.Bundle("default", name="precious", data=b"P" * 5000).commit()
    real_stat = os.stat

    def racing_stat(path: object, *args: object, **kw: object) -> os.stat_result:
        dir_fd = kw.get("dir_fd")
        if dir_fd is not None and isinstance(path, str) and len(path) == 64:
            fd = os.open(path, os.O_WRONLY, dir_fd=dir_fd)  # type: ignore[arg-type]
            os.write(fd, b"G" * os.fstat(fd).st_size)
            os.close(fd)
        return real_stat(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(local.os, "stat", racing_stat)
    api.push("default")
    monkeypatch.setattr(local.os, "stat", real_stat)
    with pytest.raises(CorruptObjectError, match="not its bytes"):
        api.push("default", delocalize=True)
    assert api.get("default", "precious").data == b"P" * 5000
    assert b.uuid


def test_base60_yaml_does_not_stall_readers(project: Path) -> None:
    rec = record({"type": "float", "value": 0.0})
    text = dump(rec).replace(b"value: 0.0", b"value: " + b":".join([b"1"] * 300_000))
    plant_local(project / ".dsdt", "default", text, rec["uuid"])
    with within(10):
        fsck = api.fsck()
    assert not fsck.ok
    config = project / ".dsdt" / "config.yaml"
    config.write_text(config.read_text().replace("lock_timeout: 30", "lock_timeout: " +
                                                 ":".join(["1"] * 300_000)))
    Repository.forget()
    with within(10):
        assert "bad value" in fails(2, "ls")


def test_a_huge_declared_tree_costs_a_metadata_pull_nothing(project: Path,
                                                           tmp_path: Path) -> None:
    remote = tmp_path / "r"
    remote.mkdir()
    api.remote("default", "shared", str(remote))
    tree_id = "ab" * 32
    sparse = remote / blob_key(tree_id)
    sparse.parent.mkdir(parents=True)
    with open(sparse, "wb") as f:
        f.truncate(256 << 20)  # 256 MiB that cost the attacker nothing
    rec = record({"type": "directory", "path": "d", "tree": tree_id, "files": 50_000_000,
                  "size": 1, "as": "path"})
    plant_remote(remote, "shared", dump(rec), rec["uuid"])
    for _ in range(2):
        ok("pull")
    cache = project / ".dsdt" / "cache"
    assert sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) < 8 << 20


def test_a_remote_url_that_only_looks_absolute_is_refused(project: Path) -> None:
    meta = project / ".dsdt" / "refs" / "contexts" / "default" / "context.yaml"
    meta.write_text("remote_context: shared\nremote_url: /proc/self/cwd/leak\n")
    api.Bundle("default", name="x", data=1).commit()
    assert "canonical" in fails(9, "push")
    assert not (project / "leak").exists()


def test_planted_databases_and_write_ahead_logs_are_never_opened(
        team: tuple[Team, Path, Path]) -> None:
    """SQLite replays a write-ahead log before anyone can check it: none planted is opened."""
    t, alice, mallory = team
    mine = [api.Bundle("default", name=f"w{i}", data=f"{i}" * 5000) for i in range(3)]
    api.gc()  # Alice's own databases exist
    t.use(mallory)
    api.Bundle("default", name="m", data="m" * 5000)
    repo = Repository.current()
    repo.index.connect().execute("DELETE FROM blobs")  # an index that marks nothing
    planted: dict[str, bytes | Path] = {}
    cache = mallory / ".dsdt" / "cache"
    for f in [cache / "owner", *cache.glob("db-*/*")]:
        planted[str(f.relative_to(mallory))] = f.read_bytes()
        for legacy in ("index.sqlite", "index.sqlite-wal", "remote-proofs.sqlite"):
            if f.name == legacy:  # and at the names older versions used
                planted[f".dsdt/cache/{legacy}"] = f.read_bytes()
    t.use(alice)
    _plant(t, mallory, alice, planted)
    report = api.gc()
    assert report.blobs == [] and report.kept_blobs >= 3
    assert [api.get("default", b.name).data for b in mine] == [f"{i}" * 5000 for i in range(3)]
    assert not list((alice / ".dsdt" / "cache").glob("*.sqlite*"))  # gc swept the planted ones


def test_gc_stops_when_a_context_cannot_be_read(project: Path, outside: Path) -> None:
    b = api.Bundle("default", name="x", data="x" * 5000)
    shard = project / ".dsdt" / "refs" / "contexts" / "default" / "bundles" / b.uuid[:2]
    moved = outside / "shard"
    shard.rename(moved)
    shard.symlink_to(moved)  # a symlink git brought: its members cannot be read
    with pytest.raises(CorruptObjectError, match="not a directory"):
        api.gc()
    assert Repository.current().blobs.has(b.record.data["blob"])


def test_a_checked_in_follow_symlinks_reaches_only_inside_the_project(
        team: tuple[Team, Path, Path], outside: Path) -> None:
    _t, alice, mallory = team
    config = mallory / ".dsdt" / "config.yaml"
    config.write_text(config.read_text().replace("follow_symlinks: false", "follow_symlinks: true"))
    (mallory / "shared.csv").write_text("a,b\n")
    raw = mallory / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "part1.csv").write_text("1,2\n")
    (raw / "part2.csv").symlink_to(outside / "secret.txt")
    (raw / "part3.csv").symlink_to("../../.dsdt/cache/owner")
    (raw / "part4.csv").symlink_to("../../shared.csv")
    git(mallory, "add", "-A")
    git(mallory, "add", "-f", ".dsdt/config.yaml")
    git(mallory, "commit", "-qm", "data")
    git(mallory, "push", "-q", "origin", "main")
    git(alice, "pull", "-q", "--no-rebase", "origin", "main")
    Repository.forget()
    with pytest.raises(PathError, match="outside"):
        api.add("default", "raw", str(alice / "data" / "raw"))
    (alice / "data" / "raw" / "part2.csv").unlink()
    with pytest.raises(PathError, match="dsdt's own directory"):
        api.add("default", "raw", str(alice / "data" / "raw"))
    (alice / "data" / "raw" / "part3.csv").unlink()
    b = api.add("default", "raw", str(alice / "data" / "raw"))  # inside the project: stored
    assert sorted(Path(p).read_text() for p in b.data) == ["1,2\n", "a,b\n"]


def _swap_for_symlink(directory: Path, outside: Path) -> None:
    """What a ``git pull`` bringing a force-added symlink does to a directory dsdt made."""
    shutil.rmtree(directory)
    directory.symlink_to(outside, target_is_directory=True)


@pytest.mark.parametrize("where", ["cache/views", "cache/blobs", "blob-shard", "cache/made",
                                   "committed-shard", "own-view"])
def test_a_directory_swapped_for_a_symlink_under_a_running_process_is_refused(
        ctx: str, project: Path, tmp_path: Path, where: str) -> None:
    """The same process goes on after a git pull: nothing it checked before is trusted."""
    root, outside = project / ".dsdt", tmp_path / "outside"
    outside.mkdir()
    with api.Bundle(ctx, "first") as b:
        Path(b.get_file("f.txt")).write_text("first")
        b.add_data(b.get_file("f.txt"))
    api.commit(ctx, "first")
    blob = b.record.data["blob"]
    first = api.get(ctx, "first")
    assert Path(first.data).read_text() == "first"  # its view is made and checked
    target = {"cache/views": root / "cache" / "views", "cache/blobs": root / "cache" / "blobs",
              "blob-shard": root / "cache" / "blobs" / blob[:2],
              "cache/made": root / "cache" / "made",
              "committed-shard": root / "refs" / "contexts" / ctx / "committed" / b.uuid[:2],
              "own-view": root / "cache" / "views" / b.uuid}[where]
    _swap_for_symlink(target, outside)
    with pytest.raises(CorruptObjectError, match="symlink"):
        if where == "committed-shard":
            api.commit(ctx, "first")
        elif where == "own-view":
            api.get(ctx, "first").data  # noqa: B018 - presenting the files writes the view
        else:
            with api.Bundle(ctx, "second") as b2:
                Path(b2.get_file("f.txt")).write_text("first")  # the same bytes: same shard
                b2.add_data(b2.get_file("f.txt"))
    assert list(outside.rglob("*")) == []


@pytest.mark.parametrize("what", ["symlink", "directory"])
def test_a_planted_context_description_is_named_not_taken_for_no_context(
        project: Path, outside: Path, what: str) -> None:
    """The repository must not look empty: ls and status say what is in the way."""
    api.Bundle("default", name="x", data=1)
    path = project / ".dsdt" / "refs" / "contexts" / "default" / "context.yaml"
    _plant_at(path, what, outside)
    for verb in ("ls", "status"):
        assert f"{path} is a symlink or not what dsdt made there" in fails(9, verb)
    listed = json.loads(ok("context", "--json").out)  # listed, and said why it cannot be used
    assert [c["name"] for c in listed] == ["default"]
    assert f"{path} is a symlink or not what dsdt made there" in listed[0]["broken"]
    assert "delete the context with -f" in fails(9, "context", "-d", "default")
    ok("context", "-d", "-f", "default")  # and it can go, never through the symlink
    assert not path.parent.exists() and (outside / "secret.txt").is_file()
    assert json.loads(ok("context", "--json").out) == []


@pytest.mark.parametrize("what", ["writable file", "directory"])
def test_a_binding_change_is_not_hidden_by_a_planted_tracking_file(
        team: tuple[Team, Path, Path], what: str) -> None:
    """Git overwrites ignored files: a planted listing must not make the clone forget the
    remote it used and trust the new binding as a fresh clone does."""
    t, alice, mallory = team
    api.Bundle("default", name="x", data=1).commit()
    api.push("default")  # Alice's clone has used the team's remote
    elsewhere = t.root / "elsewhere"
    elsewhere.mkdir()
    meta = "refs/contexts/default/context.yaml"
    text = (mallory / ".dsdt" / meta).read_text().replace(str(t.remote), str(elsewhere))
    planted: bytes | Path = b"dsdt-tracking 1\n" if what == "writable file" else Path("x")
    if what == "directory":
        (mallory / ".dsdt" / "cache" / "tracking" / "default").mkdir(parents=True)
        (mallory / ".dsdt" / "cache" / "tracking" / "default" / "x").write_text("x\n")
        git(mallory, "add", "-f", ".dsdt/cache/tracking/default/x")
        files: dict[str, bytes | Path] = {}
    else:
        files = {".dsdt/cache/tracking/default": planted}
    _plant(t, mallory, alice, {f".dsdt/{meta}": text.encode(), **files})
    api.Bundle("default", name="y", data=2).commit()
    r = dsdt_cli("push")
    assert r.code == 8 and "was not written by dsdt" in r.err, r.err
    assert list(elsewhere.iterdir()) == []
    assert "was not written by dsdt" in ok("status").out
    ok("remote", "shared", str(elsewhere))  # Alice accepts it
    ok("push")
    assert (elsewhere / "contexts").is_dir()


def test_a_head_naming_no_context_is_named_by_every_command_and_by_fsck(project: Path) -> None:
    """HEAD comes with git: a path in it is no context name, and HEAD is the file to blame."""
    api.Bundle("default", name="x", data=1)
    head = project / ".dsdt" / "HEAD"
    head.write_text("../../outside\n")
    for verb in ("ls", "status", "context"):
        assert f"{head} names '../../outside', which is not a context name" in fails(9, verb)
    r = dsdt_cli("fsck")
    assert r.code == 1 and f"{head} names" in r.out
    ok("switch", "default")
    assert ok("ls").out.split() == ["x"]


def test_a_file_at_the_cache_is_ignored_by_git_and_named_by_dsdt(project: Path) -> None:
    """'/cache/' in .gitignore matched only a directory: a plain 'git add .' took a file."""
    (project / ".dsdt" / ".gitignore").write_text(
        (Path(__file__).parents[1] / ".dsdt-template" / ".gitignore").read_text())
    Repository.forget()
    shutil.rmtree(project / ".dsdt" / "cache", ignore_errors=True)
    (project / ".dsdt" / "cache").write_text("planted\n")
    git(project, "init", "-q")
    assert git(project, "check-ignore", ".dsdt/cache", check=False).returncode == 0
    assert "cache is not a directory" in fails(9, "ls")


@pytest.mark.parametrize(("where", "args"), [("cache/owner", ("ls",)),
                                             ("config.yaml.lock", ("config", "lock_timeout", "5"))])
def test_a_directory_at_a_file_dsdt_makes_is_named(project: Path, where: str,
                                                   args: tuple[str, ...]) -> None:
    api.Bundle("default", name="x", data=1)
    Repository.forget()
    path = project / ".dsdt" / where
    path.unlink(missing_ok=True)
    (path / "sub").mkdir(parents=True)
    assert "remove" in fails(9, *args)
