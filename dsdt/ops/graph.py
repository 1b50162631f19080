"""Lineage graphs: a bundle's inputs (upstream) and users (downstream).

Upstream edges come from the records (``lineage.depends_on``); downstream edges
come from the index (:meth:`dsdt.index.Index.dependents`, one batched query per
breadth-first level, no scan of the records). A graph holds each bundle once,
so diamonds are shared, and its edges are every ``depends_on`` link between two
of its bundles. :mod:`dsdt.ops.render` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsdt._dates import json_date
from dsdt.bundle.lineage import LineageInfo
from dsdt.errors import CorruptObjectError, UsageError
from dsdt.objects.ids import is_uuid
from dsdt.ops.query import lookup, need_ref
from dsdt.repo import Repository

__all__ = ["LineageGraph", "lineage_graph", "walk"]

Walk = list[tuple[int, str, LineageInfo | None]]
_DIRECTIONS = {(True, False): "up", (False, True): "down", (True, True): "both"}


@dataclass
class LineageGraph:
    """The bundles around one bundle and the ``depends_on`` links between them.

    Attributes:
        root: Uuid of the bundle the walk started from.
        nodes: Every bundle reached, in walk order (root first); None marks a
            bundle that is referenced but not in the context.
        edges: ``(upstream uuid, downstream uuid, arg name)`` per link, each once.
        depth: Distance of each node from the root, in its own direction.
        direction: ``"up"`` (inputs), ``"down"`` (users) or ``"both"``.
        side: ``"root"``, ``"up"`` or ``"down"`` per node.
        max_depth: The depth limit of the walk (None: unlimited).
        cut: A walk stopped at its node limit with bundles still to reach.
    """

    root: str
    nodes: dict[str, LineageInfo | None]
    edges: list[tuple[str, str, str]]
    depth: dict[str, int]
    direction: str
    side: dict[str, str] = field(default_factory=dict)
    max_depth: int | None = None
    cut: bool = False

    def ref_processing_name(self, uuid: str) -> str:
        """Processing name of a node, from its record or else from a link naming it."""
        info = self.nodes.get(uuid)
        if info is not None:
            return info.processing_name
        for other in self.nodes.values():
            for dep in other.depends_on if other is not None else ():
                if dep.uuid == uuid:
                    return dep.processing_name
        return ""

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON-ready data (nodes in walk order, edges as from/to/arg)."""
        nodes = []
        for u, info in self.nodes.items():
            nodes.append({
                "uuid": u, "present": info is not None,
                "name": info.name if info else None,
                "processing_name": self.ref_processing_name(u) or None,
                "created": json_date(info.creation_date) if info else None,
                "code_ref": info.code_ref if info else None,
                "git_commit": (info.git.get("commit") or None) if info else None,
                "depth": self.depth[u], "side": self.side.get(u, "root"),
            })
        return {"root": self.root, "direction": self.direction, "max_depth": self.max_depth,
                "nodes": nodes,
                "edges": [{"from": a, "to": b, "arg": arg} for a, b, arg in self.edges]}


# --- walking ---------------------------------------------------------------------------


def walk(repo: Repository, ctx: str, uuid: str, max_depth: int | None = None,
         down: bool = False, max_nodes: int | None = None) -> Walk:
    """Walk a bundle's inputs (or, ``down``, its users) breadth-first.

    Inputs come from the records, users from the index (no record is scanned). An
    unreadable record (a corrupt one: fsck names it) is walked as not in the context.

    Returns:
        ``(depth, uuid, LineageInfo or None)`` per bundle in BFS order, each
        uuid once, the start first at depth 0; None marks an input not in the
        context. ``uuid`` may be a unique prefix or a name (its latest version);
        a start that names nothing gives ``[]``. With ``max_nodes``, no record
        is read once that many bundles besides the start are found; one more
        entry, ``(-1, "", None)``, then says that the walk was cut there.
    """
    if max_depth is not None and max_depth < 0:
        raise UsageError(f"the depth must be 0 or more, not {max_depth}")
    start = lookup(repo, ctx, uuid)
    if start is None:
        return []
    uuid = start.uuid
    root_info = LineageInfo.of(start.record)
    out: Walk = [(0, uuid, root_info)]
    seen = {uuid}
    level: list[tuple[str, LineageInfo | None]] = [(uuid, root_info)]
    depth = 0
    while level and (max_depth is None or depth < max_depth):
        depth += 1
        parents = [u for u, info in level if info is not None]
        if down:
            found = repo.index.dependents(ctx, parents)
            candidates = [c for p in parents for c in sorted(found[p])]
        else:
            candidates = [d.uuid for _, info in level if info is not None
                          for d in info.depends_on]
        new: list[tuple[str, LineageInfo | None]] = []
        for u in candidates:
            if u in seen:
                continue
            if max_nodes is not None and len(out) - 1 + len(new) >= max_nodes:
                return [*out, *((depth, v, i) for v, i in new), (-1, "", None)]
            seen.add(u)
            # A uuid from a record is not trusted to be well formed (it names a ref path).
            sha = repo.member_sha(ctx, u) if is_uuid(u) else None
            if sha is None:
                if not down:  # an input not in the context; (down: removed since indexed)
                    new.append((u, None))
                continue
            try:
                new.append((u, LineageInfo.of(repo.read_record(u, sha))))
            except CorruptObjectError:  # unreadable (fsck names it): drawn as not here
                if not down:
                    new.append((u, None))
        if down:  # users come from the index unordered: oldest first
            new.sort(key=lambda n: (n[1].creation_date.timestamp() if n[1] else 0.0, n[0]))
        out += [(depth, u, info) for u, info in new]
        level = new
    return out


def lineage_graph(repo: Repository, ctx: str, uuid: str, max_depth: int | None = None,
                  downstream: bool = False, upstream: bool = True,
                  max_nodes: int | None = None) -> LineageGraph:
    """Build the lineage graph around a bundle.

    Args:
        repo: The repository.
        ctx: The context to look in.
        uuid: The bundle to start from: its uuid, a unique uuid prefix, or its name
            (the latest version).
        max_depth: How many levels to follow in each direction (None: all).
        downstream: Follow the bundles that use it (through the index).
        upstream: Follow the bundles it was made from (through the records).
        max_nodes: Stop each direction's walk at this many bundles (``cut`` says so).

    Raises:
        BundleNotFoundError: ``uuid`` names no bundle of the context.
        UsageError: Neither direction was asked for, or ``max_depth`` < 0.
    """
    if not (upstream or downstream):
        raise UsageError("nothing to walk: ask for upstream and/or downstream")
    uuid = need_ref(repo, ctx, uuid).uuid
    walks = [(side, walk(repo, ctx, uuid, max_depth, side == "down", max_nodes))
             for side, wanted in (("up", upstream), ("down", downstream)) if wanted]
    nodes: dict[str, LineageInfo | None] = {}
    depth: dict[str, int] = {}
    sides: dict[str, str] = {}
    cut = False
    for side, steps in walks:
        for d, u, info in steps:
            if d < 0:
                cut = True
                continue
            if u not in nodes:
                nodes[u], depth[u], sides[u] = info, d, side if d else "root"
    edges: list[tuple[str, str, str]] = []
    for u, info in nodes.items():
        for dep in info.depends_on if info is not None else ():
            edge = (dep.uuid, u, dep.arg_name)
            if dep.uuid in nodes and edge not in edges:
                edges.append(edge)
    return LineageGraph(uuid, nodes, edges, depth, _DIRECTIONS[upstream, downstream], sides,
                        max_depth, cut)


