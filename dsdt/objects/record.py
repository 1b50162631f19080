"""Bundle records: the immutable YAML description of one bundle.

A record is written once, canonically: indented JSON with sorted keys, which
is YAML too, and which every YAML reader reads the same way (checked when it
is written; YAML block style otherwise). A reader parses JSON with the
standard library's C parser, some thirty times faster than PyYAML's, and
falls back to the safe YAML loader for anything JSON would read differently.
Anything that does not match the schema below is refused as corrupt. The
field list is the one documented in ``docs/format.md``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from dsdt.errors import CorruptObjectError
from dsdt.objects import gate
from dsdt.objects.ids import is_uuid

RECORD_FORMAT = 1
#: The most bytes a record may hold (values beyond 64 KiB of YAML are packed into blobs).
MAX_RECORD_BYTES = 8 << 20

# PyYAML's implicit int and float patterns without their base-60 alternatives.
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                  r"|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
                    r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_PLAIN_NUMBERS = {"tag:yaml.org,2002:int": _INT, "tag:yaml.org,2002:float": _FLOAT}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader without YAML 1.1's base-60 numbers (``1:2:3``).

    PyYAML builds those in quadratic time, so a few hundred kilobytes of them
    would stall every reader; dsdt never writes one (the dumper quotes such
    strings), so they load as plain strings and fail the gate where a number
    is expected.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, _PLAIN_NUMBERS.get(tag, rx)) for tag, rx in resolvers]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The safe dumper, writing shared objects out in full: no anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(obj: Any) -> bytes:
    """Canonical YAML bytes of plain data: sorted keys, UTF-8, block style, no aliases."""
    text = yaml.dump(
        obj, Dumper=_Dumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=100
    )
    return text.encode("utf-8")


def load_yaml(data: bytes | str, what: str) -> Any:
    """Parse YAML with the safe loader, through the gate's depth and size checks.

    Raises:
        CorruptObjectError: It does not parse, is nested too deeply, or expands
            beyond its size (an alias bomb).
    """
    try:
        doc = yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader, never yaml.Loader
    except yaml.YAMLError as e:
        raise CorruptObjectError(f"{what} is not valid YAML: {_one_line(e)}") from None
    except (ValueError, RecursionError) as e:  # e.g. an int of more than 4300 digits
        raise CorruptObjectError(f"{what} is not valid YAML: {_one_line(e)}") from None
    marks = ("&", "*") if isinstance(data, str) else (b"&", b"*")
    if marks[0] in data or marks[1] in data:  # else no anchor or alias: a plain tree
        gate.check_plain(doc, len(data), what)
    return doc


#: Characters JSON takes raw in a string that YAML reads otherwise: line breaks it folds
#: (NEL, LS, PS) and characters it refuses.
_NOT_AS_IN_YAML = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd"
                             r"\U00010000-\U0010ffff]")
#: Escaped UTF-16 surrogates: JSON joins a pair into one character, YAML refuses them.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _json_float(text: str) -> float:
    if _FLOAT.match(text) is None:  # "1e+16": a string to YAML 1.1
        raise ValueError(text)
    return float(text)


def _no_constant(text: str) -> Any:
    raise ValueError(text)  # NaN, Infinity: strings to YAML


def dump_record(doc: dict[str, Any]) -> bytes:
    """Canonical bytes of a record's plain data: indented JSON with sorted keys.

    JSON is YAML, and these bytes read back the same through YAML (checked
    here), so every YAML reader, older dsdt included, reads them as written.
    A record they would not (a float such as ``1e-05``, a line separator in
    a tag) is written as canonical YAML instead.
    """
    try:
        data = (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
                + "\n").encode("utf-8")
    except ValueError:  # NaN or infinity
        return dump_yaml(doc)
    try:
        if load_record_doc(data, "record") == doc and load_yaml(data, "record") == doc:
            return data
    except CorruptObjectError:  # a character YAML refuses unescaped
        pass
    return dump_yaml(doc)


def load_record_doc(data: bytes, what: str) -> Any:
    """Parse a record's bytes: as JSON when YAML would read them the same way, else as YAML.

    Raises:
        CorruptObjectError: They are neither JSON nor YAML (see :func:`load_yaml`).
    """
    if data[:1] == b"{" and _SURROGATE_ESCAPE.search(data) is None:
        try:
            text = data.decode("utf-8")
            if ("\x7f" not in text if text.isascii() else _NOT_AS_IN_YAML.search(text) is None):
                return json.loads(text, parse_float=_json_float, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            pass  # not JSON, or not JSON that YAML reads alike: YAML decides
    return load_yaml(data, what)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


@dataclass(frozen=True)
class Dependency:
    """One upstream bundle used to make this one."""

    processing_name: str
    uuid: str
    arg_name: str = ""


@dataclass(frozen=True)
class Lineage:
    """Where a bundle came from: its inputs, its code and when it ran."""

    depends_on: tuple[Dependency, ...] = ()
    code_ref: str = ""
    code_hash: str = ""
    git: dict[str, Any] = field(default_factory=dict)
    start_time: float = 0.0
    stop_time: float = 0.0


@dataclass(frozen=True)
class BundleRecord:
    """Everything dsdt knows about one bundle, as stored in ``records/``."""

    uuid: str
    name: str
    processing_name: str
    owner: str
    created: str
    data: dict[str, Any]
    presentation: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage)
    format: int = RECORD_FORMAT
    host: str = ""  #: the machine it was made on ("" in records made before hosts were kept)

    @property
    def created_at(self) -> datetime:
        """Creation time as an aware UTC datetime."""
        return datetime.fromisoformat(self.created)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, the one dumped to YAML."""
        d = dataclasses.asdict(self)
        d["lineage"]["depends_on"] = [dataclasses.asdict(x) for x in self.lineage.depends_on]
        if not self.host:
            del d["host"]  # a record from before hosts were kept reads back byte for byte
        return d

    def to_yaml(self) -> bytes:
        """Canonical bytes of the record (JSON, which is YAML; see :func:`dump_record`)."""
        return dump_record(self.to_dict())

    @classmethod
    def from_yaml(cls, data: bytes, what: str = "record") -> BundleRecord:
        """Parse and validate a record; raise :class:`CorruptObjectError` if it is not one."""
        return cls.from_dict(load_record_doc(data, what), what)

    @classmethod
    def from_dict(cls, d: Any, what: str = "record") -> BundleRecord:
        """Validate plain data (the gate: schema, names, value nodes) and build a record.

        Raises:
            CorruptObjectError: It is not a record dsdt could have written.
        """
        try:
            rec = _build(d)
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise CorruptObjectError(f"{what} does not follow the record schema: {e}") from None
        gate.check_node(rec.data, what)
        return rec


