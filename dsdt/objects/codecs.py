"""Value codecs: Python values <-> value nodes stored in a bundle record.

A *node* is a small YAML-safe mapping with a ``type`` key. Scalars and
containers are stored inline (lossless: a tuple stays a tuple, bytes stay
bytes, dict keys keep their types); bulk data goes to blobs (DataFrames and
Series as parquet, arrays as ``.npy``, files and directories byte for byte).
Every supported type is listed in ``docs/format.md``; anything else is
refused with :class:`UnsupportedValueError` before a single byte is written.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dsdt.errors import CorruptObjectError, UnsupportedValueError
from dsdt.objects import gate
from dsdt.objects.blobrefs import load_packed
from dsdt.objects.blobs import BlobStore
from dsdt.objects.files import FileDecoder, FileEncoder
from dsdt.objects.record import dump_yaml

_INLINE_LIMIT = 4096  # str/bytes longer than this go to a blob
_PACK_LIMIT = 64 * 1024  # a node tree whose YAML is larger is stored as a blob
_BIG_INT_BITS = 13_000  # ints this large are stored in hex (decimal text is capped at 4300 digits)

_SUPPORTED = (
    "None, bool, int, float, str, bytes, list, tuple, dict, set, frozenset, numpy scalars and "
    "arrays, pandas DataFrame and Series, file and directory paths (str or pathlib.Path), "
    "luigi LocalTarget, DBLink"
)


@dataclass(frozen=True)
class DBLink:
    """A reference to a database table, stored in a bundle but never copied or moved.

    Attributes:
        dsn: The database's connection string.
        table_name: The table.
        schema_name: Its schema.
        url: ``db://schema.table@dsn``.
    """

    dsn: str
    table_name: str
    schema_name: str
    url: str = ""


@dataclass(frozen=True)
class DirectoryList:
    """A directory stored with its structure that presents as the list of its file paths.

    Attributes:
        path: The directory.
    """

    path: Path


def _is_numpy(v: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(v, np.generic | np.ndarray)


def _is_pandas(v: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and type(v) in (pd.DataFrame, pd.Series)


def _local_target_path(v: Any) -> str | None:
    luigi = sys.modules.get("luigi")
    if luigi is not None and isinstance(v, luigi.LocalTarget):
        return str(v.path)
    return None


def check_supported(value: Any, _depth: int = 0) -> None:
    """Raise :class:`UnsupportedValueError` if ``value`` holds a type dsdt cannot store.

    This walks containers only (not DataFrame content), so it is cheap and runs
    before anything is written.
    """
    if _depth > 200:
        raise UnsupportedValueError("value is nested more than 200 levels deep")
    t = type(value)
    if value is None or t in (bool, int, float, str, bytes, DBLink, DirectoryList) \
            or isinstance(value, Path):
        return
    if t in (list, tuple, set, frozenset):
        for item in value:
            check_supported(item, _depth + 1)
        return
    if t is dict:
        for k, v in value.items():
            check_supported(k, _depth + 1)
            check_supported(v, _depth + 1)
        return
    if _is_numpy(value) or _is_pandas(value) or _local_target_path(value) is not None:
        return
    raise UnsupportedValueError(
        f"cannot store a value of type {t.__module__}.{t.__qualname__}; dsdt stores {_SUPPORTED}"
    )


class Encoder:
    """Turns one Python value into a node, writing bulk data to a blob store.

    Args:
        blobs: Where blob data goes.
        files: The file encoder (managed directory, symlink policy, stat cache).
    """

    def __init__(self, blobs: BlobStore, files: FileEncoder) -> None:
        self.blobs = blobs
        self.files = files

    def encode_top(self, value: Any) -> dict[str, Any]:
        """Encode a bundle's whole value; large inline trees are packed into a blob."""
        check_supported(value)
        node = self.encode(value)
        if node["type"] in ("list", "tuple", "dict", "set", "frozenset"):
            text = dump_yaml(node)
            if len(text) > _PACK_LIMIT:
                return {"type": "packed", "blob": self.blobs.put_bytes(text), "size": len(text)}
        return node

    def encode(self, v: Any) -> dict[str, Any]:
        """Encode one value (recursively for containers)."""
        t = type(v)
        if v is None:
            return {"type": "none"}
        if t is int and v.bit_length() > _BIG_INT_BITS:
            return {"type": "int", "hex": format(v, "x")}
        if t in (bool, int, float):
            return {"type": t.__name__, "value": v}
        if t is str:
            return self.files.encode_path_str(v) or self._text(v)
        if t is bytes:
            return self._bytes(v)
        if t in (list, tuple, set, frozenset):
            return {"type": t.__name__, "items": [self.encode(x) for x in v]}
        if t is dict:
            items = [[self.encode(k), self.encode(x)] for k, x in v.items()]
            return {"type": "dict", "items": items}
        if isinstance(v, Path):
            return self.files.encode_path(v)
        if t is DirectoryList:
            return self.files.encode_path(v.path, as_list=True)
        if t is DBLink:
            return {"type": "dblink", **asdict(v)}
        if (target := _local_target_path(v)) is not None:
            return self.files.encode_path(Path(target), from_target=True)
        if _is_pandas(v):
            return self._frame(v)
        if _is_numpy(v):
            return self._numpy(v)
        check_supported(v)  # raises with the type's name
        raise AssertionError("unreachable")

    def _text(self, s: str) -> dict[str, Any]:
        if len(s) <= _INLINE_LIMIT and not _has_surrogates(s):
            return {"type": "str", "value": s}
        data = s.encode("utf-8", "surrogatepass")
        return {"type": "str", "blob": self.blobs.put_bytes(data), "size": len(data)}

    def _bytes(self, b: bytes) -> dict[str, Any]:
        if len(b) <= _INLINE_LIMIT:
            return {"type": "bytes", "b64": base64.b64encode(b).decode("ascii")}
        return {"type": "bytes", "blob": self.blobs.put_bytes(b), "size": len(b)}

    def _frame(self, v: Any) -> dict[str, Any]:
        from dsdt.objects import frames

        return self._via_writer(lambda out: frames.write_frame(v, out))

    def _numpy(self, v: Any) -> dict[str, Any]:
        import numpy as np

        if isinstance(v, np.ndarray):
            from dsdt.objects import frames

            return self._via_writer(lambda out: frames.write_array(v, out))
        item = np.array(v)  # one item of its full size (an empty str_ is <U0 with 4 bytes)
        dtype = item.dtype
        if (dtype.hasobject or dtype.fields is not None or np.dtype(dtype.str) != dtype
                or dtype.itemsize == 0):
            raise UnsupportedValueError(f"cannot store a numpy scalar of dtype {v.dtype}")
        return {"type": "npscalar", "dtype": dtype.str, "hex": _item_bytes(item).hex()}

    def _via_writer(self, write: Callable[[BinaryIO], dict[str, Any]]) -> dict[str, Any]:
        with self.blobs.writer() as out:
            node = write(out)  # type: ignore[arg-type]
        assert out.result is not None
        blob_id, size = out.result
        return {**node, "blob": blob_id, "size": size}


