"""``config.yaml``: the repository's settings and format version.

Unknown keys and values of the wrong type are errors (typos should not be
silently ignored), and a ``format_version`` this dsdt does not know stops
every command before it touches anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from dsdt._fs import atomic_write
from dsdt.errors import FormatVersionError, UsageError
from dsdt.objects.record import dump_yaml, load_yaml

FORMAT_VERSION = 1

#: Values of ``code_version``.
CODE_VERSIONS = ("task", "repo", "never")


@dataclass(frozen=True)
class Config:
    """Repository settings (see ``docs/format.md`` for each key).

    Attributes:
        format_version: Version of the on-disk format.
        uncommitted_history: Keep at most this many *older* uncommitted bundles
            of a name in a context besides the newest one; ``None`` keeps all.
        follow_symlinks: When adding a directory, store what symlinks pointing
            outside it point to instead of refusing them.
        lock_timeout: Seconds to wait for another process's lock.
        s3_endpoint_url: Endpoint of an S3-compatible store (MinIO, Ceph...);
            ``null`` uses AWS (or boto3's ``AWS_ENDPOINT_URL``). Never credentials.
        gc_after_rm: Run gc after every ``rm`` (``rm`` itself only moves refs).
        remote_gc_grace: Remote gc keeps unreferenced objects younger than this
            many seconds (they may belong to a push in flight).
        code_version: When a code change re-runs a pipeline task: ``task``
            (the task class's source changed), ``repo`` (the project's git
            commit differs from the recorded one, or the work tree is dirty)
            or ``never``.
    """

    format_version: int = FORMAT_VERSION
    uncommitted_history: int | None = None
    follow_symlinks: bool = False
    lock_timeout: float = 30.0
    s3_endpoint_url: str | None = None
    gc_after_rm: bool = False
    remote_gc_grace: float = 3600.0
    code_version: str = "task"

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read and validate ``config.yaml``."""
        data = load_yaml(path.read_bytes(), str(path)) or {}
        if not isinstance(data, dict):
            raise UsageError(f"{path} must be a mapping of settings")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise FormatVersionError(
                f"{path} has format_version {version!r}; this dsdt reads format {FORMAT_VERSION}. "
                "Upgrade dsdt (or fix the file)"
            )
        known = {f.name: f for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise UsageError(f"{path}: unknown setting {key!r} (known: {', '.join(known)})")
            _check_type(path, key, value)
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write the settings atomically."""
        atomic_write(path, dump_yaml(asdict(self)))


def _check_type(path: Path, key: str, value: Any) -> None:
    ok = {
        "format_version": isinstance(value, int),
        "uncommitted_history": value is None or (type(value) is int and value >= 0),
        "follow_symlinks": isinstance(value, bool),
        "lock_timeout": type(value) in (int, float) and value > 0,
        "s3_endpoint_url": value is None or (isinstance(value, str) and "://" in value),
        "gc_after_rm": isinstance(value, bool),
        "remote_gc_grace": type(value) in (int, float) and value >= 0,
        "code_version": value in CODE_VERSIONS,
    }[key]
    if not ok:
        raise UsageError(f"{path}: bad value {value!r} for {key}")
