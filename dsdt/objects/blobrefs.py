"""Which blobs a value node needs: its bulk data, and the trees and packed values describing it.

Push, pull, gc, fsck and the index all ask this of a record's ``data`` node.
The walk is iterative, visits a shared node once, and reads directory trees
and packed values (each through the validation gate) only when asked to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dsdt.objects import gate
from dsdt.objects.files import MAX_META_BYTES, tree_blobs, tree_limit
from dsdt.objects.record import load_yaml


def load_packed(data: bytes, blob_id: str) -> dict[str, Any]:
    """The node tree stored in a packed-value blob, through the validation gate."""
    what = f"packed value {blob_id}"
    return gate.check_node(load_yaml(data, what), what)


class MetaBlob(NamedTuple):
    """A blob that describes part of a value: a directory tree or a packed node tree."""

    kind: str  # "tree" or "packed"
    limit: int  # the most bytes it may hold (a download stops beyond)


@dataclass
class BlobRefs:
    """The blobs a value node needs.

    Attributes:
        data: Bulk data blobs and their declared sizes in bytes.
        meta: Directory trees and packed values: small blobs that describe the
            value and travel with the metadata (pulled even without localize).
    """

    data: dict[str, int] = field(default_factory=dict)
    meta: dict[str, MetaBlob] = field(default_factory=dict)

    def all(self) -> set[str]:
        """Every blob id."""
        return set(self.data) | set(self.meta)

    def limits(self) -> dict[str, int]:
        """Every blob id with the most bytes it may hold (what a download is capped at)."""
        return {**{b: m.limit for b, m in self.meta.items()}, **self.data}

    def update(self, other: BlobRefs) -> None:
        """Add what ``other`` names."""
        self.data.update(other.data)
        self.meta.update(other.meta)


def meta_of(node: dict[str, Any]) -> tuple[str, MetaBlob] | None:
    """The meta blob a (validated) node names directly, if any."""
    if "tree" in node:
        return node["tree"], MetaBlob("tree", tree_limit(node))
    if node["type"] == "packed":
        return node["blob"], MetaBlob("packed", min(int(node["size"]), MAX_META_BYTES))
    return None


_SEQUENCES = frozenset({"list", "tuple", "set", "frozenset"})
_WITH_CHILDREN = _SEQUENCES | {"dict"}


def blob_refs(node: dict[str, Any],
              read_blob: Callable[[str, int], bytes] | None = None) -> BlobRefs:
    """The blobs a validated node refers to, looking inside trees and packed values when it can.

    The walk is iterative and visits a shared node, tree or packed value once.

    Args:
        node: A value node (from a record, which passed the gate).
        read_blob: Reads a (meta) blob's bytes, given the most it may hold;
            without it, blobs listed inside trees and packed values are not found.
    """
    refs = BlobRefs()
    if "blob" not in node and "tree" not in node and node["type"] not in _WITH_CHILDREN:
        return refs  # a leaf holding its value (most records hold one)
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        meta = meta_of(n)
        if meta is not None:
            blob_id, m = meta
            if blob_id not in refs.meta:
                refs.meta[blob_id] = m
                if read_blob is not None:
                    data = read_blob(blob_id, m.limit)
                    if m.kind == "tree":
                        refs.data.update(tree_blobs(data, blob_id))
                    else:
                        stack.append(load_packed(data, blob_id))
            continue
        kind = n["type"]
        if "blob" in n:
            refs.data[n["blob"]] = int(n.get("size", 0))
        elif kind in _SEQUENCES:
            stack.extend(n["items"])
        elif kind == "dict":
            for k, v in n["items"]:
                stack.extend((k, v))
    return refs


def expand_meta(blob_id: str, kind: str, data: bytes) -> BlobRefs:
    """The blobs listed inside a meta blob: a directory tree or a packed value.

    Packed values may name trees and packed values again; those come back in
    ``meta`` for the caller to expand in turn.
    """
    if kind == "tree":
        return BlobRefs(data=tree_blobs(data, blob_id))
    return blob_refs(load_packed(data, blob_id))
