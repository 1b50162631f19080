"""Dates in and out: one text form, one JSON form, one parser for date arguments.

Text output shows local time as ISO 8601 to the second with its offset
(``2026-12-06 13:31:19+01:00``); JSON output shows UTC to the microsecond
(``2026-12-06T12:31:19.460725+00:00``, the form records keep). Date arguments
accept ISO 8601 (date, date and time, with or without an offset) and
Disdat's ``MM-DD-YYYY`` and ``MM-DD-YYYY HH:MM:SS``; without an offset they
mean local time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dsdt.errors import UsageError

#: What a date argument may look like, for help texts and errors.
ACCEPTED = ("ISO 8601 (2026-12-06, 2026-12-06T13:31:19, optionally with +01:00 or Z), "
            "MM-DD-YYYY or 'MM-DD-YYYY HH:MM:SS'")
_DISDAT = re.compile(r"\d{1,2}-\d{1,2}-\d{4}( \d{1,2}:\d{2}:\d{2})?")

When = datetime | float | int


def _aware(when: When) -> datetime:
    """A datetime with a zone: epoch seconds and naive datetimes are taken as local time."""
    if isinstance(when, datetime):
        return when.astimezone() if when.tzinfo is None else when
    return datetime.fromtimestamp(when).astimezone()


def text_date(when: When | None) -> str:
    """A date for text output: local time, ISO 8601 to the second, with its offset.

    Args:
        when: An aware or naive (local) datetime, or epoch seconds; ``None``
            or 0 (unset epoch seconds) print as ``-``.

    Returns:
        For example ``2026-12-06 13:31:19+01:00``.
    """
    if when is None or (not isinstance(when, datetime) and not when):
        return "-"
    return _aware(when).astimezone().isoformat(sep=" ", timespec="seconds")


def json_date(when: When | None) -> str | None:
    """A date for JSON output: UTC, ISO 8601 to the microsecond, ``+00:00``.

    Args:
        when: An aware or naive (local) datetime, or epoch seconds; ``None``
            or 0 (unset epoch seconds) give ``None``.

    Returns:
        For example ``2026-12-06T12:31:19.460725+00:00``.
    """
    if when is None or (not isinstance(when, datetime) and not when):
        return None
    return _aware(when).astimezone(UTC).isoformat(timespec="microseconds")


def parse_date(value: str | datetime | None) -> float | None:
    """A date argument as epoch seconds; values without an offset are local time.

    Args:
        value: A ``datetime``, ISO 8601 text (``2026-12-06``,
            ``2026-12-06T13:31``, ``2026-12-06 13:31:19+01:00``, ``...Z``),
            or Disdat's ``MM-DD-YYYY`` / ``MM-DD-YYYY HH:MM:SS``.

    Returns:
        Seconds since the epoch, or ``None`` for ``None``.

    Raises:
        dsdt.errors.UsageError: The text is none of these forms, or not a real date.
    """
    if value is None:
        return None
    if not isinstance(value, str | datetime):
        raise UsageError(f"bad date {value!r}: use a datetime or text: {ACCEPTED}")
    try:
        if isinstance(value, datetime):
            return value.timestamp()
        text = value.strip()
        if _DISDAT.fullmatch(text):
            fmt = "%m-%d-%Y %H:%M:%S" if " " in text else "%m-%d-%Y"
            return datetime.strptime(text, fmt).timestamp()
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        shown = value if isinstance(value, datetime) else value[:60]
        raise UsageError(f"bad date {shown!r}: use {ACCEPTED}") from None
