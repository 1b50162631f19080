"""Lineage graphs (:mod:`dsdt.ops.graph`, :mod:`dsdt.ops.render`): walks, renderers, the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import deque
from dataclasses import dataclass

import pytest
from clirun import dsdt_cli

from dsdt import api
from dsdt.api import LineageGraph
from dsdt.errors import BundleNotFoundError, UsageError
from dsdt.index import Index
from dsdt.objects.record import Dependency
from dsdt.ops import render

NASTY = 'q"uote ]br|pipe; #hash &amp <b> `tick` é 日本 🚀'
NASTY_ARG = 'a"b|c\\d\n#e;<br/>'
UNKNOWN = "6f1e3c3e-2f55-4a49-9a39-1a4c8ef8d0a1"


@dataclass
class Dag:
    """``a -> b, c -> d -> e`` (a diamond under e), and ``h`` whose input ``g`` was removed."""

    a: str
    b: str
    c: str
    d: str
    e: str
    g: str
    h: str
    g_proc: str


def _make(ctx: str, name: str, deps: list[api.Bundle], args: list[str]) -> api.Bundle:
    with api.Bundle(ctx, name) as b:
        b.add_data(name)
        if deps:
            b.add_dependencies(deps, args)
    return b


@pytest.fixture
def dag(ctx: str) -> Dag:
    a = _make(ctx, "a", [], [])
    b = _make(ctx, "b", [a], ["left_in"])
    c = _make(ctx, "c", [a], ["right_in"])
    d = _make(ctx, "d", [b, c], ["l", "r"])
    e = _make(ctx, "e", [d], ["e_in"])
    g = _make(ctx, "g", [], [])
    h = _make(ctx, "h", [g], ["lost"])
    api.rm(ctx, "g")
    return Dag(a.uuid, b.uuid, c.uuid, d.uuid, e.uuid, g.uuid, h.uuid, g.processing_name)


def _order(g: LineageGraph) -> list[tuple[int, str]]:
    return [(g.depth[u], u) for u in g.nodes]


# --- walking ---------------------------------------------------------------------------


def test_upstream_diamond_dedup_and_depth(ctx: str, dag: Dag) -> None:
    g = api.lineage_graph(ctx, dag.e)
    assert g.direction == "up" and g.root == dag.e
    assert _order(g) == [(0, dag.e), (1, dag.d), (2, dag.b), (2, dag.c), (3, dag.a)]
    assert set(g.edges) == {(dag.d, dag.e, "e_in"), (dag.b, dag.d, "l"), (dag.c, dag.d, "r"),
                            (dag.a, dag.b, "left_in"), (dag.a, dag.c, "right_in")}
    assert len(g.edges) == 5
    assert [(d, u) for d, u, _ in api.lineage(ctx, dag.e)] == _order(g)
    one = api.lineage_graph(ctx, dag.e, max_depth=1)
    assert _order(one) == [(0, dag.e), (1, dag.d)] and one.edges == [(dag.d, dag.e, "e_in")]
    zero = api.lineage_graph(ctx, dag.e, max_depth=0)
    assert list(zero.nodes) == [dag.e] and zero.edges == []


def test_downstream_through_the_index(ctx: str, dag: Dag,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = Index.dependents

    def spy(self: Index, c: str, uuids: list[str]) -> dict[str, list[str]]:
        calls.append(list(uuids))
        return real(self, c, uuids)

    monkeypatch.setattr(Index, "dependents", spy)
    g = api.lineage_graph(ctx, dag.a, downstream=True, upstream=False)
    assert g.direction == "down"
    assert _order(g) == [(0, dag.a), (1, dag.b), (1, dag.c), (2, dag.d), (3, dag.e)]
    assert len(g.edges) == 5 and (dag.a, dag.c, "right_in") in g.edges
    # one batched query per level: [a], [b, c], [d], [e]
    assert calls == [[dag.a], [dag.b, dag.c], [dag.d], [dag.e]]
    walk = api.lineage(ctx, dag.a, max_depth=2, downstream=True)
    assert [(d, u) for d, u, _ in walk] == [(0, dag.a), (1, dag.b), (1, dag.c), (2, dag.d)]
    assert all(info is not None and info.uuid == u for _, u, info in walk)
    assert api.lineage(ctx, UNKNOWN, downstream=True) == []
    assert [u for _, u, _ in api.lineage(ctx, dag.e, downstream=True)] == [dag.e]


def test_downstream_stays_in_the_context(ctx: str, dag: Dag) -> None:
    api.context("other")
    a = api.get(ctx, "a")
    elsewhere = _make("other", "z", [a], ["in"])
    g = api.lineage_graph(ctx, dag.a, downstream=True, upstream=False)
    assert elsewhere.uuid not in g.nodes and len(g.nodes) == 5


def test_both_directions(ctx: str, dag: Dag) -> None:
    g = api.lineage_graph(ctx, dag.d, downstream=True)
    assert g.direction == "both"
    assert _order(g) == [(0, dag.d), (1, dag.b), (1, dag.c), (2, dag.a), (1, dag.e)]
    assert g.side == {dag.d: "root", dag.b: "up", dag.c: "up", dag.a: "up", dag.e: "down"}
    assert len(g.edges) == 5


def test_missing_input(ctx: str, dag: Dag) -> None:
    g = api.lineage_graph(ctx, dag.h)
    assert g.nodes[dag.g] is None and g.edges == [(dag.g, dag.h, "lost")]
    node = g.to_dict()["nodes"][1]
    assert node["present"] is False and node["name"] is None
    assert node["processing_name"] == dag.g_proc
    text = render.render_text(g)
    assert f"lost ← {dag.g[:8]}  {dag.g_proc}  (not in this context)" in text
    assert ":::missing" in render.render_mermaid(g) and "style=dashed" in render.render_dot(g)
    with pytest.raises(BundleNotFoundError):
        api.lineage_graph(ctx, dag.g)


def test_errors(ctx: str, dag: Dag) -> None:
    with pytest.raises(BundleNotFoundError):
        api.lineage_graph(ctx, UNKNOWN, downstream=True)
    with pytest.raises(BundleNotFoundError, match="named 'xyz'"):
        api.lineage_graph(ctx, "xyz")
    with pytest.raises(UsageError):
        api.lineage_graph(ctx, dag.a, upstream=False)
    with pytest.raises(UsageError):
        api.lineage_graph(ctx, dag.a, max_depth=-1)


def test_malformed_dependency_uuids_are_refused(ctx: str) -> None:
    from dsdt.errors import CorruptObjectError

    with pytest.raises(CorruptObjectError, match="not a uuid"), api.Bundle(ctx, "w") as w:
        w.add_data(1)
        w._need_open().deps.extend([Dependency("p", "", "x"), Dependency("q", "../../HEAD", "y")])
    assert api.get(ctx, "w") is None


def test_node_ids_are_distinct_identifiers() -> None:
    u1 = "0123456789ab-4000-8000-000000000001"
    same = ["01234567-89ab-4cde-8000-000000000001", "01234567-89ab-4cde-8000-000000000002"]
    ids = render.node_ids([*same, u1, ""])
    assert len(set(ids.values())) == 4
    assert all(re.fullmatch(r"n[0-9a-f]+", i) for i in ids.values())
    assert render.node_ids(same[:1]) == {same[0]: "n0123456789ab"}


# --- renderers -------------------------------------------------------------------------


def test_text_tree(ctx: str, dag: Dag) -> None:
    g = api.lineage_graph(ctx, dag.e)

    def label(u: str) -> str:
        info = g.nodes[u]
        assert info is not None
        return f"{info.name}  {u[:8]}  {info.processing_name}"

    assert render.render_text(g).splitlines() == [
        label(dag.e),
        f"└── e_in ← {label(dag.d)}",
        f"    ├── l ← {label(dag.b)}",
        f"    │   └── left_in ← {label(dag.a)}",
        f"    └── r ← {label(dag.c)}",
        f"        └── right_in ← {label(dag.a)}  (see above)",
    ]
    both = render.render_text(api.lineage_graph(ctx, dag.d, max_depth=1, downstream=True))
    assert both.splitlines() == [
        label(dag.d), "├── inputs", f"│   ├── l ← {label(dag.b)}", f"│   └── r ← {label(dag.c)}",
        "└── used by", f"    └── e_in → {label(dag.e)}"]
    lone = render.render_text(api.lineage_graph(ctx, dag.e, max_depth=1, downstream=True))
    assert "└── used by: none" in lone.splitlines()


def _nasty_graph(ctx: str) -> LineageGraph:
    a = _make(ctx, NASTY, [], [])
    b = _make(ctx, "b\u2028two", [a], [NASTY_ARG])
    c = _make(ctx, "<br>", [a, b], ["", "plain"])
    return api.lineage_graph(ctx, c.uuid)


def _expected_lines(g: LineageGraph, u: str) -> list[str]:
    info = g.nodes[u]
    if info is None:
        return [render.printable(g.ref_processing_name(u) or "?"), render.printable(u[:8]),
                "not in this context"]
    return [render.printable(info.name), u[:8], render.printable(info.processing_name)]


MER_NODE = re.compile(r'    (n[0-9a-f]{12,64})\["([^"]*)"\](:::root|:::missing)?')
MER_EDGE = re.compile(r'    (n[0-9a-f]{12,64}) -->(?:\|"([^"]*)"\|)? (n[0-9a-f]{12,64})')


def _mermaid_text(raw: str) -> str:
    """Strictly unescape a Mermaid label part: no raw special characters, only ``#N;``."""
    assert not re.search(r'[<>|`"&\\\n]', raw), raw
    assert re.fullmatch(r"(?:[^#]|#\d+;)*", raw), raw
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), raw)


