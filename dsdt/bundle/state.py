"""The state behind a :class:`~dsdt.bundle.Bundle`: what is known of it, and its draft.

A bundle is *new* (made, nothing written), *open* (a :class:`Draft` collects
its data and metadata) or *closed* (its record is written; :class:`Known`
holds what the index knows of it, the record is read only when needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsdt._locks import hold_open_marker
from dsdt.errors import BundleStateError
from dsdt.objects.record import BundleRecord, Dependency
from dsdt.repo import Repository

#: The ``data`` of a bundle whose value was not read yet.
NO_DATA = object()


@dataclass(frozen=True)
class Known:
    """What is known of a closed bundle without reading its record (the index has it)."""

    name: str
    processing_name: str
    owner: str
    created: str
    tags: dict[str, str]
    params: dict[str, str]

    @classmethod
    def of(cls, rec: BundleRecord) -> Known:
        return cls(rec.name, rec.processing_name, rec.owner, rec.created, rec.tags, rec.params)


@dataclass
class Draft:
    """The mutable state of an open bundle."""

    name: str
    owner: str
    processing_name: str | None = None
    data: Any = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    deps: list[Dependency] = field(default_factory=list)
    code_ref: str = ""
    code_hash: str = ""
    git: dict[str, Any] = field(default_factory=dict)
    start_time: float = 0.0
    stop_time: float = 0.0



class BundleState:
    """The attributes every part of :class:`~dsdt.bundle.Bundle` works on, and their checks."""

    _repo: Repository
    local_context: str
    _draft: Draft | None
    _record: BundleRecord | None
    _known: Known | None
    _sha: str | None
    _committed: bool | None
    _uuid: str | None
    _data: Any
    _opened: bool
    _marker: int | None  # the open marker's descriptor, once the view is made

    def _view(self) -> Path:
        """The bundle's view directory. An open bundle makes it on first use, holding the
        open marker that keeps gc away from it (a bundle of values never needs one)."""
        if self._uuid is None:
            raise BundleStateError(self._how_to_open())
        view = self._repo.view_dir(self._uuid)
        if self._draft is not None and self._marker is None:
            self._marker = hold_open_marker(self._repo.open_marker(self._uuid))
            view.mkdir(parents=True, exist_ok=True)
        return view

    def _how_to_open(self) -> str:
        """One line: this bundle is not open yet, and the ways to open it."""
        name = self._draft.name if self._draft is not None else ""
        args = ", ".join(repr(a) for a in (self.local_context, name) if a)
        return (f"bundle {name or '(unnamed)'!r} is not open: use `with api.Bundle({args}) as b:`"
                " (or call b.open() first, and b.close() to write it)")

    def _need_open(self) -> Draft:
        if self._known is not None:
            raise BundleStateError(f"bundle {self._known.name!r} is closed (written, immutable): "
                                   "make a new Bundle for another version")
        if not self._opened:
            raise BundleStateError(self._how_to_open())
        return self._draft_view()

    def _draft_view(self) -> Draft:
        if self._draft is None:
            raise BundleStateError("bundle was abandoned (its with block raised, or abandon()):"
                                   " make a new Bundle")
        return self._draft

    def _need_known(self) -> Known:
        if self._known is not None:
            return self._known
        if not self._opened:
            raise BundleStateError(self._how_to_open())
        self._draft_view()
        raise BundleStateError("bundle is not closed yet: close it (or leave the with block)")

    def _need_closed(self) -> BundleRecord:
        self._need_known()
        if self._record is None:
            self._record = self._repo.read_record(self.uuid, self._sha)
        return self._record
