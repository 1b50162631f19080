"""Settings of ``config.yaml`` by dotted key: read, parse, edit the file in place, write by CAS.

Keys are dotted paths into the file (``lock_timeout``, ``containers.registry``).
A write edits only the line of its key, so the file's comments and key order
stay; a layout that cannot be edited line by line (flow style, a value on
several lines, a key twice) is rewritten whole in the schema's order. Every
new text is parsed again and validated as a checked-in file is before it is
written, under ``config.yaml.lock`` by compare-and-swap (``docs/format.md``
§1 point 3).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from dsdt._fs import atomic_write
from dsdt._locks import FileLock
from dsdt.config import Config, ContainerSettings, read_config_bytes
from dsdt.errors import ConflictError, CorruptObjectError, UsageError
from dsdt.objects.gate import has_control
from dsdt.objects.record import load_yaml

#: How many times a write re-reads a file that changed under it before giving up.
ATTEMPTS = 20
#: What a valid value of each key is, for error messages (the checks are in ``dsdt.config``).
_WANT = {
    "format_version": "set by dsdt itself",
    "uncommitted_history": "an integer of 0 or more, or null (keep every version)",
    "follow_symlinks": "true or false",
    "lock_timeout": "a number of seconds above 0 and at most 3600",
    "s3_endpoint_url": "a URL such as http://localhost:9000, or null (AWS)",
    "gc_after_rm": "true or false",
    "remote_gc_grace": "a number of seconds from 0 to 31536000 (a year)",
    "code_version": "task, repo or never",
    "containers.sagemaker_instance_type": "a non-blank string",
}
_WANT_INT = "a positive integer"
_WANT_STR = "a non-blank string, or null"


@dataclass(frozen=True)
class Setting:
    """One key of ``config.yaml``.

    Attributes:
        key: Its dotted path (``lock_timeout``, ``containers.registry``).
        kind: ``int``, ``float``, ``bool`` or ``str``.
        nullable: Whether ``null`` is a valid value.
        want: What a valid value is, in words.
    """

    key: str
    kind: str
    nullable: bool
    want: str


@dataclass(frozen=True)
class ConfigValue:
    """A setting's value as dsdt uses it.

    Attributes:
        key: The dotted key.
        value: Its value (the default when the file does not set it).
        is_set: Whether ``config.yaml`` sets it.
    """

    key: str
    value: Any
    is_set: bool


def _settings() -> dict[str, Setting]:
    out = {}
    for prefix, cls in (("", Config), ("containers.", ContainerSettings)):
        for f in fields(cls):
            kind = str(f.type)
            if kind == "ContainerSettings":
                continue
            key = prefix + f.name
            want = _WANT.get(key, _WANT_INT if kind == "int" else _WANT_STR)
            out[key] = Setting(key, kind.split(" | ")[0], kind.endswith("| None"), want)
    return out


SETTINGS: dict[str, Setting] = _settings()


def setting(key: str) -> Setting:
    """The setting of a dotted key.

    Raises:
        UsageError: No such key.
    """
    found = SETTINGS.get(key)
    inner = [k for k in SETTINGS if k.startswith(f"{key}.")]
    if found is None and inner:
        raise UsageError(f"{key} is a section, not a setting; give one of its keys, such as "
                         f"{inner[0]} ('dsdt config --list' shows them all)")
    if found is None:
        shown = key if len(key) <= 60 and not has_control(key) else repr(key[:60])
        close = difflib.get_close_matches(key, SETTINGS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"no setting {shown}{hint}; 'dsdt config --list' shows every key")
    return found


def parse_value(key: str, text: str) -> Any:
    """The value ``text`` means for ``key``, parsed by the key's type (``null`` is None).

    Raises:
        UsageError: ``text`` is not a value of the key's type.
    """
    s = setting(key)
    word = text.strip()
    if word == "null":
        if s.nullable:
            return None
        raise bad_value(key, text)
    try:
        if s.kind == "bool" and word.lower() in ("true", "false"):
            return word.lower() == "true"
        if s.kind == "int" and re.fullmatch(r"[+-]?\d{1,30}", word):
            return int(word)
        if s.kind == "float" and len(word) <= 40:
            number = float(word) if re.search(r"[.eE]", word) else int(word)
            if math.isfinite(number):
                return number
        if s.kind == "str" and not has_control(text):
            return text
    except ValueError:
        pass
    raise bad_value(key, text)


def bad_value(key: str, value: Any) -> UsageError:
    """The error for a value that is not valid for ``key``."""
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return UsageError(f"bad value {shown} for {key}: want {setting(key).want}; "
                      "nothing was written")


def read_values(path: Path) -> list[ConfigValue]:
    """Every setting of the ``config.yaml`` at ``path``, validated as a checked-in file is."""
    raw = read_config_bytes(path)
    config = Config.parse(raw, path)
    data = load_yaml(raw, str(path)) or {}
    out = []
    for key in SETTINGS:
        section, _, sub = key.rpartition(".")
        where = data.get(section) if section else data
        is_set = isinstance(where, dict) and sub in where
        value = getattr(config.containers if section else config, sub)
        out.append(ConfigValue(key, value, is_set))
    return out


def scalar(value: Any) -> str:
    """A value as YAML writes it on one line (``null``, ``true``, ``30``, ``'1:2'``)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=math.inf)
    return text.split("\n", 1)[0]


