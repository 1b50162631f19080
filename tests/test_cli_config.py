"""``dsdt config``: reading, writing and listing settings, git-config style, in process."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from clirun import fails, ok

from dsdt import api, configfile
from dsdt._locks import FileLock
from dsdt.configfile import SETTINGS, ConfigValue
from dsdt.errors import UsageError
from dsdt.repo import template_dir

TEMPLATE = (template_dir() / "config.yaml").read_text()


@pytest.fixture
def cfg(project: Path) -> Path:
    """The repository's ``config.yaml`` (as ``dsdt init`` made it)."""
    return project / ".dsdt" / "config.yaml"


def with_line(old: str, new: str) -> str:
    """The template's text with one line replaced (checks the line is there once)."""
    assert TEMPLATE.count(f"\n{old}\n") == 1, old
    return TEMPLATE.replace(f"\n{old}\n", f"\n{new}\n")


# --- reading ---------------------------------------------------------------------------------


def test_read_prints_the_value_in_use(cfg: Path) -> None:
    assert ok("config", "lock_timeout").out == "30\n"
    assert ok("config", "follow_symlinks").out == "false\n"
    assert ok("config", "containers.registry").out == "null\n"
    assert ok("config", "containers.sagemaker_instance_type").out == "ml.m5.large\n"


def test_read_of_a_key_the_file_omits_prints_its_default(cfg: Path) -> None:
    cfg.write_text("format_version: 1\n")
    assert ok("config", "containers.sagemaker_volume_gb").out == "30\n"
    assert ok("config", "--show-origin", "lock_timeout").out == "default\t30\n"
    assert json.loads(ok("config", "--json", "lock_timeout").out) == {
        "key": "lock_timeout", "value": 30.0, "is_set": False}


def test_list_shows_every_key_in_order_as_key_equals_value(cfg: Path) -> None:
    lines = ok("config", "--list").lines
    assert [ln.split("=", 1)[0] for ln in lines] == list(SETTINGS)
    assert "lock_timeout=30" in lines and "containers.batch_queue=null" in lines
    assert "code_version=task" in lines and "gc_after_rm=false" in lines
    assert ok("config", "-l").lines == lines


def test_list_show_origin_marks_what_the_file_sets(cfg: Path) -> None:
    cfg.write_text("format_version: 1\nlock_timeout: 12\ncontainers:\n  registry: r.example\n")
    lines = ok("config", "--list", "--show-origin").lines
    assert "config.yaml\tlock_timeout=12" in lines
    assert "config.yaml\tcontainers.registry=r.example" in lines
    assert "default\tgc_after_rm=false" in lines
    assert "default\tcontainers.batch_queue=null" in lines
    rows = json.loads(ok("config", "--list", "--json").out)
    assert [r["key"] for r in rows] == list(SETTINGS)
    by_key = {r["key"]: r for r in rows}
    assert by_key["lock_timeout"] == {"key": "lock_timeout", "value": 12, "is_set": True}
    assert by_key["follow_symlinks"] == {"key": "follow_symlinks", "value": False,
                                         "is_set": False}
    assert by_key["containers.base_image"]["value"] is None


# --- writing ---------------------------------------------------------------------------------


def test_write_changes_only_the_keys_line(cfg: Path) -> None:
    assert ok("config", "lock_timeout", "45").out == ""
    assert cfg.read_text() == with_line("lock_timeout: 30", "lock_timeout: 45")
    assert ok("config", "lock_timeout").out == "45\n"
    ok("config", "containers.registry", "localhost:5000/ml")
    expected = with_line("lock_timeout: 30", "lock_timeout: 45")
    expected = expected.replace("\n  registry: null\n", "\n  registry: localhost:5000/ml\n")
    assert cfg.read_text() == expected


