"""Where each page lives: relative paths shared by the server and the static export.

Every path is relative to the site's root and made of quoted segments, so a
name with ``%``, ``#``, ``<`` or a space is one segment; the export writes the
file at the unquoted path (names are valid path segments by dsdt's name
rules). A page's links are these paths behind its ``root`` prefix (``../../``).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote, urlencode

STATIC = ("style.css",)  #: the files served from the package's ``static/`` (an allow-list)
_MAX_FILE = 250  # bytes of a file name the export may write (most filesystems: 255)


def q(segment: str) -> str:
    """One path segment, percent-quoted (``/`` too)."""
    return quote(segment, safe="")


def unquote_segment(segment: str) -> str:
    """The file name of a quoted path segment (the reverse of :func:`q`)."""
    return unquote(segment, errors="strict")


def context_path(ctx: str) -> str:
    """The path of a context's first page of bundles."""
    return f"c/{q(ctx)}/index.html"


def bundle_path(ctx: str, uuid: str) -> str:
    """The path of a bundle's page (named by its uuid: stable)."""
    return f"c/{q(ctx)}/b/{q(uuid)}.html"


def log_file(name: str) -> str:
    """The file name of a name's log page: the name, or a hash of a name too long for one."""
    if len(name.encode("utf-8")) + 5 > _MAX_FILE:
        return "~" + hashlib.sha256(name.encode("utf-8")).hexdigest() + ".html"
    return name + ".html"


def log_path(ctx: str, name: str) -> str:
    """The path of the log page of a bundle name."""
    return f"c/{q(ctx)}/log/{q(log_file(name))}"


def page_path(ctx: str, page: int, filters: dict[str, str], export: bool) -> str:
    """The path of a page of a context's bundles (the export has no filters)."""
    if export:
        return context_path(ctx) if page == 1 else f"c/{q(ctx)}/page-{page}.html"
    query = {k: v for k, v in filters.items() if v}
    if page > 1:
        query["page"] = str(page)
    return context_path(ctx) + (f"?{urlencode(query)}" if query else "")
