"""Validation of the names users give to contexts, bundles and tags.

The rules follow git's ``check-ref-format`` where a name ends up in a path
(contexts): no ``/``, ``\\``, ``..``, leading ``.``, trailing ``.``, ``.lock``
suffix, control characters, whitespace, or ``~^:?*[``. Bundle names never
become paths, but they follow the same rules (space allowed) so that every
name is safe to show, glob and type on a command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dsdt.errors import InvalidNameError, UsageError
from dsdt.objects.gate import name_problem

_BAD_TAG_KEY = re.compile(r"[\x00-\x1f\x7f]")


def check_context_name(name: Any) -> str:
    """Return ``name`` if it is a valid local context name, else raise."""
    if problem := name_problem(name, allow_space=False):
        raise InvalidNameError(f"invalid context name {name!r}: {problem}")
    return name


def split_context(spec: Any) -> tuple[str | None, str]:
    """Split ``[remote/]local`` into ``(remote or None, local)``, validating both."""
    if not isinstance(spec, str):
        raise InvalidNameError(f"a context name must be a string, not {type(spec).__name__}")
    if spec.count("/") > 1:
        raise InvalidNameError(f"invalid context {spec!r}: use 'local' or 'remote/local'")
    if "/" in spec:
        remote, local = spec.split("/")
        return check_context_name(remote), check_context_name(local)
    return None, check_context_name(spec)


def check_bundle_name(name: Any) -> str:
    """Return ``name`` if it is a valid bundle name, else raise."""
    if problem := name_problem(name, allow_space=True):
        raise InvalidNameError(f"invalid bundle name {name!r}: {problem}")
    return name


def check_tags(tags: Any, what: str = "tags") -> dict[str, str]:
    """Validate a ``{str: str}`` mapping of tags (or params); return a plain copy."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise UsageError(f"{what} must be a dict of str to str, not {type(tags).__name__}")
    for k, v in tags.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise UsageError(
                f"{what} must map str to str; got {k!r}: {v!r} "
                f"({type(k).__name__}: {type(v).__name__})"
            )
        if not k or _BAD_TAG_KEY.search(k):
            raise UsageError(f"invalid {what} key {k!r}: empty or contains control characters")
        if "\x00" in v:
            raise UsageError(f"invalid {what} value for {k!r}: contains a NUL character")
    return dict(tags)


def parse_tags(items: list[str] | None) -> dict[str, str]:
    """``KEY:VALUE`` strings (repeated ``-t`` options) as validated tags.

    Each item is split on its first ``:`` only, so a value may contain ``:``.

    Raises:
        UsageError: An item has no ``:`` or a key is not a valid tag key.
    """
    tags: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition(":")
        if not sep:
            raise UsageError(f"bad tag {item!r}: use KEY:VALUE")
        tags[key] = value
    return check_tags(tags)


# --- the one name glob: only ``*`` is special -----------------------------------------


def glob_to_sqlite(pattern: str) -> str:
    """A name pattern as an SQLite ``GLOB`` pattern (``?`` and ``[`` taken literally)."""
    return "".join({"?": "[?]", "[": "[[]"}.get(c, c) for c in pattern)


def glob_matcher(pattern: str | None) -> Callable[[str], bool]:
    """A predicate for names matching a pattern (None matches every name)."""
    if pattern is None:
        return lambda name: True
    rx = re.compile(".*".join(map(re.escape, pattern.split("*"))), re.S)
    return lambda name: rx.fullmatch(name) is not None
