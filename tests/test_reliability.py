"""Reliability: many writers at once, and processes killed with SIGKILL mid-operation.

* Concurrency: 8 OS processes add (and commit / rm) bundles in one context at
  the same moment. Nothing may be lost, fsck must pass and no ``*.lock`` file
  may remain under ``.dsdt/``.
* Crash safety: a forked child loops over add / commit / rm and is killed with
  SIGKILL after a random delay, so kills land in every phase (blob write,
  record write, lock held, atomic rename, ref delete, SQLite transaction).
  After each kill fsck must pass, every visible bundle must load, the index
  must agree with the refs, and the parent's next add / commit / rm must work
  without manual clean-up.
* Locks: a lock whose owner was killed is cleared automatically and at once
  (a lock file only becomes visible with its owner's flock held); a live
  owner's lock is never stolen.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import pytest
from conftest import assert_fsck_clean

import dsdt.api as api
import dsdt.fsck as fsck_mod
from dsdt._locks import FileLock
from dsdt.errors import DsdtError, LockError
from dsdt.members import COMMITTED
from dsdt.refs.store import RefStore
from dsdt.repo import Repository

WORKERS = 8
PER_WORKER = 50
KILL_TRIALS = 120
MAX_KILL_DELAY_S = 0.05
CHILD_MAX_OPS = 5000


# --------------------------------------------------------------------------- helpers


def dsdt_root(project: Path) -> Path:
    """The ``.dsdt`` directory of a project."""
    return project / ".dsdt"


def lock_files(project: Path) -> list[Path]:
    """Every ``*.lock`` file under ``.dsdt/``."""
    return sorted(dsdt_root(project).rglob("*.lock"))


def temp_files(project: Path) -> list[Path]:
    """Temporary files left by interrupted writes (refs, records, blob scratch)."""
    root = dsdt_root(project)
    return sorted([*root.rglob(".*.tmp"), *(root / "cache" / "tmp").glob("*")])


def close_repos() -> None:
    """Close every cached SQLite connection and forget the repositories.

    Done before ``os.fork()``: a child must never use (or garbage-collect and
    close) a connection it inherited from its parent.
    """
    Repository.forget()


def member_uuids(ctx: str) -> set[str]:
    """Uuids of the membership refs of ``ctx``, read straight from the ref files."""
    names = Repository.current().refs.names(f"refs/contexts/{ctx}/bundles")
    return {n.rsplit("/", 1)[-1] for n in names}


def reap(pid: int) -> int:
    """SIGKILL a child (if still running) and wait for it; return its wait status."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def wait_readable(fd: int, timeout: float) -> None:
    """Block until ``fd`` has data (a child's "ready" byte), failing after ``timeout``."""
    ready, _, _ = select.select([fd], [], [], timeout)
    assert ready, "child did not report ready in time"
    assert os.read(fd, 1) == b"x"


# --------------------------------------------------------------------------- concurrency

_WORKER = r"""
import json, random, sys, time
from pathlib import Path

import pandas as pd

import dsdt.api as api

wid, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
go, scratch, ctx = Path(sys.argv[4]), Path(sys.argv[5]), sys.argv[6]
rng = random.Random(wid)
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("worker never got the go signal")
    time.sleep(0.002)

out = {"added": [], "committed": [], "removed": []}
live = []
for i in range(count):
    tags = {"w": str(wid), "i": str(i)}
    if i % 3 == 0:
        b = api.Bundle(ctx, name=f"int{wid}", data=wid * 1000 + i, tags=tags)
    elif i % 3 == 1:
        frame = pd.DataFrame({"w": [wid], "i": [i]})
        b = api.Bundle(ctx, name=f"df{wid}", data=frame, tags=tags)
    else:
        f = scratch / f"w{wid}-{i}.txt"
        f.write_text(f"{wid}:{i}")
        b = api.add(ctx, f"file{wid}", f, tags=tags)
    out["added"].append(b.uuid)
    live.append(b.uuid)
    if mode != "mixed":
        continue
    if rng.random() < 0.5:
        u = rng.choice(live)
        api.commit(ctx, None, uuid=u)
        out["committed"].append(u)
    if rng.random() < 0.3:
        u = live.pop(rng.randrange(len(live)))
        assert api.rm(ctx, uuid=u, force=True) == [u]
        out["removed"].append(u)
    if i % 10 == 9:  # the index, refreshed under concurrent writers, shows my bundles
        seen = {x.uuid for x in api.search(ctx, tags={"w": str(wid)})}
        assert seen == set(live), f"search missed {set(live) - seen}"
print(json.dumps(out))
"""