def _malformed(node: dict[str, Any]) -> CorruptObjectError:
    return CorruptObjectError(f"a {node['type']} node is malformed; the record is corrupt or "
                              "hostile (run dsdt fsck)")


def _hashable(node: dict[str, Any], values: list[Any]) -> list[Any]:
    """``values`` if each can be a set member or dict key (a hostile record may say otherwise)."""
    try:
        for value in values:
            hash(value)
    except TypeError:
        raise CorruptObjectError(f"a {node['type']} node holds an unhashable member; the record "
                                 "is corrupt or hostile (run dsdt fsck)") from None
    return values


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Decoder:
    """Turns nodes back into Python values.

    Args:
        blob_path: Returns a readable local path for a blob id, given its
            declared size (fetching it if the store knows how).
        files: Presents file and directory nodes as local paths.
    """

    def __init__(self, blob_path: Callable[[str, int], Path], files: FileDecoder) -> None:
        self.blob_path = blob_path
        self.files = files
        self._depth = 0

    def _blob(self, node: dict[str, Any]) -> Path:
        return self.blob_path(node["blob"], node["size"])

    def decode(self, node: dict[str, Any]) -> Any:
        """The value a node stands for.

        Raises:
            CorruptObjectError: Packed values inside packed values nest deeper than
                one tree may (each was checked on its own; a chain of them was not).
        """
        kind = node["type"]
        method = getattr(self, f"_d_{kind}", None)
        if method is None:
            raise UnsupportedValueError(f"unknown value node type {kind!r}; upgrade dsdt")
        self._depth += 1
        try:
            if self._depth > gate.MAX_DEPTH + 1:  # as check_node counts (from 0)
                raise CorruptObjectError(f"a value nests more than {gate.MAX_DEPTH} levels "
                                         "through its packed parts; the record is corrupt or "
                                         "hostile (run dsdt fsck)")
            return method(node)
        finally:
            self._depth -= 1

    def _d_none(self, node: dict[str, Any]) -> None:
        return None

    def _d_bool(self, node: dict[str, Any]) -> bool:
        return bool(node["value"])

    def _d_int(self, node: dict[str, Any]) -> int:
        return int(node["hex"], 16) if "hex" in node else int(node["value"])

    def _d_float(self, node: dict[str, Any]) -> float:
        return float(node["value"])

    def _d_str(self, node: dict[str, Any]) -> str:
        if "blob" in node:
            return self._blob(node).read_bytes().decode("utf-8", "surrogatepass")
        return str(node["value"])

    def _d_bytes(self, node: dict[str, Any]) -> bytes:
        if "blob" in node:
            return self._blob(node).read_bytes()
        try:
            return base64.b64decode(node["b64"], validate=True)
        except ValueError:
            raise _malformed(node) from None

    def _d_list(self, node: dict[str, Any]) -> list[Any]:
        return [self.decode(x) for x in node["items"]]

    def _d_tuple(self, node: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(self.decode(x) for x in node["items"])

    def _d_set(self, node: dict[str, Any]) -> set[Any]:
        return set(_hashable(node, [self.decode(x) for x in node["items"]]))

    def _d_frozenset(self, node: dict[str, Any]) -> frozenset[Any]:
        return frozenset(_hashable(node, [self.decode(x) for x in node["items"]]))

    def _d_dict(self, node: dict[str, Any]) -> dict[Any, Any]:
        pairs = [(self.decode(k), self.decode(v)) for k, v in node["items"]]
        keys = _hashable(node, [k for k, _ in pairs])
        out = dict(zip(keys, (v for _, v in pairs), strict=True))
        if len(out) != len(pairs):  # 1, True and 1.0 are one key: a reviewer reads two
            raise CorruptObjectError("a dict node holds one key twice (or keys Python takes "
                                     "for equal); the record is corrupt or hostile (run dsdt fsck)")
        return out

    def _d_packed(self, node: dict[str, Any]) -> Any:
        return self.decode(load_packed(self._blob(node).read_bytes(), node["blob"]))

    def _d_npscalar(self, node: dict[str, Any]) -> Any:
        import numpy as np

        try:
            dtype = np.dtype(node["dtype"])
            if dtype.hasobject:
                raise ValueError("object dtype")
            value = np.frombuffer(bytes.fromhex(node["hex"]), dtype=dtype)[0]
            if dtype.kind == "U":
                str(value).encode("utf-8")  # code points outside Unicode fail here, not later
            return value
        except (TypeError, ValueError, IndexError, SystemError, UnicodeError, OverflowError):
            raise _malformed(node) from None

    def _d_ndarray(self, node: dict[str, Any]) -> Any:
        from dsdt.objects import frames

        return frames.read_array(node, self._blob(node))

    def _d_dataframe(self, node: dict[str, Any]) -> Any:
        from dsdt.objects import frames

        return frames.read_frame(node, self._blob(node))

    _d_series = _d_dataframe

    def _d_dblink(self, node: dict[str, Any]) -> DBLink:
        return DBLink(node["dsn"], node["table_name"], node["schema_name"], node.get("url", ""))

    def _d_file(self, node: dict[str, Any]) -> str:
        return self.files.present_file(node)

    def _d_directory(self, node: dict[str, Any]) -> str | list[str]:
        return self.files.present_directory(node)


def _item_bytes(item: Any) -> bytes:
    """The bytes of a 0-d numpy array, with an x87 extended float's padding zeroed.

    A longdouble holds 10 bytes in 12 or 16; the rest is whatever memory held,
    which must not reach a record others read (nor make two writes differ).
    """
    import numpy as np

    raw = item.tobytes()
    if item.dtype.kind in "fc" and np.finfo(item.dtype).nmant == 63:
        part = item.dtype.itemsize // (2 if item.dtype.kind == "c" else 1)
        raw = b"".join(raw[i:i + 10] + bytes(part - 10) for i in range(0, len(raw), part))
    return raw
