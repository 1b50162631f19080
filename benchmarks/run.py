"""dsdt benchmark suite: each figure against a physical limit measured in the same run.

Usage::

    python benchmarks/run.py [--quick] [--only NAME ...] [--workdir DIR] [--runs N] [--json FILE]

Each figure prints one line ``name  measured  limit  ratio  bar  PASS/FAIL  notes``.
``measured`` and ``limit`` are medians of several runs; ``limit`` is what the
machine needs for the same work without dsdt (copying, hashing, starting
Python, raw pyarrow...), measured on the same files in the same run, so the
ratio is comparable across machines. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _remote
import _writes
from _data import (  # helper modules next to this script (see sys.path above)
    Env,
    count_blobs,
    ensure_fixture,
    new_repo,
    remove,
)
from _timing import (
    CHILD_ENV,
    PY,
    Job,
    Result,
    by_ratio,
    by_time,
    child_env,
    dsdt,
    interleaved,
    med,
    run_cmd,
    sha256_file,
    warm,
)

FULL = {"big": 1 << 30, "files": 10_000, "file_size": 4096, "bundles": 100_000,
        "bundles_made": 1000, "names": 1_000, "rows": 1_000_000, "remote_files": 10_000}
QUICK = {"big": 64 << 20, "files": 1_000, "file_size": 4096, "bundles": 10_000,
         "bundles_made": 200, "names": 1_000, "rows": 100_000, "remote_files": 500}
LIMIT_RUNS = 3

WALK_STAT = ("import os,sys\nfor d,_,fs in os.walk(sys.argv[1]):\n"
             "    [os.stat(os.path.join(d,f)) for f in fs]")
INDEX_QUERY = (
    "import os,sqlite3,sys\n"
    "r=sys.argv[1]\n"
    "for c in os.scandir(r+'/refs/contexts/default/bundles'): os.stat(c.path)\n"
    "import glob\n"
    "db=sqlite3.connect(glob.glob(r+'/cache/db-*/index.sqlite')[0])\n"
    "rows=db.execute('SELECT name,MAX(created_ts) FROM bundles GROUP BY name').fetchall()\n"
    "sys.stdout.write(''.join(n+'\\n' for n,_ in sorted(rows,key=lambda x:-x[1])))\n"
)


# --- figures ---------------------------------------------------------------------------


def fig_add_1gib(env: Env) -> Result:
    """``dsdt add`` of one big random file vs max(cp, sha256) of it."""
    big, copy, proj = env.big_file(), env.scratch / "big.copy", env.scratch / "repo-big"
    digest: list[str] = []

    def check() -> None:
        blob = proj / ".dsdt" / "cache" / "blobs" / digest[0][:2] / digest[0]
        assert blob.is_file() and blob.stat().st_size == big.stat().st_size, "blob missing"
        remove(proj)

    cp, sha, runs = interleaved(
        Job(lambda: run_cmd(["cp", big, copy]), LIMIT_RUNS, lambda: warm(big), copy.unlink),
        Job(lambda: digest.append(sha256_file(big)), LIMIT_RUNS, lambda: warm(big)),
        Job(lambda: dsdt("add", "big", big, cwd=proj), env.runs_for("add_1gib"),
            lambda: (new_repo(proj), warm(big)), check))
    return by_ratio("add_1gib", runs, {"cp": cp, "sha256": sha}, 1.2,
                    f"cp {med(cp):.3f}s, sha256 {med(sha):.3f}s, {big.stat().st_size >> 20} MiB")


def fig_readd_10k_dir(env: Env) -> Result:
    """Re-adding the unchanged directory: no data written, vs walking + stat'ing it."""
    src = env.small_dir()
    proj = env.cache.get("small_repo")
    if proj is None:
        proj = new_repo(env.scratch / "repo-small")
        dsdt("add", "small", src, cwd=proj)
    before = count_blobs(proj)
    walk, runs = interleaved(
        Job(lambda: run_cmd([PY, "-c", WALK_STAT, src]), LIMIT_RUNS),
        Job(lambda: dsdt("add", "small", src, cwd=proj), env.runs_for("readd_10k_dir")))
    new = count_blobs(proj) - before
    res = by_time("readd_10k_dir", runs, {"walk+stat": walk}, 0.5,
                  f"{new} new blobs (python walk+stat as limit)")
    res.passed = res.passed and new == 0
    return res