def run_workers(project: Path, ctx: str, mode: str, tmp_path: Path) -> list[dict[str, list[str]]]:
    """Start ``WORKERS`` processes, release them together, return their reports."""
    go = tmp_path / "go"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "DSDT_DIR": str(dsdt_root(project))}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(w), str(PER_WORKER), mode, str(go),
             str(scratch), ctx],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(WORKERS)
    ]
    go.touch()
    reports, failures = [], []
    for w, p in enumerate(procs):
        try:
            out, err = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        if p.returncode != 0:
            failures.append(f"worker {w} exited {p.returncode}:\n{err[-3000:]}")
        else:
            reports.append(json.loads(out.strip().splitlines()[-1]))
    assert not failures, "\n".join(failures)
    return reports


def check_bundle_data(b: api.Bundle) -> None:
    """A worker's bundle holds exactly what the worker stored (found by its tags)."""
    w, i = int(b.tags["w"]), int(b.tags["i"])
    if i % 3 == 0:
        assert b.data == w * 1000 + i
    elif i % 3 == 1:
        pd.testing.assert_frame_equal(b.data, pd.DataFrame({"w": [w], "i": [i]}))
    else:
        assert Path(b.data).read_text() == f"{w}:{i}"


@pytest.mark.slow
def test_eight_processes_add_at_once(project: Path, ctx: str, tmp_path: Path) -> None:
    """8 processes x 50 adds (ints, DataFrames, files): all 400 there, fsck clean, no lock."""
    reports = run_workers(project, ctx, "add", tmp_path)
    added = {u for r in reports for u in r["added"]}
    assert len(added) == WORKERS * PER_WORKER
    found = api.search(ctx)
    assert {b.uuid for b in found} == added
    assert {(b.tags["w"], b.tags["i"]) for b in found} == {
        (str(w), str(i)) for w in range(WORKERS) for i in range(PER_WORKER)}
    for b in found:
        check_bundle_data(b)
    report = api.fsck()
    assert report.ok, report.errors
    assert report.warnings == []
    assert report.records == WORKERS * PER_WORKER
    assert lock_files(project) == []


@pytest.mark.slow
def test_eight_processes_add_commit_rm_at_once(project: Path, ctx: str, tmp_path: Path) -> None:
    """8 processes add, commit and rm at once: survivors and commit marks exactly right."""
    reports = run_workers(project, ctx, "mixed", tmp_path)
    added = {u for r in reports for u in r["added"]}
    removed = {u for r in reports for u in r["removed"]}
    committed = {u for r in reports for u in r["committed"]} - removed
    assert len(added) == WORKERS * PER_WORKER
    assert removed and committed  # the mix really happened
    found = api.search(ctx)
    assert {b.uuid for b in found} == added - removed
    assert {b.uuid for b in found if b.is_committed} == committed
    assert {b.uuid for b in api.search(ctx, is_committed=True)} == committed
    for b in found:
        check_bundle_data(b)
    assert_fsck_clean()
    assert lock_files(project) == []


# --------------------------------------------------------------------------- SIGKILL loop


@dataclass
class KillStats:
    """What a batch of kill trials saw."""

    trials: int = 0
    kills: int = 0
    new_locks: int = 0
    new_temps: int = 0
    slowest_follow_up: float = 0.0
    failures: list[str] = field(default_factory=list)


