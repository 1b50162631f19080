"""History of bundles: ``log`` (the versions of a name) and ``diff`` (what changed between two).

Both read records only, plus directory trees and packed values (small
*metadata* blobs that travel with the records), never the data itself: a diff
of two DataFrames compares the column summaries recorded when they were
written (:mod:`dsdt.objects.summary`). So they work as well for bundles whose
data is only on a remote. Results are plain dataclasses with ``to_dict()``.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dsdt.errors import BundleNotFoundError, CorruptObjectError, DsdtError, UsageError
from dsdt.objects.codecs import blob_refs, load_packed
from dsdt.objects.gate import parse_tree
from dsdt.objects.record import Lineage
from dsdt.objects.summary import DataChange, diff_frames

if TYPE_CHECKING:
    from dsdt.bundle import Bundle
    from dsdt.repo import Repository

__all__ = ["BundleDiff", "DataChange", "LineageDiff", "LogEntry", "MapDiff", "diff",
           "diff_values", "log"]

ReadBlob = Callable[[str], bytes]
_SHOW_LIMIT = 200
_NP_FORMATS = {"b": "b", "B": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q",
               "u8": "Q", "f2": "e", "f4": "f", "f8": "d", "b1": "?"}


@dataclass(frozen=True)
class LogEntry:
    """One version of a bundle, as ``dsdt log`` shows it.

    Attributes:
        uuid: The bundle's uuid.
        name: Its name.
        created: When it was closed (aware UTC datetime).
        tags: User tags (not params).
        committed: Whether it is committed in the context.
        size: Bytes of its data blobs (each blob counted once per bundle).
        code_commit: The git commit of the code that made it, or ``""``.
        processing_name: Its processing name.
    """

    uuid: str
    name: str
    created: datetime
    tags: dict[str, str]
    committed: bool
    size: int
    code_commit: str
    processing_name: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``created`` in ISO 8601)."""
        return {**asdict(self), "created": self.created.isoformat()}


@dataclass(frozen=True)
class MapDiff:
    """Changes between two string maps (tags, params, inputs by arg name).

    Attributes:
        added: Keys only in the new map, with their values.
        removed: Keys only in the old map, with their values.
        changed: Keys in both with different values: ``[old, new]``.
    """

    added: dict[str, str]
    removed: dict[str, str]
    changed: dict[str, list[str]]

    @classmethod
    def of(cls, old: dict[str, str], new: dict[str, str]) -> MapDiff:
        """Compare two maps."""
        return cls({k: v for k, v in new.items() if k not in old},
                   {k: v for k, v in old.items() if k not in new},
                   {k: [old[k], v] for k, v in new.items() if k in old and old[k] != v})

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class LineageDiff:
    """Changes of lineage: inputs (uuid by arg name) and code.

    Attributes:
        inputs: Inputs added, removed or changed to another version (uuid), by arg name.
        code_ref: ``[old, new]`` when the producing code reference changed, else None.
        code_hash: ``[old, new]`` when the code's source hash changed, else None.
        code_commit: ``[old, new]`` when the git commit of the code changed, else None.
    """

    inputs: MapDiff
    code_ref: list[str] | None = None
    code_hash: list[str] | None = None
    code_commit: list[str] | None = None

    @classmethod
    def of(cls, old: Lineage, new: Lineage) -> LineageDiff:
        """Compare two lineages."""
        def pair(a: str, b: str) -> list[str] | None:
            return [a, b] if a != b else None

        return cls(MapDiff.of(_inputs(old), _inputs(new)), pair(old.code_ref, new.code_ref),
                   pair(old.code_hash, new.code_hash),
                   pair(_commit(old), _commit(new)))

    def __bool__(self) -> bool:
        return bool(self.inputs or self.code_ref or self.code_hash or self.code_commit)


