"""Lineage of a bundle as the API shows it, and the default processing name."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dsdt.objects.record import BundleRecord, Dependency


@dataclass(frozen=True)
class LineageInfo:
    """Where a bundle came from (the ``Lineage`` of the spec, plus its identity)."""

    uuid: str
    name: str
    processing_name: str
    creation_date: datetime
    depends_on: tuple[Dependency, ...]
    code_ref: str
    code_hash: str
    git: dict[str, Any]
    start_time: float
    stop_time: float

    @classmethod
    def of(cls, rec: BundleRecord) -> LineageInfo:
        """Build from a record."""
        lin = rec.lineage
        return cls(rec.uuid, rec.name, rec.processing_name, rec.created_at, lin.depends_on,
                   lin.code_ref, lin.code_hash, dict(lin.git), lin.start_time, lin.stop_time)


def default_processing_name(name: str, code_ref: str, params: dict[str, str],
                            deps: tuple[Dependency, ...]) -> str:
    """``<name>_<hash>``: a hash of the code ref, param keys *and* values, and inputs."""
    summary = {"code_ref": code_ref, "params": sorted(params.items()),
               "deps": sorted((d.arg_name, d.processing_name) for d in deps)}
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()[:16]
    return f"{name or 'bundle'}_{digest}"