@pytest.mark.parametrize(("key", "text", "line", "shown"), [
    ("uncommitted_history", "3", "uncommitted_history: 3", "3"),
    ("uncommitted_history", "null", "uncommitted_history: null", "null"),
    ("follow_symlinks", "true", "follow_symlinks: true", "true"),
    ("gc_after_rm", "TRUE", "gc_after_rm: true", "true"),
    ("lock_timeout", "0.5", "lock_timeout: 0.5", "0.5"),
    ("remote_gc_grace", "0", "remote_gc_grace: 0", "0"),
    ("s3_endpoint_url", "http://localhost:9000", "s3_endpoint_url: http://localhost:9000",
     "http://localhost:9000"),
    ("code_version", "never", "code_version: never", "never"),
    ("containers.batch_queue", "true", "  batch_queue: 'true'", "true"),
    ("containers.base_image", "python:3.12-slim", "  base_image: python:3.12-slim",
     "python:3.12-slim"),
    ("containers.sagemaker_volume_gb", "100", "  sagemaker_volume_gb: 100", "100"),
])
def test_values_are_parsed_by_the_keys_type(cfg: Path, key: str, text: str, line: str,
                                            shown: str) -> None:
    ok("config", key, text)
    assert f"\n{line}\n" in cfg.read_text()
    assert ok("config", key).out == f"{shown}\n"
    loaded = yaml.safe_load(cfg.read_text())
    section, _, sub = key.rpartition(".")
    assert isinstance((loaded[section] if section else loaded)[sub],
                      type(api.get_config(key)))


def test_a_string_key_keeps_text_that_looks_like_another_type(cfg: Path) -> None:
    ok("config", "containers.batch_queue", "true")
    assert api.get_config("containers.batch_queue") == "true"
    ok("config", "containers.job_role_arn", "1:2:3")  # a base-60 number to YAML 1.1
    assert api.get_config("containers.job_role_arn") == "1:2:3"


def test_writing_the_same_value_leaves_the_file_alone(cfg: Path) -> None:
    before = os.stat(cfg)
    ok("config", "lock_timeout", "30")
    assert os.stat(cfg).st_ino == before.st_ino and cfg.read_text() == TEMPLATE


def test_a_trailing_comment_stays(cfg: Path) -> None:
    cfg.write_text("format_version: 1\nlock_timeout: 30  # our NFS is slow\n")
    ok("config", "lock_timeout", "90")
    assert cfg.read_text() == "format_version: 1\nlock_timeout: 90  # our NFS is slow\n"


def test_missing_keys_are_added_in_schema_order(cfg: Path) -> None:
    cfg.write_text("format_version: 1\n# ours\ngc_after_rm: true\n")
    ok("config", "containers.registry", "r.example")
    ok("config", "lock_timeout", "5")
    ok("config", "containers.base_image", "python:3.12")
    assert cfg.read_text() == ("format_version: 1\nlock_timeout: 5\n# ours\ngc_after_rm: true\n"
                               "containers:\n  base_image: python:3.12\n  registry: r.example\n")


def test_a_flow_style_file_is_rewritten_whole_in_schema_order(cfg: Path) -> None:
    cfg.write_text("{containers: {registry: r.example}, lock_timeout: 9, format_version: 1}\n")
    ok("config", "containers.batch_queue", "q")
    text = cfg.read_text()
    assert text.startswith("# dsdt repository settings")
    assert yaml.safe_load(text) == {"format_version": 1, "lock_timeout": 9, "containers": {
        "registry": "r.example", "batch_queue": "q"}}
    assert text.index("format_version") < text.index("lock_timeout") < text.index("containers")


def test_unset_removes_the_line_and_the_default_applies(cfg: Path) -> None:
    ok("config", "lock_timeout", "45")
    ok("config", "--unset", "lock_timeout")
    assert cfg.read_text() == TEMPLATE.replace("\nlock_timeout: 30\n", "\n")
    assert ok("config", "--show-origin", "lock_timeout").out == "default\t30\n"
    ok("config", "--unset", "lock_timeout")  # already unset: nothing to do
    ok("config", "--unset", "containers.registry")
    assert "registry:" not in cfg.read_text().replace("registry_endpoint:", "")