def add_one(ctx: str, n: int, rng: random.Random, scratch: Path) -> str:
    """Add one bundle of a random kind (int, DataFrame, a file or a directory via ``api.add``).

    A directory's small files are flushed as one batch (on background threads,
    each renamed into place after its flush), so kills land in that path too.
    """
    kind = rng.randrange(4)
    if kind == 0:
        return api.Bundle(ctx, name="int", data=n).uuid
    if kind == 1:
        frame = pd.DataFrame({"n": [n, n + 1], "s": ["a", "b"]})
        return api.Bundle(ctx, name="df", data=frame).uuid
    if kind == 2:
        f = scratch / f"child-{os.getpid()}.txt"
        f.write_text(f"{n} {rng.random()}")  # new bytes: a new blob every time
        return api.add(ctx, "file", f).uuid
    d = scratch / f"dir-{os.getpid()}"
    d.mkdir(exist_ok=True)
    for i in range(40):
        (d / f"{i}.txt").write_text(f"{n} {i} {rng.random()}")
    return api.add(ctx, "dir", d).uuid


def work_loop(ctx: str, rng: random.Random, scratch: Path) -> None:
    """The child's endless mix of add / commit / rm (until it is killed)."""
    live = [b.uuid for b in api.search(ctx)]
    for n in range(CHILD_MAX_OPS):
        r = rng.random()
        if r < 0.5 or not live:
            live.append(add_one(ctx, n, rng, scratch))
        elif r < 0.75:
            api.commit(ctx, None, uuid=rng.choice(live))
        else:
            api.rm(ctx, uuid=live.pop(rng.randrange(len(live))), force=True)


def child_main(ctx: str, seed: int, scratch: Path) -> NoReturn:
    """Body of a forked child: work until killed; exit 3 (with a traceback file) on error."""
    code = 0
    try:
        work_loop(ctx, random.Random(seed), scratch)
    except BaseException:
        code = 3
        (scratch / f"error-{os.getpid()}.txt").write_text(traceback.format_exc())
    os._exit(code)


def run_child(ctx: str, seed: int, delay: float, scratch: Path) -> tuple[int, int]:
    """Fork a worker child, SIGKILL it after ``delay`` seconds; return (pid, wait status)."""
    close_repos()
    pid = os.fork()
    if pid == 0:
        child_main(ctx, seed, scratch)
    try:
        time.sleep(delay)
    finally:
        status = reap(pid)
    return pid, status


def verify_after_kill(ctx: str) -> list[str]:
    """Problems in the repository right after a kill (empty list: all good)."""
    problems = []
    report = api.fsck()
    problems += [f"fsck: {e}" for e in report.errors]
    found = api.search(ctx)
    on_disk = member_uuids(ctx)
    if {b.uuid for b in found} != on_disk:
        problems.append(f"index disagrees with refs: {sorted({b.uuid for b in found} ^ on_disk)}")
    for b in found:
        try:
            b.data  # noqa: B018 - loading proves record and blobs are all there
        except Exception as e:
            problems.append(f"bundle {b.uuid} does not load: {e!r}")
    return problems


def follow_up(ctx: str, keep: int = 4) -> float:
    """The parent's own add, commit-all and rm-old right after a kill; return seconds taken.

    Commit and rm touch the very refs the child was working on, so a stale
    lock left there must be cleared automatically.
    """
    t0 = time.monotonic()
    api.Bundle(ctx, name="parent", data={"after": "kill"})
    found = api.search(ctx)
    for b in found:
        if not b.is_committed:
            b.commit()
    for b in found[keep:]:
        api.rm(ctx, uuid=b.uuid, force=True)
    return time.monotonic() - t0


def one_trial(project: Path, ctx: str, rng: random.Random, stats: KillStats,
              seen: set[Path]) -> None:
    """Fork, kill at a random moment, then verify and use the repository."""
    scratch = project / "scratch"
    pid, status = run_child(ctx, rng.randrange(1 << 30), rng.uniform(0, MAX_KILL_DELAY_S),
                            scratch)
    stats.trials += 1
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        stats.kills += 1
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
        err = scratch / f"error-{pid}.txt"
        stats.failures.append(f"child {pid} failed: {err.read_text() if err.exists() else '?'}")
    leftovers = set(lock_files(project)) | set(temp_files(project))
    stats.new_locks += len({p for p in leftovers - seen if p.suffix == ".lock"})
    stats.new_temps += len({p for p in leftovers - seen if p.suffix != ".lock"})
    seen |= leftovers
    stats.failures += [f"trial {stats.trials}: {p}" for p in verify_after_kill(ctx)]
    try:
        stats.slowest_follow_up = max(stats.slowest_follow_up, follow_up(ctx))
    except Exception as e:
        stats.failures.append(f"trial {stats.trials}: follow-up failed: {e!r}")


