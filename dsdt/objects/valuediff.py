"""Differences between two value nodes, computed from the records (and small metadata blobs).

Used by ``dsdt diff``: containers are compared item by item, files and
directories by blob id and tree, DataFrames from their recorded column
summaries (:mod:`dsdt.objects.framediff`), never by reading the data itself.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from dsdt.errors import CorruptObjectError, DsdtError
from dsdt.objects.blobrefs import load_packed
from dsdt.objects.framediff import DataChange, diff_frames
from dsdt.objects.treegate import parse_tree

__all__ = ["DataChange", "diff_values"]

ReadBlob = Callable[..., bytes]
_SHOW_LIMIT = 200
_NP_FORMATS = {"b": "b", "B": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q",
               "u8": "Q", "f2": "e", "f4": "f", "f8": "d", "b1": "?"}


def diff_values(old: dict[str, Any], new: dict[str, Any], read_blob: ReadBlob,
                path: str = "") -> list[DataChange]:
    """The differences between two value nodes, recursively.

    Args:
        old: The old value node.
        new: The new value node.
        read_blob: Reads metadata blobs (directory trees, packed values).
        path: Where these nodes are in the whole value (``["a"][2]``).
    """
    old, new = _unpacked(old, read_blob), _unpacked(new, read_blob)
    if _same(old, new):
        return []
    if old["type"] != new["type"]:
        return [DataChange(path, "type", old=_describe(old), new=_describe(new),
                           detail={"types": [old["type"], new["type"]]})]
    if old["type"] in ("dataframe", "series"):
        try:
            return diff_frames(old, new, path)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise CorruptObjectError(f"the frame node at {path or 'the top'} is malformed "
                                     f"({type(e).__name__}); run dsdt fsck") from None
    differ = _DIFFERS.get(old["type"], _diff_scalar)
    return differ(old, new, read_blob, path)


def _unpacked(node: dict[str, Any], read_blob: ReadBlob) -> dict[str, Any]:
    """The container a ``packed`` node stands for (the node itself if its blob is missing)."""
    if node["type"] != "packed":
        return node
    try:
        return load_packed(read_blob(node["blob"]), node["blob"])
    except (OSError, DsdtError):
        return node


def _canon(node: Any) -> str:
    return json.dumps(node, sort_keys=True, default=str)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a == b or _canon(a) == _canon(b)  # the second for NaN values


def _diff_scalar(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    if "blob" in old or "blob" in new:
        return [DataChange(path, "content", old=_size(old), new=_size(new))]
    out = []
    if old["type"] == "npscalar" and old["dtype"] != new["dtype"]:
        out.append(DataChange(path, "dtype", old=old["dtype"], new=new["dtype"]))
    return [*out, DataChange(path, "value", old=_show(old), new=_show(new))]


def _diff_seq(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    a, b = old["items"], new["items"]
    out = []
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        out += diff_values(x, y, read_blob, f"{path}[{k}]")
    out += [DataChange(f"{path}[{k}]", "removed", old=_describe(a[k]))
            for k in range(len(b), len(a))]
    return out + [DataChange(f"{path}[{k}]", "added", new=_describe(b[k]))
                  for k in range(len(a), len(b))]


def _diff_set(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    a = {_canon(x): x for x in old["items"]}
    b = {_canon(x): x for x in new["items"]}
    out = [DataChange(path, "removed", _key_text(x), old=_describe(x))
           for c, x in a.items() if c not in b]
    return out + [DataChange(path, "added", _key_text(x), new=_describe(x))
                  for c, x in b.items() if c not in a]


def _diff_dict(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    a = {_canon(k): (k, v) for k, v in old["items"]}
    b = {_canon(k): (k, v) for k, v in new["items"]}
    out = []
    for c, (key, value) in a.items():
        where = f"{path}[{_key_text(key)}]"
        if c in b:
            out += diff_values(value, b[c][1], read_blob, where)
        else:
            out.append(DataChange(where, "removed", old=_describe(value)))
    return out + [DataChange(f"{path}[{_key_text(key)}]", "added", new=_describe(value))
                  for c, (key, value) in b.items() if c not in a]


def _diff_array(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    out = [DataChange(path, key, old=old.get(key), new=new.get(key))
           for key in ("shape", "dtype") if old.get(key) != new.get(key)]
    if old.get("blob") != new.get("blob"):
        out.append(DataChange(path, "content", old=_size(old), new=_size(new)))
    return out


def _diff_file(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    out = []
    if old["path"] != new["path"]:
        out.append(DataChange(path, "path_changed", old=old["path"], new=new["path"]))
    if old["blob"] != new["blob"]:
        out.append(DataChange(path, "content", new["path"], old["size"], new["size"]))
    if bool(old.get("exec")) != bool(new.get("exec")):
        out.append(DataChange(path, "mode", new["path"], bool(old.get("exec")),
                              bool(new.get("exec"))))
    return out


def _diff_directory(old: dict, new: dict, read_blob: ReadBlob, path: str) -> list[DataChange]:
    out = []
    if old["path"] != new["path"]:
        out.append(DataChange(path, "path_changed", old=old["path"], new=new["path"]))
    if old["tree"] == new["tree"]:
        return out
    try:
        ta = parse_tree(read_blob(old["tree"]), f"directory tree {old['tree']}")
        tb = parse_tree(read_blob(new["tree"]), f"directory tree {new['tree']}")
    except (OSError, DsdtError):
        return [*out, DataChange(path, "files_unknown", old=_describe(old), new=_describe(new))]
    fa = {rel: (blob, size, bool(ex)) for rel, blob, size, ex in ta["files"]}
    fb = {rel: (blob, size, bool(ex)) for rel, blob, size, ex in tb["files"]}
    for rel in sorted(fa.keys() | fb.keys()):
        if rel not in fb:
            out.append(DataChange(path, "file_removed", rel, old=fa[rel][1]))
        elif rel not in fa:
            out.append(DataChange(path, "file_added", rel, new=fb[rel][1]))
        elif fa[rel][0] != fb[rel][0]:
            out.append(DataChange(path, "file_changed", rel, fa[rel][1], fb[rel][1]))
        elif fa[rel][2] != fb[rel][2]:
            out.append(DataChange(path, "mode", rel, fa[rel][2], fb[rel][2]))
    da, db = set(ta.get("dirs", [])), set(tb.get("dirs", []))
    out += [DataChange(path, "dir_removed", d) for d in sorted(da - db)]
    return out + [DataChange(path, "dir_added", d) for d in sorted(db - da)]


_DIFFERS: dict[str, Callable[[dict, dict, ReadBlob, str], list[DataChange]]] = {
    "list": _diff_seq, "tuple": _diff_seq, "set": _diff_set, "frozenset": _diff_set,
    "dict": _diff_dict, "ndarray": _diff_array, "file": _diff_file,
    "directory": _diff_directory,
}


# --- showing values ----------------------------------------------------------------------


def _size(node: dict[str, Any]) -> int | None:
    """Bytes of a blob-backed or inline text/bytes node (None when unknown)."""
    if "size" in node:
        return int(node["size"])
    if node["type"] == "str" and "value" in node:
        return len(node["value"].encode("utf-8", "surrogatepass"))
    return len(base64.b64decode(node["b64"])) if node["type"] == "bytes" else None


def _show(node: dict[str, Any]) -> Any:
    """A JSON-ready form of an inline value (long text cut, bytes as their repr)."""
    kind = node["type"]
    if kind == "none":
        return None
    if "blob" in node:
        return _describe(node)
    if kind == "int" and "hex" in node:  # an int too large for YAML: shown in hex
        sign, digits = ("-", node["hex"][1:]) if node["hex"].startswith("-") else ("", node["hex"])
        if len(digits) > 40:  # both ends: two such ints usually differ at one of them
            digits = f"{digits[:20]}...{digits[-20:]} ({len(digits)} hex digits)"
        return f"{sign}0x{digits}"
    if kind in ("bool", "int", "float", "str"):
        return node["value"]
    if kind == "bytes":
        return _cut(repr(base64.b64decode(node["b64"])))
    if kind == "npscalar":
        return _npscalar(node)
    if kind == "dblink":
        return {k: v for k, v in node.items() if k != "type"}
    return _describe(node)


def _npscalar(node: dict[str, Any]) -> Any:
    """The value of a numpy scalar node, decoded without numpy when its dtype is simple."""
    dtype, raw = node["dtype"], bytes.fromhex(node["hex"])
    code = _NP_FORMATS.get(dtype.lstrip("<>|="))
    if code is not None and len(raw) == struct.calcsize(code):
        return struct.unpack((">" if dtype.startswith(">") else "<") + code, raw)[0]
    return f"{dtype}:{node['hex']}"


def _cut(text: str) -> str:
    return text if len(text) <= _SHOW_LIMIT else text[:_SHOW_LIMIT - 3] + "..."


def _key_text(node: dict[str, Any]) -> str:
    """A dict key or set item as Python-like text (``"a"``, ``3``, ``(1, 2)``)."""
    kind = node["type"]
    if kind == "str" and "value" in node:
        return json.dumps(node["value"], ensure_ascii=False)
    if kind in ("tuple", "frozenset"):
        inner = ", ".join(_key_text(x) for x in node["items"])
        if kind == "frozenset":
            return f"frozenset({{{inner}}})"
        return f"({inner},)" if len(node["items"]) == 1 else f"({inner})"
    if kind in ("none", "bool", "int", "float", "npscalar"):
        return repr(_show(node))
    return str(_show(node))


def _describe(node: dict[str, Any]) -> str:
    """A short description of any node (``int 3``, ``dataframe 1000x3``, ``file a.txt``)."""
    kind = node["type"]
    if kind in ("list", "tuple", "set", "frozenset", "dict"):
        return f"{kind} of {len(node['items'])} items"
    if kind in ("dataframe", "series"):
        return f"{kind} {'x'.join(str(n) for n in node['shape'])}"
    if kind == "ndarray":
        return f"ndarray {node['dtype']} {tuple(node['shape'])}"
    if kind in ("file", "directory"):
        files = f"{node['files']} files, " if kind == "directory" else ""
        return f"{kind} {node['path']} ({files}{node['size']} B)"
    if "blob" in node:
        return f"{kind} of {node.get('size', '?')} bytes"
    if kind == "none":
        return "None"
    if kind == "dblink":
        return f"dblink {node.get('schema_name')}.{node.get('table_name')}"
    if kind == "npscalar":
        return f"numpy {node['dtype']} {_show(node)!r}"
    return _cut(f"{kind} {_show(node)!r}")
