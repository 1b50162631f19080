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

# Plain scalars read as numbers and booleans: only the forms YAML 1.1 (PyYAML) and YAML
# 1.2 read alike, and that PyYAML writes. "010" (8 to YAML 1.1, 10 to 1.2), "1_000",
# "0x1F", "yes"/"off" and dates stay strings, as a reviewer's YAML 1.2 tools read them.
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)\.[0-9]*(?:[eE][-+][0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_PLAIN = {"tag:yaml.org,2002:int": _INT, "tag:yaml.org,2002:float": _FLOAT,
          "tag:yaml.org,2002:bool": _BOOL}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, reading numbers and booleans as YAML 1.1 and 1.2 both do (above),
    so without YAML 1.1's base-60 numbers (``1:2:3``).

    PyYAML builds those in quadratic time, so a few hundred kilobytes of them
    would stall every reader; dsdt never writes one (the dumper quotes such
    strings), so they load as plain strings and fail the gate where a number
    is expected.

    A mapping that names a key twice, or merges keys in (``<<``), is refused:
    a reviewer reads one value, YAML keeps another.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if key.tag == "tag:yaml.org,2002:merge":  # "<<": a second source of keys
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<) are not used by dsdt", key.start_mark)
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key.value[:40]!r} is named twice", key.start_mark)
                seen.add(key.value)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, _PLAIN.get(tag, rx)) for tag, rx in resolvers
            if tag != "tag:yaml.org,2002:timestamp"]
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
    return gate.check_plain(doc, len(data), what)


#: Characters JSON takes raw in a string that YAML reads otherwise: line breaks it folds
#: (NEL, LS, PS) and characters it refuses.
_NOT_AS_IN_YAML = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd"
                             r"\U00010000-\U0010ffff]")
#: Escaped UTF-16 surrogates: JSON joins a pair into one character, YAML refuses them.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _json_float(text: str) -> float:
    # JSON gives a float with a fraction or an exponent: one with an exponent may read as a
    # string to YAML 1.1 ("1e+16"); one without is a YAML float too.
    if ("e" in text or "E" in text) and _FLOAT.match(text) is None:
        raise ValueError(text)
    return float(text)


def _no_constant(text: str) -> Any:
    raise ValueError(text)  # NaN, Infinity: strings to YAML


_JSON = json.JSONDecoder(object_pairs_hook=gate.unique_keys, parse_float=_json_float,
                         parse_constant=_no_constant)


_LONG_KEY = 1000  # bytes on a line: a key YAML may refuse (it takes up to 1024 characters)


def dump_record(doc: dict[str, Any]) -> bytes:
    """Canonical bytes of a record's plain data: indented JSON with sorted keys.

    JSON is YAML, and these bytes read back the same through YAML, so every
    YAML reader, older dsdt included, reads them as written. A record they
    would not (a float such as ``1e-05``, a line separator in a tag) is
    written as canonical YAML instead.

    :func:`load_record_doc` reads bytes as JSON only when YAML reads them
    alike, so reading them back through it checks that. YAML also refuses
    a key of 1024 characters or more, which JSON takes: a record with a
    line that long is read back through YAML as well.
    """
    try:
        data = (json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False)
                + "\n").encode("utf-8")
    except ValueError:  # NaN or infinity
        return dump_yaml(doc)
    try:
        long_line = len(data) >= _LONG_KEY and max(map(len, data.split(b"\n"))) >= _LONG_KEY
        if load_record_doc(data, "record") == doc and (
                not long_line or load_yaml(data, "record") == doc):
            return data
    except CorruptObjectError:  # a character YAML refuses unescaped
        pass
    return dump_yaml(doc)


def load_record_doc(data: bytes, what: str) -> Any:
    """Parse a record's bytes: as JSON when YAML would read them the same way, else as YAML.

    Raises:
        CorruptObjectError: They are neither JSON nor YAML (see :func:`load_yaml`).
    """
    if data[:1] == b"{" and b"\t" not in data and _SURROGATE_ESCAPE.search(data) is None:
        try:
            text = data.decode("utf-8")
            if ("\x7f" not in text if text.isascii() else _NOT_AS_IN_YAML.search(text) is None):
                doc, end = _JSON.raw_decode(text)
                if text[end:].strip(" \t\n\r"):  # JSON's whitespace only, as decode() checks
                    raise ValueError("extra data")
                if data.count(b"[") + data.count(b"{") > gate.MAX_PLAIN_DEPTH:
                    gate.check_plain(doc, len(data), what)  # it may be nested too deeply
                return doc
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
        return cls.from_checked(check_record(d, what))

    @classmethod
    def from_checked(cls, d: dict[str, Any]) -> BundleRecord:
        """The record of a mapping :func:`check_record` passed."""
        lin = d["lineage"]
        lineage = Lineage(tuple(Dependency(**dep) for dep in lin["depends_on"]),
                          lin["code_ref"], lin["code_hash"], dict(lin["git"]),
                          float(lin["start_time"]), float(lin["stop_time"]))
        return cls(uuid=d["uuid"], name=d["name"], processing_name=d["processing_name"],
                   owner=d["owner"], created=d["created"], data=d["data"],
                   presentation=d["presentation"], tags=dict(d["tags"]),
                   params=dict(d["params"]), lineage=lineage, format=d["format"],
                   host=d.get("host", ""))


