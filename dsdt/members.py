"""Records, membership refs, pulled bundles and made markers: half of :class:`Repository`.

A context's members are its checked-in membership refs plus the bundles
pulled from its remote (remote-tracking state, ``docs/format.md`` section
10). Records are read from ``records/`` or, for pulled bundles, from
``cache/records/``, and always verified against the sha256 a ref names.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from pathlib import Path
from typing import Any

from dsdt._fs import Confined, DirFiles, atomic_write, is_regular, read_regular, write_once
from dsdt._locks import FileLock
from dsdt.config import Config
from dsdt.errors import BundleNotFoundError, ConflictError, CorruptObjectError, PlantedPathError
from dsdt.index import Index, Query
from dsdt.objects.ids import is_uuid, sha256_bytes
from dsdt.objects.record import (
    MAX_RECORD_BYTES,
    BundleRecord,
    check_record,
    dump_record,
    load_record_doc,
)
from dsdt.refs.store import RefStore
from dsdt.refs.tracking import Listing, TrackingStore

BUNDLES, COMMITTED = "bundles", "committed"
_RECORD_DIRS = ("records", "cache/records")  # checked-in records, then pulled ones


class Members(ABC):
    """Records and membership of a repository (the base of :class:`dsdt.repo.Repository`)."""

    root: Path
    confined: Confined
    config: Config
    refs: RefStore
    tracking: TrackingStore
    index: Index

    @abstractmethod
    def context_names(self) -> list[str]:
        """Names of all contexts, sorted."""

    @abstractmethod
    def has_context(self, ctx: str) -> bool:
        """True if context ``ctx`` exists."""

    @abstractmethod
    def context_meta(self, ctx: str) -> dict[str, str | None]:
        """The remote binding of ``ctx``."""

    def record_path(self, uuid: str) -> Path:
        """Where the record of ``uuid`` lives (its directory checked: no symlink)."""
        return self.confined.dir(self.root / "records" / uuid[:2]) / f"{uuid}.yaml"

    def pulled_record_path(self, uuid: str) -> Path:
        """Where a record pulled from a remote is kept, apart from the checked-in ones."""
        return self.confined.dir(self.root / "cache" / "records" / uuid[:2]) / f"{uuid}.yaml"

    def write_record(self, rec: BundleRecord) -> str:
        """Write a record once (it must pass the schema it is read with); return its sha256."""
        doc = check_record(rec.to_dict(), f"new record of bundle {rec.uuid}")
        data = dump_record(doc)
        sha = sha256_bytes(data)
        path = self.record_path(rec.uuid)
        if not write_once(path, data) and sha256_bytes(
                read_regular(path, MAX_RECORD_BYTES)) != sha:
            raise CorruptObjectError(f"a different record for bundle {rec.uuid} already exists")
        return sha

    def read_record(self, uuid: str, sha: str | None = None) -> BundleRecord:
        """Read a record, verifying it against ``sha`` (the value of the ref naming it)."""
        with self.record_reader() as reader:
            return reader.read(uuid, sha)

    def record_reader(self) -> RecordReader:
        """A reader of many records (the index's rebuild reads every one)."""
        return RecordReader(self)

    @staticmethod
    def member_ref(ctx: str, uuid: str, kind: str = BUNDLES) -> str:
        """Ref name of a bundle's membership (or commit mark) in a context."""
        return f"refs/contexts/{ctx}/{kind}/{uuid[:2]}/{uuid}"

    def member_sha(self, ctx: str, uuid: str, kind: str = BUNDLES) -> str | None:
        """Record sha of a member of ``ctx`` (None if not a member / not committed).

        A bundle pulled from the context's remote (and not removed here since)
        is a committed member too, although no checked-in ref names it.
        """
        return self.refs.read(self.member_ref(ctx, uuid, kind)) or self._tracked_sha(ctx, uuid)

    # --- remote-tracking state ----------------------------------------------------------

    def listing(self, ctx: str) -> Listing | None:
        """What the remote bound to ``ctx`` held when last seen (None: never seen, unbound)."""
        listing = self.tracking.read(ctx)
        if listing is None or not self.has_context(ctx):
            return None
        meta = self.context_meta(ctx)
        return listing if listing.bound_to(meta["remote_url"], meta["remote_context"]) else None

    def tracked(self, ctx: str) -> dict[str, str]:
        """Members of ``ctx`` that come from its remote: seen there, with a pulled record."""
        listing = self.listing(ctx)
        if listing is None:
            return {}
        return {u: s for u, s in listing.members.items() if self._pulled(u)}

    def _tracked_sha(self, ctx: str, uuid: str) -> str | None:
        listing = self.listing(ctx)
        sha = listing.members.get(uuid) if listing is not None else None
        return sha if sha is not None and self._pulled(uuid) else None

    def _pulled(self, uuid: str) -> bool:
        """True if the record pulled for ``uuid`` is here (not behind a planted path: a
        symlink in ``cache/records`` hides no checked-in bundle; fsck names it)."""
        try:
            return is_regular(self.pulled_record_path(uuid))
        except PlantedPathError:
            return False

    def adopt(self, ctx: str, uuid: str, sha: str) -> None:
        """Make a bundle pulled into ``ctx`` a checked-in, committed member of it."""
        with self.record_reader() as reader:
            _path, data = reader.verified_bytes(uuid, sha)
        path = self.record_path(uuid)
        if not write_once(path, data) and sha256_bytes(read_regular(path, MAX_RECORD_BYTES)) != sha:
            raise CorruptObjectError(f"a different record for bundle {uuid} is checked in")
        for kind in (COMMITTED, BUNDLES):  # the commit mark first: membership makes it appear
            ref = self.member_ref(ctx, uuid, kind)
            if self.refs.read(ref) != sha:
                self.refs.swap(ref, self.refs.read(ref), sha)

    def tracked_anywhere(self) -> set[str]:
        """Uuids that any context's remote held when last seen."""
        out: set[str] = set()
        for ctx in self.context_names():
            listing = self.listing(ctx)
            if listing is not None:
                out |= set(listing.members)
        return out

    def tracking_stamps(self) -> dict[str, int]:
        """Per context, a value that changes when its tracked members may have."""
        out = {}
        for ctx in self.context_names():
            stamp = self.tracking.stamp(ctx)
            if stamp:
                meta = self.refs.path(f"refs/contexts/{ctx}/context.yaml").stat().st_mtime_ns
                out[ctx] = hash((stamp, meta)) & ((1 << 62) - 1)
        return out

    def forget_tracked(self, ctx: str, uuids: list[str]) -> None:
        """Stop showing remote bundles here (until they are pulled again)."""
        listing = self.listing(ctx)
        if listing is not None and any(u in listing.members for u in uuids):
            self.tracking.update(ctx, listing.url, listing.remote_context,
                                 lambda seen: [seen.members.pop(u, None) for u in uuids])
            for uuid in uuids:  # the record goes too: only a new pull shows the bundle again
                self.pulled_record_path(uuid).unlink(missing_ok=True)

    def add_member(self, ctx: str, uuid: str, sha: str) -> None:
        """Make a written record a member of ``ctx`` (the last step of writing a bundle)."""
        self.refs.create(self.member_ref(ctx, uuid), sha)

    def _turn(self, ctx: str, uuid: str) -> FileLock:
        """The lock that makes a commit and a removal of one bundle take turns (a removal
        that keeps committed bundles must not miss a commit made meanwhile)."""
        mark = self.refs.path(self.member_ref(ctx, uuid, COMMITTED))
        return FileLock(mark.with_name(f"{uuid}.turn"), self.config.lock_timeout)

    def commit(self, ctx: str, uuid: str) -> bool:
        """Mark a member committed; False if it already was (also when racing another commit)."""
        with self._turn(ctx, uuid):
            sha = self.refs.read(self.member_ref(ctx, uuid))
            if sha is None:
                if self._tracked_sha(ctx, uuid) is not None:
                    return False  # pulled from the remote: committed there
                raise BundleNotFoundError(f"bundle {uuid} is not in context {ctx!r}")
            ref = self.member_ref(ctx, uuid, COMMITTED)
            while (mark := self.refs.read(ref)) != sha:
                try:
                    self.refs.swap(ref, mark, sha)  # replaces a stale mark of another record
                    return True
                except ConflictError:
                    continue  # somebody else changed it meanwhile: look again
            return False

    def prune_history(self, ctx: str, rec: BundleRecord) -> None:
        """Apply the ``uncommitted_history`` limit to the name of a newly written bundle."""
        limit = self.config.uncommitted_history
        if limit is None:
            return
        rows = self.index.find(ctx, Query(committed=False))
        same = [r for r in rows if r.name == rec.name and r.uuid != rec.uuid]
        for row in same[limit:]:
            self.remove_member(ctx, row.uuid, keep_committed=True)

    def is_committed(self, ctx: str, uuid: str, sha: str) -> bool:
        """True if the commit mark of ``uuid`` in ``ctx`` names record ``sha``."""
        return self.member_sha(ctx, uuid, COMMITTED) == sha

    def remove_member(self, ctx: str, uuid: str, *, keep_committed: bool = False) -> bool:
        """Drop a bundle from ``ctx``: membership first, then its commit mark (and stop
        showing it as pulled from the remote).

        Args:
            ctx: The context.
            uuid: The bundle.
            keep_committed: Leave it if it is committed, also by a commit made since
                the caller looked (they take turns).

        Returns:
            False if it was kept because it is committed.
        """
        with self._turn(ctx, uuid):
            sha = self.member_sha(ctx, uuid) if keep_committed else None
            if sha is not None and self.is_committed(ctx, uuid, sha):
                return False
            self.refs.delete(self.member_ref(ctx, uuid))
            self.refs.delete(self.member_ref(ctx, uuid, COMMITTED))
        self.forget_tracked(ctx, [uuid])
        return True

    def _made_marker(self, uuid: str) -> Path:
        return self.confined.dir(self.root / "cache" / "made" / uuid[:2]) / uuid

    def mark_made(self, ctx: str, uuid: str, sha: str) -> None:
        """Remember (in the cache, which git does not carry) that this clone made a bundle."""
        marker = self._made_marker(uuid)
        atomic_write(marker, f"{ctx}\t{sha}\n".encode(), mode=0o444)

    def vouched(self, ctx: str, uuid: str, sha: str) -> bool:
        """True when this clone made record ``sha`` of ``uuid`` in context ``ctx``.

        Push uploads data only for vouched bundles: refs or a record someone
        committed (or pulled) could otherwise name this clone's private blobs,
        or a bundle made in a private context, and have them uploaded. The
        marker is a read-only file, which git never writes, naming the context
        and the record.
        """
        marker = self._made_marker(uuid)
        try:
            if os.lstat(marker).st_mode & 0o222:
                return False  # not dsdt's: git writes files writable
            return read_regular(marker, 4096) == f"{ctx}\t{sha}\n".encode()
        except (FileNotFoundError, CorruptObjectError):
            return False


class RecordReader:
    """Reads and verifies records, keeping the record directories of recent shards open.

    A record is read from ``records/`` or, for a pulled bundle, from
    ``cache/records/``, and verified against the sha256 its ref names.
    """

    _KEEP = 16  # record directories that stay open (two per shard)

    def __init__(self, members: Members) -> None:
        self._members = members
        self._open: OrderedDict[tuple[str, str], DirFiles] = OrderedDict()

    def read(self, uuid: str, sha: str | None = None) -> BundleRecord:
        """The record of ``uuid``, verified against ``sha`` when given.

        Raises:
            CorruptObjectError: It is missing, does not match, or is not a record.
        """
        return BundleRecord.from_checked(self.read_checked(uuid, sha))

    def read_checked(self, uuid: str, sha: str | None = None) -> dict[str, Any]:
        """The record of ``uuid`` as the mapping :func:`check_record` passed (see :meth:`read`)."""
        path, data = self.verified_bytes(uuid, sha)
        what = f"record {path}"
        doc = check_record(load_record_doc(data, what), what)
        if doc["uuid"] != uuid:
            raise CorruptObjectError(f"record {path} names uuid {doc['uuid']}, not {uuid}")
        return doc

    def verified_bytes(self, uuid: str, sha: str | None) -> tuple[str, bytes]:
        """Where the record of ``uuid`` is and its bytes: the checked-in one, else the
        pulled one, whichever matches ``sha``."""
        if not is_uuid(uuid):
            raise CorruptObjectError(f"{uuid[:40]!r} is not a bundle uuid; run dsdt fsck")
        found: tuple[str, bytes] | None = None
        name = f"{uuid}.yaml"
        for where in _RECORD_DIRS:  # the pulled ones are opened only when needed
            files = self._dir(where, uuid[:2])
            try:
                data = files.read(name, MAX_RECORD_BYTES)
            except FileNotFoundError:
                continue
            if sha is None or sha256_bytes(data) == sha:
                return f"{files.path}/{name}", data
            found = found or (f"{files.path}/{name}", data)
        if found is None:
            raise CorruptObjectError(f"record of bundle {uuid} is missing "
                                     f"({self._members.record_path(uuid)})")
        raise CorruptObjectError(f"record of bundle {uuid} does not match the sha256 its ref "
                                 "names (edited by hand?); run dsdt fsck")

    def _dir(self, where: str, shard: str) -> DirFiles:
        """The open directory ``where/shard`` (a symlink there fails only what reads it)."""
        key = (where, shard)
        files = self._open.get(key)
        if files is not None:
            self._open.move_to_end(key)
            return files
        m = self._members
        files = self._open[key] = DirFiles(m.confined.dir(m.root / where / shard))
        if len(self._open) > self._KEEP:
            self._open.popitem(last=False)[1].close()
        return files

    def close(self) -> None:
        """Close every directory held open."""
        while self._open:
            self._open.popitem()[1].close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
