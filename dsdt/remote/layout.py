"""Where things live on a remote, and the remote context ref.

The layout is the same on S3 and in a directory (``docs/format.md``)::

    blobs/<id[:2]>/<id>                     content-addressed data, shared by every context
    records/<uuid[:2]>/<uuid>.yaml          immutable bundle records, byte-identical to local ones
    contexts/<remote context>/bundles.json  the context's ref: its members (compare-and-swap)

The ref lists, per member uuid, the record's sha256, the bundle's name and
creation time, so pulling by name needs one GET, not one per remote bundle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dsdt.errors import CorruptObjectError
from dsdt.objects.gate import name_problem
from dsdt.objects.ids import is_sha256, is_uuid
from dsdt.objects.record import MAX_RECORD_BYTES

REF_FORMAT = 1
MAX_REF_BYTES = 1 << 30  # a remote context's ref (about 200 bytes per bundle)
#: The directories of a remote's root (``docs/format.md``, remote layout).
ROOT_DIRS = ("blobs", "packs", "records", "contexts", "locks")
#: Those holding directories only: shards, and the remote contexts.
SHARDED_DIRS = ROOT_DIRS[:4]
__all__ = ["MAX_RECORD_BYTES", "MAX_REF_BYTES", "ROOT_DIRS", "SHARDED_DIRS", "Entry", "blob_key",
           "context_key", "decode_ref", "encode_ref", "record_key"]


def blob_key(blob_id: str) -> str:
    """Key of a blob."""
    return f"blobs/{blob_id[:2]}/{blob_id}"


def record_key(uuid: str) -> str:
    """Key of a bundle record."""
    return f"records/{uuid[:2]}/{uuid}.yaml"


def context_key(remote_context: str) -> str:
    """Key of a remote context's ref."""
    return f"contexts/{remote_context}/bundles.json"


@dataclass(frozen=True)
class Entry:
    """One member of a remote context."""

    sha: str
    name: str
    created: str


def decode_ref(data: bytes | None, what: str) -> dict[str, Entry]:
    """Members of a remote context from its ref (empty when the ref does not exist).

    The ref was written by others: every entry passes the gate (a uuid, a
    record sha256, a valid bundle name, an ISO time) or the whole ref is refused.
    """
    if data is None:
        return {}
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != REF_FORMAT:
            raise ValueError("not a remote context ref of format 1")
        members = {u: _entry(u, e) for u, e in doc["bundles"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as e:
        raise CorruptObjectError(f"remote ref {what} is corrupt or hostile: {e}; nothing was "
                                 "used (run dsdt fsck --remote)") from None
    return members


def _entry(uuid: Any, e: Any) -> Entry:
    """One validated member entry."""
    entry = Entry(e["sha"], e["name"], e["created"])
    if not is_uuid(uuid) or not is_sha256(entry.sha):
        raise ValueError(f"entry {str(uuid)[:40]!r} is not a uuid with a record sha256")
    if entry.name != "" and (problem := name_problem(entry.name, allow_space=True)):
        raise ValueError(f"bundle name {str(entry.name)[:40]!r}: {problem}")
    if not isinstance(entry.created, str) or datetime.fromisoformat(entry.created).tzinfo is None:
        raise ValueError(f"creation time of {uuid} is not an ISO time with a zone")
    datetime.fromisoformat(entry.created).timestamp()  # OverflowError: refused too
    return entry


def encode_ref(members: dict[str, Entry]) -> bytes:
    """Canonical JSON of a remote context's ref."""
    doc: dict[str, Any] = {
        "format": REF_FORMAT,
        "bundles": {u: {"sha": e.sha, "name": e.name, "created": e.created}
                    for u, e in sorted(members.items())},
    }
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8")
