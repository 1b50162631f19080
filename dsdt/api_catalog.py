"""The catalog part of the API: pages of a context's names, a bundle's files, data previews.

What ``dsdt ui`` shows, for any program: read from the index and records
only, paged in SQL, and a preview never decodes more than the rows it shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from dsdt.ops import catalog as _catalog
from dsdt.ops.catalog import CatalogEntry, CatalogPage, FileEntry
from dsdt.repo import open_context as at

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CatalogEntry", "CatalogPage", "FileEntry", "bundle_files", "catalog", "preview"]


def catalog(local_context: str | None, name: str | None = None,
            tags: dict[str, str] | None = None, before: str | datetime | None = None,
            after: str | datetime | None = None, limit: int = 50,
            offset: int = 0) -> CatalogPage:
    """One page of a context's bundle names, each with its newest matching version.

    Args:
        local_context: The context (None: the current one).
        name: Name pattern; ``*`` matches any run of characters.
        tags: Tags the versions must all have.
        before: Versions created before this date (the forms of ``dsdt.api.search``).
        after: Versions created at or after this date.
        limit: Names per page, 1 to 500.
        offset: Names to skip, in name order.

    Returns:
        The page: names in order with their newest version, version count,
        tags, committed state, size and where the data is; and the total count.

    Raises:
        UsageError: A bad date, tag, limit or offset.
    """
    return _catalog.page(*at(local_context), name=name, tags=tags, before=before,
                         after=after, limit=limit, offset=offset)


def bundle_files(local_context: str | None, uuid: str) -> list[FileEntry]:
    """The files and directories a bundle holds, with their sizes (up to 1,000 rows).

    Raises:
        BundleNotFoundError: No such bundle in the context.
    """
    return _catalog.bundle_files(*at(local_context), uuid)


def preview(local_context: str | None, uuid: str,
            rows: int = 20) -> pd.DataFrame | pd.Series | None:
    """The first ``rows`` rows of a bundle's DataFrame or Series, decoding no more.

    Returns:
        The head of the frame, or None when the bundle holds no frame or its
        data is not in the local cache (nothing is fetched).

    Raises:
        BundleNotFoundError: No such bundle in the context.
        UsageError: ``rows`` is not 0 to 1000.
    """
    return _catalog.preview(*at(local_context), uuid, rows)
