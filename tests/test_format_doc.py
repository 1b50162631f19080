"""The examples in docs/format.md match what the code reads and writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import dsdt.api as api
from dsdt.objects.codecs import Decoder
from dsdt.objects.files import FileDecoder
from dsdt.objects.record import BundleRecord
from dsdt.repo import Repository, template_dir

DOC = Path(__file__).resolve().parents[1] / "docs" / "format.md"


def block(tag: str) -> str:
    """The fenced code block whose info string is ``tag``."""
    m = re.search(rf"```{re.escape(tag)}\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"no block {tag!r} in {DOC}"
    return m.group(1)


def test_config_example_is_the_template() -> None:
    shipped = yaml.safe_load((template_dir() / "config.yaml").read_text())
    assert yaml.safe_load(block("yaml config")) == shipped


def test_context_example(project: Path) -> None:
    api.context("c")
    written = (project / ".dsdt/refs/contexts/c/context.yaml").read_text()
    assert yaml.safe_load(written) == yaml.safe_load(block("yaml context"))


def test_record_example_round_trips_canonically() -> None:
    text = block("json record")
    rec = BundleRecord.from_yaml(text.encode())
    assert rec.to_yaml() == text.encode()
    value = Decoder(lambda b: Path("/nonexistent"), FileDecoder(None, Path("/v"))).decode(rec.data)
    assert value == {"a": (1, 2.5, None), 3: b"xy"}


def test_tree_example_is_what_add_writes(project: Path) -> None:
    raw = project / "raw"
    (raw / "sub").mkdir(parents=True)
    (raw / "empty").mkdir()
    (raw / "a.txt").write_text("A")
    (raw / "sub" / "b.txt").write_text("B")
    b = api.add("default", "raw", str(raw))
    tree_id = b.record.data["tree"]
    assert Repository.current().blobs.read(tree_id) == block("json tree").strip().encode()


def test_layout_paths_exist(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    (project / "f.txt").write_text("x")
    os.utime(project / "f.txt", (1e9, 1e9))  # old enough for the stat cache to trust it
    b = api.add("default", "f", str(project / "f.txt"))
    api.commit("default", "f")
    api.Bundle("default", name="arr", data=np.arange(3))  # streamed through cache/tmp
    assert b.data
    api.remote("default", "shared", str(tmp_path_factory.mktemp("remote")))
    api.push("default")
    api.pull("default")  # remote-tracking state, and a pulled copy of the record
    root = project / ".dsdt"
    for line in block("text layout").splitlines()[1:]:
        entry = line.split()[0]
        pattern = (entry.replace("<uuid[:2]>", "*").replace("<uuid>", "*")
                   .replace("<id[:2]>", "*").replace("<id>", "*")
                   .replace("<context>", "default").replace("<token>", "*")
                   .replace("...", "*"))
        assert list(root.glob(pattern.rstrip("/"))), f"{entry} not found under .dsdt"


def test_remote_ref_example_decodes_and_is_canonical() -> None:
    from dsdt.remote.layout import decode_ref, encode_ref

    text = block("json remote-ref")
    members = decode_ref(text.encode(), "example")
    assert list(members) == ["dfb64e58-8cbd-48d0-b2a5-6d9d5c45df51"]
    assert encode_ref(members).decode() == text.strip()


def test_remote_layout_keys_match_the_code() -> None:
    from dsdt.objects.ids import new_uuid, sha256_bytes
    from dsdt.remote.layout import ROOT_DIRS, blob_key, context_key, record_key
    from dsdt.remote.locks import lock_key
    from dsdt.remote.packindex import index_key, pack_key

    patterns = [line.split()[0] for line in block("text remote-layout").splitlines()]
    regexes = [re.escape(p).replace(re.escape("<id[:2]>"), "[0-9a-f]{2}")
               .replace(re.escape("<id>"), "[0-9a-f]{64}")
               .replace(re.escape("<uuid[:2]>"), "[0-9a-f]{2}")
               .replace(re.escape("<uuid>"), "[0-9a-f-]{36}")
               .replace(re.escape("<remote-context>"), "[^/]+")
               .replace(re.escape("<kind>"), "(push|sweep)")
               .replace(re.escape("<random>"), "[0-9a-f]{32}") for p in patterns]
    keys = [blob_key(sha256_bytes(b"x")), pack_key(sha256_bytes(b"p")),
            index_key(sha256_bytes(b"p")), record_key(new_uuid()), context_key("shared"),
            lock_key("push")]
    for rx, key in zip(regexes, keys, strict=True):
        assert re.fullmatch(rx, key), (rx, key)
    assert tuple(dict.fromkeys(p.split("/")[0] for p in patterns)) == ROOT_DIRS


def test_pack_index_block_matches_the_code() -> None:
    from dsdt.remote.packindex import PackEntry, PackIndex, decode_index, encode_index

    doc = block("text pack-index").strip().splitlines()
    text = encode_index(PackIndex("ab" * 32, 10, (PackEntry("cd" * 32, 0, 10),)))
    lines = text.decode().splitlines()
    assert doc[0] == lines[0] and len(doc) == len(lines)
    assert [len(re.findall(r"<[^>]+>", d)) for d in doc[1:]] == [len(x.split())
                                                                for x in lines[1:]]
    assert decode_index(text, "ab" * 32, "example").entries[0].length == 10
