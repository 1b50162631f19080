"""The limit of the remote figures: raw boto3 transfers, as a process of their own.

Run by ``_remote.py`` (never imported by the suite, and importing nothing of
it, so the process costs only Python, boto3 and the requests)::

    python _s3raw.py put BUCKET PREFIX DIR THREADS         # upload DIR/* to PREFIX/*
    python _s3raw.py get BUCKET PREFIX NAMES DEST THREADS  # download PREFIX/<names> to DEST
    python _s3raw.py read BUCKET KEY                       # one GET (the no-op limit)

The endpoint and credentials come from the environment (``AWS_ENDPOINT_URL``...).
One client is shared by all threads, as dsdt does.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _client(threads: int) -> Any:
    """One client shared by all threads, with a connection pool like dsdt's."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(max_pool_connections=max(32, threads)))


def _each(threads: int, fn: Any, items: list[str]) -> None:
    """``fn`` on every item, ``threads`` at a time."""
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(fn, items):
            pass


def _put(bucket: str, prefix: str, src: str, threads: int) -> None:
    """Upload every file of the flat directory ``src`` to ``prefix/<name>``."""
    client = _client(threads)

    def put(name: str) -> None:
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        client.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=data)

    _each(threads, put, sorted(os.listdir(src)))


def _get(bucket: str, prefix: str, names: str, dest: str, threads: int) -> None:
    """Download ``prefix/<name>`` for each file name in directory ``names`` into ``dest``."""
    client = _client(threads)
    os.makedirs(dest, exist_ok=True)

    def get(name: str) -> None:
        data = client.get_object(Bucket=bucket, Key=f"{prefix}/{name}")["Body"].read()
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)

    _each(threads, get, sorted(os.listdir(names)))


def _main(argv: list[str]) -> None:
    cmd, *args = argv
    if cmd == "put":
        _put(args[0], args[1], args[2], int(args[3]))
    elif cmd == "get":
        _get(args[0], args[1], args[2], args[3], int(args[4]))
    elif cmd == "read":
        _client(1).get_object(Bucket=args[0], Key=args[1])["Body"].read()
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    _main(sys.argv[1:])
