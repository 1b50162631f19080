"""Lineage graphs: a bundle's inputs (upstream) and users (downstream), and renderers.

Upstream edges come from the records (``lineage.depends_on``); downstream edges
come from the index (:meth:`dsdt.index.Index.dependents`, one batched query per
breadth-first level, no scan of the records). A graph holds each bundle once,
so diamonds are shared, and its edges are every ``depends_on`` link between two
of its bundles. The renderers are pure functions of a :class:`LineageGraph`:
an indented text tree, Mermaid, Graphviz DOT and JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsdt.errors import BundleNotFoundError, UsageError
from dsdt.lineage import LineageInfo
from dsdt.objects.gate import printable
from dsdt.objects.ids import check_uuid, is_uuid

if TYPE_CHECKING:
    from dsdt.repo import Repository

__all__ = ["LineageGraph", "downstream_walk", "lineage_graph", "render_dot", "render_json",
           "render_mermaid", "render_text"]

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
    """

    root: str
    nodes: dict[str, LineageInfo | None]
    edges: list[tuple[str, str, str]]
    depth: dict[str, int]
    direction: str
    side: dict[str, str] = field(default_factory=dict)
    max_depth: int | None = None

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
                "created": info.creation_date.isoformat() if info else None,
                "code_ref": info.code_ref if info else None,
                "git_commit": (info.git.get("commit") or None) if info else None,
                "depth": self.depth[u], "side": self.side.get(u, "root"),
            })
        return {"root": self.root, "direction": self.direction, "max_depth": self.max_depth,
                "nodes": nodes,
                "edges": [{"from": a, "to": b, "arg": arg} for a, b, arg in self.edges]}


# --- walking ---------------------------------------------------------------------------


def _walk(repo: Repository, ctx: str, uuid: str, max_depth: int | None, down: bool) -> Walk:
    """Breadth-first walk from ``uuid``; ``[]`` if it is not a member of ``ctx``."""
    if max_depth is not None and max_depth < 0:
        raise UsageError(f"the depth must be 0 or more, not {max_depth}")
    sha = repo.member_sha(ctx, uuid)
    if sha is None:
        return []
    root_info = LineageInfo.of(repo.read_record(uuid, sha))
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
            seen.add(u)
            # A uuid from a record is not trusted to be well formed (it names a ref path).
            sha = repo.member_sha(ctx, u) if is_uuid(u) else None
            if sha is None:
                if not down:  # an input not in the context; (down: removed since indexed)
                    new.append((u, None))
                continue
            new.append((u, LineageInfo.of(repo.read_record(u, sha))))
        if down:  # users come from the index unordered: oldest first
            new.sort(key=lambda n: (n[1].creation_date.timestamp() if n[1] else 0.0, n[0]))
        out += [(depth, u, info) for u, info in new]
        level = new
    return out


def downstream_walk(local_context: str, uuid: str, max_depth: int | None = None) -> Walk:
    """Walk the users of a bundle breadth-first (the downstream twin of ``api.lineage``).

    Args:
        local_context: The context to look in.
        uuid: The bundle to start from.
        max_depth: How many levels of users to follow (None: all).

    Returns:
        ``(depth, uuid, LineageInfo)`` per bundle in BFS order, each uuid once,
        the start bundle first at depth 0. An unknown start uuid gives ``[]``.
    """
    from dsdt.api import _context, _repo

    repo = _repo()
    return _walk(repo, _context(repo, local_context), check_uuid(uuid), max_depth, down=True)


def lineage_graph(local_context: str, uuid: str, max_depth: int | None = None,
                  downstream: bool = False, upstream: bool = True) -> LineageGraph:
    """Build the lineage graph around a bundle.

    Args:
        local_context: The context to look in.
        uuid: The bundle to start from.
        max_depth: How many levels to follow in each direction (None: all).
        downstream: Follow the bundles that use it (through the index).
        upstream: Follow the bundles it was made from (through the records).

    Raises:
        BundleNotFoundError: ``uuid`` is not a bundle of the context.
        UsageError: Neither direction was asked for, or ``max_depth`` < 0.
    """
    from dsdt.api import _context, _repo

    if not (upstream or downstream):
        raise UsageError("nothing to walk: ask for upstream and/or downstream")
    repo = _repo()
    ctx = _context(repo, local_context)
    uuid = check_uuid(uuid)
    walks = [(side, _walk(repo, ctx, uuid, max_depth, down=side == "down"))
             for side, wanted in (("up", upstream), ("down", downstream)) if wanted]
    if not walks[0][1]:
        raise BundleNotFoundError(f"no bundle with uuid {uuid} in context {ctx!r}")
    nodes: dict[str, LineageInfo | None] = {}
    depth: dict[str, int] = {}
    sides: dict[str, str] = {}
    for side, walk in walks:
        for d, u, info in walk:
            if u not in nodes:
                nodes[u], depth[u], sides[u] = info, d, side if d else "root"
    edges: list[tuple[str, str, str]] = []
    for u, info in nodes.items():
        for dep in info.depends_on if info is not None else ():
            edge = (dep.uuid, u, dep.arg_name)
            if dep.uuid in nodes and edge not in edges:
                edges.append(edge)
    return LineageGraph(uuid, nodes, edges, depth, _DIRECTIONS[upstream, downstream], sides,
                        max_depth)


# --- rendering -------------------------------------------------------------------------


