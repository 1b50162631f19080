"""Remote URLs: parse and normalise them, and open the matching transport.

Supported forms:

* ``s3://bucket`` or ``s3://bucket/some/prefix`` (trailing ``/`` ignored);
* ``file:///abs/dir`` (or ``file://localhost/abs/dir``);
* a directory path, absolute or relative to the current directory (``~`` expands).
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

from dsdt.errors import UsageError
from dsdt.remote.local import LocalTransport
from dsdt.remote.s3 import S3Transport
from dsdt.remote.transport import Transport

_FORMS = "use s3://bucket[/prefix], file:///absolute/dir or a directory path"
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(//)?")


def parse_url(url: str) -> tuple[str, str, str]:
    """Split a remote URL into its parts, normalised.

    Args:
        url: ``s3://bucket/prefix``, ``file:///dir`` or a directory path.

    Returns:
        ``("s3", bucket, prefix)`` with the prefix free of leading and trailing
        ``/``, or ``("file", "", absolute_dir)``.

    Raises:
        UsageError: An empty URL, an unsupported scheme or an S3 URL without bucket.
    """
    url = url.strip() if isinstance(url, str) else ""
    if not url:
        raise UsageError(f"empty remote URL: {_FORMS}")
    m = _SCHEME_RE.match(url)
    scheme = m.group(1).lower() if m else ""
    if scheme == "s3":
        return _parse_s3(url, url[m.end():] if m and m.group(2) else None)
    if scheme == "file":
        return _parse_file(url, url[m.end():] if m and m.group(2) else None)
    if m and m.group(2):
        raise UsageError(f"unsupported remote URL {url!r}: {_FORMS}")
    return "file", "", _abs_dir(url)


def _parse_s3(url: str, rest: str | None) -> tuple[str, str, str]:
    if rest is None:
        raise UsageError(f"malformed S3 URL {url!r}: {_FORMS}")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise UsageError(f"S3 URL {url!r} names no bucket: {_FORMS}")
    prefix = re.sub(r"/{2,}", "/", prefix).strip("/")
    return "s3", bucket, prefix


def _parse_file(url: str, rest: str | None) -> tuple[str, str, str]:
    if rest is None:
        raise UsageError(f"malformed file URL {url!r}: {_FORMS}")
    host, slash, path = rest.partition("/")
    if host not in ("", "localhost"):
        raise UsageError(
            f"file URL {url!r} names host {host!r}; mount the share and give its local path"
        )
    return "file", "", _abs_dir(unquote(slash + path))


def _abs_dir(path: str) -> str:
    """Absolute, symlink-free form of a directory path (``~`` expanded, no trailing ``/``).

    A checked-in URL is compared with this form before use, so one that only
    looks absolute (``/proc/self/cwd/...`` is the current directory) is refused.
    """
    if not path:
        raise UsageError(f"empty remote directory: {_FORMS}")
    return os.path.realpath(os.path.expanduser(path))


def canonical_url(url: str) -> str:
    """The one spelling of a remote URL (``s3://bucket/prefix`` or ``/abs/dir``)."""
    scheme, bucket, path = parse_url(url)
    if scheme == "s3":
        return f"s3://{bucket}/{path}" if path else f"s3://{bucket}"
    return path


def open_transport(url: str, *, endpoint_url: str | None = None) -> Transport:
    """The transport for a remote URL (no request is made yet).

    Args:
        url: Any form :func:`parse_url` accepts.
        endpoint_url: S3-compatible endpoint; ignored for directories.
    """
    scheme, bucket, path = parse_url(url)
    if scheme == "s3":
        return S3Transport(bucket, path, endpoint_url=endpoint_url)
    return LocalTransport(path)
