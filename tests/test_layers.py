"""Layers import downward only: errors/_fs <- objects <- refs <- config/repo <- api <- commands."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dsdt"

#: Layer of each module (by dotted name prefix); a module may import only its layer or lower.
LAYERS = [
    ("dsdt.errors", 0), ("dsdt._fs", 0), ("dsdt._db", 0), ("dsdt.gitinfo", 0),
    ("dsdt.objects.summary", 1), ("dsdt.objects", 1),
    ("dsdt.refs", 2),
    ("dsdt.config", 3), ("dsdt.repo", 3), ("dsdt.index", 3), ("dsdt.fsck", 3), ("dsdt.gc", 3),
    ("dsdt.remote", 4),
    ("dsdt.api", 5), ("dsdt.api_remote", 5), ("dsdt.api_housekeeping", 5), ("dsdt.bundle", 5),
    ("dsdt.api_containers", 5),
    ("dsdt.lineage", 5), ("dsdt.managed", 5), ("dsdt.bundle_remote", 5),
    ("dsdt.remote_outputs", 5), ("dsdt.history", 5), ("dsdt.graph", 5),
    ("dsdt.commands", 6), ("dsdt.pipe", 6), ("dsdt.apply", 6), ("dsdt.reuse", 6),
    ("dsdt.pipe_remote", 6), ("dsdt.pipe_dynamic", 6),
    ("dsdt.__main__", 6),
    ("dsdt.container", 6), ("dsdt.containers", 6),
    ("dsdt", 0),
]
#: Upward imports that are allowed, each only inside a function (never at module top):
#: the documented API re-exports the pipeline entry points (``api.apply``,
#: ``api.BundleWrapperTask``, ``api.ApplyError``), which live above it and need luigi,
#: so ``dsdt.api`` imports them lazily; likewise the container functions
#: (``api.dockerize``, ``api.run``), which need the docker package and luigi.
LAZY_UPWARD = {("dsdt.api", "dsdt.apply"), ("dsdt.api", "dsdt.pipe"),
               ("dsdt.api_containers", "dsdt.containers.dockerize"),
               ("dsdt.api_containers", "dsdt.containers.run")}
HEAVY = {"pandas", "pyarrow", "numpy", "luigi", "boto3", "dulwich"}


def layer(module: str) -> int:
    for prefix, level in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return level
    raise AssertionError(f"module {module} has no layer; add it to LAYERS")


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_top_level) for every dsdt or heavy import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        out += [(n, id(node) in top) for n in names]
    return out


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out.append((name, path))
    return out


def test_layers_import_downward_only() -> None:
    bad = []
    for name, path in modules():
        for imported, top in imports(path):
            if not top and (name, imported) in LAZY_UPWARD:
                continue
            if imported.startswith("dsdt") and layer(imported) > layer(name):
                bad.append(f"{name} imports {imported}")
    assert not bad, bad


def test_heavy_imports_stay_out_of_module_tops_of_light_modules() -> None:
    light = ("dsdt.commands", "dsdt.api", "dsdt.bundle", "dsdt.repo", "dsdt.index",
             "dsdt.objects.codecs", "dsdt.objects.files", "dsdt.objects.blobs", "dsdt.refs",
             "dsdt.config", "dsdt._fs", "dsdt.errors", "dsdt.gitinfo", "dsdt.history",
             "dsdt.objects.summary")
    bad = []
    for name, path in modules():
        if name.startswith(light):
            bad += [f"{name}: {m}" for m, top in imports(path)
                    if top and m.split(".")[0] in HEAVY]
    assert not bad, bad
