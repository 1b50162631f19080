"""The validation gate: everything others wrote is checked here before dsdt uses it.

Records, refs, directory trees, packed values and remote listings reach a
repository through ``git pull`` and ``dsdt pull``, written by other people.
Every reader passes them through one of these checks first, so the rest of
dsdt can trust what it holds:

* names follow the ref-name rules (:mod:`dsdt.refs.names`);
* blob ids are 64 lower-case hex digits;
* paths are relative, normalised and contained: no ``..``, ``.`` or empty
  component, no leading ``/``, no NUL;
* sizes, counts and nesting depth have limits, and a walk over a parsed
  document may visit only as many nodes as its bytes could spell out, so a
  YAML alias bomb is refused before anything walks it.

A failure is a :class:`CorruptObjectError` naming what was wrong; the object
is never materialised.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

from dsdt.errors import CorruptObjectError
from dsdt.objects.ids import is_sha256
from dsdt.objects.valueforms import frame_problem, npscalar_problem

MAX_DEPTH = 200  # nesting of value nodes (check_supported refuses deeper values)
MAX_PLAIN_DEPTH = 400  # nesting of any parsed document (a value node is two levels a step)
MAX_SIZE = 1 << 50  # 1 PiB: no blob or file is larger
MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255
MAX_TREE_ENTRIES = 50_000_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Bidirectional controls: ``rtl\u202egnp.exe`` would display as ``rtlexe.png``.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BAD_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f/\\~^:?*\[]")
MAX_NAME_BYTES = 255
#: ASCII words joined by single dots: names that keep every rule of :func:`name_problem`
#: but the length and ``.lock`` ones.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_+,=-]+(?:\.[A-Za-z0-9_+,=-]+)*")


def corrupt(what: str, problem: str) -> CorruptObjectError:
    """The error for ``what`` failing the gate."""
    return CorruptObjectError(f"{what} is corrupt or hostile: {problem}; it was not used "
                              "(run dsdt fsck)")


def visit_budget(nbytes: int) -> int:
    """How many nodes a document of ``nbytes`` bytes may hold without aliases.

    Every YAML or JSON node takes at least one byte of text, so a walk that
    visits more nodes than that is expanding shared (aliased) nodes.
    """
    return 2 * nbytes + 1000


def check_plain(doc: Any, nbytes: int, what: str) -> Any:
    """Refuse a parsed document nested too deeply or expanding beyond its size.

    Args:
        doc: What ``yaml.safe_load``/``json.loads`` returned.
        nbytes: The length of the text it was parsed from.
        what: Names the document in errors.

    Returns:
        ``doc`` itself.
    """
    budget = visit_budget(nbytes)
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise corrupt(what, "it expands far beyond its size (YAML aliases?)")
        if depth > MAX_PLAIN_DEPTH:
            raise corrupt(what, f"it is nested more than {MAX_PLAIN_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((k, depth + 1) for k in node)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return doc


def check_blob_id(value: Any, what: str) -> str:
    """``value`` if it is a blob id, else raise."""
    if not is_sha256(value):
        raise corrupt(what, f"blob id {str(value)[:80]!r} is not 64 lower-case hex digits")
    return value


def check_size(value: Any, what: str) -> int:
    """``value`` if it is a byte count dsdt could have written, else raise."""
    if type(value) is not int or not 0 <= value <= MAX_SIZE:
        raise corrupt(what, f"size {str(value)[:40]!r} is not a byte count")
    return value


def path_problem(value: Any) -> str | None:
    """Why ``value`` is not a relative, normalised, contained path (None if it is)."""
    if not isinstance(value, str) or not value:
        return "it is empty or not text"
    if "\0" in value:
        return "it contains NUL"
    if value.startswith("/"):
        return "it is absolute"
    try:
        raw = os.fsencode(value)  # what the file system will be asked for
    except UnicodeEncodeError:
        return "it is not a valid file name (a lone surrogate)"
    if len(raw) > MAX_PATH_BYTES:
        return f"it is longer than {MAX_PATH_BYTES} bytes"
    for part in raw.split(b"/"):
        if part in (b"", b".", b".."):
            return "it has an empty, '.' or '..' component"
        if len(part) > MAX_COMPONENT_BYTES:
            return f"a component is longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def check_rel_path(value: Any, what: str) -> str:
    """``value`` if it is a path that stays inside the directory it is relative to."""
    if problem := path_problem(value):
        raise corrupt(what, f"path {str(value)[:80]!r}: {problem}")
    return value


def name_problem(name: Any, allow_space: bool) -> str | None:
    """Why ``name`` breaks git's ``check-ref-format`` rules (None if it does not).

    These rules apply to context and bundle names wherever they come from: a
    user, a record or a remote ref (``docs/format.md`` section 2).
    """
    if (isinstance(name, str) and len(name) <= MAX_NAME_BYTES and not name.endswith(".lock")
            and _PLAIN_NAME.fullmatch(name)):
        return None  # the usual name, quickly: it keeps every rule of _name_rules
    return _name_rules(name, allow_space)


def _name_rules(name: Any, allow_space: bool) -> str | None:
    if not isinstance(name, str):
        return f"it is a {type(name).__name__}, not text"
    if not name:
        return "it is empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    if m := _BAD_IN_NAMES.search(name):
        return f"it contains {m.group()!r}"
    if not allow_space and any(c.isspace() for c in name):
        return "it contains whitespace"
    if name != name.strip():
        return "it starts or ends with whitespace"
    for bad, problem in ((name.startswith("."), "it starts with '.'"),
                         (name.endswith("."), "it ends with '.'"),
                         (".." in name, "it contains '..'"),
                         (name.endswith(".lock"), "it ends with '.lock'"),
                         ("@{" in name or name == "@", "it contains '@{' or is '@'")):
        if bad:
            return problem
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid unicode"
    return None


def check_name(value: Any, what: str, field: str = "name", *, empty_ok: bool = False) -> str:
    """``value`` if it is a valid bundle name (``''`` too with ``empty_ok``), else raise."""
    if empty_ok and value == "":
        return value
    if problem := name_problem(value, allow_space=True):
        raise corrupt(what, f"{field} {str(value)[:40]!r}: {problem}")
    return value


def printable(text: str, *, layout: bool = False) -> str:
    """``text`` with control characters, bidi controls, line/paragraph separators and lone
    surrogates (which no UTF-8 page or terminal can show) made visible.

    What others wrote is shown through this, so no terminal escape in a
    record reaches a terminal.

    Args:
        text: The text.
        layout: Keep newlines and tabs (for multi-line output).
    """
    return "".join(c if (unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp")
                         and c not in _BIDI)
                   or (layout and c in "\n\t")
                   else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}"
                   for c in text)


def has_control(text: str) -> bool:
    """True if ``text`` holds a control character (a terminal escape, a newline...)."""
    return _CONTROL.search(text) is not None


# --- value nodes -----------------------------------------------------------------------

_CONTAINERS = frozenset({"list", "tuple", "set", "frozenset"})
_BULK = frozenset({"packed", "ndarray", "dataframe", "series"})
_TEXT_FIELDS = {"npscalar": ("dtype", "hex"), "ndarray": ("dtype",),
                "dblink": ("dsn", "table_name", "schema_name")}
KNOWN_TYPES = frozenset({"none", "bool", "int", "float", "str", "bytes", "dict", "file",
                         "directory", "dblink", "npscalar"} | _CONTAINERS | _BULK)
_BLOB = frozenset({"type", "blob", "size"})
_FRAME = _BLOB | {"shape", "name", "columns", "dtypes", "index", "extras", "stats"}
#: The fields a node of each type may have: a field a reviewer reads but dsdt would not
#: (or the other way round) is refused.
_ALLOWED = {
    "none": frozenset({"type"}), "bool": frozenset({"type", "value"}),
    "int": frozenset({"type", "value", "hex"}), "float": frozenset({"type", "value"}),
    "str": _BLOB | {"value"}, "bytes": _BLOB | {"b64"},
    **{t: frozenset({"type", "items"}) for t in _CONTAINERS | {"dict"}},
    "packed": _BLOB, "npscalar": frozenset({"type", "dtype", "hex"}),
    "ndarray": _BLOB | {"shape", "dtype"}, "dataframe": _FRAME, "series": _FRAME,
    "file": _BLOB | {"path", "exec"}, "directory": frozenset(
        {"type", "path", "tree", "files", "size", "as"}),
    "dblink": frozenset({"type", "dsn", "table_name", "schema_name", "url"}),
}
#: Fields of which a node holds exactly one: its value inline, or where it is.
_ONE_OF = {"int": ("value", "hex"), "str": ("value", "blob"), "bytes": ("b64", "blob")}


def check_node(node: Any, what: str) -> dict[str, Any]:
    """Validate a value node tree (``docs/format.md`` section 6) without recursion.

    Shared sub-nodes are walked each time they occur, within the caller's
    :func:`check_plain` budget (the document was checked when it was parsed).

    Returns:
        ``node`` itself.
    """
    children = _check_one(node, what)
    if not children:
        return node  # a leaf (most records hold one): no walk
    stack: list[tuple[Any, int]] = [(child, 1) for child in children]
    while stack:
        n, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise corrupt(what, f"its value is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in _check_one(n, what))
    return node


def _check_one(n: Any, what: str) -> list[Any]:
    """Check one node's own fields; return its child nodes."""
    if not isinstance(n, dict) or not isinstance(n.get("type"), str):
        raise corrupt(what, "a value node is not a mapping with a type")
    kind = n["type"]
    if kind not in KNOWN_TYPES:
        raise corrupt(what, f"unknown value node type {kind[:40]!r} (written by a newer dsdt?)")
    if not n.keys() <= _ALLOWED[kind]:
        extra = sorted(map(str, n.keys() - _ALLOWED[kind]))
        raise corrupt(what, f"a node of type {kind!r} has fields {extra[:5]!r} that type "
                            "does not have")
    one_of = _ONE_OF.get(kind)
    if one_of is not None and (one_of[0] in n) == (one_of[1] in n):
        raise corrupt(what, f"a node of type {kind!r} must hold exactly one of "
                            f"{one_of[0]!r} and {one_of[1]!r}")
    if "blob" in n:
        check_blob_id(n["blob"], what)
        check_size(n.get("size"), what)
    for field in _TEXT_FIELDS.get(kind, ()):
        if not isinstance(n.get(field), str):
            raise corrupt(what, f"{kind} node field {field!r} is not text")
    checker = _CHECKS.get(kind)
    return checker(n, what) if checker else []


