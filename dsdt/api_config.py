"""The repository's settings (``.dsdt/config.yaml``) by dotted key, as ``git config`` does.

Keys are dotted paths into the file: ``lock_timeout``, ``containers.registry``.
Reading validates the file as every command does (it is checked in: a
teammate wrote it); writing validates the new value against the schema and
changes the file by compare-and-swap under its lock, keeping its comments.
"""

from __future__ import annotations

from typing import Any

from dsdt.configfile import ConfigValue, parse_value, read_values, setting, write_setting
from dsdt.repo import Repository


def list_config() -> list[ConfigValue]:
    """Every setting, in the order of ``docs/format.md`` §3, defaults included.

    Returns:
        One :class:`ConfigValue` per key: ``key``, ``value`` (the default when
        the file does not set it) and ``is_set``.

    Raises:
        UsageError: ``config.yaml`` holds an unknown key or a bad value.
    """
    repo = Repository.current()
    return read_values(repo.root / "config.yaml")


def get_config(key: str) -> Any:
    """The value of one setting (its default when ``config.yaml`` does not set it).

    Args:
        key: A dotted key such as ``lock_timeout`` or ``containers.base_image``.

    Raises:
        UsageError: No such key.
    """
    return config_value(key).value


def config_value(key: str) -> ConfigValue:
    """One setting with whether the file sets it (see :func:`list_config`).

    Raises:
        UsageError: No such key.
    """
    setting(key)
    return next(v for v in list_config() if v.key == key)


def set_config(key: str, value: Any) -> bool:
    """Write one setting into ``config.yaml``.

    Args:
        key: A dotted key such as ``lock_timeout`` or ``containers.registry``.
        value: The new value. A string is parsed by the key's type, as on the
            command line (``"45"``, ``"true"``, ``"null"``); other values are
            checked as they are.

    Returns:
        True if the file changed, False if it already held that value.

    Raises:
        UsageError: Unknown key, ``format_version``, or a value the schema refuses
            (nothing is written).
        LockError: Another process held ``config.yaml.lock`` for ``lock_timeout``.
        ConflictError: The file kept changing under the write.
    """
    parsed = parse_value(key, value) if isinstance(value, str) else value
    repo = Repository.current()
    return write_setting(repo.root / "config.yaml", key, parsed,
                         timeout=repo.config.lock_timeout)


def unset_config(key: str) -> bool:
    """Remove one setting from ``config.yaml``, so that its default applies.

    Returns:
        True if the file set it, False if it did not.

    Raises:
        UsageError: Unknown key, or ``format_version``.
        LockError: Another process held ``config.yaml.lock`` for ``lock_timeout``.
    """
    repo = Repository.current()
    return write_setting(repo.root / "config.yaml", key, None, unset=True,
                         timeout=repo.config.lock_timeout)
