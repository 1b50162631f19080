"""History of bundles: ``log`` (the versions of a name) and ``diff`` (what changed between two).

Both read records only, plus directory trees and packed values (small
*metadata* blobs that travel with the records), never the data itself: a diff
of two DataFrames compares the column summaries recorded when they were
written (:mod:`dsdt.objects.summary`). So they work as well for bundles whose
data is only on a remote. Results are plain dataclasses with ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dsdt._dates import json_date
from dsdt.bundle import Bundle
from dsdt.errors import DsdtError, UsageError
from dsdt.objects.blobrefs import blob_refs
from dsdt.objects.record import Lineage
from dsdt.objects.valuediff import DataChange, ReadBlob, diff_values
from dsdt.ops.query import lookup, need, need_ref, search
from dsdt.repo import Repository

__all__ = ["BundleDiff", "DataChange", "LineageDiff", "LogEntry", "MapDiff", "diff", "log"]


@dataclass(frozen=True)
class LogEntry:
    """One version of a bundle, as ``dsdt log`` shows it.

    Attributes:
        uuid: The bundle's uuid.
        name: Its name.
        created: When it was closed (aware UTC datetime).
        tags: User tags (not params).
        committed: Whether it is committed in the context.
        size: Bytes of its data blobs (each blob counted once per bundle).
        code_commit: The git commit of the code that made it, or ``""``.
        processing_name: Its processing name.
    """

    uuid: str
    name: str
    created: datetime
    tags: dict[str, str]
    committed: bool
    size: int
    code_commit: str
    processing_name: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``created`` in ISO 8601, UTC)."""
        return {**asdict(self), "created": json_date(self.created)}


@dataclass(frozen=True)
class MapDiff:
    """Changes between two string maps (tags, params, inputs by arg name).

    Attributes:
        added: Keys only in the new map, with their values.
        removed: Keys only in the old map, with their values.
        changed: Keys in both with different values: ``[old, new]``.
    """

    added: dict[str, str]
    removed: dict[str, str]
    changed: dict[str, list[str]]

    @classmethod
    def of(cls, old: dict[str, str], new: dict[str, str]) -> MapDiff:
        """Compare two maps."""
        return cls({k: v for k, v in new.items() if k not in old},
                   {k: v for k, v in old.items() if k not in new},
                   {k: [old[k], v] for k, v in new.items() if k in old and old[k] != v})

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class LineageDiff:
    """Changes of lineage: inputs (uuid by arg name) and code.

    Attributes:
        inputs: Inputs added, removed or changed to another version (uuid), by arg name.
        code_ref: ``[old, new]`` when the producing code reference changed, else None.
        code_hash: ``[old, new]`` when the code's source hash changed, else None.
        code_commit: ``[old, new]`` when the git commit of the code changed, else None.
    """

    inputs: MapDiff
    code_ref: list[str] | None = None
    code_hash: list[str] | None = None
    code_commit: list[str] | None = None

    @classmethod
    def of(cls, old: Lineage, new: Lineage) -> LineageDiff:
        """Compare two lineages."""
        def pair(a: str, b: str) -> list[str] | None:
            return [a, b] if a != b else None

        return cls(MapDiff.of(_inputs(old), _inputs(new)), pair(old.code_ref, new.code_ref),
                   pair(old.code_hash, new.code_hash),
                   pair(_commit(old), _commit(new)))

    def __bool__(self) -> bool:
        return bool(self.inputs or self.code_ref or self.code_hash or self.code_commit)


