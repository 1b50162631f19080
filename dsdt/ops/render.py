"""Drawing lineage graphs: an indented text tree, Mermaid, Graphviz DOT and JSON.

Every renderer is a pure function of a :class:`dsdt.ops.graph.LineageGraph`;
record text goes through :func:`dsdt.objects.gate.printable` and each format's
own escaping.
"""

from __future__ import annotations

import hashlib
import json

from dsdt.objects.gate import printable
from dsdt.objects.ids import is_uuid
from dsdt.ops.graph import LineageGraph

__all__ = ["printable", "render_dot", "render_json", "render_mermaid", "render_text"]


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
