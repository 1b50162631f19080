"""Records are written as JSON that YAML reads the same way, and read JSON-first.

A record that JSON would read differently from YAML (a float YAML 1.1 takes
for a string, a character YAML refuses or folds) is written as YAML; a
crafted record of that kind is parsed as YAML, so no reader, old or new,
sees another mapping than YAML gives.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dsdt.errors import CorruptObjectError
from dsdt.objects.record import BundleRecord, Lineage, dump_record, load_record_doc

UUID = "dfb64e58-8cbd-48d0-b2a5-6d9d5c45df51"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def record(value: object = 1, **tags: str) -> BundleRecord:
    kind = {float: "float", int: "int", str: "str"}[type(value)]
    return BundleRecord(uuid=UUID, name="n", processing_name="n_0", owner="o",
                        created="2026-01-01T00:00:00.000000+00:00",
                        data={"type": kind, "value": value}, presentation="SCALAR",
                        tags=tags, lineage=Lineage(start_time=1795695439.1))


def yaml_reading(data: bytes) -> object:
    return yaml.load(data, Loader=LOADER)


def test_a_record_is_indented_json_that_yaml_reads_alike() -> None:
    data = record(2.5, model="xgb", city="Zürich").to_yaml()
    assert data.startswith(b"{\n") and data.endswith(b"}\n")
    assert json.loads(data) == yaml_reading(data) == record(2.5, model="xgb",
                                                           city="Zürich").to_dict()
    assert "Zürich".encode() in data  # readable in a diff, not \u escaped


@pytest.mark.parametrize("rec", [
    record(1e-05), record(1e16), record("\x7f"), record(1, k="a\x85b"),
    record(1, k="line \u2028 sep"), record(1, **{"k" * 1100: "long key"}),
], ids=["small-float", "big-float", "del", "nel", "line-separator", "long-key"])
def test_what_yaml_would_read_otherwise_is_written_as_yaml(rec: BundleRecord) -> None:
    data = rec.to_yaml()
    assert not data.startswith(b"{")
    assert BundleRecord.from_yaml(data) == rec
    assert yaml_reading(data) == rec.to_dict()


@pytest.mark.parametrize("text", [
    '{"a": 1e5}', '{"a": 1E+5}', '{"a": NaN}', '{"a": -Infinity}',
    '{"a": "\\ud83d\\ude00"}', '{"a": "\\uD800"}', '{"a": "x\u0085y"}', '{"a": "x\u2029y"}',
    '{"a": "x\x7fy"}', '{"a": "\\/\\b\\f\\n\\r\\t\\u00e9"}',
    '{"a": [1, 2.5, -0.0, true, false, null, {}, []]}', '{a: 1}', '{"a": 1} trailing',
], ids=lambda t: t[:24])
def test_crafted_json_is_read_as_yaml_reads_it(text: str) -> None:
    data = text.encode()
    try:
        expected = yaml_reading(data)
    except yaml.YAMLError:
        with pytest.raises(CorruptObjectError):
            load_record_doc(data, "record")
        return
    got = load_record_doc(data, "record")
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_written_records_read_back_alike_through_json_and_yaml(doc: dict[str, object]) -> None:
    data = dump_record(doc)
    assert _same(load_record_doc(data, "record"), doc)
    assert _same(yaml_reading(data), doc)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6), st.booleans())
def test_any_json_reads_as_yaml_reads_it(doc: dict[str, object], ascii_only: bool) -> None:
    data = json.dumps(doc, ensure_ascii=ascii_only).encode()
    try:
        expected = yaml_reading(data)
    except (yaml.YAMLError, ValueError):
        return  # YAML refuses it (a key over 1024 characters...): no reading to agree with
    assert _same(load_record_doc(data, "record"), expected)


def _same(a: object, b: object) -> bool:
    """Equal, telling -0.0 from 0.0 and 1 from 1.0 and True (as a reader would see them)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b  # type: ignore[arg-type]
    return a == b


def _doc(**changes: object) -> dict[str, object]:
    doc = record(1).to_dict()
    doc.update(changes)
    return doc


@pytest.mark.parametrize("doc", [
    _doc(data={"type": "int", "value": 1, "hex": "ff"}),  # shows 1, would serve 255
    _doc(data={"type": "str", "value": "approved", "blob": "a" * 64, "size": 4}),
    _doc(data={"type": "bytes", "b64": "eHk=", "blob": "a" * 64, "size": 2}),
    _doc(data={"type": "str"}),  # neither
    _doc(data={"type": "int", "value": 1, "junk": [[[]]]}),  # a field no node has
    _doc(data={"type": "list", "items": [], "value": 3}),
    _doc(format=True), _doc(format=1.0),
], ids=["int-value-and-hex", "str-value-and-blob", "bytes-b64-and-blob", "str-neither",
        "unknown-field", "list-with-value", "format-true", "format-float"])