@dataclass(frozen=True)
class BundleDiff:
    """What changed from one bundle (old) to another (new).

    Attributes:
        old_uuid, new_uuid: The bundles compared.
        old_name, new_name: Their names.
        old_created, new_created: Their creation times (ISO 8601).
        tags: User tag changes.
        params: Parameter changes.
        lineage: Input and code changes.
        data: Differences between the two values, one per change (empty: same data).
    """

    old_uuid: str
    new_uuid: str
    old_name: str
    new_name: str
    old_created: str
    new_created: str
    tags: MapDiff
    params: MapDiff
    lineage: LineageDiff
    data: list[DataChange]

    @property
    def same(self) -> bool:
        """True when nothing but identity and creation time differs."""
        return not (self.tags or self.params or self.lineage or self.data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the fields, plus ``same``."""
        return {**asdict(self), "same": self.same}


def _inputs(lineage: Lineage) -> dict[str, str]:
    """Input uuids by arg name (a repeated arg name gets ``#2``, ``#3``...)."""
    out: dict[str, str] = {}
    for dep in lineage.depends_on:
        key, n = dep.arg_name, 1
        while key in out:
            n += 1
            key = f"{dep.arg_name}#{n}"
        out[key] = dep.uuid
    return out


def _commit(lineage: Lineage) -> str:
    return str(lineage.git.get("commit") or "")


# --- log ---------------------------------------------------------------------------------


def log(local_context: str, bundle_name: str | None = None, all: bool = False) -> list[LogEntry]:
    """Every version of a bundle name (or, with ``all``, every bundle), newest first.

    Args:
        local_context: The context (None: the current one).
        bundle_name: The name (``*`` matches any characters).
        all: List every bundle of the context instead of one name.

    Raises:
        UsageError: Neither a name nor ``all`` was given, or both were.
    """
    if (bundle_name is None) != bool(all):
        raise UsageError("give a bundle name, or all=True (dsdt log --all) for every bundle"
                         if bundle_name is None else "give a bundle name or all=True, not both")
    from dsdt import api

    repo = api._repo()
    ctx = api._context(repo, local_context)
    return [_entry(repo, b) for b in api.search(ctx, search_name=bundle_name)]


def _entry(repo: Repository, b: Bundle) -> LogEntry:
    rec = b.record
    return LogEntry(b.uuid, b.name, b.creation_date, b.user_tags, b.is_committed,
                    data_size(rec.data, repo.blobs.read), _commit(rec.lineage),
                    b.processing_name)


def data_size(node: dict[str, Any], read_blob: ReadBlob) -> int:
    """Bytes of the data blobs of a value node, each blob counted once.

    Files in directories are counted from the directory trees; if a tree or
    packed value cannot be read, the blobs named in the record are counted.
    """
    try:
        return sum(blob_refs(node, read_blob).data.values())
    except (OSError, DsdtError, ValueError):
        return sum(blob_refs(node).data.values())


# --- diff --------------------------------------------------------------------------------


def diff(local_context: str, bundle_name: str | None = None,
         uuids: list[str] | None = None) -> BundleDiff:
    """Compare two bundles from their records (never their data).

    Args:
        local_context: The context (None: the current one).
        bundle_name: Compare the latest bundle of this name with the one before.
        uuids: Two uuids to compare instead: old, then new. With a name too,
            both bundles must have that name.

    Raises:
        UsageError: Nothing to compare (fewer than two versions, no name and
            no uuids, not two uuids, or a uuid of another name).
        BundleNotFoundError: A uuid is not in the context.
    """
    from dsdt import api

    repo = api._repo()
    old, new = _pick(api._context(repo, local_context), bundle_name, list(uuids or []))
    ro, rn = old.record, new.record
    return BundleDiff(ro.uuid, rn.uuid, ro.name, rn.name, ro.created, rn.created,
                      MapDiff.of(ro.tags, rn.tags), MapDiff.of(ro.params, rn.params),
                      LineageDiff.of(ro.lineage, rn.lineage),
                      diff_values(ro.data, rn.data, repo.blobs.read))


def _pick(ctx: str, name: str | None, uuids: list[str]) -> tuple[Bundle, Bundle]:
    """The (old, new) bundles to compare."""
    from dsdt import api

    if uuids:
        if len(uuids) != 2:
            raise UsageError(f"give two uuids to compare (old, then new), not {len(uuids)}")
        found = [api.get(ctx, None, uuid=uuid) for uuid in uuids]
        for uuid, b in zip(uuids, found, strict=True):
            if b is None:
                raise BundleNotFoundError(f"no bundle with uuid {uuid} in context {ctx!r}")
            if name is not None and b.name != name:
                raise UsageError(f"bundle {uuid} is named {b.name!r}, not {name!r}")
        return found[0], found[1]  # type: ignore[return-value]
    if name is None:
        raise UsageError("name the bundle to compare, or give two uuids")
    versions = [b for b in api.search(ctx, search_name=name) if b.name == name]
    if len(versions) < 2:
        raise UsageError(f"bundle {name!r} has {len(versions)} version(s) in context {ctx!r}; "
                         "diff needs two")
    return versions[1], versions[0]


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