def fig_ls_100k(env: Env) -> Result:
    """``dsdt ls`` over many bundles (index warm) vs answering from the index directly."""
    fx = ensure_fixture(env.fixtures, env.sizes["bundles"], env.sizes["names"])
    out = dsdt("ls", cwd=fx.project)  # warm-up: the index is brought up to date
    assert len(out.splitlines()) == fx.names, f"ls printed {len(out.splitlines())} names"
    query, runs = interleaved(
        Job(lambda: run_cmd([PY, "-c", INDEX_QUERY, fx.project / ".dsdt"]), LIMIT_RUNS),
        Job(lambda: dsdt("ls", cwd=fx.project), env.runs_for("ls_100k")))
    return by_time("ls_100k", runs, {"sqlite query": query}, 0.5,
                   f"{fx.bundles} bundles, {fx.names} names (python+sqlite query as limit)")


def fig_help(env: Env) -> Result:
    """``dsdt --help`` vs starting the same Python interpreter."""
    start, runs = interleaved(Job(lambda: run_cmd([PY, "-c", "pass"]), LIMIT_RUNS),
                              Job(lambda: dsdt("--help", cwd=env.scratch), env.runs_for("help")))
    return by_time("help", runs, {"python -c pass": start}, 0.3, "(python -c pass as limit)")


def _with_repo(proj: Path, fn: Callable[[], Any]) -> Any:
    """Call ``fn`` with the dsdt API pointed at ``proj`` (via ``DSDT_DIR``)."""
    old = os.environ.get("DSDT_DIR")
    os.environ["DSDT_DIR"] = str(proj / ".dsdt")
    try:
        return fn()
    finally:
        if old is None:
            del os.environ["DSDT_DIR"]
        else:
            os.environ["DSDT_DIR"] = old


def fig_df_write(env: Env) -> Result:
    """``api.Bundle(ctx, name=, data=df)`` into a fresh repo vs raw pyarrow to parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dsdt import api

    df, raw = env.frame(), env.scratch / "raw.parquet"
    proj: list[Path] = []  # a new path each run: the API caches open repositories by path

    def fresh_repo() -> None:
        proj.append(new_repo(env.scratch / f"repo-frame-{len(proj)}"))
        os.sync()

    arrow, runs = interleaved(
        Job(lambda: pq.write_table(pa.Table.from_pandas(df), raw), LIMIT_RUNS, os.sync),
        Job(lambda: _with_repo(proj[-1], lambda: api.Bundle("default", name="frame", data=df)),
            env.runs_for("df_write"), fresh_repo))
    env.cache["frame_repo"], env.cache["frame_raw"] = proj[-1], raw
    return by_ratio("df_write", runs, {"pyarrow": arrow}, 1.3,
                    f"{df.shape[0]}x{df.shape[1]} float64; Disdat 0.37-0.67s")


def fig_df_read(env: Env) -> Result:
    """``api.get(ctx, name).data`` (fresh Bundle each time) vs raw pyarrow from parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dsdt import api

    df = env.frame()
    proj, raw = env.cache.get("frame_repo"), env.cache.get("frame_raw")
    if proj is None or raw is None:
        proj, raw = new_repo(env.scratch / "repo-frame"), env.scratch / "raw.parquet"
        pq.write_table(pa.Table.from_pandas(df), raw)
        _with_repo(proj, lambda: api.Bundle("default", name="frame", data=df))

    def get() -> Any:
        return _with_repo(proj, lambda: api.get("default", "frame").data)

    assert get().equals(df) and pq.read_table(raw).to_pandas().equals(df)  # also warms both
    arrow, runs = interleaved(Job(lambda: pq.read_table(raw).to_pandas(), LIMIT_RUNS),
                              Job(get, env.runs_for("df_read")))
    return by_ratio("df_read", runs, {"pyarrow": arrow}, 1.3,
                    f"{df.shape[0]}x{df.shape[1]} float64; Disdat 0.45-1.8s")


