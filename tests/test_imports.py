"""The package's imports run one way, with no circle, counting imports inside functions.

The layer order (``docs/architecture.md``), lowest first::

    errors, _fs, _db, _dates <- objects <- refs <- config, index, gitinfo <- repo <- fsck, gc
      <- remote <- bundle <- ops <- pipe <- containers <- api <- ui <- commands

A module may import modules of its own layer or lower ones, and no chain of
imports, wherever they stand in a module, may lead back to where it started.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dsdt"

LAYERS: list[tuple[str, ...]] = [
    ("dsdt", "dsdt.errors", "dsdt._fs", "dsdt._locks", "dsdt._db", "dsdt._dates"),
    ("dsdt.objects",),
    ("dsdt.refs",),
    ("dsdt.config", "dsdt.configfile", "dsdt.index", "dsdt.indexrows", "dsdt.indexpage",
     "dsdt.indexquery",
     "dsdt.gitinfo"),
    ("dsdt.repo", "dsdt.members"),
    ("dsdt.fsck", "dsdt.gc", "dsdt.gitlive"),
    ("dsdt.remote",),
    ("dsdt.bundle",),
    ("dsdt.ops",),
    ("dsdt.pipe",),
    ("dsdt.containers",),
    ("dsdt.api", "dsdt.api_remote", "dsdt.api_containers", "dsdt.api_config", "dsdt.api_catalog",
     "dsdt.api_housekeeping"),
    ("dsdt.ui",),
    ("dsdt.commands", "dsdt.__main__"),
]
HEAVY = {"pandas", "pyarrow", "numpy", "luigi", "boto3", "botocore", "dulwich", "docker"}
#: Modules the CLI imports to start (``dsdt --help``): none may import a heavy package at its top.
LIGHT = ("dsdt.commands", "dsdt.api", "dsdt.bundle", "dsdt.repo", "dsdt.index", "dsdt.ops",
         "dsdt.objects.codecs", "dsdt.objects.files", "dsdt.objects.blobs", "dsdt.refs",
         "dsdt.objects.valuediff", "dsdt.objects.summary", "dsdt.config", "dsdt._fs",
         "dsdt.errors", "dsdt.gitinfo", "dsdt.remote")


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package at ``root``."""
    out = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent).with_suffix("")
        out[".".join(rel.parts).removesuffix(".__init__")] = path
    return out


def imports(name: str, path: Path, known: Iterable[str]) -> list[tuple[str, bool]]:
    """``(imported module, at module top)`` for every import in a file, nested ones too.

    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module.
    """
    known = set(known)
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((sub if sub in known else base, id(node) in top))
    return out


def layer(module: str) -> int:
    """The layer of a module: the longest matching prefix wins."""
    best, rank = -1, -1
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank >= 0, f"module {module} has no layer; add it to LAYERS"
    return rank


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its file)."""
    mods = modules(root)
    prefix = root.name
    return {name: {m for m, _ in imports(name, path, mods)
                   if (m == prefix or m.startswith(prefix + ".")) and m != name}
            for name, path in mods.items()}


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports of a higher layer by a lower one."""
    return sorted(f"{a} imports {b}" for a, bs in edges.items() for b in bs
                  if layer(b) > layer(a))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_circle() -> None:
    assert cycles(graph(PKG)) == []


def test_layers_import_one_way() -> None:
    assert upward(graph(PKG)) == []


def test_the_cli_is_imported_by_nothing_below_it() -> None:
    edges = graph(PKG)
    bad = sorted(f"{a} imports {b}" for a, bs in edges.items() for b in bs
                 if b.startswith("dsdt.commands") and not a.startswith("dsdt.commands")
                 and a != "dsdt.__main__")
    assert bad == []


def test_heavy_imports_stay_out_of_module_tops_of_light_modules() -> None:
    mods = modules(PKG)
    bad = [f"{name}: {m}" for name, path in mods.items() if name.startswith(LIGHT)
           for m, top in imports(name, path, mods) if top and m.split(".")[0] in HEAVY]
    assert bad == []


def test_the_module_map_in_the_docs_names_every_module() -> None:
    import re

    doc = (PKG.parent / "docs" / "architecture.md").read_text()
    rows = [line.split("|")[1] for line in doc.splitlines() if line.startswith("| `")]
    named = {m for row in rows for m in re.findall(r"`([\w.*]+)`", row)}
    missing = [m for m in (name.removeprefix("dsdt.") for name in modules(PKG) if name != "dsdt")
               if m not in named and f"{m.rsplit('.', 1)[0]}.*" not in named]
    assert missing == []
    stale = [m for m in named if not m.endswith("*") and f"dsdt.{m}" not in modules(PKG)]
    assert stale == []


def test_the_check_finds_a_planted_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import json\n\ndef f():\n    from pkg import b\n    return b\n")
    (pkg / "b.py").write_text("from pkg.c import g\n")
    (pkg / "c.py").write_text("def g():\n    import pkg.a\n")
    assert cycles(graph(pkg)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_the_check_finds_the_cli_used_as_a_library(tmp_path: Path) -> None:
    copy = tmp_path / "dsdt"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "containers" / "run.py"
    target.write_text("from dsdt.commands.apply import run as _cli\n" + target.read_text())
    edges = graph(copy)
    assert "dsdt.containers.run imports dsdt.commands.apply" in upward(edges)
    assert cycles(edges)  # commands import api, which imports the containers