def check_record(d: Any, what: str = "record") -> dict[str, Any]:
    """Validate a parsed record (the gate: schema, names, value nodes); return it as is.

    The index reads the fields of every record of a fresh clone from the
    checked mapping itself, building no :class:`BundleRecord`.

    Raises:
        CorruptObjectError: It is not a record dsdt could have written.
    """
    try:
        _validate(d)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CorruptObjectError(f"{what} does not follow the record schema: {e}") from None
    gate.check_node(d["data"], what)
    return d  # type: ignore[no-any-return]


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


_TEXT_FIELDS = ("name", "processing_name", "owner", "presentation")
_NUMBERS = (float, int)  # exact types, as parsers make them
_DEP_FIELDS = {"processing_name", "uuid", "arg_name"}

# Every record an index rebuild reads passes here: the checks are written out so that
# the happy path builds no message and calls no helper it can avoid.


def _validate(d: Any) -> None:
    if not isinstance(d, dict):
        raise ValueError("top level is not a mapping")
    if d.keys() | {"host"} != _FIELDS:
        raise ValueError(f"fields {sorted((d.keys() | {'host'}) ^ _FIELDS)} missing or unexpected")
    if type(d["format"]) is not int or d["format"] != RECORD_FORMAT:
        raise ValueError(f"unknown record format {d['format']!r}")
    if not is_uuid(d["uuid"]):
        raise ValueError("uuid is not a uuid")
    for key in _TEXT_FIELDS:
        if not isinstance(d[key], str):
            raise ValueError(f"{key} is not a string")
    host, name, created, data = d.get("host", ""), d["name"], d["created"], d["data"]
    if not isinstance(host, str) or len(host) > 255 or gate.has_control(host):
        raise ValueError("host is not a short string without control characters")
    if name and gate.name_problem(name, True) is not None:
        raise ValueError(f"name {name[:40]!r} is not a valid bundle name")
    if not isinstance(created, str):
        raise ValueError("created is not a string")
    when = datetime.fromisoformat(created)
    if when.tzinfo is None:
        raise ValueError("created has no time zone")
    if not _EPOCH <= when < _FAR:
        raise ValueError("created is not a time between 1970 and 9000")
    _check_text_map(d, "tags")
    _check_text_map(d, "params")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("data is not a value node")
    _check_lineage(d["lineage"])


def _check_text_map(d: dict[str, Any], key: str) -> None:
    """``d[key]`` must map text to text (keys non-empty, no control characters; values
    without NUL)."""
    m = d[key]
    if not isinstance(m, dict):
        raise ValueError(f"{key} is not a string-to-string mapping")
    if m and not _is_str_map(m):
        raise ValueError(f"{key} is not a string-to-string mapping")
    if m and not all(k and not gate.has_control(k) and "\0" not in v for k, v in m.items()):
        raise ValueError(f"a key of {key} is empty or has control characters, or a value has NUL")


def _check_lineage(d: Any) -> None:
    if not isinstance(d, dict) or d.keys() != _LINEAGE_FIELDS:
        raise ValueError("lineage fields are wrong")
    deps, git, start, stop = d["depends_on"], d["git"], d["start_time"], d["stop_time"]
    if not isinstance(deps, list):
        raise ValueError("lineage.depends_on is not a list")
    for dep in deps:
        if (not isinstance(dep, dict) or dep.keys() != _DEP_FIELDS
                or not all(isinstance(v, str) for v in dep.values())):
            raise ValueError("a dependency is malformed")
        if not is_uuid(dep["uuid"]):
            raise ValueError(f"dependency uuid {dep['uuid']!r} is not a uuid")
    if not isinstance(d["code_ref"], str) or not isinstance(d["code_hash"], str):
        raise ValueError("lineage code fields are not strings")
    if not isinstance(git, dict) or (git and not all(
            isinstance(k, str) and isinstance(v, str | bool) for k, v in git.items())):
        raise ValueError("lineage.git is not a mapping of text facts")
    for key, t in (("start_time", start), ("stop_time", stop)):
        if type(t) not in _NUMBERS or not 0 <= t < _FAR_TS:  # a bool is not a time
            raise ValueError(f"lineage.{key} is not a time between 1970 and 9000")


def _is_str_map(m: Any) -> bool:
    return isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str)
                                       for k, v in m.items())