@pytest.mark.slow
def test_sigkill_at_random_points_during_add_commit_rm(project: Path, ctx: str) -> None:
    """>= 100 SIGKILLs at random moments: repository always consistent and usable."""
    (project / "scratch").mkdir()
    api.Bundle(ctx, name="seed", data=0)
    rng = random.Random(20240607)
    stats = KillStats()
    seen: set[Path] = set()
    for _ in range(KILL_TRIALS):
        one_trial(project, ctx, rng, stats, seen)
        assert not stats.failures, "\n".join(stats.failures[:10])
    assert stats.kills >= 100, stats
    # Kills landed inside critical sections, not only between operations.
    assert stats.new_locks + stats.new_temps > 0, stats
    # Stale locks are cleared at once, never waited out to the 30 s timeout.
    assert stats.slowest_follow_up < 10, stats
    assert_fsck_clean()
    for b in api.search(ctx):
        b.rm()
    assert api.search(ctx) == []


# --------------------------------------------------------------------------- stale locks


def fork_lock_holder(path: Path) -> tuple[int, int]:
    """Fork a child that takes ``FileLock(path)``, reports ready and sleeps; (pid, read fd)."""
    close_repos()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            FileLock(path).acquire()
            os.write(w, b"x")
            time.sleep(120)
        finally:
            os._exit(0)
    os.close(w)
    return pid, r


def test_lock_of_killed_owner_is_cleared_at_once(project: Path) -> None:
    """A child SIGKILLed while holding a ref's lock: the next swap succeeds immediately."""
    refs = RefStore(dsdt_root(project), lock_timeout=30)
    refs.create("refs/probe", "a")
    pid, r = fork_lock_holder(refs.path("refs/probe"))
    try:
        wait_readable(r, 30)
    finally:
        os.close(r)
        reap(pid)
    lock = refs.path("refs/probe.lock")
    assert lock.read_text().startswith(f"{pid}@")  # the dead owner's record is left
    t0 = time.monotonic()
    refs.swap("refs/probe", "a", "b")
    assert time.monotonic() - t0 < 1.0
    assert refs.read("refs/probe") == "b"
    assert not lock.exists()


def test_live_lock_is_never_stolen(project: Path) -> None:
    """A lock held by a live process makes others wait (LockError), never clear it."""
    refs = RefStore(dsdt_root(project), lock_timeout=0.3)
    refs.create("refs/probe", "a")
    pid, r = fork_lock_holder(refs.path("refs/probe"))
    try:
        wait_readable(r, 30)
        with pytest.raises(LockError, match="held by another dsdt process"):
            refs.swap("refs/probe", "a", "b")
        assert refs.path("refs/probe.lock").exists()
        assert refs.read("refs/probe") == "a"
    finally:
        os.close(r)
        reap(pid)
    refs.swap("refs/probe", "a", "b")
    assert refs.read("refs/probe") == "b"


def test_unheld_lock_file_is_cleared_at_once(project: Path) -> None:
    """A lock file nobody holds a flock on (its owner died) is cleared without waiting."""
    refs = RefStore(dsdt_root(project), lock_timeout=30)
    refs.create("refs/probe", "a")
    lock = refs.path("refs/probe.lock")
    lock.touch()
    t0 = time.monotonic()
    refs.swap("refs/probe", "a", "b")
    assert time.monotonic() - t0 < 1.0
    assert refs.read("refs/probe") == "b"
    assert not lock.exists()


def test_killed_committer_leaves_nothing_blocking(project: Path, ctx: str) -> None:
    """A bundle whose commit-mark lock belongs to a killed process: commit and rm still work."""
    b = api.Bundle(ctx, name="x", data=1)
    repo = Repository.current()
    mark = repo.refs.path(Repository.member_ref(ctx, b.uuid, COMMITTED))
    pid, r = fork_lock_holder(mark)
    try:
        wait_readable(r, 30)
    finally:
        os.close(r)
        reap(pid)
    assert mark.with_name(mark.name + ".lock").exists()
    assert api.fsck().ok
    api.commit(ctx, None, uuid=b.uuid)
    assert api.get(ctx, None, uuid=b.uuid).is_committed
    assert api.rm(ctx, uuid=b.uuid, force=True) == [b.uuid]
    assert_fsck_clean()
    assert lock_files(project) == []


