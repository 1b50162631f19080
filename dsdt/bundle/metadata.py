"""What a :class:`~dsdt.bundle.Bundle` says about itself: set while open, read once closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dsdt.bundle.lineage import LineageInfo, default_processing_name
from dsdt.bundle.state import BundleState
from dsdt.errors import BundleStateError, UsageError
from dsdt.index import PARAM_PREFIX
from dsdt.objects.record import BundleRecord, Dependency
from dsdt.refs.names import check_bundle_name, check_tags


class CallableBool:
    """A bool that may also be called: ``b.is_committed`` and Disdat's ``b.is_committed()``.

    It is truthy exactly when its value is, equals ``True``/``False`` and
    prints as them; ``bool(flag)`` (or calling it) gives the plain ``bool``.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bool) -> None:
        self._value = bool(value)

    def __bool__(self) -> bool:
        return self._value

    def __call__(self) -> bool:
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CallableBool):
            return self._value == other._value
        return self._value == other if isinstance(other, bool | int) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return repr(self._value)


class Metadata(BundleState):
    """The mutators of an open bundle and the readers of any bundle."""

    def add_data(self, data: Any) -> Metadata:
        """Set the bundle's data (replacing earlier data).

        Files (paths, ``luigi.LocalTarget``) are copied into the bundle when it
        closes, and so are S3 objects (``s3://bucket/key`` strings, luigi
        ``S3Target``), downloaded with dsdt's S3 settings.
        """
        from dsdt.objects.codecs import check_supported
        from dsdt.remote.copyin import targets_as_urls

        data = targets_as_urls(data)
        check_supported(data)
        self._need_open().data = data
        return self

    def add_tags(self, tags: dict[str, str]) -> Metadata:
        """Add user tags (``str: str``); existing keys are updated."""
        tags = check_tags(tags)
        if any(k.startswith(PARAM_PREFIX) for k in tags):
            raise UsageError(f"tag keys starting with {PARAM_PREFIX!r} are reserved for params")
        self._need_open().tags.update(tags)
        return self

    def add_params(self, params: dict[str, str]) -> Metadata:
        """Add parameters (``str: str``), read back in ``params`` (never in ``tags``)."""
        self._need_open().params.update(check_tags(params, "params"))
        return self

    def add_dependencies(self, bundles: Any, arg_names: list[str] | None = None) -> Metadata:
        """Record upstream bundles (one or a list) this one was made from."""
        draft = self._need_open()
        items = list(bundles) if isinstance(bundles, list | tuple) else [bundles]
        names = arg_names or [f"_arg_{len(draft.deps) + i}" for i in range(len(items))]
        if len(names) != len(items):
            raise UsageError("give one arg name per dependency")
        for b, arg in zip(items, names, strict=True):
            if not isinstance(b, Metadata):
                raise UsageError(f"a dependency must be a Bundle, not {type(b).__name__}")
            draft.deps.append(Dependency(b.processing_name, b.uuid, str(arg)))
        return self

    def add_dependency(self, bundle: Any, arg_name: str | None = None) -> Metadata:
        """Record one upstream bundle (0.8 name)."""
        return self.add_dependencies([bundle], [arg_name] if arg_name else None)

    def add_code_ref(self, code_ref: str, code_hash: str = "") -> Metadata:
        """Record the code that made the bundle (e.g. ``module.Class``) and a hash of its source."""
        draft = self._need_open()
        draft.code_ref = str(code_ref)
        if code_hash:
            draft.code_hash = str(code_hash)
        return self

    def add_git_info(self, repo: str, commit: str, branch: str, dirty: bool = False) -> Metadata:
        """Record the git facts of the code that made the bundle."""
        self._need_open().git = {"repo": repo, "commit": commit, "branch": branch,
                                 "dirty": bool(dirty)}
        return self

    def add_timing(self, start_time: float, stop_time: float) -> Metadata:
        """Record when the producing code started and stopped (epoch seconds)."""
        draft = self._need_open()
        draft.start_time, draft.stop_time = float(start_time), float(stop_time)
        return self

    # --- readers -----------------------------------------------------------------------

    @property
    def uuid(self) -> str:
        """The bundle's uuid (assigned when opened)."""
        if self._uuid is None:
            raise BundleStateError(self._how_to_open())
        return self._uuid

    @property
    def closed(self) -> bool:
        """True once the bundle is written."""
        return self._known is not None

    @property
    def name(self) -> str:
        """Human name; many versions may share it (set while open, e.g. ``b.name = "x"``)."""
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
        """Who made the bundle (default: the current user's login name)."""
        return self._known.owner if self._known else self._draft_view().owner

    @property
    def creation_date(self) -> datetime:
        """When the bundle was closed (aware UTC datetime)."""
        return datetime.fromisoformat(self._need_known().created)

    @property
    def user_tags(self) -> dict[str, str]:
        """The tags the user set (0.8's name; ``tags`` also has ``committed``)."""
        return dict(self._known.tags if self._known else self._draft_view().tags)

    @property
    def params(self) -> dict[str, str]:
        """Parameters (without the ``__param.`` prefix)."""
        return dict(self._known.params if self._known else self._draft_view().params)

    @property
    def tags(self) -> dict[str, str]:
        """The user's tags, and ``committed: "True"`` once committed, as in Disdat.

        Parameters are not tags: they are in ``params``.
        """
        out = self.user_tags
        if self.closed and self.is_committed:
            out["committed"] = "True"
        return out

    @property
    def is_committed(self) -> CallableBool:
        """Whether committed in its context (as of the search, for search results).

        Both ``b.is_committed`` and Disdat's ``b.is_committed()`` work.
        """
        if self._committed is not None:
            return CallableBool(self._committed)
        self._need_known()
        return CallableBool(self._repo.is_committed(self.local_context, self.uuid,
                                                    self._sha or ""))

    @property
    def lineage(self) -> LineageInfo:
        """Inputs, code and timing of a closed bundle, as :func:`dsdt.api.lineage` gives them."""
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
        return str(self._view())

    @property
    def presentation(self) -> str:
        """How the data presents: DF, TENSOR, ROW, SCALAR or JSON."""
        return self._need_closed().presentation

    @property
    def record(self) -> BundleRecord:
        """The stored record of a closed bundle (its YAML in ``.dsdt/``, parsed)."""
        return self._need_closed()