def _check_mermaid(g: LineageGraph, text: str) -> None:
    ids = render.node_ids(list(g.nodes))
    uuid_of = {i: u for u, i in ids.items()}
    lines = text.splitlines()
    assert lines[:3] == ["flowchart LR", "    classDef root stroke-width:3px",
                         "    classDef missing stroke-dasharray: 5 5"]
    nodes: dict[str, list[str]] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[3:]:
        if m := MER_NODE.fullmatch(line):
            assert m[1] not in nodes
            nodes[m[1]] = [_mermaid_text(part) for part in m[2].split("<br/>")]
            u = uuid_of[m[1]]
            assert m[3] == (":::root" if u == g.root else ":::missing" if g.nodes[u] is None
                            else None)
        elif m := MER_EDGE.fullmatch(line):
            assert m[1] in nodes and m[3] in nodes
            edges.append((m[1], m[3], _mermaid_text(m[2]) if m[2] is not None else ""))
        else:
            raise AssertionError(f"not in the emitted Mermaid subset: {line!r}")
    assert nodes == {ids[u]: _expected_lines(g, u) for u in g.nodes}
    assert edges == [(ids[a], ids[b], render.printable(arg)) for a, b, arg in g.edges]


DOT_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<id>[A-Za-z_][A-Za-z0-9_]*)'
                       r"|(?P<num>\d+(?:\.\d+)?)|(?P<op>->|[{}\[\];=,]))")


