"""SIGKILL stress: kill a dsdt writer at random moments and check the repository each time.

A forked child loops over ``add`` (ints, DataFrames, files via ``api.add``),
``commit`` and ``rm`` on one repository and is killed with SIGKILL after a
random delay, so kills land in every phase: blob and record writes, lock
held, atomic rename, ref delete, SQLite transaction. After each kill:

* ``fsck`` must report no error (warnings such as stale locks, temporary
  files and unreferenced objects are expected leftovers);
* every bundle the index shows must load, and the index must list exactly
  the membership refs on disk;
* an ``add``, a ``commit`` of every bundle and an ``rm`` of old bundles in
  the parent must work without manual clean-up (stale locks cleared).

Usage::

    python benchmarks/stress_kill.py [--trials 1000] [--seed 1] [--max-delay-ms 50] [--keep]

Prints a summary and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pandas as pd

import dsdt.api as api
from dsdt.repo import Repository

CTX = "stress"
CHILD_MAX_OPS = 100_000
KEEP_LIVE = 4


@dataclass
class Summary:
    """Counts of one run."""

    trials: int = 0
    kills: int = 0
    stale_locks: int = 0
    temp_files: int = 0
    fsck_failures: int = 0
    slowest_follow_up: float = 0.0
    failures: list[str] = field(default_factory=list)

    def report(self, elapsed: float) -> str:
        """A human-readable summary."""
        return (
            f"trials:               {self.trials}\n"
            f"kills (SIGKILL):      {self.kills}\n"
            f"stale locks seen:     {self.stale_locks}\n"
            f"temp files seen:      {self.temp_files}\n"
            f"fsck failures:        {self.fsck_failures}\n"
            f"other failures:       {len(self.failures) - self.fsck_failures}\n"
            f"slowest follow-up:    {self.slowest_follow_up:.3f} s\n"
            f"elapsed:              {elapsed:.1f} s"
        )


# --------------------------------------------------------------------------- the child


def add_one(n: int, rng: random.Random, scratch: Path) -> str:
    """Add one bundle of a random kind; return its uuid."""
    kind = rng.randrange(3)
    if kind == 0:
        return api.Bundle(CTX, name="int", data=n).uuid
    if kind == 1:
        frame = pd.DataFrame({"n": [n, n + 1], "s": ["a", "b"]})
        return api.Bundle(CTX, name="df", data=frame).uuid
    f = scratch / f"child-{os.getpid()}.txt"
    f.write_text(f"{n} {rng.random()}")  # new bytes: a new blob every time
    return api.add(CTX, "file", f).uuid


def work_loop(rng: random.Random, scratch: Path) -> None:
    """Add / commit / rm in a tight loop until killed."""
    live = [b.uuid for b in api.search(CTX)]
    for n in range(CHILD_MAX_OPS):
        r = rng.random()
        if r < 0.5 or not live:
            live.append(add_one(n, rng, scratch))
        elif r < 0.75:
            api.commit(CTX, None, uuid=rng.choice(live))
        else:
            api.rm(CTX, uuid=live.pop(rng.randrange(len(live))), force=True)


def child_main(seed: int, scratch: Path) -> NoReturn:
    """Body of the forked child; exits 3 (traceback in ``scratch``) on an error."""
    code = 0
    try:
        work_loop(random.Random(seed), scratch)
    except BaseException:
        code = 3
        (scratch / f"error-{os.getpid()}.txt").write_text(traceback.format_exc())
    os._exit(code)


# --------------------------------------------------------------------------- the parent


def close_repos() -> None:
    """Close cached SQLite connections so a forked child never shares them."""
    Repository.forget()


def run_child(seed: int, delay: float, scratch: Path) -> tuple[int, int]:
    """Fork a child, SIGKILL it after ``delay`` seconds, reap it; return (pid, status)."""
    close_repos()
    pid = os.fork()
    if pid == 0:
        child_main(seed, scratch)
    try:
        time.sleep(delay)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    return pid, status


def leftovers(root: Path) -> set[Path]:
    """Lock and temporary files under ``.dsdt``."""
    return {*root.rglob("*.lock"), *root.rglob(".*.tmp"), *(root / "cache" / "tmp").glob("*")}


def verify() -> tuple[list[str], list[str]]:
    """(fsck errors, other problems) of the repository right after a kill."""
    problems = []
    errors = api.fsck().errors
    found = api.search(CTX)
    names = Repository.current().refs.names(f"refs/contexts/{CTX}/bundles")
    on_disk = {n.rsplit("/", 1)[-1] for n in names}
    shown = {b.uuid for b in found}
    if shown != on_disk:
        problems.append(f"index disagrees with refs: {sorted(shown ^ on_disk)}")
    for b in found:
        try:
            b.data  # noqa: B018 - loading proves record and blobs are there
        except Exception as e:
            problems.append(f"bundle {b.uuid} does not load: {e!r}")
    return errors, problems


def follow_up() -> float:
    """The parent's add, commit-all and rm-old after a kill; return seconds taken."""
    t0 = time.monotonic()
    api.Bundle(CTX, name="parent", data={"after": "kill"})
    found = api.search(CTX)
    for b in found:
        if not b.is_committed:
            b.commit()
    for b in found[KEEP_LIVE:]:
        api.rm(CTX, uuid=b.uuid, force=True)
    return time.monotonic() - t0


