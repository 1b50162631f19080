"""``dsdt push`` of 100,000 small files to S3 (moto): it completes, shows progress, and its
memory stays bounded.

Adds N random 4 KiB files (default 100,000) as one bundle, commits it and
pushes it to a fresh prefix of a moto S3 server process (started as
``_remote.py`` starts it), with stderr on a pseudo-terminal so the progress
bar is drawn; then the same with N/10 files. For each push it reports the
wall time, the peak resident memory of the ``dsdt`` process (``wait4``'s
``ru_maxrss``) and how many progress redraws it wrote.

Bars: both pushes complete and draw progress, and memory holds the list of
files but not their bytes: the N push's peak memory exceeds the N/10 push's
by under 2 KiB per extra file (each file is 4 KiB; the directory's tree and
the list of blobs to send take about 1 KiB a file, the packs in flight a
fixed 64 MiB), and stays under the size of the data pushed.

Usage: python benchmarks/push_100k_bench.py [--files 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import make_small_files, new_repo
from _remote import AWS_DROP, BUCKET, MotoServer

DSDT = str(Path(sys.executable).parent / "dsdt")
FILE_SIZE = 4096
PER_FILE_KIB = 2


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, int]:
    """Run a command with stderr on a pseudo-terminal: wall seconds, peak RSS in KiB, and
    the number of progress redraws (carriage returns) it wrote there.

    The child's peak RSS counts this process's own peak at the fork too (the kernel
    carries it over at exec), so this process must stay small: see make_small_files.
    """
    main, sub = pty.openpty()
    t0 = time.perf_counter()
    p = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=sub)
    os.close(sub)
    out = bytearray()
    while True:
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    os.close(main)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        tail = out[-2000:].decode(errors="replace")
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {tail}")
    return wall, usage.ru_maxrss, len(re.findall(rb"\r", bytes(out)))


def push(files: int, work: Path, srv: MotoServer, env: dict[str, str]) -> tuple[float, int, int]:
    """Add ``files`` small files as a committed bundle and push it to a fresh prefix."""
    src = make_small_files(work / f"src-{files}", files, FILE_SIZE)
    proj = new_repo(work / f"repo-{files}")
    subprocess.run([DSDT, "add", "small", str(src)], cwd=proj, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([DSDT, "commit", "small"], cwd=proj, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    prefix = f"push-{files}-{time.time_ns()}"
    subprocess.run([DSDT, "remote", "--force", "shared", f"s3://{BUCKET}/{prefix}"], cwd=proj,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    result = run([DSDT, "push", "--jobs", "16"], proj, env)
    # the directory's tree lists every file: at 100,000 files it is over the pack threshold
    assert srv.count(f"{prefix}/blobs/") <= 1, "small files were pushed outside packs"
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--workdir", type=Path, help="where to put data (default: a temp dir)")
    args = p.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dsdt-push100k-"))
    work.mkdir(parents=True, exist_ok=True)
    srv = MotoServer(work / "moto.log")
    try:
        env = {k: v for k, v in os.environ.items() if k not in AWS_DROP} | srv.env()
        env.pop("DSDT_DIR", None)
        small = push(args.files // 10, work, srv, env)
        large = push(args.files, work, srv, env)
    finally:
        srv.stop()
    data_kib = args.files * FILE_SIZE // 1024
    per_file = (large[1] - small[1]) / (args.files - args.files // 10)
    ok = small[2] > 0 and large[2] > 0 and per_file < PER_FILE_KIB and large[1] < data_kib
    for n, (wall, rss, redraws) in ((args.files // 10, small), (args.files, large)):
        print(f"push of {n:>7} x 4 KiB: {wall:7.2f} s, peak RSS {rss / 1024:6.1f} MiB, "
              f"{redraws} progress redraws")
    print(f"peak RSS grows {per_file:.2f} KiB per extra file (bar < {PER_FILE_KIB} KiB; a file "
          f"is {FILE_SIZE // 1024} KiB) and stays under the {data_kib // 1024} MiB pushed; both "
          f"draw progress: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
