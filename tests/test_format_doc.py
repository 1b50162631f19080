"""The examples in docs/format.md match what the code reads and writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import yaml

import dsdt.api as api
from dsdt.objects.codecs import Decoder
from dsdt.objects.files import FileDecoder
from dsdt.objects.record import BundleRecord
from dsdt.repo import template_dir

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
    text = block("yaml record")
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
    assert api._repo().blobs.read(tree_id) == block("json tree").strip().encode()


def test_layout_paths_exist(project: Path) -> None:
    (project / "f.txt").write_text("x")
    os.utime(project / "f.txt", (1e9, 1e9))  # old enough for the stat cache to trust it
    b = api.add("default", "f", str(project / "f.txt"))
    api.commit("default", "f")
    api.Bundle("default", name="arr", data=np.arange(3))  # streamed through cache/tmp
    assert b.data
    root = project / ".dsdt"
    for line in block("text layout").splitlines()[1:]:
        entry = line.split()[0]
        pattern = (entry.replace("<uuid[:2]>", "*").replace("<uuid>", "*")
                   .replace("<id[:2]>", "*").replace("<id>", "*")
                   .replace("<context>", "default").replace("...", "*"))
        assert list(root.glob(pattern.rstrip("/"))), f"{entry} not found under .dsdt"