def test_a_record_a_reviewer_would_read_otherwise_is_refused(doc: dict[str, object]) -> None:
    data = json.dumps(doc, sort_keys=True, indent=1).encode()
    with pytest.raises(CorruptObjectError):
        BundleRecord.from_yaml(data)


@pytest.mark.parametrize("data", [
    b'{"a": 1, "a": 2}', b"a: 1\na: 2\n", b'{"a": {"b": 1, "b": 1}}', b"a:\n  b: 1\n  'b': 2\n",
], ids=["json", "yaml", "json-nested", "yaml-quoted"])
def test_a_key_named_twice_is_refused(data: bytes) -> None:
    with pytest.raises(CorruptObjectError, match="twice"):
        load_record_doc(data, "record")


def test_nesting_is_bounded_in_json_as_in_yaml() -> None:
    deep = b'{"a": ' + b"[" * 500 + b"]" * 500 + b"}"
    with pytest.raises(CorruptObjectError, match="nested"):
        load_record_doc(deep, "record")
    with pytest.raises(CorruptObjectError, match="nested"):
        load_record_doc(b"# yaml\n" + deep, "record")
    assert load_record_doc(b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}", "record")


def test_tabs_between_tokens_are_left_to_yaml() -> None:
    assert load_record_doc(b'{"a":\t1}', "record") == yaml_reading(b'{"a":\t1}') == {"a": 1}


def test_merge_keys_are_refused() -> None:
    with pytest.raises(CorruptObjectError, match="merge keys"):
        load_record_doc(b"data:\n  <<: {type: int, value: 666}\n  value: 1\n", "record")


@pytest.mark.parametrize("text,read", [
    ("010", "010"), ("0b101", "0b101"), ("0x_1F", "0x_1F"), ("1_000", "1_000"),
    ("off", "off"), ("yes", "yes"), ("2026-01-01", "2026-01-01"), ("10", 10), ("-3", -3),
    ("1.5", 1.5), ("1.0e-05", 1e-05), ("true", True), ("null", None),
])
def test_plain_scalars_read_as_yaml_1_1_and_1_2_agree(text: str, read: object) -> None:
    assert load_record_doc(f"v: {text}\n".encode(), "record") == {"v": read}


def test_a_dict_node_whose_keys_collide_is_refused() -> None:
    from dsdt.objects.codecs import Decoder
    from dsdt.objects.files import FileDecoder

    decoder = Decoder(lambda b: Path("/nonexistent"), FileDecoder(None, Path("/v")))
    one, true = {"type": "int", "value": 1}, {"type": "bool", "value": True}
    for keys in ((one, one), (one, true)):
        node = {"type": "dict", "items": [[k, {"type": "int", "value": i}]
                                          for i, k in enumerate(keys)]}
        with pytest.raises(CorruptObjectError, match="twice"):
            decoder.decode(node)


def test_a_tree_naming_a_key_twice_is_refused() -> None:
    from dsdt.objects.treegate import parse_tree

    with pytest.raises(CorruptObjectError, match="twice"):
        parse_tree(b'{"files": [], "dirs": [], "files": [["a", "' + b"0" * 64 + b'", 1, false]]}',
                   "tree")


def test_a_chain_of_packed_values_cannot_nest_past_the_limit(tmp_path: Path) -> None:
    from dsdt.objects.codecs import Decoder
    from dsdt.objects.files import FileDecoder

    def chain(levels: int, links: int) -> dict[str, object]:
        node: dict[str, object] = {"type": "int", "value": 7}
        for link in range(links):
            for _ in range(levels):
                node = {"type": "list", "items": [node]}
            data = json.dumps(node).encode()  # JSON is YAML: what a packed blob holds
            blob = f"{link:064x}"
            (tmp_path / blob).write_bytes(data)
            node = {"type": "packed", "blob": blob, "size": len(data)}
        return node

    decoder = Decoder(lambda blob, size: tmp_path / blob, FileDecoder(None, tmp_path))
    value = decoder.decode(chain(60, 3))  # 180 levels in all: fine
    for _ in range(180):
        [value] = value
    assert value == 7
    with pytest.raises(CorruptObjectError, match="nests more than"):
        decoder.decode(chain(110, 2))  # 220 levels: each part passes on its own


@pytest.mark.parametrize("node", [
    {"type": "bytes", "b64": "eH k="},
    {"type": "set", "items": [{"type": "list", "items": []}]},
    {"type": "frozenset", "items": [{"type": "dict", "items": []}]},
    {"type": "dict", "items": [[{"type": "set", "items": []}, {"type": "none"}]]},
], ids=["bad-base64", "list-in-set", "dict-in-frozenset", "set-as-key"])
def test_what_cat_would_refuse_fsck_refuses_too(node: dict[str, object]) -> None:
    from dsdt.objects import gate

    with pytest.raises(CorruptObjectError):
        gate.check_node(node, "record")
    assert gate.check_node({"type": "bytes", "b64": "eHk="}, "record")
