"""Lineage of a bundle as the API shows it, the default processing name, and the code ref of
the code that made a bundle."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dsdt.objects.record import BundleRecord, Dependency


@dataclass(frozen=True)
class LineageInfo:
    """Where a bundle came from (the ``Lineage`` of the spec, plus its identity).

    Attributes:
        uuid: The bundle.
        name: Its name.
        processing_name: Its processing name (bundles made the same way share it).
        creation_date: When it was closed (aware UTC datetime).
        depends_on: Its inputs, each with ``processing_name``, ``uuid`` and ``arg_name``.
        code_ref: The code that made it (``module.Class``, ``add``...).
        code_hash: A hash of that code's source ("" when unknown).
        git: Git facts of that code: ``repo``, ``commit``, ``branch``, ``dirty``.
        start_time, stop_time: When the code ran (epoch seconds; 0 when unknown).
    """

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
        """The lineage of a bundle, from its record."""
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




def caller_ref(project: Path) -> str:
    """The code that is making a bundle: the first caller outside dsdt.

    ``train.py`` or ``train.py:main`` for a script (its path from the project),
    ``pkg.jobs:build`` for a module's function; ``""`` when nothing but dsdt
    is on the stack. Recorded as the code reference of bundles made by code
    that names none (it does not enter their processing name).
    """
    frame = sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] == "dsdt":
        frame = frame.f_back
    if frame is None:
        return ""
    module = str(frame.f_globals.get("__name__", ""))
    where = module
    if module == "__main__":
        file = os.path.abspath(frame.f_code.co_filename)
        rel = os.path.relpath(file, project)
        where = Path(file).name if rel.startswith("..") else rel
    function = frame.f_code.co_qualname
    return where if function == "<module>" else f"{where}:{function}"
