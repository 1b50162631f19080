"""A layered layout of a lineage graph, drawn as inline SVG by the bundle page's template.

Inputs stand in columns to the left of the bundle, users to the right, one
column per step; within a column, nodes are ordered by the mean row of their
neighbours in the column nearer the bundle, so that edges cross little. The
layout is computed here, on the server: no script runs in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsdt.api import LineageGraph

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 210, 46, 70, 16, 10


@dataclass(frozen=True)
class Box:
    """One bundle of the graph, placed.

    Attributes:
        uuid: The bundle's uuid.
        name: Its name ("" when it is not in the context).
        x, y: Top-left corner.
        present: Whether it is in the context (then it links to its page).
        root: Whether it is the bundle the page is about.
    """

    uuid: str
    name: str
    x: int
    y: int
    present: bool
    root: bool


@dataclass(frozen=True)
class Line:
    """One ``depends_on`` link, from the input's right side to the user's left side.

    Attributes:
        x1, y1, x2, y2: The end points.
        src, dst: Uuids of the input and of the bundle made from it.
        arg: The argument name of the link.
    """

    x1: int
    y1: int
    x2: int
    y2: int
    src: str
    dst: str
    arg: str


@dataclass(frozen=True)
class Drawing:
    """A placed graph.

    Attributes:
        width, height: The size of the drawing.
        boxes: Every node.
        lines: Every edge.
    """

    width: int
    height: int
    boxes: list[Box]
    lines: list[Line]


def _columns(graph: LineageGraph) -> dict[int, list[str]]:
    """Nodes by column: 0 the root, negative the inputs, positive the users."""
    columns: dict[int, list[str]] = {}
    for uuid in graph.nodes:
        side = graph.side.get(uuid, "root")
        col = 0 if side == "root" else graph.depth[uuid] * (-1 if side == "up" else 1)
        columns.setdefault(col, []).append(uuid)
    return columns


def _order(graph: LineageGraph, columns: dict[int, list[str]]) -> dict[str, int]:
    """Row of each node: columns placed outward from the root, by neighbours' mean row."""
    near: dict[str, list[str]] = {u: [] for u in graph.nodes}
    for a, b, _ in graph.edges:
        near.setdefault(a, []).append(b)
        near.setdefault(b, []).append(a)
    row: dict[str, int] = {}
    for col in sorted(columns, key=lambda c: (abs(c), c)):
        def key(u: str) -> tuple[float, str]:
            rows = [row[n] for n in near.get(u, []) if n in row]
            name = graph.nodes[u].name if graph.nodes[u] is not None else ""
            return (sum(rows) / len(rows) if rows else 0.0, name + u)

        for i, uuid in enumerate(sorted(columns[col], key=key)):
            row[uuid] = i
    return row


def layout(graph: LineageGraph) -> Drawing:
    """Place the nodes and edges of a lineage graph."""
    columns = _columns(graph)
    rows = _order(graph, columns)
    first = min(columns)
    tallest = max(len(v) for v in columns.values())
    height = PAD * 2 + tallest * BOX_H + (tallest - 1) * GAP_Y
    width = PAD * 2 + len(columns) * BOX_W + (len(columns) - 1) * GAP_X
    place: dict[str, tuple[int, int]] = {}
    for col, members in columns.items():
        top = (height - (len(members) * BOX_H + (len(members) - 1) * GAP_Y)) // 2
        for uuid in members:
            place[uuid] = (PAD + (col - first) * (BOX_W + GAP_X),
                           top + rows[uuid] * (BOX_H + GAP_Y))
    boxes = [Box(u, info.name if info is not None else "", *place[u], info is not None,
                 u == graph.root) for u, info in graph.nodes.items()]
    lines = [Line(place[a][0] + BOX_W, place[a][1] + BOX_H // 2, place[b][0],
                  place[b][1] + BOX_H // 2, a, b, arg)
             for a, b, arg in graph.edges if a in place and b in place]
    return Drawing(width, height, boxes, lines)