FIGURES: dict[str, Callable[[Env], Result]] = {
    "add_1gib": fig_add_1gib, "add_10k_dir": _writes.fig_add_10k_dir,
    "create_1k": _writes.fig_create_1k, "index_rebuild": _writes.fig_index_rebuild,
    "readd_10k_dir": fig_readd_10k_dir, "ls_100k": fig_ls_100k, "help": fig_help,
    "df_write": fig_df_write, "df_read": fig_df_read, **_remote.FIGURES,
}


# --- driver ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes: a smoke run of a minute or two")
    p.add_argument("--only", nargs="+", choices=list(FIGURES), metavar="NAME",
                   help=f"run only these figures ({', '.join(FIGURES)})")
    p.add_argument("--workdir", type=Path, help="where to put data (default: a temp dir); "
                   "the 100k-bundle fixture is kept there and reused")
    p.add_argument("--runs", type=int, help="timed runs per figure (default 3, 1 for add_1gib)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also save the results as JSON")
    return p.parse_args(argv)


def warm_up(env: Env) -> None:
    """Fill the children's bytecode cache (and the page cache) with what the figures import."""
    proj = new_repo(env.scratch / "repo-warm")
    (proj / "x.txt").write_text("x")
    dsdt("add", "warm", proj / "x.txt", cwd=proj)
    dsdt("ls", cwd=proj)
    dsdt("--help", cwd=proj)
    run_cmd([PY, "-c", "import dsdt.api, pandas, pyarrow.parquet, boto3.s3.transfer, "
             "botocore.config"])
    remove(proj)


def run_figure(name: str, env: Env) -> Result:
    """Run one figure; an exception becomes a FAIL line instead of stopping the suite."""
    t0 = time.perf_counter()
    try:
        return FIGURES[name](env)
    except Exception as e:
        traceback.print_exc()
        nan = float("nan")
        return Result(name, nan, nan, "-", False, [], {}, f"ERROR {type(e).__name__}: {e}")
    finally:
        print(f"# {name}: {time.perf_counter() - t0:.1f} s in all", file=sys.stderr, flush=True)


def save_json(path: Path, env: Env, load: float, results: list[Result]) -> None:
    """Write the results and what they were measured on."""
    meta = {"sizes": env.sizes, "python": sys.version.split()[0], "machine": platform.platform(),
            "cpus": os.cpu_count(), "load_average": load, "time": time.time()}
    rows = [{**asdict(r), "ratio": r.ratio} for r in results]
    path.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the selected figures, print the table, optionally save JSON; 1 if any FAIL."""
    args = parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="dsdt-bench-", dir=args.workdir))
    fixtures = args.workdir / "fixtures" if args.workdir else scratch / "fixtures"
    env = Env(scratch, fixtures, QUICK if args.quick else FULL, args.runs)
    CHILD_ENV.update(child_env((args.workdir or scratch) / "pycache"))
    load = os.getloadavg()[0]
    print(f"# load average {load:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    print(f"{'figure':<14} {'measured':>9} {'limit':>9} {'ratio':>7}  {'bar':<8} result")
    results = []
    try:
        warm_up(env)
        for name in args.only or list(FIGURES):
            results.append(run_figure(name, env))
            print(results[-1].line(), flush=True)
    finally:
        _remote.shutdown(env)  # the moto server, if a remote figure started it
        t0 = time.perf_counter()
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"# cleanup: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.json:
        save_json(args.json, env, load, results)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