def write_setting(path: Path, key: str, value: Any, *, unset: bool = False,
                  timeout: float = 30.0) -> bool:
    """Set (or with ``unset``, remove) one key of ``config.yaml`` by compare-and-swap.

    Args:
        path: The ``config.yaml`` file.
        key: A dotted key of :data:`SETTINGS`.
        value: The new value (ignored with ``unset``).
        unset: Remove the key, so that its default applies.
        timeout: Seconds to wait for the file's lock.

    Returns:
        True if the file changed, False if it already said so.

    Raises:
        UsageError: Unknown key, ``format_version``, or a value the schema refuses.
        ConflictError: The file kept changing under the write for :data:`ATTEMPTS` tries.
        LockError: Another process held the lock for ``timeout`` seconds.
    """
    setting(key)
    if key == "format_version":
        raise UsageError("format_version is set by dsdt itself; it cannot be changed with "
                         "dsdt config")
    for _ in range(ATTEMPTS):
        old = read_config_bytes(path)
        new = edited(old, path, key, value, unset=unset)
        if new == old:
            return False
        if swap_file(path, old, new, timeout):
            return True
    raise ConflictError(f"{path} kept changing while {key} was written; run the command again")


def swap_file(path: Path, expected: bytes, new: bytes, timeout: float) -> bool:
    """Replace the file's bytes with ``new`` if they are still ``expected`` (under its lock).

    Returns:
        False if somebody else changed the file since it was read (nothing written).
    """
    with FileLock(path, timeout):
        if read_config_bytes(path) != expected:
            return False
        atomic_write(path, new, mode=os.stat(path).st_mode & 0o777)
    return True


def edited(raw: bytes, path: Path, key: str, value: Any, *, unset: bool = False) -> bytes:
    """The bytes of ``config.yaml`` with ``key`` set to ``value`` (or removed), validated.

    Raises:
        UsageError: The result is not a valid configuration (names the value).
    """
    data = load_yaml(raw, str(path))
    Config.from_data(data, path)  # the file as it is must be valid before it is changed
    want = _changed(data or {}, key, value, unset)
    try:
        Config.from_data(want, path)
    except UsageError:
        raise bad_value(key, value) from None
    text = raw.decode("utf-8")
    new = _edit_lines(text, key, None if unset else scalar(value))
    if new is None or not _means(new, path, want):
        new = _rewritten(want)
    return new.encode("utf-8")


def _means(text: str, path: Path, want: dict[str, Any]) -> bool:
    """Whether ``text`` parses to exactly ``want``."""
    try:
        return bool(load_yaml(text, str(path)) == want)
    except CorruptObjectError:
        return False


def _changed(data: dict[str, Any], key: str, value: Any, unset: bool) -> dict[str, Any]:
    """A copy of the file's data with one key changed."""
    out = dict(data)
    section, _, sub = key.rpartition(".")
    target = out
    if section:
        inner = out.get(section)
        target = out[section] = dict(inner) if isinstance(inner, dict) else {}
    if unset:
        target.pop(sub, None)
    else:
        target[sub] = value
    return out


