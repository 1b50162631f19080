"""S3 objects named in a bundle's data are copied into the bundle (Disdat's copy-in).

``b.add_data("s3://bucket/key")`` (or a list, tuple, set or dict holding such
URLs, or luigi ``S3Target``s) stores the object's bytes, not the URL: when the
bundle closes each object is downloaded into its view directory (streamed,
its size checked) and then ingested like any file the user wrote there, so
the bundle holds it content-addressed and presents it as a local path. The
download uses dsdt's S3 settings (``s3_endpoint_url``, ``AWS_PROFILE``...).
Every object is checked before the first byte is fetched, so a missing one
stores nothing. A URL ending in ``/`` names a prefix, which Disdat never
copied either: it is refused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from dsdt.errors import CorruptObjectError, NotFoundError, RemoteError, UsageError
from dsdt.objects.gate import has_control
from dsdt.objects.ids import sha256_bytes

_SCHEME = "s3://"
_NAME_MAX = 255  # bytes in one file name


def s3_url_of(value: Any) -> str | None:
    """The ``s3://`` URL ``value`` names (a str or a luigi S3 target), else None."""
    if type(value) is str:
        return value if value.startswith(_SCHEME) else None
    s3 = sys.modules.get("luigi.contrib.s3")
    if s3 is not None and isinstance(value, s3.S3Target):
        return str(value.path)
    return None


def targets_as_urls(value: Any) -> Any:
    """``value`` with every luigi S3 target (dict keys too) replaced by its URL."""
    s3 = sys.modules.get("luigi.contrib.s3")
    if s3 is None:
        return value
    if isinstance(value, s3.S3Target):
        return str(value.path)
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(targets_as_urls(v) for v in value)
    if type(value) is dict:
        return {targets_as_urls(k): targets_as_urls(v) for k, v in value.items()}
    return value


def urls_in(value: Any) -> list[str]:
    """The S3 URLs ``value`` names, in order, each once (dict keys are never URLs)."""
    found: dict[str, None] = {}
    _collect(value, found)
    return list(found)


def _collect(value: Any, found: dict[str, None]) -> None:
    url = s3_url_of(value)
    if url is not None:
        found[url] = None
    elif type(value) in (list, tuple, set, frozenset):
        for item in value:
            _collect(item, found)
    elif type(value) is dict:
        for item in value.values():
            _collect(item, found)


def split(url: str) -> tuple[str, str]:
    """``(bucket, key)`` of an S3 object URL.

    Raises:
        UsageError: The URL names no bucket, or a prefix (no key, or a trailing ``/``).
    """
    bucket, _, key = url[len(_SCHEME):].partition("/")
    if not bucket:
        raise UsageError(f"{url} names no bucket: use s3://bucket/key")
    if not key or key.endswith("/"):
        raise UsageError(f"{url} is a prefix, not an object: add the objects under it "
                         "one by one (a list of s3:// URLs)")
    return bucket, key


def copy_in(value: Any, view: Path, endpoint_url: str | None) -> Any:
    """Download the S3 objects named in ``value`` into ``view``; return it with their paths.

    Args:
        value: The bundle's data (not changed).
        view: The open bundle's view directory.
        endpoint_url: dsdt's ``s3_endpoint_url`` setting (None: boto3's choice).

    Raises:
        UsageError: A URL is malformed or names a prefix.
        RemoteError: An object or its bucket does not exist or cannot be read.
    """
    urls = urls_in(value)
    if not urls:
        return value
    from dsdt.remote.s3 import S3Transport

    places = {url: split(url) for url in urls}
    transports = {b: S3Transport(b, "", endpoint_url=endpoint_url) for b, _ in places.values()}
    sizes: dict[str, int] = {}
    for url, (bucket, key) in places.items():
        size = transports[bucket].size(key)
        if size is None:
            raise RemoteError(f"{url} does not exist (no such object or bucket); nothing "
                              "was stored")
        sizes[url] = size
    local: dict[str, str] = {}
    used: set[str] = set()
    for url, (bucket, key) in places.items():
        dest = _free_name(view, file_name(url, key), used)
        try:  # no more than the size seen: an object that grows meanwhile is refused
            transports[bucket].get_file(key, dest, limit=sizes[url])
        except CorruptObjectError:
            raise RemoteError(f"{url} changed while it was copied in (it grew past the "
                              f"{sizes[url]} bytes it had); nothing was stored") from None
        except NotFoundError:
            raise RemoteError(f"{url} disappeared while it was copied in; nothing was "
                              "stored") from None
        local[url] = str(dest)
    return _replace(value, local)


def file_name(url: str, key: str) -> str:
    """The key's last part as a file name, or ``object-<hash>`` when it cannot be one.

    A key is chosen by whoever writes the bucket: ``.``, ``..``, control
    characters or a name longer than a file system allows never name a file.
    """
    name = key.rsplit("/", 1)[-1]
    unsafe = (name in ("", ".", "..") or has_control(name) or "\\" in name
              or len(name.encode("utf-8", "surrogatepass")) > _NAME_MAX)
    return f"object-{sha256_bytes(url.encode('utf-8', 'surrogatepass'))[:16]}" if unsafe else name


def _free_name(view: Path, name: str, used: set[str]) -> Path:
    """``view/name``, or ``view/<n>/name`` when that is taken (by the user or another URL)."""
    rel, n = name, 1
    while rel in used or os.path.lexists(view / rel) or (
            n > 1 and os.path.lexists(view / str(n)) and (
                os.path.islink(view / str(n)) or not os.path.isdir(view / str(n)))):
        n += 1
        rel = f"{n}/{name}"
    used.add(rel)
    dest = view / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _replace(value: Any, local: dict[str, str]) -> Any:
    url = s3_url_of(value)
    if url is not None:
        return local[url]
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_replace(v, local) for v in value)
    if type(value) is dict:
        return {k: _replace(v, local) for k, v in value.items()}
    return value
