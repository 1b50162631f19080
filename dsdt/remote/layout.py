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
from typing import Any

from dsdt.errors import CorruptObjectError
from dsdt.objects.ids import is_sha256, is_uuid

REF_FORMAT = 1


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
    """Members of a remote context from its ref (empty when the ref does not exist)."""
    if data is None:
        return {}
    try:
        doc = json.loads(data)
        if doc.get("format") != REF_FORMAT:
            raise ValueError(f"unknown format {doc.get('format')!r}")
        members = {u: Entry(e["sha"], e["name"], e["created"]) for u, e in doc["bundles"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CorruptObjectError(f"remote ref {what} is not valid: {e}") from None
    for uuid, entry in members.items():
        if not is_uuid(uuid) or not is_sha256(entry.sha):
            raise CorruptObjectError(f"remote ref {what} has a malformed entry {uuid!r}")
    return members


def encode_ref(members: dict[str, Entry]) -> bytes:
    """Canonical JSON of a remote context's ref."""
    doc: dict[str, Any] = {
        "format": REF_FORMAT,
        "bundles": {u: {"sha": e.sha, "name": e.name, "created": e.created}
                    for u, e in sorted(members.items())},
    }
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False).encode("utf-8")
