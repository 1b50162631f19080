"""Value-node fields in the exact forms dsdt writes them, checked without numpy or pandas.

The gate (:mod:`dsdt.objects.gate`) calls these for every record, so ``fsck``
refuses what ``cat`` would, and a value reads as a reviewer reads it or not
at all.

* A numpy scalar's ``dtype`` is a ``dtype.str`` numpy writes and its ``hex``
  exactly one item of that dtype.
* A frame's axis label is ``[tag]`` for a singleton (``none``, ``nat``,
  ``na``) or ``[tag, value]`` whose value has the JSON type and the form
  :func:`dsdt.objects.labels.encode_label` writes: ``["bool", "False"]`` is
  no bool and ``["float", "10"]`` no float.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

# --- numpy scalars ---------------------------------------------------------------------

#: A numpy scalar's dtype as numpy writes it (``dtype.str``).
_NP_DTYPE = re.compile(r"""
    ( \| (?= [bSV] | [iu]1\b )             # no byte order: bools, bytes, void, one-byte ints
    | [<>] (?! [bSV] | [iu]1\b ) )          # a byte order: every other kind
    ( [biufcSUV] | ([mM]) (?=8) )           # the kind (times are 8 bytes)
    ( [1-9][0-9]{0,8} )                     # the item size (characters for U)
    ( (?(3) (?: \[ (?: [2-9] | [1-9][0-9]{1,8} )? (?: Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as ) \] )? ) )
    """, re.VERBOSE)  # a time's unit, with its multiplier (none for 1; no unit: generic)
_HEX = re.compile(r"[0-9a-f]*")
_NAT = {"<": "0000000000000080", ">": "8000000000000000"}
#: Item sizes of the fixed-size kinds (a longdouble is 12 or 16 bytes, by platform).
_NP_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8, 12, 16),
             "c": (8, 16, 24, 32), "m": (8,), "M": (8,)}


def npscalar_problem(dtype: str, hexed: str) -> str | None:
    """Why a numpy scalar node's ``dtype`` and ``hex`` are not as numpy writes them."""
    form = _NP_DTYPE.fullmatch(dtype)
    if form is None:
        return f"{dtype[:40]!r} is not a dtype numpy writes"
    order, kind, size, unit = form[1], form[2], int(form[4]), form[5]
    if size not in _NP_SIZES.get(kind, (size,)):
        return f"{dtype[:40]!r} is not a dtype numpy writes"
    if len(hexed) != 2 * size * (4 if kind == "U" else 1) or not _HEX.fullmatch(hexed):
        return "its hex is not one value of its dtype"
    if kind == "b" and hexed not in ("00", "01"):
        return "a bool is 00 or 01"
    if kind in "mM" and not unit and hexed != _NAT[order]:
        return "a time without a unit is NaT"
    if kind == "U" and not _is_ucs4(bytes.fromhex(hexed), "big" if order == ">" else "little"):
        return "its text is not Unicode"
    return None


def _is_ucs4(raw: bytes, order: str) -> bool:
    """True if every 4 bytes of ``raw`` are a Unicode character (no surrogate)."""
    return all(c < 0xD800 or 0xDFFF < c <= 0x10FFFF for c in (
        int.from_bytes(raw[i:i + 4], order) for i in range(0, len(raw), 4)))


# --- frame labels ----------------------------------------------------------------------

_SINGLETONS = ("none", "nat", "na")
_VALUE_TYPES = {"bool": bool, "int": int, "str": str, "float": str, "tuple": list,
                "timestamp": str, "timedelta": int, "utf8b": str}
#: ``pandas.Timestamp.isoformat()``: seconds, then micro- or nanoseconds (none when zero),
#: then the offset (UTC as +00:00).
_TIMESTAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
                        r"(\.[0-9]{6}|\.[0-9]{9})?(\+[0-9]{2}:[0-9]{2}|-(?!00:00)[0-9]{2}:[0-9]{2})?")
#: Nanosecond timestamps pandas holds (``pandas.Timestamp.min`` and ``max``, whole days).
_NS_RANGE = (datetime(1677, 9, 22), datetime(2262, 4, 11))
_INT64 = 1 << 63


def frame_problem(node: dict[str, Any]) -> str | None:
    """Why a dataframe or series node's axes do not fit its shape and dtypes, or its axis
    names and column labels are not as written (None if they are)."""
    frame, shape, dtypes = node["type"] == "dataframe", node.get("shape"), node.get("dtypes")
    if not isinstance(shape, list) or len(shape) != (2 if frame else 1):
        return "its shape is malformed"
    width = shape[1] if frame else 1
    if not isinstance(dtypes, list) or len(dtypes) != width or not all(
            isinstance(d, str) for d in dtypes):
        return "its dtypes do not fit its shape"
    labels = [node["name"]] if "name" in node else []
    for axis, length in (("index", shape[0]), ("columns", width if frame else None)):
        spec = node.get(axis, {} if length is None else None)
        problem = _axis_problem(spec, length, labels)
        if problem is not None:
            return f"its {axis} axis {problem}"
    return next((p for p in map(label_problem, labels) if p), None)