# --------------------------------------------------------------------------- races (one process)


def racing(monkeypatch: pytest.MonkeyPatch, refs: RefStore, method: str,
           other: Any) -> None:
    """Make ``refs.<method>`` let ``other()`` (another process) run just before it."""
    original = getattr(refs, method)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(refs, method, original)  # race only once
        other()
        return original(*args, **kwargs)

    monkeypatch.setattr(refs, method, wrapper)


def test_commit_racing_another_commit_is_harmless(ctx: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's commit mark (a pull adopting the bundle writes one without taking
    a commit's turn) lands between a commit's look and its write: both succeed."""
    b = api.Bundle(ctx, name="x", data=1)
    repo = Repository.current()
    other = Repository(repo.root)  # a second process with its own view of the repository
    mark = other.member_ref(ctx, b.uuid, COMMITTED)
    racing(monkeypatch, repo.refs, "swap",
           lambda: other.refs.swap(mark, None, other.member_sha(ctx, b.uuid)))
    assert repo.commit(ctx, b.uuid) is False
    assert b.is_committed


def test_rm_racing_another_rm_is_harmless(ctx: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's removal of the same bundle lands inside this one's: neither fails.
    (Two rm take turns; the other's deletes stand for any writer that does not.)"""
    b = api.Bundle(ctx, name="x", data=1)
    repo = Repository.current()
    other = Repository(repo.root)
    racing(monkeypatch, repo.refs, "delete",
           lambda: [other.refs.delete(other.member_ref(ctx, b.uuid, kind))
                    for kind in ("bundles", COMMITTED)])
    api.rm(ctx, uuid=b.uuid, force=True)
    assert api.get(ctx, None, uuid=b.uuid) is None
    assert_fsck_clean()


def test_fsck_while_another_process_removes_a_bundle(ctx: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """fsck running while another process removes a bundle neither crashes nor reports errors."""
    b = api.Bundle(ctx, name="x", data=1)
    other = Repository(Repository.current().root)
    listed = fsck_mod._ref_files

    def list_then_rm(base: Path, report: fsck_mod.FsckReport) -> list[Path]:
        out = listed(base, report)
        if any(p.name == b.uuid for p in out) and other.member_sha(ctx, b.uuid):
            other.remove_member(ctx, b.uuid)  # the other process's rm lands right now
        return out

    monkeypatch.setattr(fsck_mod, "_ref_files", list_then_rm)
    report = api.fsck()
    assert report.ok, report.errors


def test_a_commit_racing_an_rm_never_both_succeed(project: Path, ctx: str) -> None:
    """rm (without force) keeps committed bundles, also one committed while it works."""
    import threading

    root = project / ".dsdt" / "refs" / "contexts" / ctx
    for trial in range(40):
        uuid = api.Bundle(ctx, name="q", data=trial).uuid
        start, won = threading.Barrier(2), {}

        def commit(uuid: str = uuid, won: dict[str, bool] = won,
                   start: threading.Barrier = start) -> None:
            start.wait()
            with contextlib.suppress(DsdtError):
                api.commit(ctx, None, uuid=uuid)
                won["commit"] = True

        def rm(uuid: str = uuid, won: dict[str, bool] = won,
               start: threading.Barrier = start) -> None:
            start.wait()
            with contextlib.suppress(DsdtError):
                if api.rm(ctx, uuid=uuid) == [uuid]:
                    won["rm"] = True

        threads = [threading.Thread(target=commit), threading.Thread(target=rm)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        mark = root / "committed" / uuid[:2] / uuid
        member = root / "bundles" / uuid[:2] / uuid
        assert len(won) == 1, (trial, won)  # one of them, never both
        assert member.exists() == mark.exists() == ("commit" in won), (trial, won)
    assert_fsck_clean()