def need(cond: bool, what: str, problem: str) -> None:
    """Raise :func:`corrupt` with ``problem`` unless ``cond`` holds."""
    if not cond:
        raise corrupt(what, problem)


def _scalar(n: dict[str, Any], what: str) -> list[Any]:
    value, kind = n.get("value"), n["type"]
    if kind == "int" and "hex" in n:
        need(isinstance(n["hex"], str) and re.fullmatch(r"-?[0-9a-f]+", n["hex"]) is not None,
              what, "a large int node is malformed")
        return []
    allowed = {"bool": (bool,), "int": (int,), "float": (float, int)}[kind]
    need(type(value) in allowed, what, f"a {kind} node holds {type(value).__name__}")
    return []


def _text(n: dict[str, Any], what: str) -> list[Any]:
    field, kind = ("value", str) if n["type"] == "str" else ("b64", str)
    need("blob" in n or isinstance(n.get(field), kind), what, f"a {n['type']} node is empty")
    need(field != "b64" or "blob" in n or _BASE64.fullmatch(n["b64"]) is not None, what,
          "a bytes node's b64 is not base64")
    return []


def _items(n: dict[str, Any], what: str) -> list[Any]:
    items = n.get("items")
    need(isinstance(items, list), what, f"a {n['type']} node has no item list")
    if n["type"] != "dict":
        need(n["type"] not in ("set", "frozenset") or all(_may_be_key(x) for x in items), what,
              f"a {n['type']} node holds a member that cannot be one (a list, dict or set)")
        return items
    need(all(isinstance(p, list) and len(p) == 2 for p in items), what,
          "a dict node item is not a key/value pair")
    need(all(_may_be_key(p[0]) for p in items), what,
          "a dict node has a key that cannot be one (a list, dict or set)")
    return [x for pair in items for x in pair]


