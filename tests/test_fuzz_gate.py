"""Fuzzing the validation gate: random and hostile records, refs and trees, from git and a remote.

Each example builds a sandbox (a project, a directory remote and files
outside both), plants what hypothesis made, and runs pull, cat, ls, fsck,
gc and du on it through the CLI. Every command must finish within a time
bound and end in success or a documented error (one line, never an internal
error), and nothing outside the sandbox's ``.dsdt/`` and the remote may
change. ``DSDT_FUZZ_EXAMPLES`` sets the number of examples (CI: the default).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from clirun import dsdt_cli
from hostile import (
    CREATED,
    bomb_record,
    dump,
    plant_local,
    plant_remote,
    put_blob,
    record,
    set_remote_entry,
    sha,
    snapshot,
    within,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsdt.api as api
from dsdt.repo import Repository

EXAMPLES = int(os.environ.get("DSDT_FUZZ_EXAMPLES", "100"))
DOCUMENTED = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13}
REAL = b"real blob bytes"  # stored locally and on the remote
REAL_ID = sha(REAL)

def mostly(valid: Any, hostile: Any) -> Any:
    """Valid three times in four, so the examples reach past the first check."""
    return st.one_of(valid, valid, valid, hostile)


_PATHS = mostly(
    st.sampled_from(["ok.txt", "d/e.txt", "dir", "a b/c"]),
    st.one_of(st.sampled_from(["../x", "../../../outside/sentinel.txt", "/etc/passwd",
                               "a/../../b", "", ".", "a//b", "x\0y", "a/", "/", "..",
                               "sub/./x", "a" * 300, "\u202e"]),
              st.text(max_size=40)))
_BAD_IDS = st.one_of(st.sampled_from(["/etc/hostname", "../../x", "", REAL_ID.upper(),
                                      REAL_ID + "\n", "0" * 64, REAL_ID[:63]]),
                     st.text(max_size=70))
_SIZES = st.one_of(st.sampled_from([-1, 2**63, 1 << 60, "15", None, 1.5]),
                   st.integers(-5, 1 << 40))
_NAMES = mostly(st.sampled_from(["ok", "evil", "日本", "with space"]),
                st.one_of(st.sampled_from(["", "\x1b[31m", "../x", "a/b", " x", "x.lock", "~",
                                           "a" * 300, 5, None]), st.text(max_size=20)))
_HOSTILE_TYPES = st.sampled_from(["list", "tuple", "set", "dict", "ndarray", "dataframe",
                                  "series", "npscalar", "unknown", 3])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                     st.binary(max_size=10))


@st.composite
def leaves(draw: Any, meta_id: str) -> dict[str, Any]:
    """One leaf node, mostly well-formed, naming the real blob and the meta blob."""
    blob = mostly(st.just(REAL_ID), _BAD_IDS)
    size = mostly(st.just(len(REAL)), _SIZES)
    kind = draw(mostly(st.sampled_from(["none", "bool", "int", "float", "str", "bytes", "file",
                                        "directory", "packed", "dblink"]), _HOSTILE_TYPES))
    fields = {
        "bool": {"value": mostly(st.booleans(), _SCALARS)},
        "int": {"value": mostly(st.integers(), _SCALARS)},
        "float": {"value": mostly(st.floats(), _SCALARS)},
        "str": {"value": mostly(st.text(max_size=10), _SCALARS)},
        "bytes": {"blob": blob, "size": size},
        "file": {"path": _PATHS, "blob": blob, "size": size, "exec": st.booleans()},
        "directory": {"path": _PATHS, "tree": mostly(st.just(meta_id), _BAD_IDS),
                      "files": mostly(st.integers(0, 4), _SIZES), "size": size,
                      "as": mostly(st.sampled_from(["path", "list"]), st.text(max_size=3))},
        "packed": {"blob": mostly(st.just(meta_id), _BAD_IDS), "size": st.integers(0, 1 << 20)},
        "dblink": {"dsn": st.text(max_size=5), "table_name": st.text(max_size=5),
                   "schema_name": _SCALARS},
    }.get(kind, {"path": _PATHS, "blob": blob, "size": size, "items": st.just([])})
    node = {"type": kind}
    for key, values in fields.items():
        if draw(st.integers(0, 9)):
            node[key] = draw(values)
    return node


@st.composite
def nodes(draw: Any, meta_id: str, depth: int = 0) -> Any:
    """A value node tree that is sometimes valid, often hostile."""
    if depth > 3 or draw(st.integers(0, 2)) == 0:
        return draw(leaves(meta_id)) if draw(st.integers(0, 9)) else draw(_SCALARS)
    kind = draw(st.sampled_from(["list", "tuple", "dict", "set"]))
    items = draw(st.lists(nodes(meta_id, depth + 1), max_size=3))
    if kind == "dict":
        items = [[k, v] for k, v in zip(items, items[::-1], strict=True)]
    return {"type": kind, "items": items}


@st.composite
def metas(draw: Any) -> bytes:
    """A directory tree or packed value blob: well-formed with hostile entries, or junk."""
    shape = draw(st.integers(0, 6))
    if shape == 0:
        return draw(st.sampled_from([b"{", b"[]", b"null", b'{"files": 3}',
                                     b'{"files": ' + b"[" * 5000 + b"]" * 5000 + b"}"]))
    if shape == 1:
        return dump(draw(nodes("0" * 64)))  # a packed value
    entry = st.tuples(_PATHS, mostly(st.just(REAL_ID), _BAD_IDS),
                      mostly(st.just(len(REAL)), _SIZES), mostly(st.booleans(), _SCALARS))
    files = draw(st.lists(entry, max_size=4))
    dirs = draw(st.lists(_PATHS, max_size=2))
    return json.dumps({"files": [list(f) for f in files], "dirs": dirs},
                      default=repr).encode()


@st.composite
def records(draw: Any, meta_id: str) -> tuple[str, bytes]:
    """A record file (uuid, bytes): structured and often hostile, or raw."""
    uuid = str(draw(st.uuids(version=4)))
    shape = draw(st.integers(0, 12))
    if shape == 0:
        return uuid, bomb_record(uuid)
    if shape == 1:
        return uuid, draw(st.binary(max_size=200))
    rec = record(draw(nodes(meta_id)), name=draw(_NAMES), uuid=uuid)
    for field, values in (("created", st.sampled_from([CREATED, "2026-11-26T12:17:19",
                                                       "x", "9999-12-31T23:59:59-14:00"])),
                          ("tags", st.dictionaries(st.text(max_size=5), _SCALARS, max_size=2)),
                          ("uuid", st.sampled_from(["x", str(draw(st.uuids()))])),
                          ("format", st.sampled_from([2, "1"])),
                          ("owner", _NAMES)):
        if draw(st.integers(0, 9)) == 0:
            rec[field] = draw(values)
    if not isinstance(rec["data"], dict):
        rec["data"] = {"type": "list", "items": [rec["data"]]}
    try:
        return uuid, dump(rec)
    except (ValueError, TypeError):
        return uuid, b"format: 1\n"


def _sandbox() -> tuple[Path, Path, Path, Path]:
    top = Path(tempfile.mkdtemp(prefix="dsdt-fuzz-"))
    project, remote, outside = top / "project", top / "remote", top / "outside"
    for d in (project, remote, outside / "keys"):
        d.mkdir(parents=True)
    (outside / "sentinel.txt").write_text("do not touch\n")
    (outside / "keys" / "id").write_text("secret\n")
    os.chdir(project)
    api.init(project)
    api.remote("default", "shared", str(remote))
    return top, project, remote, outside


def _everything_but(top: Path, project: Path, remote: Path) -> dict[str, Any]:
    return {k: v for k, v in snapshot(top).items()
            if not k.startswith((str(project / ".dsdt"), str(remote)))}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_input_never_escapes_hangs_or_crashes(data: st.DataObject) -> None:
    meta = data.draw(metas(), "meta blob")
    local = data.draw(records(sha(meta)), "local record")
    remote_rec = data.draw(records(sha(meta)), "remote record")
    entry = data.draw(st.one_of(st.none(), st.none(), st.none(), st.fixed_dictionaries(
        {"sha": mostly(st.just(sha(remote_rec[1])), _BAD_IDS), "name": _NAMES,
         "created": st.sampled_from([CREATED, "x", 5])})), "remote ref entry")
    cwd = os.getcwd()
    top, project, remote, _outside = _sandbox()
    try:
        api.Bundle("default", name="good", data=b"g" * 5000).commit()
        api.push("default")
        for blob in (REAL, meta):
            Repository.current().blobs.put_bytes(blob)
            put_blob(remote, blob)
        plant_local(project / ".dsdt", "default", local[1], local[0])
        plant_remote(remote, "shared", remote_rec[1], remote_rec[0])
        if entry is not None:
            set_remote_entry(remote, "shared", remote_rec[0], entry)
        before = _everything_but(top, project, remote)
        for args in (["pull"], ["pull", "-l"], ["ls", "-v"], ["cat", "-u", local[0]],
                     ["cat", "-u", remote_rec[0]], ["cat", "good"], ["fsck"],
                     ["fsck", "--remote"], ["du"], ["gc", "--dry-run"], ["gc"],
                     ["gc", "--remote", "--dry-run"], ["log", "good"]):
            with within(15):
                r = dsdt_cli(*args)
            assert r.code in DOCUMENTED, (args, r)
            assert "internal error" not in r.err and "Traceback" not in r.err, (args, r.err)
            if r.code not in (0, 1):  # fsck reports problems with exit 1 and its own lines
                assert r.err.startswith("dsdt: error: ") and r.err.count("\n") == 1, (args, r)
        assert _everything_but(top, project, remote) == before
        assert ok_good()
    finally:
        Repository.forget()
        os.chdir(cwd)
        shutil.rmtree(top, ignore_errors=True)


def ok_good() -> bool:
    """The honest bundle stays readable whatever else arrived."""
    return api.get("default", "good").data == b"g" * 5000


@pytest.mark.parametrize("text", [bomb_record("0f0f0f0f-0000-4000-8000-00000000000a"),
                                  b"a: " + b"9" * 5000, b"[" * 100_000, b"\xff\xfe"])
def test_pathological_yaml_is_refused_quickly(text: bytes) -> None:
    from dsdt.errors import CorruptObjectError
    from dsdt.objects.record import BundleRecord

    with within(5), pytest.raises(CorruptObjectError):
        BundleRecord.from_yaml(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="aZ09-_+,=.@{ /é\t", max_size=12) | st.sampled_from(
    ["a" * 255, "a" * 256, "x.lock", "x.lockx", "@", "-", "a.b.c"]))
def test_the_quick_name_check_agrees_with_the_rules(name: str) -> None:
    from dsdt.objects.gate import _name_rules, name_problem

    for allow_space in (True, False):
        assert (name_problem(name, allow_space) is None) == (
            _name_rules(name, allow_space) is None), name