def test_the_file_keeps_its_permissions(cfg: Path) -> None:
    os.chmod(cfg, 0o600)
    ok("config", "lock_timeout", "45")
    assert os.stat(cfg).st_mode & 0o777 == 0o600


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (("nosuch", "1"), "no setting nosuch;"),
    (("lock_timout", "1"), "did you mean lock_timeout?"),
    (("containers", "x"), "containers is a section, not a setting"),
    (("containers.nosuch",), "no setting containers.nosuch"),
    (("lock_timeout", "abc"), "bad value 'abc' for lock_timeout: want a number of seconds"),
    (("lock_timeout", "0"), "bad value 0 for lock_timeout"),
    (("lock_timeout", "3601"), "at most 3600"),
    (("lock_timeout", "nan"), "bad value 'nan' for lock_timeout"),
    (("lock_timeout", "1e999"), "bad value '1e999'"),
    (("remote_gc_grace", "--", "-1"), "bad value -1 for remote_gc_grace"),
    (("uncommitted_history", "--", "-1"), "want an integer of 0 or more"),
    (("uncommitted_history", "1.5"), "bad value '1.5' for uncommitted_history"),
    (("containers.sagemaker_instance_count", "0"), "want a positive integer"),
    (("containers.sagemaker_max_runtime", "9" * 40), "for containers.sagemaker_max_runtime"),
    (("follow_symlinks", "yes"), "bad value 'yes' for follow_symlinks: want true or false"),
    (("gc_after_rm", "null"), "bad value 'null' for gc_after_rm"),
    (("code_version", "sometimes"), "want task, repo or never"),
    (("s3_endpoint_url", "localhost"), "want a URL"),
    (("containers.registry", " "), "want a non-blank string"),
    (("containers.registry", "a\nb"), "bad value 'a\\nb' for containers.registry"),
    (("containers.sagemaker_instance_type", "null"), "for containers.sagemaker_instance_type"),
    (("format_version", "2"), "format_version is set by dsdt itself"),
    (("--unset", "format_version"), "format_version is set by dsdt itself"),
    ((), "give a KEY to read, KEY VALUE to write, or --list"),
    (("--list", "lock_timeout"), "--list shows every setting"),
    (("--unset", "lock_timeout", "3"), "--unset takes a KEY only"),
    (("--json", "lock_timeout", "3"), "a write prints nothing"),
    (("--unset", "nosuch"), "no setting nosuch"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cfg: Path, args: tuple[str, ...],
                                                         message: str) -> None:
    assert message in fails(2, "config", *args)
    assert cfg.read_text() == TEMPLATE
    assert not list(cfg.parent.glob(".config.yaml.*")) and not cfg.with_name(
        "config.yaml.lock").exists()


def test_outside_a_repository_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSDT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert "not a dsdt repository" in fails(3, "config", "--list")
    assert "not a dsdt repository" in fails(3, "config", "lock_timeout", "5")


@pytest.mark.parametrize("planted", [
    "typo_key: 1\n", "lock_timeout: 99999\n", "containers: {registry: 7}\n"])
def test_a_bad_checked_in_file_is_refused_for_reading_and_writing(cfg: Path,
                                                                  planted: str) -> None:
    text = "format_version: 1\n" + planted
    cfg.write_text(text)
    for args in (("--list",), ("lock_timeout",), ("gc_after_rm", "true")):
        assert "config.yaml" in fails(2, "config", *args)
    assert cfg.read_text() == text