@dataclass(frozen=True)
class BundleDiff:
    """What changed from one bundle (old) to another (new).

    Attributes:
        old_uuid, new_uuid: The bundles compared.
        old_name, new_name: Their names.
        old_created, new_created: Their creation times (ISO 8601).
        tags: User tag changes.
        params: Parameter changes.
        lineage: Input and code changes.
        data: Differences between the two values, one per change (empty: same data).
    """

    old_uuid: str
    new_uuid: str
    old_name: str
    new_name: str
    old_created: str
    new_created: str
    tags: MapDiff
    params: MapDiff
    lineage: LineageDiff
    data: list[DataChange]

    @property
    def same(self) -> bool:
        """True when nothing but identity and creation time differs."""
        return not (self.tags or self.params or self.lineage or self.data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the fields (creation times in ISO 8601, UTC), plus ``same``."""
        return {**asdict(self), "same": self.same,
                "old_created": json_date(datetime.fromisoformat(self.old_created)),
                "new_created": json_date(datetime.fromisoformat(self.new_created))}


def _inputs(lineage: Lineage) -> dict[str, str]:
    """Input uuids by arg name (a repeated arg name gets ``#2``, ``#3``...)."""
    out: dict[str, str] = {}
    for dep in lineage.depends_on:
        key, n = dep.arg_name, 1
        while key in out:
            n += 1
            key = f"{dep.arg_name}#{n}"
        out[key] = dep.uuid
    return out


def _commit(lineage: Lineage) -> str:
    return str(lineage.git.get("commit") or "")


# --- log ---------------------------------------------------------------------------------


def log(repo: Repository, ctx: str, name: str | None = None,
        all: bool = False) -> list[LogEntry]:
    """Every version of a bundle name (or, with ``all``, every bundle), newest first.

    Args:
        repo: The repository.
        ctx: The context.
        name: The name (``*`` matches any characters), or the uuid (or a unique
            uuid prefix) of one version.
        all: List every bundle of the context instead of one name.

    Raises:
        UsageError: Neither a name nor ``all`` was given, or both were.
    """
    if (name is None) != bool(all):
        raise UsageError("give a bundle name, or --all (all=True) for every bundle"
                         if name is None else "give a bundle name or --all (all=True), not both")
    found = search(repo, ctx, name=name)
    if not found and name is not None and "*" not in name:  # a uuid: the log of its name
        b = lookup(repo, ctx, name)
        found = search(repo, ctx, name=b.name) if b is not None else []
    return [_entry(repo, b) for b in found]


def _entry(repo: Repository, b: Bundle) -> LogEntry:
    rec = b.record
    return LogEntry(b.uuid, b.name, b.creation_date, b.user_tags, bool(b.is_committed),
                    data_size(rec.data, repo.blobs.read), _commit(rec.lineage),
                    b.processing_name)


def data_size(node: dict[str, Any], read_blob: ReadBlob) -> int:
    """Bytes of the data blobs of a value node, each blob counted once.

    Files in directories are counted from the directory trees; if a tree or
    packed value cannot be read, the blobs named in the record are counted.
    """
    try:
        return sum(blob_refs(node, read_blob).data.values())
    except (OSError, DsdtError, ValueError):
        return sum(blob_refs(node).data.values())


# --- diff --------------------------------------------------------------------------------


def diff(repo: Repository, ctx: str, name: str | None = None,
         uuids: list[str] | None = None) -> BundleDiff:
    """Compare two bundles from their records (never their data).

    Args:
        repo: The repository.
        ctx: The context.
        name: Compare this bundle with the version of its name before it: a
            name (its latest version), a uuid or a unique uuid prefix.
        uuids: Two bundles to compare instead, old then new, each a uuid, a
            unique uuid prefix or a name (its latest version). With a name
            too, both bundles must have that name.

    Raises:
        UsageError: Nothing to compare (no older version, no name and no
            uuids, not two uuids, or a bundle of another name), or an
            ambiguous uuid prefix.
        BundleNotFoundError: A bundle named is not in the context.
    """
    old, new = _pick(repo, ctx, name, list(uuids or []))
    ro, rn = old.record, new.record
    return BundleDiff(ro.uuid, rn.uuid, ro.name, rn.name, ro.created, rn.created,
                      MapDiff.of(ro.tags, rn.tags), MapDiff.of(ro.params, rn.params),
                      LineageDiff.of(ro.lineage, rn.lineage),
                      diff_values(ro.data, rn.data, repo.blobs.read))


def _pick(repo: Repository, ctx: str, name: str | None,
          refs: list[str]) -> tuple[Bundle, Bundle]:
    """The (old, new) bundles to compare."""
    if refs:
        if len(refs) != 2:
            raise UsageError(f"give two bundles to compare (old, then new), not {len(refs)}")
        old, new = (need_ref(repo, ctx, ref) for ref in refs)
        for ref, b in ((refs[0], old), (refs[1], new)):
            if name is not None and b.name != name:
                raise UsageError(f"bundle {ref} is named {b.name!r}, not {name!r}")
        return old, new
    if name is None:
        raise UsageError("name the bundle to compare (a name or uuid), or give two")
    new = need_ref(repo, ctx, name)
    versions = [b.uuid for b in search(repo, ctx, name=new.name) if b.name == new.name]
    at = versions.index(new.uuid) if new.uuid in versions else len(versions)
    if at + 1 >= len(versions):
        raise UsageError(f"bundle {new.name!r} has no version older than {new.uuid} in context "
                         f"{ctx!r}; diff needs two")
    return need(repo, ctx, None, versions[at + 1]), new