def _axis_problem(spec: Any, length: int | None, labels: list[Any]) -> str | None:
    """Why an axis spec does not describe ``length`` entries (None: it does, or there is
    no length to check); adds its names and labels to ``labels``."""
    if not (isinstance(spec, dict) and isinstance(spec.get("names", []), list)
            and isinstance(spec.get("labels", []), list)
            and all(isinstance(level, list) for level in spec.get("labels", []))):
        return "is malformed"
    names, levels = spec.get("names", []), spec.get("labels", [])
    labels += names
    for level in levels:
        labels += level
    if length is None:
        return None
    kind = spec.get("kind")
    if kind == "range":
        bounds = spec.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 3 and bounds[2] != 0
                and all(type(b) is int for b in bounds)):
            return "is a malformed range"
        start, stop, step = bounds
        entries = max(0, (stop - start + step - (1 if step > 0 else -1)) // step)
    elif kind in ("index", "multi"):
        entries = len(levels[0]) if levels else length  # row values are in the blob
        if (kind == "index" and len(names) != 1) or (levels and (
                len(levels) != len(names) or any(len(level) != entries for level in levels))):
            return "does not fit its names"
        codes = spec.get("dtypes")
        if levels and codes is not None and (not isinstance(codes, list) or len(codes) != len(
                levels) or not all(map(_fits, codes, levels))):
            return "has labels its dtypes do not hold"
    else:
        return "is of an unknown kind"
    return None if entries == length else "does not fit the shape"


#: The one label tag each of these dtypes holds (an int label on a bool level would read as
#: a bool, and show as an int in diff); other dtypes hold labels of several kinds.
_TAG_OF = {"bool": "bool", **dict.fromkeys(
    ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"), "int"),
    **dict.fromkeys(("float16", "float32", "float64"), "float")}


def _fits(code: Any, level: list[Any]) -> bool:
    """True if every label of ``level`` is of the kind its dtype ``code`` holds."""
    tag = _TAG_OF.get(code) if isinstance(code, str) else None
    return tag is None or all(isinstance(x, list) and x[:1] == [tag] for x in level)


def label_problem(item: Any, depth: int = 0) -> str | None:
    """Why ``item`` is not a label the writer writes (None if it is one)."""
    if not isinstance(item, list) or not 1 <= len(item) <= 2 or not isinstance(item[0], str):
        return "a label is not [tag] or [tag, value]"
    if len(item) == 1:
        return None if item[0] in _SINGLETONS else f"unknown label {item[0][:20]!r}"
    tag, value = item
    if type(value) is not _VALUE_TYPES.get(tag):
        return f"a {tag[:20]!r} label holds {type(value).__name__}"
    if tag == "tuple":
        return (f"labels nest more than {depth} levels deep" if depth > 100 else next(
            (p for p in (label_problem(x, depth + 1) for x in value) if p), None))
    if tag in _FORMS and not _FORMS[tag](value):
        return f"a {tag} label is not written as dsdt writes one: {value[:40]!r}"
    if tag == "timedelta" and not -_INT64 < value < _INT64:
        return "a timedelta label is out of range"
    if tag == "utf8b" and not _is_utf8b(value):
        return "a utf8b label is not text with lone surrogates in hex"
    return None


def _is_float_hex(value: str) -> bool:
    """True for the exact text ``float.hex()`` gives (no other spelling of a float)."""
    try:
        return len(value) < 32 and float.fromhex(value).hex() == value
    except (ValueError, OverflowError):
        return False


def _is_timestamp(value: str) -> bool:
    """True for a valid date and time as ``pandas.Timestamp.isoformat()`` writes one."""
    form = _TIMESTAMP.fullmatch(value)
    if form is None or (form[2] is not None and not form[2].strip(".0")):
        return False  # ".000000" is written as nothing
    try:
        when = datetime.fromisoformat(form[1] + (form[2] or "")[:7])
    except ValueError:
        return False
    nanos = form[2] is not None and len(form[2]) == 10
    return not nanos or _NS_RANGE[0] <= when < _NS_RANGE[1]


def _is_utf8b(value: str) -> bool:
    """True for the hex of UTF-8 holding a lone surrogate (what plain text labels cannot)."""
    if _HEX.fullmatch(value) is None:  # bytes.fromhex would skip spaces too
        return False
    try:
        text = bytes.fromhex(value).decode("utf-8", "surrogatepass")
    except ValueError:
        return False
    return any("\ud800" <= c <= "\udfff" for c in text)


_FORMS = {"float": _is_float_hex, "timestamp": _is_timestamp}  # text of one spelling only