def _dot_tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while text[pos:].strip():
        m = DOT_TOKEN.match(text, pos)
        assert m, f"bad DOT at {text[pos:pos + 40]!r}"
        kind = m.lastgroup
        assert kind is not None
        value = m[kind]
        if kind == "str":
            value = re.sub(r"\\(.)", lambda e: {'"': '"', "\\": "\\", "n": "\n"}[e[1]],
                           value[1:-1])
        out.append((kind, value))
        pos = m.end()
    return out


DotAttrs = dict[str, str]


def _parse_dot(text: str) -> tuple[dict[str, DotAttrs], list[tuple[str, str, DotAttrs]]]:
    """Parse the emitted DOT subset into ``({id: attrs}, [(from, to, attrs)])``."""
    toks = deque(_dot_tokens(text))

    def take(kinds: str, value: str | None = None) -> str:
        kind, v = toks.popleft()
        assert kind in kinds.split() and value in (None, v), (kind, v, kinds, value)
        return v

    def attrs() -> DotAttrs:
        out: DotAttrs = {}
        take("op", "[")
        while True:
            key = take("id")
            take("op", "=")
            out[key] = take("id str num")
            if (sep := take("op")) == "]":
                return out
            assert sep == ","

    assert [take("id"), take("id"), take("op")] == ["digraph", "lineage", "{"]
    nodes: dict[str, DotAttrs] = {}
    edges: list[tuple[str, str, DotAttrs]] = []
    while toks[0] != ("op", "}"):
        name = take("id")
        if toks[0] == ("op", "="):  # a graph attribute
            take("op")
            take("id")
        elif name in ("node", "edge"):
            attrs()
        elif toks[0] == ("op", "->"):
            take("op")
            to = take("id")
            assert name in nodes and to in nodes
            edges.append((name, to, attrs() if toks[0] == ("op", "[") else {}))
        else:
            assert name not in nodes
            nodes[name] = attrs()
        take("op", ";")
    assert list(toks) == [("op", "}")]
    return nodes, edges


def _check_dot(g: LineageGraph, text: str) -> None:
    ids = render.node_ids(list(g.nodes))
    nodes, edges = _parse_dot(text)
    assert {n: a["label"].split("\n") for n, a in nodes.items()} == \
        {ids[u]: _expected_lines(g, u) for u in g.nodes}
    assert nodes[ids[g.root]].get("penwidth") == "2"
    assert [(a, b, e.get("label", "")) for a, b, e in edges] == \
        [(ids[a], ids[b], render.printable(arg)) for a, b, arg in g.edges]


def test_mermaid_and_dot_round_trip(ctx: str, dag: Dag) -> None:
    for g in (_nasty_graph(ctx), api.lineage_graph(ctx, dag.e),
              api.lineage_graph(ctx, dag.h), api.lineage_graph(ctx, dag.d, downstream=True)):
        _check_mermaid(g, render.render_mermaid(g))
        _check_dot(g, render.render_dot(g))


