"""Figures of issue 16's local bars: writing many small files and bundles, and the index rebuild.

Each limit is a plain Python process doing the same work with the same
durability: every file it writes is fsynced, and so is the directory that
received it (dsdt makes each blob, record and ref durable before the next
step that refers to it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from _data import Env, count_blobs, ensure_fixture, new_repo, remove
from _timing import PY, Job, Result, by_ratio, by_time, dsdt, interleaved, run_cmd

LIMIT_RUNS = 3

#: argv: SRC OUT [COPIES]. Writes every file of SRC into OUT, COPIES times (the files a
#: bundle writes), each one fsynced, its shard directory fsynced after it.
WRITE_DURABLY = (
    "import os,sys\n"
    "src,out=sys.argv[1],sys.argv[2]; copies=int(sys.argv[3]) if len(sys.argv)>3 else 1\n"
    "names=sorted(os.listdir(src))\n"
    "for i,n in enumerate(names):\n"
    "    data=open(os.path.join(src,n),'rb').read()\n"
    "    for c in range(copies):\n"
    "        d=os.path.join(out,str(c),'%02x'%(i%256)); os.makedirs(d,exist_ok=True)\n"
    "        fd=os.open(os.path.join(d,n),os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o444)\n"
    "        os.write(fd,data if c==0 else data[:600]); os.fsync(fd); os.close(fd)\n"
    "        fd=os.open(d,os.O_RDONLY); os.fsync(fd); os.close(fd)\n")

#: argv: REPO FILES... : one api.add per file (a bundle each), in one process.
CREATE_BUNDLES = (
    "import os,sys\n"
    "os.environ['DSDT_DIR']=os.path.join(sys.argv[1],'.dsdt')\n"
    "import dsdt.api as api\n"
    "for i,f in enumerate(sorted(os.listdir(sys.argv[2]))):\n"
    "    api.add('default','b%d'%(i%50),os.path.join(sys.argv[2],f))\n")

#: argv: DSDT_ROOT. Reads every record's bytes: the floor of an index rebuild.
READ_RECORDS = (
    "import os,sys\n"
    "for d,_,fs in os.walk(os.path.join(sys.argv[1],'records')):\n"
    "    for f in fs: open(os.path.join(d,f),'rb').read()\n")


def fig_add_10k_dir(env: Env) -> Result:
    """``dsdt add`` of many 4 KiB files vs a Python process writing them as durably."""
    src, out, proj = env.small_dir(), env.scratch / "durable", env.scratch / "repo-small"
    limit, runs = interleaved(
        Job(lambda: run_cmd([PY, "-c", WRITE_DURABLY, src, out]), LIMIT_RUNS, os.sync,
            lambda: remove(out)),
        Job(lambda: dsdt("add", "small", src, cwd=proj), env.runs_for("add_10k_dir"),
            lambda: (new_repo(proj), os.sync())))
    blobs, expected = count_blobs(proj), env.sizes["files"] + 1  # the files and the tree
    assert blobs == expected, f"{blobs} blobs after adding, expected {expected}"
    env.cache["small_repo"] = proj
    return by_ratio("add_10k_dir", runs, {"durable writes": limit}, 2.0,
                    f"{env.sizes['files']} files; Disdat 10.5s, DVC 13.4s")


def fig_create_1k(env: Env) -> Result:
    """1,000 ``api.add`` bundles in one process vs writing their 4 files each as durably."""
    n = env.sizes["bundles_made"]
    src = _first_files(env.small_dir(), env.scratch / "small-1k", n)
    out, proj = env.scratch / "durable-1k", env.scratch / "repo-1k"
    limit, runs = interleaved(  # a bundle writes its blob, record, membership ref, made marker
        Job(lambda: run_cmd([PY, "-c", WRITE_DURABLY, src, out, "4"]), LIMIT_RUNS, os.sync,
            lambda: remove(out)),
        Job(lambda: run_cmd([PY, "-c", CREATE_BUNDLES, proj, src]), env.runs_for("create_1k"),
            lambda: (new_repo(proj), os.sync())))
    return by_ratio("create_1k", runs, {"durable writes x4": limit}, 3.0,
                    f"{n} bundles of one 4 KiB file; Disdat 11.3-12.8s per 1000")


def fig_index_rebuild(env: Env) -> Result:
    """The first ``dsdt ls`` after a fresh clone (the index built from the records)."""
    fx = ensure_fixture(env.fixtures, env.sizes["bundles"], env.sizes["names"])
    root = fx.project / ".dsdt"

    def drop_index() -> None:
        for db in (root / "cache").glob("db-*"):
            shutil.rmtree(db)

    read, runs = interleaved(
        Job(lambda: run_cmd([PY, "-c", READ_RECORDS, root]), LIMIT_RUNS),
        Job(lambda: dsdt("ls", cwd=fx.project), env.runs_for("index_rebuild"), drop_index))
    return by_time("index_rebuild", runs, {"read records": read}, 3.0 * fx.bundles / 100_000,
                   f"{fx.bundles} records (bar 3 s per 100,000; reading them as limit)")


def _first_files(src: Path, dest: Path, n: int) -> Path:
    """A directory holding the first ``n`` files of ``src`` (made once)."""
    if not dest.is_dir():
        dest.mkdir(parents=True)
        for name in sorted(os.listdir(src))[:n]:
            shutil.copyfile(src / name, dest / name)
    return dest


FIGURES: dict[str, Callable[[Env], Result]] = {
    "add_10k_dir": fig_add_10k_dir, "create_1k": fig_create_1k,
    "index_rebuild": fig_index_rebuild,
}