def test_a_symlinked_config_is_never_followed(cfg: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(TEMPLATE)
    cfg.unlink()
    cfg.symlink_to(elsewhere)
    assert "is a symlink" in fails(9, "config", "--list")
    assert "is a symlink" in fails(9, "config", "lock_timeout", "5")
    assert elsewhere.read_text() == TEMPLATE


# --- concurrent writers: compare-and-swap under the lock --------------------------------------


def _racing(monkeypatch: pytest.MonkeyPatch, meddle: Callable[[int], None]) -> list[int]:
    """Make another writer change the file between each read and the swap of a write."""
    calls: list[int] = []
    real = configfile.edited

    def edited(*args: Any, **kwargs: Any) -> bytes:
        new = real(*args, **kwargs)
        calls.append(len(calls))
        meddle(len(calls))
        return new

    monkeypatch.setattr(configfile, "edited", edited)
    return calls


def test_a_write_that_loses_the_race_reads_again_and_keeps_both(
        cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def other_writer(n: int) -> None:
        if n == 1:  # a teammate's write lands while ours is being prepared
            monkeypatch.setattr(configfile, "edited", real)
            api.set_config("gc_after_rm", "true")
            monkeypatch.setattr(configfile, "edited", patched)

    real = configfile.edited
    calls = _racing(monkeypatch, other_writer)
    patched = configfile.edited
    ok("config", "lock_timeout", "45")
    assert len(calls) == 2  # the first swap saw the other write and did not write
    expected = with_line("lock_timeout: 30", "lock_timeout: 45")
    assert cfg.read_text() == expected.replace("\ngc_after_rm: false\n", "\ngc_after_rm: true\n")


def test_a_file_that_keeps_changing_is_a_conflict_exit_8(
        cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def meddle(n: int) -> None:
        cfg.write_text(cfg.read_text() + f"# edit {n}\n")

    calls = _racing(monkeypatch, meddle)
    assert "kept changing while lock_timeout was written" in fails(
        8, "config", "lock_timeout", "45")
    assert len(calls) == configfile.ATTEMPTS
    assert "lock_timeout: 30\n" in cfg.read_text()


def test_a_held_lock_waits_lock_timeout_then_exit_8(cfg: Path) -> None:
    ok("config", "lock_timeout", "0.2")  # the written value takes effect at once
    with FileLock(cfg, timeout=1):
        assert "is held by another dsdt process" in fails(8, "config", "gc_after_rm", "true")
    assert "gc_after_rm: false\n" in cfg.read_text()
    ok("config", "gc_after_rm", "true")
    assert "gc_after_rm: true\n" in cfg.read_text()


# --- effect ----------------------------------------------------------------------------------


def test_a_written_setting_is_used_by_the_next_command(project: Path) -> None:
    (project / "f.txt").write_text("x")
    ok("config", "uncommitted_history", "0")
    uuids = [ok("add", "h", "f.txt").out.strip() for _ in range(3)]
    assert ok("ls", "-u", "h").lines == [uuids[-1]]  # older uncommitted versions pruned
    ok("config", "gc_after_rm", "true")
    ok("rm", "h")
    assert ok("gc", "--dry-run").out.startswith("Would remove 0 blob(s)")  # rm ran gc


def test_the_api_takes_python_values_and_text(cfg: Path) -> None:
    assert api.set_config("lock_timeout", 60) is True
    assert api.set_config("containers.sagemaker_volume_gb", "50") is True
    assert api.set_config("lock_timeout", 60) is False
    assert (api.get_config("lock_timeout"), api.get_config("containers.sagemaker_volume_gb")) == (
        60, 50)
    for key, value in (("follow_symlinks", 1), ("lock_timeout", True), ("code_version", None),
                       ("containers.registry", 5)):
        with pytest.raises(UsageError, match=f"for {key}"):
            api.set_config(key, value)
    assert api.unset_config("lock_timeout") is True and api.unset_config("lock_timeout") is False
    assert api.config_value("lock_timeout") == ConfigValue("lock_timeout", 30.0, False)
    assert [v.key for v in api.list_config()] == list(SETTINGS)


def test_help_explains_every_flag_and_ends_with_examples() -> None:
    out = ok("config", "--help").out
    for flag in ("--list", "--show-origin", "--unset", "--json", "KEY", "VALUE"):
        assert flag in out
    assert "Examples:" in out and "dsdt config lock_timeout 60" in out
    assert "config" in ok("--help").out