_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)  # bounds every local time zone can show
_FAR = datetime(9000, 1, 1, tzinfo=UTC)
_FAR_TS = _FAR.timestamp()


def current_user() -> str:
    """Who makes records here (their ``owner`` by default); "" when it cannot be told."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def current_host() -> str:
    """This machine's name, as records keep it (so a team knows where data was made)."""
    import socket

    return "".join(c for c in socket.gethostname() if c.isprintable())[:255]


def now_iso() -> str:
    """The current time as the ISO-8601 UTC string records use."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


_FIELDS = {f.name for f in dataclasses.fields(BundleRecord)}
_LINEAGE_FIELDS = {f.name for f in dataclasses.fields(Lineage)}


def _build(d: Any) -> BundleRecord:
    _require(isinstance(d, dict), "top level is not a mapping")
    _require(set(d) | {"host"} == _FIELDS,
             f"fields {sorted((set(d) | {'host'}) ^ _FIELDS)} missing or unexpected")
    _require(d["format"] == RECORD_FORMAT, f"unknown record format {d['format']!r}")
    _require(is_uuid(d["uuid"]), "uuid is not a uuid")
    for key in ("name", "processing_name", "owner", "presentation"):
        _require(isinstance(d[key], str), f"{key} is not a string")
    host = d.get("host", "")
    _require(isinstance(host, str) and len(host) <= 255 and not gate.has_control(host),
             "host is not a short string without control characters")
    _require(d["name"] == "" or gate.name_problem(d["name"], True) is None,
             f"name {d['name'][:40]!r} is not a valid bundle name")
    created = d["created"]
    _require(isinstance(created, str), "created is not a string")
    when = datetime.fromisoformat(created)
    _require(when.tzinfo is not None, "created has no time zone")
    _require(_EPOCH <= when < _FAR, "created is not a time between 1970 and 9000")
    for key in ("tags", "params"):
        _require(_is_str_map(d[key]), f"{key} is not a string-to-string mapping")
        _require(all(k and not gate.has_control(k) and "\0" not in v
                     for k, v in d[key].items()),
                 f"a key of {key} is empty or has control characters, or a value has NUL")
    _require(isinstance(d["data"], dict) and isinstance(d["data"].get("type"), str),
             "data is not a value node")
    return BundleRecord(
        uuid=d["uuid"], name=d["name"], processing_name=d["processing_name"], owner=d["owner"],
        created=created, data=d["data"], presentation=d["presentation"], tags=dict(d["tags"]),
        params=dict(d["params"]), lineage=_lineage(d["lineage"]), format=d["format"],
        host=host,
    )


def _lineage(d: Any) -> Lineage:
    _require(isinstance(d, dict) and set(d) == _LINEAGE_FIELDS, "lineage fields are wrong")
    deps = d["depends_on"]
    _require(isinstance(deps, list), "lineage.depends_on is not a list")
    depends_on = []
    for dep in deps:
        _require(isinstance(dep, dict) and set(dep) == {"processing_name", "uuid", "arg_name"},
                 "a dependency is malformed")
        _require(all(isinstance(v, str) for v in dep.values()), "a dependency is malformed")
        _require(is_uuid(dep["uuid"]), f"dependency uuid {dep['uuid']!r} is not a uuid")
        depends_on.append(Dependency(**dep))
    _require(isinstance(d["code_ref"], str) and isinstance(d["code_hash"], str),
             "lineage code fields are not strings")
    _require(isinstance(d["git"], dict) and all(
        isinstance(k, str) and isinstance(v, str | bool) for k, v in d["git"].items()),
        "lineage.git is not a mapping of text facts")
    for key in ("start_time", "stop_time"):
        _require(isinstance(d[key], int | float) and not isinstance(d[key], bool)
                 and 0 <= d[key] < _FAR_TS, f"lineage.{key} is not a time between 1970 and 9000")
    return Lineage(tuple(depends_on), d["code_ref"], d["code_hash"], dict(d["git"]),
                   float(d["start_time"]), float(d["stop_time"]))


def _is_str_map(m: Any) -> bool:
    return isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str)
                                       for k, v in m.items())


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)
