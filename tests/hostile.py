"""Playing the attacker: plant records, refs and blobs as ``git pull`` or a shared remote would."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import uuid as _uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

CREATED = "2026-11-26T12:17:19.460725+00:00"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(data: dict[str, Any] | None = None, name: str = "evil",
           uuid: str | None = None, **fields: Any) -> dict[str, Any]:
    """A record that passes the schema, with the given value node."""
    rec = {
        "created": CREATED, "data": data or {"type": "int", "value": 1}, "format": 1,
        "lineage": {"code_hash": "", "code_ref": "", "depends_on": [], "git": {},
                    "start_time": 0.0, "stop_time": 0.0},
        "name": name, "owner": "mallory", "params": {}, "presentation": "SCALAR",
        "processing_name": f"{name}_0000000000000000", "tags": {},
        "uuid": uuid or str(_uuid.uuid4()),
    }
    rec.update(fields)
    return rec


def dump(rec: dict[str, Any]) -> bytes:
    return yaml.safe_dump(rec, sort_keys=True, allow_unicode=True).encode()


def plant_local(dsdt: Path, ctx: str, text: bytes, uuid: str, *, committed: bool = True) -> None:
    """Write a record and its refs straight into ``.dsdt/``, as a ``git pull`` would."""
    path = dsdt / "records" / uuid[:2] / f"{uuid}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    kinds = ("bundles", "committed") if committed else ("bundles",)
    for kind in kinds:
        ref = dsdt / "refs" / "contexts" / ctx / kind / uuid[:2] / uuid
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(sha(text) + "\n")


def plant_remote(root: Path, remote_ctx: str, text: bytes, uuid: str, name: str = "evil",
                 created: str = CREATED) -> None:
    """Publish a record in a directory remote's context, as a hostile pusher would."""
    path = root / "records" / uuid[:2] / f"{uuid}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    set_remote_entry(root, remote_ctx, uuid, {"sha": sha(text), "name": name,
                                              "created": created})


def set_remote_entry(root: Path, remote_ctx: str, uuid: Any, entry: Any) -> None:
    """Add (or replace) one member entry of a remote context's ref, unchecked."""
    ref = root / "contexts" / remote_ctx / "bundles.json"
    doc = json.loads(ref.read_text()) if ref.exists() else {"format": 1, "bundles": {}}
    doc["bundles"][uuid] = entry
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(json.dumps(doc))


def put_blob(root: Path, data: bytes, blob_id: str | None = None) -> str:
    """Store bytes as a blob of a directory remote (under their hash, or a chosen id)."""
    blob_id = blob_id or sha(data)
    path = root / "blobs" / blob_id[:2] / blob_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return blob_id


def alias_bomb(levels: int = 9, width: int = 9) -> tuple[str, str]:
    """YAML anchors for ``lineage.git`` and a ``data`` node aliasing them: ~width**levels nodes.

    Returns:
        ``(git_block, data_line)`` to splice into a record's text.
    """
    items = ", ".join(["{type: none}"] * width)
    lines = [f"    a0: &a0 [{items}]"]
    for k in range(1, levels):
        inner = ", ".join([f"{{type: list, items: *a{k - 1}}}"] * width)
        lines.append(f"    a{k}: &a{k} [{inner}]")
    return "\n".join(lines), f"data: {{type: list, items: *a{levels - 1}}}"


def bomb_record(uuid: str, name: str = "bomb") -> bytes:
    """A ~1.6 KB record whose value expands to hundreds of millions of nodes."""
    git, data = alias_bomb()
    return (f"lineage:\n  code_hash: ''\n  code_ref: ''\n  depends_on: []\n  git:\n{git}\n"
            f"  start_time: 0.0\n  stop_time: 0.0\n{data}\ncreated: '{CREATED}'\nformat: 1\n"
            f"name: {name}\nowner: mallory\nparams: {{}}\npresentation: ROW\n"
            f"processing_name: {name}_0\ntags: {{}}\nuuid: {uuid}\n").encode()


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer than ``seconds`` (main thread only)."""
    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(top: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below ``top`` (symlinks not followed): kind, size and content hash."""
    out: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p)] = ("link", 0, os.readlink(p))
            elif p.is_file():
                out[str(p)] = ("file", st.st_size, sha(p.read_bytes()))
            else:
                out[str(p)] = ("dir", 0, "")
    return out
