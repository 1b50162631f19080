"""Remote figures of ``benchmarks/run.py``: push and pull through S3 (a local moto server).

The S3 server is moto, started by :class:`MotoServer` as a separate process on
127.0.0.1 (so it does not share a GIL with the client being measured) and
always stopped: by :func:`shutdown` at the end of the suite, by ``atexit``,
and by the kernel (``PR_SET_PDEATHSIG``) if the suite dies without cleanup.

moto is the bottleneck of these figures (a single Python process answering
every request), so the limit is a raw boto3 transfer of the same files with
16 threads, in a Python process of its own, against the same server in the
same run: the ratio then counts what dsdt does beyond that (extra requests,
per-object overhead), not the speed of S3.

That limit is the script ``_s3raw.py``.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _data import count_blobs, make_small_files, new_repo, remove
from _timing import CHILD_ENV, PY, Job, Result, by_ratio, by_time, dsdt, interleaved, med, run_cmd

if TYPE_CHECKING:
    from _data import Env

BUCKET = "dsdt-bench"
REMOTE_CTX = "shared"
THREADS = 16  # the limit's threads, and dsdt's --jobs in the figures
LIMIT_RUNS = 3
SCRIPT = Path(__file__).resolve().parent / "_s3raw.py"
MOTO_MAIN = ("import logging, sys\n"
             "logging.getLogger('werkzeug').setLevel(logging.ERROR)  # no line per request\n"
             "from moto.server import main\n"
             "main(sys.argv[1:])\n")
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/nonexistent/aws-config",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials"}
AWS_DROP = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3")
HISTORY = {"push": "Disdat 152s, DVC 73s", "pull": "Disdat 160s, DVC 76s"}


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark process dies (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """A moto S3 server in its own process on 127.0.0.1, with one bucket; stop it with stop()."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [PY, "-c", MOTO_MAIN, "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        atexit.register(self.stop)
        try:
            self._wait_ready(log)
            self.client().create_bucket(Bucket=BUCKET)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, log: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited {self.proc.returncode}: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"moto server not listening on port {self.port} after {timeout} s")

    def client(self) -> Any:
        """A boto3 S3 client of the benchmark process (set-up and checks only, never timed)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def env(self) -> dict[str, str]:
        """Environment variables pointing a child's boto3 at this server."""
        return {**AWS_ENV, "AWS_ENDPOINT_URL": self.url}

    def count(self, prefix: str) -> int:
        """Number of objects under ``prefix`` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                        Prefix=prefix)
        return sum(page.get("KeyCount", 0) for page in pages)

    def size(self, prefix: str) -> int:
        """Bytes of the objects under ``prefix`` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                        Prefix=prefix)
        return sum(o["Size"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); harmless when already stopped."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not self._log.closed:
            self._log.close()


def server(env: Env) -> MotoServer:
    """The suite's moto server, started on first use; children's boto3 is pointed at it."""
    if "moto" not in env.cache:
        srv = MotoServer(env.scratch / "moto.log")
        env.cache["moto"] = srv
        for var in AWS_DROP:
            CHILD_ENV.pop(var, None)
        CHILD_ENV.update(srv.env())
    return env.cache["moto"]


def shutdown(env: Env) -> None:
    """Stop the moto server if this run started one."""
    srv = env.cache.pop("moto", None)
    if srv is not None:
        srv.stop()
        for var in srv.env():
            CHILD_ENV.pop(var, None)


# --- data and repositories (untimed set-up) ----------------------------------------------


def source(env: Env) -> Path:
    """The directory of small files to push (the ``add_10k_dir`` one when the count matches)."""
    n = env.sizes["remote_files"]
    if n == env.sizes["files"]:
        return env.small_dir()
    if "remote_src" not in env.cache:
        env.cache["remote_src"] = make_small_files(env.scratch / "remote-src", n,
                                                   env.sizes["file_size"])
    return env.cache["remote_src"]


def _s3(prefix: str) -> str:
    return f"s3://{BUCKET}/{prefix}"


def _prefix(env: Env, kind: str) -> str:
    """A prefix never used before in this run."""
    n = env.cache["prefixes"] = env.cache.get("prefixes", 0) + 1
    return f"{kind}-{n:03d}"


def committed_repo(env: Env) -> Path:
    """A repository with the source directory added as bundle ``small`` and committed."""
    if "push_repo" not in env.cache:
        proj = new_repo(env.scratch / "repo-push")
        dsdt("add", "small", source(env), cwd=proj)
        dsdt("commit", "small", cwd=proj)
        env.cache["push_repo"] = proj
    return env.cache["push_repo"]


def bind(proj: Path, prefix: str) -> None:
    """Bind the current context of ``proj`` to ``shared`` at ``prefix`` in the bucket."""
    dsdt("remote", "--force", REMOTE_CTX, _s3(prefix), cwd=proj)


def pushed(env: Env) -> tuple[Path, str]:
    """The committed repository, bound to a prefix it was pushed to (pushing once if needed)."""
    if "pushed" not in env.cache:
        proj, prefix = committed_repo(env), _prefix(env, "dsdt")
        bind(proj, prefix)
        dsdt("push", "--jobs", str(THREADS), cwd=proj)
        env.cache["pushed"] = prefix
    return env.cache["push_repo"], env.cache["pushed"]


def raw_uploaded(env: Env) -> str:
    """A prefix holding the source files uploaded by the limit (uploading once if needed)."""
    if "raw_prefix" not in env.cache:
        prefix = _prefix(env, "raw")
        run_cmd(_limit("put", BUCKET, prefix, source(env), THREADS))
        env.cache["raw_prefix"] = prefix
    return env.cache["raw_prefix"]


def pulled(env: Env) -> Path:
    """A second repository bound to the pushed prefix, with everything pulled (localized)."""
    if "pull_repo" not in env.cache:
        _, prefix = pushed(env)
        proj = new_repo(env.scratch / "repo-pull")
        bind(proj, prefix)
        dsdt("pull", "-l", "--jobs", str(THREADS), cwd=proj)
        env.cache["pull_repo"] = proj
    return env.cache["pull_repo"]


def _limit(*args: str | int | Path) -> list[str]:
    return [PY, str(SCRIPT), *map(str, args)]


def _expect_blobs(env: Env, got: int, what: str) -> None:
    want = env.sizes["remote_files"] + 1  # the files and the directory's tree
    assert got == want, f"{got} blobs {what}, expected {want}"


# --- figures ---------------------------------------------------------------------------


def fig_push_10k(env: Env) -> Result:
    """``dsdt push`` of a committed bundle of many 4 KiB files to a fresh S3 prefix vs boto3."""
    srv, src, proj = server(env), source(env), committed_repo(env)
    last: dict[str, str] = {}

    def fresh(kind: str) -> None:
        last[kind] = _prefix(env, kind)

    def push_job(jobs: int, runs: int) -> Job:
        kind = f"dsdt-j{jobs}"
        return Job(lambda: dsdt("push", "--jobs", str(jobs), cwd=proj), runs,
                   lambda: (fresh(kind), bind(proj, last[kind])))

    runs8, raw, runs = interleaved(  # --jobs THREADS last: proj stays bound to its prefix
        push_job(8, 1),
        Job(lambda: run_cmd(_limit("put", BUCKET, last["raw"], src, THREADS)), LIMIT_RUNS,
            lambda: fresh("raw")),
        push_job(THREADS, env.runs_for("push_10k")))
    prefix = last[f"dsdt-j{THREADS}"]
    assert srv.count(f"{prefix}/blobs/") == 0, "small files were pushed outside packs"
    packs = srv.count(f"{prefix}/packs/")
    data = env.sizes["remote_files"] * env.sizes["file_size"]
    stored = srv.size(f"{prefix}/packs/") / data
    assert srv.count(f"{last['raw']}/") == env.sizes["remote_files"], "raw upload incomplete"
    env.cache["pushed"], env.cache["raw_prefix"] = prefix, last["raw"]
    return by_ratio("push_10k", runs, {"boto3 put": raw}, 0.1,
                    f"{env.sizes['remote_files']} files in {packs} objects (packs and their "
                    f"indexes) holding {stored:.3f}x the data; --jobs {THREADS}; --jobs 8 "
                    f"{med(runs8):.1f}s; {THREADS}-thread boto3 put_object of one object per "
                    f"file as limit; {HISTORY['push']}")


def fig_pull_10k(env: Env) -> Result:
    """``dsdt pull -l`` of the pushed bundle into a fresh repository vs boto3 downloads."""
    server(env)
    src, (_, prefix), raw_prefix = source(env), pushed(env), raw_uploaded(env)
    dest, proj = env.scratch / "raw-download", env.scratch / "repo-pull"

    def fresh_repo() -> None:
        new_repo(proj)
        bind(proj, prefix)
        os.sync()

    def check() -> None:
        _expect_blobs(env, count_blobs(proj), "after pull -l")

    def pull_job(jobs: int, runs: int) -> Job:
        return Job(lambda: dsdt("pull", "-l", "--jobs", str(jobs), cwd=proj), runs, fresh_repo,
                   check)

    def check_raw() -> None:
        assert len(os.listdir(dest)) == env.sizes["remote_files"], "raw download incomplete"

    runs8, raw, runs = interleaved(
        pull_job(8, 1),
        Job(lambda: run_cmd(_limit("get", BUCKET, raw_prefix, src, dest, THREADS)),
            LIMIT_RUNS, lambda: (remove(dest), os.sync()), check_raw),
        pull_job(THREADS, env.runs_for("pull_10k")))
    env.cache["pull_repo"] = proj  # the last run, with --jobs THREADS, fully pulled
    return by_ratio("pull_10k", runs, {"boto3 get": raw}, 0.1,
                    f"{env.sizes['remote_files']} files from packs, --jobs {THREADS}; --jobs 8 "
                    f"{med(runs8):.1f}s; {THREADS}-thread boto3 get_object of one object per "
                    f"file as limit; {HISTORY['pull']}")


def _read_ref_limit(prefix: str) -> list[str]:
    """A Python process reading the remote context's ref with boto3: the least a no-op does."""
    return _limit("read", BUCKET, f"{prefix}/contexts/{REMOTE_CTX}/bundles.json")


def fig_noop_push(env: Env) -> Result:
    """``dsdt push`` again with everything already on the remote."""
    server(env)
    proj, prefix = pushed(env)
    out: list[str] = []
    read, runs = interleaved(
        Job(lambda: run_cmd(_read_ref_limit(prefix)), LIMIT_RUNS),
        Job(lambda: out.append(dsdt("push", "--jobs", str(THREADS), cwd=proj)),
            env.runs_for("noop_push")))
    assert all(o.startswith("Nothing to push") for o in out), out[-1]
    return by_time("noop_push", runs, {"boto3 read ref": read}, 1.0,
                   "1 bundle already there (python+boto3 reading the ref as limit)")


def fig_noop_pull(env: Env) -> Result:
    """``dsdt pull -l`` again with everything already local."""
    server(env)
    proj, (_, prefix) = pulled(env), pushed(env)
    out: list[str] = []
    read, runs = interleaved(
        Job(lambda: run_cmd(_read_ref_limit(prefix)), LIMIT_RUNS),
        Job(lambda: out.append(dsdt("pull", "-l", "--jobs", str(THREADS), cwd=proj)),
            env.runs_for("noop_pull")))
    assert all(o.startswith("Pulled 0 bundle(s), 0 blob(s)") for o in out), out[-1]
    return by_time("noop_pull", runs, {"boto3 read ref": read}, 1.0,
                   f"{env.sizes['remote_files']} blobs already local "
                   "(python+boto3 reading the ref as limit)")


FIGURES = {"push_10k": fig_push_10k, "pull_10k": fig_pull_10k, "noop_push": fig_noop_push,
           "noop_pull": fig_noop_pull}