def node_ids(uuids: list[str]) -> dict[str, str]:
    """Safe identifiers (``n`` + hex) for Mermaid and DOT, distinct per uuid."""
    def key(u: str, n: int) -> str:
        return u.replace("-", "")[:n] if is_uuid(u) else \
            hashlib.sha256(u.encode("utf-8", "surrogatepass")).hexdigest()[:n]

    ids = {u: "n" + key(u, 12) for u in uuids}
    if len(set(ids.values())) < len(ids):
        ids = {u: "n" + key(u, 64) for u in uuids}
    return ids


def node_lines(g: LineageGraph, uuid: str) -> list[str]:
    """The label lines of a node in Mermaid and DOT (printable, not yet escaped)."""
    info = g.nodes[uuid]
    if info is None:
        return [printable(g.ref_processing_name(uuid) or "?"), printable(uuid[:8]),
                "not in this context"]
    return [printable(info.name), uuid[:8], printable(info.processing_name)]


def _grouped(edges: list[tuple[str, str, str]], key: int) -> dict[str, list[tuple[str, str]]]:
    """``{node: [(neighbour, "arg, arg"), ...]}`` keyed by the edge end ``key`` (0 or 1)."""
    out: dict[str, dict[str, list[str]]] = {}
    for edge in edges:
        out.setdefault(edge[key], {}).setdefault(edge[1 - key], []).append(edge[2])
    return {n: [(m, ", ".join(printable(a) for a in args if a)) for m, args in nbrs.items()]
            for n, nbrs in out.items()}


def _text_label(g: LineageGraph, uuid: str) -> str:
    info = g.nodes[uuid]
    if info is None:
        proc = printable(g.ref_processing_name(uuid))
        return f"{printable(uuid[:8])}  {proc + '  ' if proc else ''}(not in this context)"
    return f"{printable(info.name)}  {uuid[:8]}  {printable(info.processing_name)}"


def render_text(g: LineageGraph) -> str:
    """An indented tree: inputs (``arg ← input``) and/or users (``arg → user``).

    A bundle reached a second time (a diamond) is shown once more, marked
    ``(see above)``, without its subtree.
    """
    sections = []
    if g.direction in ("up", "both"):
        sections.append(("inputs", _grouped(g.edges, 1), "←"))
    if g.direction in ("down", "both"):
        sections.append(("used by", _grouped(g.edges, 0), "→"))
    lines = [_text_label(g, g.root)]
    for i, (title, nbrs, arrow) in enumerate(sections):
        last_section = i == len(sections) - 1
        prefix = ""
        if len(sections) > 1:
            empty = not nbrs.get(g.root)
            lines.append(f"{'└── ' if last_section else '├── '}{title}{': none' if empty else ''}")
            prefix = "    " if last_section else "│   "
        shown = {g.root}
        stack = [(prefix, n, arg, j == len(nbrs[g.root]) - 1)
                 for j, (n, arg) in enumerate(nbrs.get(g.root, []))][::-1]
        while stack:
            pad, node, arg, last = stack.pop()
            edge = f"{arg} {arrow} " if arg else f"{arrow} "
            again = node in shown
            lines.append(f"{pad}{'└── ' if last else '├── '}{edge}{_text_label(g, node)}"
                         f"{'  (see above)' if again else ''}")
            shown.add(node)
            if not again:
                kids = nbrs.get(node, [])
                sub = pad + ("    " if last else "│   ")
                stack += [(sub, n, a, j == len(kids) - 1) for j, (n, a) in enumerate(kids)][::-1]
    return "\n".join(lines) + "\n"


def mermaid_escape(text: str) -> str:
    """Escape text for a double-quoted Mermaid label (entity codes like ``#34;``)."""
    return "".join(f"#{ord(c)};" if c in '"#&<>|`\\' or not c.isprintable() else c
                   for c in text)


def render_mermaid(g: LineageGraph) -> str:
    """A Mermaid ``flowchart LR``, inputs on the left; missing bundles dashed."""
    ids = node_ids(list(g.nodes))
    out = ["flowchart LR",
           "    classDef root stroke-width:3px",
           "    classDef missing stroke-dasharray: 5 5"]
    for u, info in g.nodes.items():
        label = "<br/>".join(mermaid_escape(line) for line in node_lines(g, u))
        cls = ":::root" if u == g.root else ":::missing" if info is None else ""
        out.append(f'    {ids[u]}["{label}"]{cls}')
    for a, b, arg in g.edges:
        text = f'|"{mermaid_escape(printable(arg))}"|' if arg else ""
        out.append(f"    {ids[a]} -->{text} {ids[b]}")
    return "\n".join(out) + "\n"


def dot_escape(text: str) -> str:
    """Escape text for a DOT double-quoted string used as a label."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_dot(g: LineageGraph) -> str:
    """A Graphviz ``digraph``, left to right; the root bold, missing bundles dashed."""
    ids = node_ids(list(g.nodes))
    out = ["digraph lineage {", "    rankdir=LR;",
           '    node [shape=box, fontname="Helvetica"];',
           '    edge [fontname="Helvetica", fontsize=10];']
    for u, info in g.nodes.items():
        label = "\\n".join(dot_escape(line) for line in node_lines(g, u))
        style = ", penwidth=2" if u == g.root else ", style=dashed" if info is None else ""
        out.append(f'    {ids[u]} [label="{label}"{style}];')
    for a, b, arg in g.edges:
        attrs = f' [label="{dot_escape(printable(arg))}"]' if arg else ""
        out.append(f"    {ids[a]} -> {ids[b]}{attrs};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_json(g: LineageGraph) -> str:
    """:meth:`LineageGraph.to_dict` as indented JSON with sorted keys."""
    return json.dumps(g.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