_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
#: Node types whose values Python cannot hash (set members and dict keys must be hashable).
_UNHASHABLE = frozenset({"list", "dict", "set", "ndarray", "dataframe", "series"})


def _may_be_key(n: Any) -> bool:
    """False when node ``n`` plainly decodes to an unhashable value (a tuple holding one
    is found when it is decoded)."""
    return not isinstance(n, dict) or n.get("type") not in _UNHASHABLE


def _npscalar(n: dict[str, Any], what: str) -> list[Any]:
    problem = npscalar_problem(n["dtype"], n["hex"])
    need(problem is None, what, f"a numpy scalar node is malformed: {problem}")
    return []


def _blob(n: dict[str, Any], what: str) -> list[Any]:
    need("blob" in n, what, f"a {n['type']} node names no blob")
    shape = n.get("shape", [])
    need(isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape), what,
          f"a {n['type']} node has a malformed shape")
    return []


def _frame(n: dict[str, Any], what: str) -> list[Any]:
    problem = frame_problem(n)
    need(problem is None, what, f"a {n['type']} node is malformed: {problem}")
    return _blob(n, what)


def _file(n: dict[str, Any], what: str) -> list[Any]:
    check_rel_path(n.get("path"), what)
    need("blob" in n and isinstance(n.get("exec", False), bool), what, "a file node is malformed")
    return []


def _directory(n: dict[str, Any], what: str) -> list[Any]:
    check_rel_path(n.get("path"), what)
    check_blob_id(n.get("tree"), what)
    check_size(n.get("size"), what)
    files = n.get("files")
    need(type(files) is int and 0 <= files <= MAX_TREE_ENTRIES, what,
          "a directory node's file count is malformed")
    need(n.get("as", "path") in ("path", "list"), what, "a directory node's 'as' is malformed")
    return []


_CHECKS = {"bool": _scalar, "int": _scalar, "float": _scalar, "str": _text, "bytes": _text,
           "dict": _items, "list": _items, "tuple": _items, "set": _items, "frozenset": _items,
           "packed": _blob, "ndarray": _blob, "dataframe": _frame, "series": _frame,
           "file": _file, "directory": _directory, "npscalar": _npscalar}


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The ``object_pairs_hook`` of every JSON dsdt reads from others: a key named twice
    raises ``ValueError`` (a reviewer reads the first value, JSON keeps the last)."""
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("a key is named twice")
    return d
