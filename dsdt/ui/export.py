"""``dsdt ui --export DIR``: the pages of ``dsdt ui`` as a static site.

The same pages with the same relative links, written as files: the contexts,
every page of every context's bundle names, every bundle and every name's
log. It opens from ``file://`` or any static host; filters need the server.
Only a missing or empty directory, or an earlier export (it holds
:data:`MARKER`), is written to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dsdt import api
from dsdt.errors import CorruptObjectError, PathError
from dsdt.ui import links
from dsdt.ui.pages import PAGE_SIZE, Site, static_file

MARKER = ".dsdt-ui-export"


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise PathError(f"{target} is not a directory; give a new or empty directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file():
        raise PathError(f"{target} is not empty and holds no earlier export; give a new or "
                        "empty directory")


def export(target: Path, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Write the site into ``target``.

    Returns:
        How many files were written, and how many bundles were skipped because
        their record is unreadable (their pages are not written).

    Raises:
        PathError: ``target`` is a file, or a non-empty directory that holds no earlier export.
    """
    _check_target(target)
    site = Site(export=True)
    count = skipped = 0

    def write(rel: str, text: str | bytes) -> None:
        nonlocal count
        parts = [links.unquote_segment(p) for p in rel.split("/")]
        if any(p in ("", ".", "..") or "/" in p for p in parts):  # names never are; be sure
            raise PathError(f"refusing to write {rel!r} outside {target}")
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        count += 1
        if progress is not None:
            progress(count)

    target.mkdir(parents=True, exist_ok=True)
    (target / MARKER).write_text("written by dsdt ui --export\n")
    for name in links.STATIC:
        write(f"static/{name}", static_file(name))
    write("index.html", site.contexts())
    for ctx in [c.name for c in api.contexts() if not c.broken]:  # a broken one: no pages
        first = api.catalog(ctx, limit=1)
        pages = max(1, -(-first.total // PAGE_SIZE))
        for page in range(1, pages + 1):
            write(links.page_path(ctx, page, {}, True), site.bundles(ctx, page))
        for name in _names(ctx, first.total):
            write(links.log_path(ctx, name), site.log(ctx, name))
        skipped += first.skipped
        for b in api.search(ctx):
            try:
                write(links.bundle_path(ctx, b.uuid), site.bundle(ctx, b.uuid))
            except CorruptObjectError:
                skipped += 1
    return count, skipped


def _names(ctx: str, total: int) -> list[str]:
    """Every bundle name of a context, a catalog page at a time."""
    out: list[str] = []
    while len(out) < total:
        page = api.catalog(ctx, limit=500, offset=len(out))
        if not page.entries:
            break
        out += [e.name for e in page.entries]
    return out
