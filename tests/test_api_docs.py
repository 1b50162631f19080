"""The API reference: every public name of ``dsdt.api`` has a docstring, and pdoc builds it.

Public names of ``dsdt.api`` are its ``__all__`` (what the reference shows, and
``from dsdt.api import *`` gives), and every member not starting with ``_`` of
the classes there, wherever in dsdt it is defined (members that come from luigi
or builtins are theirs to document): methods and properties need a docstring,
fields (dataclass fields, annotated attributes) an entry in the class's
``Attributes:`` (or ``Args:``) section, which is where pdoc shows them. Names
the module binds only to use them (``os``, ``Repository``...) are its imports,
with two exceptions that make the gate strict: a function the API modules
define, and a dsdt class an API function returns, must both be in ``__all__``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import shlex
import typing
from collections.abc import Iterator
from pathlib import Path

import pdoc  # a dev dependency: without it this module fails to import (never skips)
import pdoc.render

import dsdt.api as api

ROOT = Path(__file__).resolve().parents[1]
API_MODULES = ("dsdt.api", "dsdt.api_remote", "dsdt.api_containers", "dsdt.api_catalog",
               "dsdt.api_housekeeping")
#: Public names that ``dsdt.api`` gives through its module ``__getattr__`` (luigi on first use).
LAZY = ("BundleWrapperTask",)


def doc_modules() -> list[str]:
    """The modules ``scripts/docs.sh`` documents (its ``MODULES=(...)`` line)."""
    found = re.search(r"^MODULES=\((.*)\)$", (ROOT / "scripts/docs.sh").read_text(), re.M)
    assert found, "scripts/docs.sh has no MODULES=(...) line"
    return shlex.split(found.group(1))


def is_dsdt(obj: object) -> bool:
    """True for functions and classes defined in the dsdt package."""
    return str(getattr(obj, "__module__", "")).split(".")[0] == "dsdt"


def has_doc(obj: object) -> bool:
    """True when ``obj`` has its own docstring of at least a few words."""
    doc = obj.__doc__ if isinstance(obj, property) else inspect.getdoc(obj)
    return len((doc or "").split()) >= 2


def members(cls: type) -> Iterator[tuple[str, object]]:
    """``(qualified name, member)`` of the public members dsdt defines on ``cls`` and its bases."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not is_dsdt(klass):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(member, staticmethod | classmethod):
                member = member.__func__
            if isinstance(member, property) or inspect.isfunction(member):
                yield f"{cls.__name__}.{name}", member


def described(cls: type) -> set[str]:
    """Names the ``Attributes:`` or ``Args:`` sections of the docstrings of ``cls`` describe."""
    out: set[str] = set()
    for klass in filter(is_dsdt, cls.__mro__):
        for line in (inspect.getdoc(klass) or "").splitlines():
            entry = re.match(r"^    ((?:\w+, )*\w+)(?: \(.*\))?:", line)
            out.update(entry.group(1).split(", ") if entry else ())
    return out


def fields(cls: type) -> Iterator[str]:
    """``Class.field`` of each public attribute dsdt classes of ``cls`` declare (annotate)."""
    for klass in filter(is_dsdt, cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_") and not isinstance(getattr(cls, name, None), property):
                yield name


def public_api() -> dict[str, object]:
    """Every public name of ``dsdt.api`` that the reference documents."""
    names = {name: getattr(api, name) for name in api.__all__}
    names.update({name: getattr(api, name) for name in LAZY})
    return names


def undocumented(names: dict[str, object]) -> list[str]:
    """The names (and class members) among ``names`` without a docstring."""
    out = []
    for name, obj in names.items():
        if not has_doc(obj):
            out.append(name)
        if inspect.isclass(obj):
            out += [qual for qual, member in members(obj) if not has_doc(member)]
            said = described(obj)
            out += sorted({f"{name}.{f}" for f in fields(obj) if f not in said})
    return out


def returned_classes(func: object) -> set[type]:
    """The dsdt classes in a function's return annotation (``X | None``, ``list[X]``...).

    A class imported only for type checking (to keep ``import dsdt.api`` light)
    cannot be shown in the reference: the function's docstring must then say
    what it returns, in a ``Returns:`` section.
    """
    try:
        hint = typing.get_type_hints(func).get("return")
    except NameError as e:
        assert "Returns:" in (inspect.getdoc(func) or ""), f"{func.__name__}: {e}"
        return set()
    out, todo = set(), [hint]
    while todo:
        t = todo.pop()
        if inspect.isclass(t) and is_dsdt(t):
            out.add(t)
        todo += typing.get_args(t)
    return out


def test_every_public_name_of_the_api_has_a_docstring() -> None:
    missing = undocumented(public_api())
    assert not missing, ("public names of dsdt.api without a docstring (fields: without an "
                         f"Attributes: entry in their class's docstring): {', '.join(missing)}")


def test_the_gate_finds_a_missing_docstring() -> None:
    class Shown:
        """A documented class."""

        def told(self) -> None:
            """Has a docstring."""

        def untold(self) -> None:
            pass

        @property
        def bare(self) -> int:
            return 1

    @dataclasses.dataclass
    class Fields:
        """A documented class with fields.

        Attributes:
            told, also: Described.
        """

        told: int
        also: int
        untold: int

    Shown.__module__ = Fields.__module__ = "dsdt.api"

    def lonely() -> None:
        pass

    lonely.__module__ = "dsdt.api"
    assert undocumented({"Shown": Shown, "lonely": lonely, "Fields": Fields}) == \
        ["Shown.untold", "Shown.bare", "lonely", "Fields.untold"]


def test_all_lists_every_api_function_and_every_returned_class() -> None:
    public = {name for name in dir(api) if not name.startswith("_")}
    defined = {name for name in public
               if inspect.isfunction(getattr(api, name)) and
               getattr(api, name).__module__ in API_MODULES}
    assert defined - set(api.__all__) == set(), "add these to dsdt.api.__all__"
    returned = {cls for name in api.__all__ if inspect.isfunction(getattr(api, name))
                for cls in returned_classes(getattr(api, name))}
    shown = {getattr(api, name) for name in api.__all__}
    assert {c.__name__ for c in returned - shown} == set(), \
        "API functions return these: export them in dsdt.api.__all__"


def test_pdoc_builds_the_reference(tmp_path: Path) -> None:
    pdoc.render.configure(docformat="google")
    pdoc.pdoc(*doc_modules(), output_directory=tmp_path)
    index = (tmp_path / "index.html").read_text()
    for module in doc_modules():
        assert f'href="{module.replace(".", "/")}.html"' in index, module
    page = (tmp_path / "dsdt" / "api.html").read_text()
    for name in ("Bundle", "apply", "add_data", "search", "BundleNotFoundError"):
        assert name in page, name
    for member in ("Metadata.add_data", "Metadata.add_tags", "ManagedFiles.make_file",
                   "RemoteMethods.push"):  # Bundle's members from its parts, linked
        assert f"#{member}\"" in page, member
    assert "<h6 id=\"arguments\">Arguments:</h6>" in page  # Google sections were parsed
    assert 'id="PipeTask"' in (tmp_path / "dsdt" / "pipe.html").read_text()