def trial(root: Path, scratch: Path, rng: random.Random, max_delay: float, s: Summary,
          seen: set[Path]) -> None:
    """One fork / kill / verify / follow-up round."""
    pid, status = run_child(rng.randrange(1 << 30), rng.uniform(0, max_delay), scratch)
    s.trials += 1
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        s.kills += 1
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
        err = scratch / f"error-{pid}.txt"
        s.failures.append(f"trial {s.trials}: child failed:\n"
                          f"{err.read_text() if err.exists() else '?'}")
    left = leftovers(root)
    s.stale_locks += sum(1 for p in left - seen if p.suffix == ".lock")
    s.temp_files += sum(1 for p in left - seen if p.suffix != ".lock")
    seen |= left
    errors, problems = verify()
    if errors:
        s.fsck_failures += 1
        s.failures.append(f"trial {s.trials}: fsck: {errors}")
    s.failures += [f"trial {s.trials}: {p}" for p in problems]
    try:
        s.slowest_follow_up = max(s.slowest_follow_up, follow_up())
    except Exception as e:
        s.failures.append(f"trial {s.trials}: follow-up add/commit/rm failed: {e!r}")


def run(project: Path, trials: int, seed: int, max_delay: float) -> Summary:
    """Create a repository in ``project`` and run ``trials`` kill rounds on it."""
    os.environ.pop("DSDT_DIR", None)
    os.chdir(project)
    api.init(project)
    api.context(CTX)
    api.Bundle(CTX, name="seed", data=0)
    scratch = project / "scratch"
    scratch.mkdir()
    rng, s = random.Random(seed), Summary()
    seen: set[Path] = set()
    for i in range(trials):
        trial(project / ".dsdt", scratch, rng, max_delay, s, seen)
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{trials} trials, {len(s.failures)} failure(s)", flush=True)
    if api.fsck().errors:
        s.fsck_failures += 1
        s.failures.append("final fsck failed")
    return s


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=1000, help="kill rounds (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--max-delay-ms", type=float, default=50.0,
                   help="kill after a uniform random delay up to this (default 50 ms)")
    p.add_argument("--keep", action="store_true", help="keep the repository for inspection")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the stress test; 0 if every trial passed, else 1."""
    args = parse_args(argv)
    project = Path(tempfile.mkdtemp(prefix="dsdt-stress-kill-"))
    t0 = time.monotonic()
    try:
        s = run(project, args.trials, args.seed, args.max_delay_ms / 1000)
    finally:
        close_repos()
        os.chdir("/")
        if not args.keep:
            shutil.rmtree(project, ignore_errors=True)
    print(s.report(time.monotonic() - t0))
    if args.keep:
        print(f"repository kept in {project}")
    for f in s.failures[:20]:
        print("FAIL", f, file=sys.stderr)
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
