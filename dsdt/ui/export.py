"""``dsdt ui --export DIR``: the pages of ``dsdt ui`` as a static site.

The same pages with the same relative links, written as files: the contexts,
every page of every context's bundle names, every bundle and every name's
log. It opens from ``file://`` or any static host; filters need the server.
Only a missing or empty directory, or an earlier export (it holds
:data:`MARKER`), is written to. The marker lists the files the export wrote;
a later export removes those of them it no longer writes (pages of bundles
removed since), and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dsdt import api
from dsdt.errors import CorruptObjectError, PathError
from dsdt.ui import links
from dsdt.ui.pages import PAGE_SIZE, Site, static_file

MARKER = ".dsdt-ui-export"
_MARK_LINE = "written by dsdt ui --export; the files it wrote:"


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
    written: list[Path] = []

    def write(rel: str, text: str | bytes) -> None:
        nonlocal count
        parts = [links.unquote_segment(p) for p in rel.split("/")]
        if any(p in ("", ".", "..") or "/" in p for p in parts):  # names never are; be sure
            raise PathError(f"refusing to write {rel!r} outside {target}")
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        written.append(path.relative_to(target))
        count += 1
        if progress is not None:
            progress(count)

    target.mkdir(parents=True, exist_ok=True)
    before = _owned(target)
    (target / MARKER).write_text(_MARK_LINE + "\n")
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
    _remove_stale(target, before - set(written))
    (target / MARKER).write_text("\n".join([_MARK_LINE, *map(str, written)]) + "\n")
    return count, skipped


def _owned(target: Path) -> set[Path]:
    """The files an earlier export into ``target`` wrote (from its marker), checked."""
    try:
        lines = (target / MARKER).read_text(encoding="utf-8").splitlines()[1:]
    except (FileNotFoundError, UnicodeDecodeError):
        return set()
    out = set()
    for line in lines:
        rel = Path(line)
        if line and not rel.is_absolute() and ".." not in rel.parts and rel.suffix in (
                ".html", ".css"):
            out.add(rel)
    return out


def _remove_stale(target: Path, stale: set[Path]) -> None:
    """Remove the files of an earlier export that this one did not write, and emptied dirs."""
    root = target.resolve()
    for rel in sorted(stale):
        path = target / rel
        if path.is_symlink() or not path.is_file() or root not in path.resolve().parents:
            continue
        path.unlink()
        for parent in path.parents:
            if parent == target or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()


def _names(ctx: str, total: int) -> list[str]:
    """Every bundle name of a context, a catalog page at a time."""
    out: list[str] = []
    while len(out) < total:
        page = api.catalog(ctx, limit=500, offset=len(out))
        if not page.entries:
            break
        out += [e.name for e in page.entries]
    return out
