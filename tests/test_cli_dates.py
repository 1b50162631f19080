"""Dates through the CLI: ISO 8601 local time in text, UTC in --json, and every date argument form.

Local time is UTC+05:30 in these tests (``TZ=Asia/Kolkata``), so a date shown
in UTC, or an argument read as UTC, would be off by five and a half hours.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from clirun import fails, ok

from dsdt import api
from dsdt.errors import UsageError

LOCAL = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+05:30")
UTC_JSON = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")


@pytest.fixture
def two(project: Path, kolkata: None) -> tuple[api.Bundle, api.Bundle]:
    """Two versions of ``d`` (the second made from the first, timed), oldest first."""
    old = api.Bundle("default", name="d", data=1)
    new = api.Bundle("default", name="d", data=2, dependencies=[old], start_time=100.0,
                     stop_time=102.0)
    return old, new


def local(when: datetime) -> str:
    return when.astimezone().isoformat(" ", "seconds")


def utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


# --- text: local time, ISO 8601 to the second --------------------------------------------


def test_text_dates_are_local_iso(two: tuple[api.Bundle, api.Bundle]) -> None:
    old, new = two
    shown = local(new.creation_date)
    assert LOCAL.fullmatch(shown)
    assert shown in ok("ls", "-v").lines[1]
    assert local(old.creation_date) in ok("ls", "-v").lines[2]
    assert shown in ok("log", "d").lines[1]
    lineage = ok("lineage", new.uuid).lines
    assert f"created:         {shown}" in lineage
    assert "start:           1970-01-01 05:31:40+05:30" in lineage
    assert "stop:            1970-01-01 05:31:42+05:30" in lineage
    assert "\tstart:           -" in lineage  # the input was not made by a task
    head = ok("diff", "d").lines[:2]
    assert head == [f"--- d {old.uuid} {local(old.creation_date)}",
                    f"+++ d {new.uuid} {shown}"]


def test_status_says_when_the_remote_was_read(project: Path, kolkata: None,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    ok("remote", "shared", str(tmp_path_factory.mktemp("remote")))
    ok("commit", "-u", api.Bundle("default", name="d", data=1).uuid)
    ok("push")
    seen = re.search(r"\(last read (.*)\)", ok("status").lines[2])
    assert seen and LOCAL.fullmatch(seen[1])
    shown = datetime.fromisoformat(seen[1])
    assert abs((datetime.now(UTC) - shown).total_seconds()) < 120
    info = json.loads(ok("status", "--json").out)
    assert UTC_JSON.fullmatch(info["remote_seen"])
    assert datetime.fromisoformat(info["remote_seen"]).replace(microsecond=0) == shown


# --- JSON: UTC, to the microsecond --------------------------------------------------------


def test_json_dates_are_utc(two: tuple[api.Bundle, api.Bundle]) -> None:
    old, new = two
    created = utc(new.creation_date)
    assert UTC_JSON.fullmatch(created)
    assert json.loads(ok("ls", "--json").out)[0]["created"] == created
    assert json.loads(ok("cat", "d", "--json").out)["created"] == created
    assert json.loads(ok("log", "d", "--json").out)[0]["created"] == created
    nodes = json.loads(ok("lineage", new.uuid, "--json").out)
    assert nodes[0]["created"] == created
    assert nodes[0]["start_time"] == "1970-01-01T00:01:40.000000+00:00"
    assert nodes[0]["stop_time"] == "1970-01-01T00:01:42.000000+00:00"
    assert nodes[1]["start_time"] is None  # unset
    graph = json.loads(ok("lineage", new.uuid, "--format", "json").out)
    assert [n["created"] for n in graph["nodes"]] == [created, utc(old.creation_date)]
    diff = json.loads(ok("diff", "d", "--json").out)
    assert (diff["old_created"], diff["new_created"]) == (utc(old.creation_date), created)


# --- date arguments ------------------------------------------------------------------------


def _forms(when: datetime) -> list[str]:
    """``when`` (aware) written in every accepted form that keeps its seconds."""
    here = when.astimezone()
    return [here.strftime("%m-%d-%Y %H:%M:%S"), here.strftime("%Y-%m-%dT%H:%M:%S"),
            here.strftime("%Y-%m-%d %H:%M:%S"), here.isoformat(timespec="seconds"),
            when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            when.astimezone(timezone(timedelta(hours=-3))).isoformat(timespec="seconds")]


@pytest.mark.parametrize("form", range(6))
def test_every_date_form_filters_ls(two: tuple[api.Bundle, api.Bundle], form: int) -> None:
    old, new = two
    before = _forms(old.creation_date - timedelta(seconds=2))[form]
    after = _forms(new.creation_date + timedelta(seconds=2))[form]
    assert ok("ls", "-A", before).lines == ["d"]
    assert ok("ls", "-u", "-A", before, "-B", after).lines == [new.uuid, old.uuid]
    assert ok("ls", "-u", "--after", after).lines == []
    assert ok("ls", "-u", "--before", before).lines == []


def test_naive_dates_are_local_time(two: tuple[api.Bundle, api.Bundle]) -> None:
    old, _ = two
    # an hour before the bundles on the local clock; read as UTC it would be hours after
    behind = old.creation_date.astimezone() - timedelta(hours=1)
    for text in (behind.strftime("%Y-%m-%dT%H:%M:%S"), behind.strftime("%m-%d-%Y %H:%M:%S")):
        assert ok("ls", "-A", text).lines == ["d"]
        assert ok("ls", "-B", text).lines == []


def test_date_only_forms(two: tuple[api.Bundle, api.Bundle]) -> None:
    day = two[1].creation_date.astimezone().date()
    tomorrow = day + timedelta(days=1)
    assert ok("ls", "-A", day.isoformat()).lines == ["d"]
    assert ok("ls", "-A", day.strftime("%m-%d-%Y")).lines == ["d"]
    assert ok("ls", "-A", tomorrow.isoformat()).lines == []
    assert ok("ls", "-B", tomorrow.strftime("%m-%d-%Y")).lines == ["d"]
    assert ok("ls", "-B", day.isoformat()).lines == []


def test_search_takes_the_same_forms(two: tuple[api.Bundle, api.Bundle]) -> None:
    old, new = two
    for earlier, later in zip(_forms(old.creation_date - timedelta(seconds=2)),
                              _forms(new.creation_date + timedelta(seconds=2)), strict=True):
        assert [b.uuid for b in api.search("default", after=earlier)] == [new.uuid, old.uuid]
        assert api.search("default", after=later) == []
        assert api.search("default", before=earlier) == []
    naive_local = (old.creation_date.astimezone() - timedelta(hours=1)).replace(tzinfo=None)
    assert len(api.search("default", after=naive_local)) == 2
    assert api.search("default", before=naive_local) == []


@pytest.mark.parametrize("bad", ["yesterday", "13-45-2026", "12-06-26", "2026-02-30",
                                 "02-30-2026", "2026-12-06 25:00", "01-01-2026 10:00",
                                 "", "2026-12-06T10:00:00+25:00"])
def test_a_bad_date_is_a_usage_error(project: Path, bad: str) -> None:
    err = fails(2, "ls", "-A", bad)
    assert "bad date" in err and "ISO 8601" in err and "MM-DD-YYYY" in err
    fails(2, "ls", "--before", bad)
    with pytest.raises(UsageError, match="MM-DD-YYYY"):
        api.search("default", before=bad)