def test_nasty_names_survive(ctx: str) -> None:
    g = _nasty_graph(ctx)
    names = {i.name for i in g.nodes.values() if i is not None}
    assert names == {NASTY, "b\u2028two", "<br>"}
    assert "b\\u2028two" in render.render_text(g) and "\u2028" not in render.render_text(g)
    assert render.printable(NASTY_ARG) in render.render_text(g)
    assert "\u2028" not in render.render_mermaid(g) and "\u2028" not in render.render_dot(g)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot is not installed")
def test_graphviz_accepts_the_dot(ctx: str, dag: Dag) -> None:
    for g in (_nasty_graph(ctx), api.lineage_graph(ctx, dag.h)):
        r = subprocess.run(["dot", "-Tsvg"], input=render.render_dot(g).encode(),
                           capture_output=True, timeout=60, check=False)
        assert r.returncode == 0 and b"<svg" in r.stdout, r.stderr


def test_json(ctx: str, dag: Dag) -> None:
    g = api.lineage_graph(ctx, dag.d, downstream=True, max_depth=2)
    text = render.render_json(g)
    data = json.loads(text)
    assert data == g.to_dict()
    assert list(data) == sorted(data)
    assert data["root"] == dag.d and data["direction"] == "both" and data["max_depth"] == 2
    assert [n["uuid"] for n in data["nodes"]] == list(g.nodes)
    assert {"from": dag.d, "to": dag.e, "arg": "e_in"} in data["edges"]
    first = data["nodes"][0]
    assert first["name"] == "d" and first["present"] and first["side"] == "root"
    assert set(first) == {"uuid", "name", "processing_name", "created", "code_ref",
                          "git_commit", "present", "depth", "side"}


# --- CLI -------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    """Run ``dsdt`` in process; return (exit code, stdout, stderr)."""
    r = dsdt_cli(*args)
    return r.code, r.out, r.err


def ok(*args: str) -> str:
    code, out, err = cli(*args)
    assert code == 0, (code, out, err)
    return out


def test_cli_default_output_is_unchanged(ctx: str, dag: Dag) -> None:
    out = ok("lineage", dag.e, "-c", ctx).splitlines()
    assert out[0] == "------ Lineage @ depth 0 -----"
    assert isinstance(json.loads(ok("lineage", dag.e, "-c", ctx, "--json")), list)


def test_cli_formats(ctx: str, dag: Dag) -> None:
    g = api.lineage_graph(ctx, dag.e, max_depth=3)
    assert ok("lineage", dag.e, "-c", ctx, "--format", "text") == render.render_text(g)
    assert ok("lineage", dag.e, "-c", ctx, "--format", "mermaid") == render.render_mermaid(g)
    assert ok("lineage", dag.e, "-c", ctx, "--format", "dot") == render.render_dot(g)
    assert json.loads(ok("lineage", dag.e, "-c", ctx, "--format", "json")) == g.to_dict()
    shallow = api.lineage_graph(ctx, dag.e, max_depth=1)
    assert ok("lineage", dag.e, "-c", ctx, "--format", "dot", "-d", "1") == \
        render.render_dot(shallow)


def test_cli_down(ctx: str, dag: Dag) -> None:
    both = api.lineage_graph(ctx, dag.b, max_depth=3, downstream=True)
    assert ok("lineage", dag.b, "-c", ctx, "--down") == render.render_text(both)
    down = api.lineage_graph(ctx, dag.a, max_depth=3, downstream=True, upstream=False)
    assert ok("lineage", dag.a, "-c", ctx, "--down", "--no-up") == render.render_text(down)
    data = json.loads(ok("lineage", dag.a, "-c", ctx, "--down", "--no-up", "--json"))
    assert data == down.to_dict()
    mer = ok("lineage", dag.a, "-c", ctx, "--down", "--no-up", "--format", "mermaid")
    _check_mermaid(down, mer)


def test_cli_errors(ctx: str, dag: Dag) -> None:
    for args, want in (((UNKNOWN, "--down"), 4), ((UNKNOWN, "--format", "dot"), 4),
                       ((dag.a, "--no-up"), 2), ((dag.a, "--json", "--format", "dot"), 2),
                       (("xyz", "--down"), 4)):
        code, out, err = cli("lineage", *args, "-c", ctx)
        assert code == want, (args, code, out, err)
        assert err.startswith("dsdt: error: ") and err.count("\n") == 1, err
    code, _, err = cli("lineage", dag.a, "-c", ctx, "--format", "png")
    assert code == 2 and "png" in err
