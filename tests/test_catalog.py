"""The catalog API behind ``dsdt ui``: name pages paged in SQL, a bundle's files, previews."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dsdt import api
from dsdt.errors import BundleNotFoundError, UsageError


def _frame_bundle(ctx: str, name: str, rows: int, **tags: str) -> str:
    df = pd.DataFrame({"x": range(rows), "label": [f"r{i}" for i in range(rows)]})
    with api.Bundle(ctx, name) as b:
        b.add_data(df)
        b.add_tags(tags)
    return b.uuid


def test_pages_list_each_name_once_with_its_newest_version(ctx: str) -> None:
    for name in ("b", "a", "c"):
        _frame_bundle(ctx, name, 3)
    newest = _frame_bundle(ctx, "b", 4, stage="prod")
    first = api.catalog(ctx, limit=2)
    assert [e.name for e in first.entries] == ["a", "b"] and first.total == 3
    b = first.entries[1]
    assert (b.uuid, b.versions, b.tags, b.committed, b.data) == (newest, 2, {"stage": "prod"},
                                                                 False, "local")
    assert b.size > 0
    second = api.catalog(ctx, limit=2, offset=2)
    assert [e.name for e in second.entries] == ["c"] and second.offset == 2


def test_filters_by_name_pattern_tag_and_date(ctx: str) -> None:
    _frame_bundle(ctx, "alpha", 1, team="x")
    _frame_bundle(ctx, "beta", 1, team="y")
    assert [e.name for e in api.catalog(ctx, name="al*").entries] == ["alpha"]
    assert [e.name for e in api.catalog(ctx, tags={"team": "y"}).entries] == ["beta"]
    assert api.catalog(ctx, after="2999-01-01").total == 0
    assert api.catalog(ctx, before="2999-01-01").total == 2


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 501}, {"offset": -1},
                                    {"after": "yesterday-ish"}])
def test_bad_page_arguments_are_usage_errors(ctx: str, kwargs: dict) -> None:
    with pytest.raises(UsageError):
        api.catalog(ctx, **kwargs)


def test_preview_decodes_only_the_first_rows(ctx: str) -> None:
    uuid = _frame_bundle(ctx, "big", 50_000)
    head = api.preview(ctx, uuid, rows=5)
    assert list(head["x"]) == [0, 1, 2, 3, 4] and list(head.index) == [0, 1, 2, 3, 4]
    assert api.preview(ctx, api.add(ctx, "f", _file("f.txt")).uuid) is None


def _file(name: str) -> str:
    Path(name).write_text("hello\n")
    return name


def test_files_list_paths_and_sizes_inside_directories(ctx: str) -> None:
    Path("d/sub").mkdir(parents=True)
    Path("d/sub/one.csv").write_text("a,b\n1,2\n")
    Path("d/two.txt").write_text("xy")
    uuid = api.add(ctx, "dir", "d").uuid
    files = {f.path: (f.size, f.files) for f in api.bundle_files(ctx, uuid)}
    top = next(p for p in files if p.endswith("/"))
    assert files[top] == (10, 2)
    assert files[top + "sub/one.csv"] == (8, 0) and files[top + "two.txt"] == (2, 0)


def test_unknown_bundle_is_not_found(ctx: str) -> None:
    with pytest.raises(BundleNotFoundError):
        api.bundle_files(ctx, "00000000-0000-0000-0000-000000000000")
