"""Identifiers: bundle uuids and sha256 object ids."""

from __future__ import annotations

import hashlib
import re
import uuid as _uuid

from dsdt.errors import UsageError

_SHA_RE = re.compile(r"[0-9a-f]{64}")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PREFIX_RE = re.compile(r"[0-9a-f][0-9a-f-]{3,35}")

#: The shortest uuid prefix accepted in place of a uuid (as git's abbreviated ids).
MIN_PREFIX = 4


def new_uuid() -> str:
    """A fresh random bundle uuid (uuid4, lower-case canonical form)."""
    return str(_uuid.uuid4())


def is_uuid(text: str) -> bool:
    """True if ``text`` is a canonical lower-case uuid."""
    return isinstance(text, str) and _UUID_RE.fullmatch(text) is not None


def check_uuid(text: str) -> str:
    """Return ``text`` normalised to canonical form, or raise :class:`UsageError`."""
    try:
        value = str(_uuid.UUID(str(text)))
    except ValueError:
        raise UsageError(f"{text!r} is not a bundle uuid (expected e.g. {new_uuid()})") from None
    return value


def uuid_or_prefix(text: str) -> tuple[str, bool]:
    """A uuid argument: ``(canonical uuid, True)``, or ``(lower-case prefix, False)``.

    A prefix has at least :data:`MIN_PREFIX` characters of a canonical uuid
    (hex digits and dashes). Anything else is a :class:`UsageError`.
    """
    text = str(text).strip().lower()
    try:
        return str(_uuid.UUID(text)), True
    except ValueError:
        pass
    if _PREFIX_RE.fullmatch(text):
        return text, False
    raise UsageError(f"{text!r} is not a bundle uuid or a uuid prefix of at least {MIN_PREFIX} "
                     f"characters (expected e.g. {new_uuid()[:8]})")


def is_uuid_prefix(text: str) -> bool:
    """True if ``text`` could be a uuid or a uuid prefix (see :func:`uuid_or_prefix`)."""
    try:
        uuid_or_prefix(text)
    except UsageError:
        return False
    return True


def is_sha256(text: str) -> bool:
    """True if ``text`` is a lower-case hex sha256 digest."""
    return isinstance(text, str) and _SHA_RE.fullmatch(text) is not None


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
