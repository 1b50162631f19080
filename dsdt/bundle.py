"""The user-facing :class:`Bundle`: open it, add data and metadata, close it.

A bundle is *new* (made, nothing written), *open* (its view directory exists
for managed files) or *closed* (its record is written and it is a member of
its context). Closing writes blobs, then the record, then the membership ref;
an exception anywhere before that last step leaves nothing behind, and a
``with Bundle(...)`` block that raises writes nothing at all.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dsdt._fs import hold_open_marker, remove_tree
from dsdt.bundle_remote import RemoteMethods
from dsdt.errors import BundleStateError, UsageError
from dsdt.index import PARAM_PREFIX, Row
from dsdt.lineage import LineageInfo, default_processing_name
from dsdt.managed import ManagedFiles
from dsdt.objects.codecs import Decoder, Encoder
from dsdt.objects.files import FileDecoder, FileEncoder
from dsdt.objects.ids import check_uuid, new_uuid
from dsdt.objects.record import BundleRecord, Dependency, Lineage, now_iso
from dsdt.refs.names import check_bundle_name, check_tags
from dsdt.repo import Repository

_NO_DATA = object()
_PRESENTATION = {"dataframe": "DF", "series": "DF", "ndarray": "TENSOR", "list": "TENSOR",
                 "set": "TENSOR", "frozenset": "TENSOR", "tuple": "ROW", "dict": "ROW",
                 "packed": "ROW", "none": "JSON", "dblink": "SCALAR"}


@dataclass(frozen=True)
class _Known:
    """What is known of a closed bundle without reading its record (the index has it)."""

    name: str
    processing_name: str
    owner: str
    created: str
    tags: dict[str, str]
    params: dict[str, str]

    @classmethod
    def of(cls, rec: BundleRecord) -> _Known:
        return cls(rec.name, rec.processing_name, rec.owner, rec.created, rec.tags, rec.params)


@dataclass
class _Draft:
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


class Bundle(ManagedFiles, RemoteMethods):
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
            (default: the ``follow_symlinks`` setting, normally False: refuse them).
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
        self._draft: _Draft | None = _Draft(name or "", owner or _user())
        self._record: BundleRecord | None = None
        self._known: _Known | None = None
        self._sha: str | None = None
        self._committed: bool | None = None
        self._uuid: str | None = None
        self._data: Any = _NO_DATA
        self._opened = False
        self._follow = follow_symlinks
        self._outputs: Any = None
        self._marker: int | None = None
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
    def _closed(cls, repo: Repository, ctx: str, uuid: str, sha: str, known: _Known,
                committed: bool | None = None) -> Bundle:
        """A closed bundle whose record is read only when something needs it."""
        b = cls.__new__(cls)
        b._repo, b.local_context, b._draft, b._record = repo, ctx, None, None
        b._known, b._sha, b._committed = known, sha, committed
        b._uuid, b._data, b._opened, b._follow, b._outputs = uuid, _NO_DATA, True, None, None
        b._marker = None
        return b

    @classmethod
    def _from_record(cls, repo: Repository, ctx: str, rec: BundleRecord, sha: str) -> Bundle:
        """A closed bundle from its (verified) record."""
        b = cls._closed(repo, ctx, rec.uuid, sha, _Known.of(rec))
        b._record = rec
        return b

    @classmethod
    def _from_index(cls, repo: Repository, ctx: str, row: Row, tags: dict[str, str]) -> Bundle:
        """A closed bundle from an index row and its tags (no record read)."""
        user = {k: v for k, v in tags.items() if not k.startswith(PARAM_PREFIX)}
        params = {k[len(PARAM_PREFIX):]: v for k, v in tags.items() if k.startswith(PARAM_PREFIX)}
        known = _Known(row.name, row.processing_name, row.owner, row.created, user, params)
        return cls._closed(repo, ctx, row.uuid, row.sha, known, row.committed)

    def open(self, force_uuid: str | None = None) -> Bundle:
        """Open the bundle for writing (creates its managed directory)."""
        if self._opened:
            raise BundleStateError("this bundle was already opened; make a new Bundle")
        self._uuid = check_uuid(force_uuid) if force_uuid else new_uuid()
        if self._repo.member_sha(self.local_context, self._uuid) is not None:
            raise UsageError(f"bundle {self._uuid} already exists in {self.local_context!r}")
        self._marker = hold_open_marker(self._repo.open_marker(self._uuid))
        self._repo.view_dir(self._uuid).mkdir(parents=True, exist_ok=True)
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
        """Write the bundle: blobs, then the record, then the membership ref."""
        draft = self._need_open()
        try:
            if self._outputs is not None:
                draft.data = self._outputs.bring_in(draft.data, self._repo.view_dir(self.uuid))
            with self._repo.writing():  # gc waits: blobs and record are not referenced yet
                rec = self._build_record(draft)
                sha = self._repo.write_record(rec)
                self._repo.add_member(self.local_context, rec.uuid, sha)
        except BaseException:
            self.abandon()
            raise
        self._record, self._known, self._sha, self._draft = rec, _Known.of(rec), sha, None
        self._release_marker()
        if self._outputs is not None:
            self._outputs.cleanup()
        self._repo.prune_history(self.local_context, rec)
        return self

    def _build_record(self, d: _Draft) -> BundleRecord:
        repo = self._repo
        view = repo.view_dir(self.uuid)
        follow = repo.config.follow_symlinks if self._follow is None else self._follow
        files = FileEncoder(repo.blobs, view, repo.stat_cache, follow, private=repo.root)
        node = Encoder(repo.blobs, files).encode_top(d.data)
        name = d.name or (d.code_ref.rsplit(".", 1)[-1] if d.code_ref else "")
        deps = tuple(d.deps)
        git = d.git or (repo.git if d.code_ref else {})
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
            lineage=Lineage(deps, d.code_ref, d.code_hash, dict(git), d.start_time, d.stop_time),
        )

    def _need_open(self) -> _Draft:
        if self._draft is None or not self._opened:
            state = "closed" if self._known is not None else "not open"
            raise BundleStateError(f"bundle is {state}; only an open bundle can be changed")
        return self._draft

    def _draft_view(self) -> _Draft:
        if self._draft is None:
            raise BundleStateError("bundle was abandoned")
        return self._draft

    def _need_known(self) -> _Known:
        if self._known is None:
            raise BundleStateError("bundle is not closed yet; close it (or leave the with block)")
        return self._known

    def _need_closed(self) -> BundleRecord:
        self._need_known()
        if self._record is None:
            self._record = self._repo.read_record(self.uuid, self._sha)
        return self._record

    # --- mutators (open bundles) -------------------------------------------------------

    def add_data(self, data: Any) -> Bundle:
        """Set the bundle's data (replacing earlier data)."""
        from dsdt.objects.codecs import check_supported

        check_supported(data)
        self._need_open().data = data
        return self

    def add_tags(self, tags: dict[str, str]) -> Bundle:
        """Add user tags (``str: str``); existing keys are updated."""
        tags = check_tags(tags)
        if any(k.startswith(PARAM_PREFIX) for k in tags):
            raise UsageError(f"tag keys starting with {PARAM_PREFIX!r} are reserved for params")
        self._need_open().tags.update(tags)
        return self

    def add_params(self, params: dict[str, str]) -> Bundle:
        """Add parameters (``str: str``), shown in ``tags`` with the ``__param.`` prefix."""
        self._need_open().params.update(check_tags(params, "params"))
        return self

    def add_dependencies(self, bundles: Any, arg_names: list[str] | None = None) -> Bundle:
        """Record upstream bundles (one or a list) this one was made from."""
        draft = self._need_open()
        items = list(bundles) if isinstance(bundles, list | tuple) else [bundles]
        names = arg_names or [f"_arg_{len(draft.deps) + i}" for i in range(len(items))]
        if len(names) != len(items):
            raise UsageError("give one arg name per dependency")
        for b, arg in zip(items, names, strict=True):
            if not isinstance(b, Bundle):
                raise UsageError(f"a dependency must be a Bundle, not {type(b).__name__}")
            draft.deps.append(Dependency(b.processing_name, b.uuid, str(arg)))
        return self

    def add_dependency(self, bundle: Bundle, arg_name: str | None = None) -> Bundle:
        """Record one upstream bundle (0.8 name)."""
        return self.add_dependencies([bundle], [arg_name] if arg_name else None)

    def add_code_ref(self, code_ref: str, code_hash: str = "") -> Bundle:
        """Record the code that made the bundle (e.g. ``module.Class``) and a hash of its source."""
        draft = self._need_open()
        draft.code_ref = str(code_ref)
        if code_hash:
            draft.code_hash = str(code_hash)
        return self

    def add_git_info(self, repo: str, commit: str, branch: str, dirty: bool = False) -> Bundle:
        """Record the git facts of the code that made the bundle."""
        self._need_open().git = {"repo": repo, "commit": commit, "branch": branch,
                                 "dirty": bool(dirty)}
        return self

    def add_timing(self, start_time: float, stop_time: float) -> Bundle:
        """Record when the producing code started and stopped (epoch seconds)."""
        draft = self._need_open()
        draft.start_time, draft.stop_time = float(start_time), float(stop_time)
        return self

    # --- readers -----------------------------------------------------------------------

    @property
    def uuid(self) -> str:
        """The bundle's uuid (assigned when opened)."""
        if self._uuid is None:
            raise BundleStateError("bundle has no uuid until it is opened")
        return self._uuid

    @property
    def closed(self) -> bool:
        """True once the bundle is written."""
        return self._known is not None

    @property
    def name(self) -> str:
        """Human name."""
        return self._known.name if self._known else self._draft_view().name

    @name.setter
    def name(self, value: str) -> None:
        self._need_open().name = check_bundle_name(value)

    @property
    def processing_name(self) -> str:
        """Processing name: bundles made the same way share it."""
        if self._known:
            return self._known.processing_name
        d = self._draft_view()
        return d.processing_name or default_processing_name(d.name, d.code_ref, d.params,
                                                            tuple(d.deps))

    @processing_name.setter
    def processing_name(self, value: str) -> None:
        self._need_open().processing_name = check_bundle_name(value)

    @property
    def owner(self) -> str:
        """Owner."""
        return self._known.owner if self._known else self._draft_view().owner

    @property
    def creation_date(self) -> datetime:
        """When the bundle was closed (aware UTC datetime)."""
        return datetime.fromisoformat(self._need_known().created)

    @property
    def user_tags(self) -> dict[str, str]:
        """Tags the user set (not parameters)."""
        return dict(self._known.tags if self._known else self._draft_view().tags)

    @property
    def params(self) -> dict[str, str]:
        """Parameters (without the ``__param.`` prefix)."""
        return dict(self._known.params if self._known else self._draft_view().params)

    @property
    def tags(self) -> dict[str, str]:
        """All tags: user tags, ``committed`` when committed, and ``__param.<k>`` params."""
        out = self.user_tags
        if self.closed and self.is_committed:
            out["committed"] = "True"
        out.update({PARAM_PREFIX + k: v for k, v in self.params.items()})
        return out

    @property
    def is_committed(self) -> bool:
        """True if committed in its context (as of the search, for search results)."""
        if self._committed is not None:
            return self._committed
        self._need_known()
        return self._repo.is_committed(self.local_context, self.uuid, self._sha or "")

    @property
    def lineage(self) -> LineageInfo:
        """Inputs, code and timing of the bundle."""
        return LineageInfo.of(self._need_closed())

    @property
    def dependencies(self) -> dict[str, tuple[str, str]]:
        """``{arg_name: (processing_name, uuid)}`` of upstream bundles."""
        deps = self._need_closed().lineage.depends_on if self._known else self._draft_view().deps
        return {d.arg_name: (d.processing_name, d.uuid) for d in deps}

    @property
    def code_ref(self) -> str:
        """The code reference (``module.Class``, ``add``...)."""
        return self._need_closed().lineage.code_ref

    @property
    def git_info(self) -> dict[str, Any]:
        """Git facts (repo, commit, branch, dirty) of the producing code."""
        return dict(self._need_closed().lineage.git)

    @property
    def timing(self) -> tuple[float, float]:
        """``(start_time, stop_time)`` of the producing code."""
        lin = self._need_closed().lineage
        return lin.start_time, lin.stop_time

    @property
    def local_dir(self) -> str:
        """Directory where the bundle's files are (managed files while open)."""
        return str(self._repo.view_dir(self.uuid))

    @property
    def presentation(self) -> str:
        """How the data presents: DF, TENSOR, ROW, SCALAR or JSON."""
        return self._need_closed().presentation

    @property
    def record(self) -> BundleRecord:
        """The stored record of a closed bundle."""
        return self._need_closed()

    @property
    def data(self) -> Any:
        """The stored value, as it was stored (files as local paths)."""
        if self._known is None:
            return self._draft_view().data
        if self._data is _NO_DATA:
            repo = self._repo
            remote = self._remote_data()
            files = FileDecoder(repo.blobs, repo.view_dir(self.uuid), remote)
            locate = remote.path if remote is not None else lambda b, _size: repo.blobs.path(b)
            self._data = Decoder(locate, files).decode(self._need_closed().data)
        return self._data

    def _remote_data(self) -> Any:
        """Access to the remote's copy of the data, when the context has a remote."""
        if not self._repo.context_meta(self.local_context).get("remote_url"):
            return None
        from dsdt.remote.sync import RemoteData, open_remote

        return RemoteData(open_remote(self._repo, self.local_context))

    def _forget_data(self) -> None:
        self._data = _NO_DATA

    def cat(self) -> Any:
        """The data of a closed bundle."""
        self._need_closed()
        return self.data

    def fill_from_hfr(self, hfr: BundleRecord | Bundle) -> Bundle:
        """Make this new bundle a closed view of an existing record (0.8 API)."""
        if self._opened or self._known is not None:
            raise BundleStateError("fill_from_hfr needs a brand-new Bundle")
        rec = hfr.record if isinstance(hfr, Bundle) else hfr
        self._record, self._known, self._uuid, self._draft = rec, _Known.of(rec), rec.uuid, None
        self._opened = True
        return self

    def commit(self) -> Bundle:
        """Commit this bundle in its context."""
        self._need_known()
        self._repo.commit(self.local_context, self.uuid)
        self._committed = True
        return self

    def rm(self) -> None:
        """Remove this bundle from its context (committed or not)."""
        from dsdt.gc import remove_members

        self._need_known()
        remove_members(self._repo, self.local_context, [self.uuid])

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("open" if self._draft is not None else "new")
        uuid = self._uuid or "-"
        return f"<Bundle {self.local_context}/{self.name or '?'} {uuid} ({state})>"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