_KEY_LINE = r"^(?P<indent>{indent})(?P<key>{key})[ \t]*:(?P<rest>.*)$"


def _edit_lines(text: str, key: str, value: str | None) -> str | None:
    """``text`` with the key's one line changed (removed when ``value`` is None).

    Returns None where a line-by-line edit does not fit the layout; the caller
    checks the result by parsing it again in any case.
    """
    lines = text.splitlines(keepends=True)
    section, _, sub = key.rpartition(".")
    start, end, indent = 0, len(lines), ""
    if section:
        block = _block(lines, section)
        if block is None:
            if value is None:
                return text
            if _find(lines, 0, len(lines), "", section):
                return None  # a section in flow style, or null
            return _ending(text) + f"{section}:\n  {sub}: {value}\n"
        start, end, indent = block
    found = _find(lines, start, end, indent or "", sub)
    if len(found) > 1:
        return None
    if not found:
        if value is None:
            return text
        at = _insertion(lines, start, end, indent or "", key)
        lines.insert(at, f"{indent}{sub}: {value}\n")
        if at == len(lines) - 1:
            return _ending("".join(lines[:-1])) + lines[-1]
        return "".join(lines)
    i, match = found[0]
    if value is None:
        del lines[i]
    else:
        lines[i] = f"{match['indent']}{sub}: {value}{_comment(match['rest'])}\n"
    return "".join(lines)


def _find(lines: list[str], start: int, end: int, indent: str, key: str) -> list[Any]:
    pattern = re.compile(_KEY_LINE.format(indent=re.escape(indent), key=re.escape(key)))
    return [(i, m) for i in range(start, end) if (m := pattern.match(lines[i].rstrip("\r\n")))]


def _block(lines: list[str], section: str) -> tuple[int, int, str] | None:
    """``(first line, end, indent)`` of a block-style section's keys, or None."""
    heads = _find(lines, 0, len(lines), "", section)
    if len(heads) != 1 or not re.fullmatch(r"[ \t]*(#.*)?", heads[0][1]["rest"]):
        return None
    head = heads[0][0]
    end = head + 1
    indent = None
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.lstrip().startswith("#"):
            if not line[0].isspace():
                break
            indent = indent or line[:len(line) - len(line.lstrip())]
        end += 1
    return head + 1, end, indent or "  "


def _insertion(lines: list[str], start: int, end: int, indent: str, key: str) -> int:
    """Where a new key goes: in the schema's order, above the comments of the key after it."""
    section = key.rpartition(".")[0]
    later = [k.rpartition(".")[2] for k in SETTINGS
             if k.rpartition(".")[0] == section and _rank(k) > _rank(key)]
    later += [] if section else ["containers"]
    for sub in later:
        found = _find(lines, start, end, indent, sub)
        if found:
            at = found[0][0]
            while at > start and lines[at - 1].lstrip().startswith("#"):
                at -= 1
            return at
    last = start
    for i in range(start, end):
        if lines[i].strip() and not lines[i].lstrip().startswith("#"):
            last = i + 1
    return last


def _rank(key: str) -> int:
    return list(SETTINGS).index(key)


def _comment(rest: str) -> str:
    """The trailing comment of a plain value (``  # ...``), kept when the value changes."""
    match = re.search(r"(\s+#.*)$", rest)
    return match.group(1) if match and not re.search(r"['\"]", rest) else ""


def _ending(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _rewritten(data: dict[str, Any]) -> str:
    """The whole file in the schema's order (used when the layout defies a line edit)."""
    order = [f.name for f in fields(Config)]
    ordered = {k: data[k] for k in sorted(data, key=order.index)}
    sub = [f.name for f in fields(ContainerSettings)]
    if isinstance(ordered.get("containers"), dict):
        inner = ordered["containers"]
        ordered["containers"] = {k: inner[k] for k in sorted(inner, key=sub.index)}
    body = yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=100)
    return "# dsdt repository settings (docs/format.md describes every key).\n" + body
