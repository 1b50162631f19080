"""Directory tree blobs (``docs/format.md`` section 6), checked like everything others wrote.

A directory bundle's tree lists its files (path, blob id, size, executable
bit) and its empty directories. The tree is read from a blob someone else
may have written, so every path must be contained and listed once, and no
path may be both a file and a directory, before a file is written for it.
"""

from __future__ import annotations

import json
from typing import Any

from dsdt.objects.gate import (
    MAX_TREE_ENTRIES,
    check_blob_id,
    check_rel_path,
    check_size,
    corrupt,
    need,
    unique_keys,
)


def parse_tree(data: bytes, what: str) -> dict[str, Any]:
    """Parse and validate a directory tree blob (``docs/format.md`` section 6).

    Returns:
        ``{"files": [[path, blob id, size, executable], ...], "dirs": [path, ...]}``
        with every path contained and no path both a file and a directory.
    """
    try:
        doc = json.loads(data, object_pairs_hook=unique_keys)
    except (ValueError, RecursionError) as e:
        raise corrupt(what, f"it is not JSON ({e})") from None
    need(isinstance(doc, dict) and isinstance(doc.get("files"), list)
          and isinstance(doc.get("dirs", []), list), what, "it is not a directory tree")
    files, dirs = doc["files"], doc.get("dirs", [])
    need(len(files) + len(dirs) <= MAX_TREE_ENTRIES, what, "it lists too many entries")
    seen: set[str] = set()
    for entry in files:
        need(isinstance(entry, list) and len(entry) == 4 and isinstance(entry[3], bool), what,
              "a tree entry is not [path, blob, size, executable]")
        path = check_rel_path(entry[0], what)
        check_blob_id(entry[1], what)
        check_size(entry[2], what)
        need(path not in seen, what, f"path {path[:80]!r} is listed twice")
        seen.add(path)
    for path in dirs:
        check_rel_path(path, what)
    _check_prefixes(seen, dirs, what)
    return {"files": files, "dirs": dirs}



def _check_prefixes(files: set[str], dirs: list[str], what: str) -> None:
    """No file may sit where another entry needs a directory."""
    for path in [*files, *dirs]:
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            need(parent not in files, what, f"{parent[:80]!r} is both a file and a directory")
