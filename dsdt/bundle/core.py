"""The user-facing :class:`Bundle`: open it, add data and metadata, close it.

A bundle is *new* (made, nothing written), *open* (its view directory exists
for managed files) or *closed* (its record is written and it is a member of
its context). Closing writes blobs, then the record, then the membership ref;
an exception anywhere before that last step leaves nothing behind, and a
``with Bundle(...)`` block that raises writes nothing at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dsdt._fs import remove_tree
from dsdt.bundle.lineage import caller_ref, default_processing_name
from dsdt.bundle.managed import ManagedFiles
from dsdt.bundle.metadata import Metadata
from dsdt.bundle.remote import RemoteMethods
from dsdt.bundle.state import NO_DATA as _NO_DATA
from dsdt.bundle.state import Draft, Known
from dsdt.errors import BundleStateError, UsageError
from dsdt.gc import remove_members
from dsdt.index import PARAM_PREFIX, Row
from dsdt.objects.codecs import Decoder, Encoder
from dsdt.objects.files import FileDecoder, FileEncoder
from dsdt.objects.ids import check_uuid, new_uuid
from dsdt.objects.record import BundleRecord, Lineage, current_host, current_user, now_iso
from dsdt.refs.names import check_bundle_name
from dsdt.remote.copyin import copy_in, urls_in
from dsdt.remote.state import require_reachable
from dsdt.repo import Repository

_PRESENTATION = {"dataframe": "DF", "series": "DF", "ndarray": "TENSOR", "list": "TENSOR",
                 "set": "TENSOR", "frozenset": "TENSOR", "tuple": "ROW", "dict": "ROW",
                 "packed": "ROW", "none": "JSON", "dblink": "SCALAR"}


class Bundle(Metadata, ManagedFiles, RemoteMethods):
    """A named, tagged, immutable version of some data, with its lineage.

    Both documented forms work::

        with Bundle("ctx", "scores") as b:          # 0.8: open, add, close on exit
            b.add_data(df)
        b = Bundle("ctx", name="x", data={"a": 1})  # 0.9: made and closed at once

    Args:
        local_context: Context the bundle is written to (``local`` or ``remote/local``).
        name: Human name; many versions may share it.
        owner: Owner; defaults to the current user.
        data: When given (0.9 form), the bundle is opened, filled and closed at once.
        processing_name, tags, params, dependencies, code_method, vc_info,
        start_time, stop_time: Metadata for the 0.9 one-call form.
        repo: The repository (default: the one found from the current directory).
        follow_symlinks: Store what symlinks leaving an added directory point to
            (default: the ``follow_symlinks`` setting, normally False: refuse them;
            the setting reaches only files inside the project, True anywhere).
    """

    def __init__(self, local_context: str, name: str | None = None, owner: str | None = "",
                 data: Any = _NO_DATA, processing_name: str | None = None,
                 tags: dict[str, str] | None = None, params: dict[str, str] | None = None,
                 dependencies: Any = None, code_method: str | None = None,
                 vc_info: tuple[str, str, str] | None = None, start_time: float = 0,
                 stop_time: float = 0, *, repo: Repository | None = None,
                 follow_symlinks: bool | None = None) -> None:
        self._repo = repo or Repository.current()
        self.local_context = self._repo.resolve_context(local_context)
        if name:
            check_bundle_name(name)
        self._draft: Draft | None = Draft(name or "", owner or current_user())
        self._record: BundleRecord | None = None
        self._known: Known | None = None
        self._sha: str | None = None
        self._committed: bool | None = None
        self._uuid: str | None = None
        self._data: Any = _NO_DATA
        self._opened = False
        self._follow = follow_symlinks
        self._outputs: Any = None
        self._marker: int | None = None
        self._caller = caller_ref(self._repo.project_dir)
        if data is not _NO_DATA and data is not None:
            self.open()
            self._fill(data, processing_name, tags, params, dependencies, code_method, vc_info,
                       start_time, stop_time)
            self.close()

    def _fill(self, data: Any, processing_name: str | None, tags: Any, params: Any,
              dependencies: Any, code_method: str | None, vc_info: Any,
              start_time: float, stop_time: float) -> None:
        try:
            self.add_data(data)
            if processing_name:
                self.processing_name = processing_name
            self.add_tags(tags or {})
            self.add_params(params or {})
            if dependencies:
                self.add_dependencies(dependencies)
            if code_method:
                self.add_code_ref(code_method)
            if vc_info:
                self.add_git_info(*vc_info)
            self.add_timing(start_time, stop_time)
        except BaseException:
            self.abandon()
            raise

    # --- lifecycle ---------------------------------------------------------------------

    @classmethod
    def _closed(cls, repo: Repository, ctx: str, uuid: str, sha: str, known: Known,
                committed: bool | None = None) -> Bundle:
        """A closed bundle whose record is read only when something needs it."""
        b = cls.__new__(cls)
        b._repo, b.local_context, b._draft, b._record = repo, ctx, None, None
        b._known, b._sha, b._committed = known, sha, committed
        b._uuid, b._data, b._opened, b._follow, b._outputs = uuid, _NO_DATA, True, None, None
        b._marker, b._caller = None, ""
        return b

    @classmethod
    def _from_record(cls, repo: Repository, ctx: str, rec: BundleRecord, sha: str) -> Bundle:
        """A closed bundle from its (verified) record."""
        b = cls._closed(repo, ctx, rec.uuid, sha, Known.of(rec))
        b._record = rec
        return b

    @classmethod
    def _from_index(cls, repo: Repository, ctx: str, row: Row, tags: dict[str, str]) -> Bundle:
        """A closed bundle from an index row and its tags (no record read)."""
        user = {k: v for k, v in tags.items() if not k.startswith(PARAM_PREFIX)}
        params = {k[len(PARAM_PREFIX):]: v for k, v in tags.items() if k.startswith(PARAM_PREFIX)}
        known = Known(row.name, row.processing_name, row.owner, row.created, user, params)
        return cls._closed(repo, ctx, row.uuid, row.sha, known, row.committed)

    def open(self, force_uuid: str | None = None) -> Bundle:
        """Open the bundle for writing (creates its managed directory)."""
        if self._opened:
            raise BundleStateError("this bundle was already opened; make a new Bundle")
        self._uuid = check_uuid(force_uuid) if force_uuid else new_uuid()
        if self._repo.member_sha(self.local_context, self._uuid) is not None:
            raise UsageError(f"bundle {self._uuid} already exists in {self.local_context!r}")
        self._opened = True
        return self

    def _release_marker(self) -> None:
        if self._marker is not None:
            self._repo.open_marker(self.uuid).unlink(missing_ok=True)
            os.close(self._marker)
            self._marker = None

    def __enter__(self) -> Bundle:
        return self.open()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abandon()
        else:
            self.close()

    def abandon(self) -> None:
        """Throw away an open bundle: nothing of it is kept."""
        if self._draft is not None and self._uuid is not None:
            remove_tree(self._repo.view_dir(self._uuid))
        self._draft = None
        self._release_marker()

    def close(self) -> Bundle:
        """Write the bundle: blobs, then the record, then the membership ref.

        Remote outputs named in the data are first brought into the bundle; in
        a context with no remote, so are any other ``s3://`` objects it names
        (:mod:`dsdt.remote.copyin`), as Disdat does.

        Raises:
            RemoteError: An ``s3://`` object in the data does not exist or cannot be read.
        """
        draft = self._need_open()
        if not self._repo.context_meta(self.local_context).get("remote_url") and urls_in(
                draft.data):
            # Before anything is final: a missing object leaves the bundle open, as it was.
            draft.data = copy_in(draft.data, self._view(), self._repo.config.s3_endpoint_url)
        try:
            if self._outputs is not None:
                draft.data = self._outputs.bring_in(draft.data, self._view())
            with self._repo.writing():  # gc waits: blobs and record are not referenced yet
                rec = self._build_record(draft)
                sha = self._repo.write_record(rec)
                self._repo.mark_made(self.local_context, rec.uuid, sha)
                self._repo.add_member(self.local_context, rec.uuid, sha)
        except BaseException:
            self.abandon()
            raise
        self._record, self._known, self._sha, self._draft = rec, Known.of(rec), sha, None
        self._release_marker()
        if self._outputs is not None:
            self._outputs.cleanup()
        self._repo.prune_history(self.local_context, rec)
        return self

    def _build_record(self, d: Draft) -> BundleRecord:
        repo = self._repo
        view = repo.view_dir(self.uuid)
        # The checked-in setting reaches only inside the project: a teammate's config
        # and symlink must not make this clone store (and push) a file outside it.
        follow: bool | Path = (repo.project_dir.resolve() if repo.config.follow_symlinks
                               else False) if self._follow is None else self._follow
        files = FileEncoder(repo.blobs, view, repo.stat_cache, follow, private=repo.root)
        node = Encoder(repo.blobs, files).encode_top(d.data)
        name = d.name or (d.code_ref.rsplit(".", 1)[-1] if d.code_ref else "")
        deps = tuple(d.deps)
        git = d.git or repo.git
        kind = node["type"]
        presentation = _PRESENTATION.get(kind, "SCALAR")
        if kind == "directory" and node.get("as") == "list":
            presentation = "TENSOR"
        return BundleRecord(
            uuid=self.uuid, name=name,
            processing_name=d.processing_name
            or default_processing_name(name, d.code_ref, d.params, deps),
            owner=d.owner, created=now_iso(), data=node, presentation=presentation,
            tags=dict(d.tags), params=dict(d.params),
            lineage=Lineage(deps, d.code_ref or self._caller, d.code_hash, dict(git),
                            d.start_time, d.stop_time),
            host=current_host(),
        )

    @property
    def data(self) -> Any:
        """The stored value, as it was stored (files as local paths)."""
        if self._known is None:
            return self._draft_view().data
        if self._data is _NO_DATA:
            repo = self._repo
            require_reachable(repo, self.local_context, [self.uuid])
            remote = self._remote_data()
            files = FileDecoder(repo.blobs, repo.view_dir(self.uuid), remote)
            locate = remote.path if remote is not None else \
                lambda b, _size: repo.blobs.trusted_path(b)
            self._data = Decoder(locate, files).decode(self._need_closed().data)
        return self._data

    def _remote_data(self) -> Any:
        """Access to the remote's copy of the data, when the context has a remote."""
        if not self._repo.context_meta(self.local_context).get("remote_url"):
            return None
        from dsdt.remote.pull import RemoteData
        from dsdt.remote.sync import open_remote

        return RemoteData(open_remote(self._repo, self.local_context))

    def _forget_data(self) -> None:
        self._data = _NO_DATA

    def cat(self) -> Any:
        """The data of a closed bundle (the same as :attr:`data`)."""
        self._need_closed()
        return self.data

    def fill_from_hfr(self, hfr: BundleRecord | Bundle) -> Bundle:
        """Make this new bundle a closed view of an existing record (0.8 API)."""
        if self._opened or self._known is not None:
            raise BundleStateError("fill_from_hfr needs a brand-new Bundle")
        rec = hfr.record if isinstance(hfr, Bundle) else hfr
        self._record, self._known, self._uuid, self._draft = rec, Known.of(rec), rec.uuid, None
        self._opened = True
        return self

    def commit(self) -> Bundle:
        """Commit this closed bundle in its context (``dsdt commit``); returns the bundle."""
        self._need_known()
        self._repo.commit(self.local_context, self.uuid)
        self._committed = True
        return self

    def rm(self) -> None:
        """Remove this bundle from its context (committed or not)."""
        self._need_known()
        remove_members(self._repo, self.local_context, [self.uuid])

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("open" if self._draft is not None else "new")
        uuid = self._uuid or "-"
        return f"<Bundle {self.local_context}/{self.name or '?'} {uuid} ({state})>"
