"""Luigi tasks whose outputs are dsdt bundles (``PipeTask``, ``BundleWrapperTask``).

A user subclasses :class:`PipeTask`, declares luigi parameters, names its
inputs in ``pipe_requires`` and computes in ``pipe_run``; the return value
becomes the task's bundle. Tasks are run by :func:`dsdt.pipe.apply.apply`,
which first decides for every task whether an existing bundle is reused or a
new one is made (:mod:`dsdt.pipe.plan`), so each task's
:meth:`PipeTask.output` tells luigi exactly what has to run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from typing import Any

import luigi

from dsdt.bundle import Bundle
from dsdt.errors import BundleStateError, UsageError
from dsdt.pipe import dynamic, incremental, plan
from dsdt.pipe.plan import RESERVED, PlanEntry, code_hash, code_ref
from dsdt.pipe.targets import BundleTarget, ExternalBundle
from dsdt.refs.names import check_tags


class PipeTask(luigi.Task):
    """A luigi task whose output is a dsdt bundle.

    Subclasses implement ``pipe_requires`` (optional) and ``pipe_run``. The
    reserved parameters below are set by ``apply``; none is significant.
    """

    dsdt_external = False

    data_context = luigi.OptionalParameter(default=None, significant=False)
    force = luigi.BoolParameter(default=False, significant=False)
    driver_output_bundle = luigi.OptionalParameter(default=None, significant=False)
    output_tags = luigi.DictParameter(default={}, significant=False)
    input_tags = luigi.DictParameter(default={}, significant=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deps: dict[str, luigi.Task] = {}
        self._ext_cache: dict[str, tuple[ExternalBundle, Bundle | None]] = {}
        self._forced = False
        self._bundle_name: str | None = None
        self._user_tags: dict[str, str] = {}
        self._bundle: Bundle | None = None
        self._inputs: dict[str, Bundle] = {}
        self._proc: str | None = None

    # --- to implement ------------------------------------------------------------------

    def pipe_requires(self) -> None:
        """Declare inputs with :meth:`add_dependency` / :meth:`add_external_dependency`."""

    def pipe_run(self, **upstream: Any) -> Any:
        """Compute the task's data from its inputs (one kwarg per dependency, by arg name)."""
        return None

    # --- declaring inputs --------------------------------------------------------------

    def requires(self) -> dict[str, luigi.Task]:
        """The upstream tasks by arg name (``pipe_requires`` is called each time)."""
        self._deps = {}
        self.pipe_requires()
        return dict(self._deps)

    def _new_arg(self, arg: str) -> None:
        if not isinstance(arg, str) or not arg.isidentifier():
            raise UsageError(f"dependency arg name {arg!r} must be a Python identifier")
        if arg in self._deps and not self._missing_external(arg):
            raise UsageError(f"{type(self).__name__} declares the dependency {arg!r} twice")

    def add_dependency(self, arg: str, cls: type[PipeTask], params: dict[str, Any]) -> None:
        """Make the output of task ``cls(**params)`` the input ``arg`` of ``pipe_run``."""
        self._new_arg(arg)
        self._deps[arg] = self._dep_task(arg, cls, params, bool(self.force))

    def yield_dependency(self, arg: str, cls: type[PipeTask], params: dict[str, Any]) -> Any:
        """A dynamic input: ``data = yield self.yield_dependency(arg, cls, params)`` in pipe_run.

        See :mod:`dsdt.pipe.dynamic` (force flags do not apply to dynamic dependencies).
        """
        self._new_arg(arg)
        if arg in self._inputs:
            raise UsageError(f"{type(self).__name__} yields the dependency {arg!r} twice")
        return dynamic.DynamicDependency(arg, self._dep_task(arg, cls, params, False))

    def _dep_task(self, arg: str, cls: type[PipeTask], params: dict[str, Any],
                  force: bool) -> PipeTask:
        if not isinstance(params, dict):
            raise UsageError(f"params of dependency {arg!r} must be a dict, not "
                             f"{type(params).__name__}")
        if not (isinstance(cls, type) and issubclass(cls, PipeTask)):
            raise UsageError(f"dependency {arg!r} must be a PipeTask subclass, not {cls!r}")
        reserved = sorted(set(params) & set(RESERVED))
        if reserved:
            raise UsageError(f"params of dependency {arg!r} use reserved names {reserved}")
        return cls(**params, data_context=self.data_context, force=force,
                   input_tags=self.input_tags)

    def add_external_dependency(self, arg: str, cls: type[PipeTask], params: dict[str, Any],
                                human_name: str | None = None,
                                uuid: str | None = None) -> Bundle | None:
        """Use an existing bundle as input ``arg``; it is never re-made.

        The bundle is the one with ``uuid``, else the latest named
        ``human_name`` (neither needs an instance of ``cls``), else the latest
        made by ``cls(**params)`` (for :class:`BundleWrapperTask`: the latest
        bundle named ``params['name']``). Bundles must carry the apply's
        ``input_tags``.

        Returns:
            The bundle, or None when none matches (as Disdat: assert, or fall
            back by declaring ``arg`` again, e.g. with :meth:`add_dependency`).
            A run that needs a missing input fails (``ApplyError``).
        """
        self._new_arg(arg)
        if not isinstance(params, dict):
            raise UsageError(f"params of external dependency {arg!r} must be a dict")
        if not (isinstance(cls, type) and issubclass(cls, PipeTask)):
            raise UsageError(f"external dependency {arg!r} must name a PipeTask subclass, "
                             f"not {cls!r}")
        key = json.dumps([arg, code_ref(cls), sorted(map(str, params.items())), human_name,
                          uuid])
        if key not in self._ext_cache:
            self._ext_cache[key] = self._external(arg, cls, params, human_name, uuid)
        self._deps[arg], found = self._ext_cache[key]
        return found

    def _external(self, arg: str, cls: type[PipeTask], params: dict[str, Any],
                  human_name: str | None,
                  uuid: str | None) -> tuple[ExternalBundle, Bundle | None]:
        """The external task of one declaration, and the bundle found now (if any)."""
        what = f"{arg!r} ({cls.__name__} {params}" + (f", uuid {uuid}" if uuid else "") \
            + (f", name {human_name!r}" if human_name else "") + ")"
        proc = ""
        if not (uuid or human_name):  # found by what cls(**params) makes
            task = cls(**params)
            proc = task.processing_name
            if isinstance(task, BundleWrapperTask) and task.name:
                human_name = task.human_name()
        ext = ExternalBundle(by_uuid=uuid or "", by_name=human_name or "",
                             pipe_processing_name=proc or cls.get_task_family(), what=what,
                             data_context=self.data_context, input_tags=self.input_tags)
        found = ext.find()
        if found is None:
            return ext, None
        return ExternalBundle(uuid=found.uuid, by_uuid=uuid or "", by_name=human_name or "",
                              pipe_processing_name=proc or found.processing_name, what=what,
                              data_context=self.data_context, input_tags=self.input_tags), found

    def _missing_external(self, arg: str) -> bool:
        """True when ``arg`` is an external dependency that found no bundle (a fallback may
        declare it again)."""
        dep = self._deps[arg]
        return isinstance(dep, ExternalBundle) and not dep.uuid

    # --- identity ----------------------------------------------------------------------

    @property
    def processing_name(self) -> str:
        """``<Family>_<16 hex>``: a Merkle hash of class, significant params and inputs."""
        if self._proc is None:
            params = sorted((n, p.serialize(getattr(self, n)))
                            for n, p in self.get_params() if p.significant)
            deps = sorted((arg, t.processing_name) for arg, t in self.requires().items())
            summary = {"family": self.get_task_family(), "class": code_ref(type(self)),
                       "params": params, "deps": deps}
            digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()
            self._proc = f"{self.get_task_family()}_{digest[:16]}"
        return self._proc

    def human_name(self) -> str:
        """The bundle name: apply's ``output_bundle``, else ``set_bundle_name``, else the class."""
        return self.driver_output_bundle or self._bundle_name or self.get_task_family()

    def recorded_params(self) -> dict[str, str]:
        """Every non-reserved param (inherited ones too), serialized with luigi."""
        return {n: p.serialize(getattr(self, n)) for n, p in self.get_params()
                if n not in RESERVED}

    def output(self) -> BundleTarget:
        """Exists when the bundle ``apply`` chose for this task exists."""
        return BundleTarget(self.task_id, self)

    # --- inside the task ---------------------------------------------------------------

    def set_bundle_name(self, name: str) -> None:
        """Name this task's bundle (apply's ``output_bundle`` wins for the root)."""
        self._bundle_name = name

    def add_tags(self, tags: dict[str, str]) -> None:
        """Tags for this task's bundle."""
        self._user_tags.update(check_tags(tags))

    def mark_force(self) -> None:
        """Always re-run this task (call in ``pipe_requires``)."""
        self._forced = True

    def mark_transient(self, push_meta: bool = True) -> None:
        """Tag this bundle ``__transient`` (and ``__push_meta``): incremental push skips it."""
        self._user_tags["__transient"] = "True"
        if push_meta:
            self._user_tags["__push_meta"] = "True"

    def _open(self) -> Bundle:
        if self._bundle is None:
            raise BundleStateError("output paths exist only while pipe_run runs")
        return self._bundle

    def create_output_file(self, name: str | list[str] | dict[str, str]) -> Any:
        """``luigi.LocalTarget``(s) inside this task's bundle (same shape as ``name``)."""
        return self._open().make_file(name)

    def create_output_dir(self, name: str) -> str:
        """Make a directory inside this task's bundle and return its path."""
        return self._open().get_directory(name)

    def create_remote_output_file(self, name: str) -> luigi.Target:
        """A target on the remote to write file ``name`` to; return it in the data.

        As in Disdat, it is a ``luigi.contrib.s3.S3Target`` on an S3 remote
        (its client uses dsdt's S3 settings: ``s3_endpoint_url``,
        ``AWS_PROFILE``), a ``luigi.LocalTarget`` on a directory remote:
        ``.path``, ``.open('w')`` and ``temporary_path()`` work. What is
        written there becomes part of the bundle when it closes.

        Raises:
            UsageError: No remote is bound, or incremental push is off.
        """
        b = self._remote_open()
        url = b.get_remote_file(name)
        if not url.startswith("s3://"):
            return luigi.LocalTarget(url)
        from luigi.contrib.s3 import S3Client, S3Target

        from dsdt.remote.s3client import shared_resource

        client = S3Client()
        client.s3 = shared_resource(None, b._repo.config.s3_endpoint_url)
        return S3Target(url, client=client)

    def create_remote_output_dir(self, name: str) -> str:
        """A location (prefix) on the remote to write a directory ``name`` of files to.

        Raises:
            UsageError: No remote is bound, or incremental push is off.
        """
        return self._remote_open().get_remote_directory(name)

    def _remote_open(self) -> Bundle:
        b = self._open()
        if not (plan.entry(self.task_id).push and incremental.has_remote(b._repo, b.local_context)):
            raise UsageError(incremental.NEEDS_REMOTE_AND_PUSH)
        return b

    def get_output_dir(self) -> str:
        """The directory of this task's open bundle."""
        return self._open().local_dir

    def get_tags(self, arg: str) -> dict[str, str]:
        """Tags of the input bundle ``arg`` (inside ``pipe_run``)."""
        return self._input(arg).tags

    def get_bundle_uuid(self, arg: str) -> str:
        """Uuid of the input bundle ``arg`` (inside ``pipe_run``)."""
        return self._input(arg).uuid

    def _input(self, arg: str) -> Bundle:
        if arg not in self._inputs:
            raise UsageError(f"{arg!r} is not an input of {type(self).__name__} (or pipe_run "
                             "is not running)")
        return self._inputs[arg]

    # --- running -----------------------------------------------------------------------

    def run(self) -> Any:
        """Run ``pipe_run`` and store its result as this task's new bundle.

        A generator ``pipe_run`` (dynamic dependencies) makes this a generator for luigi.
        """
        entry = plan.entry_for(self)
        if entry.action == "reuse" and plan.planned(self.task_id) is None:
            return None  # a dynamic task made meanwhile
        steps = self._make(entry)  # a plain pipe_run never yields: next() runs it all
        return steps if inspect.isgeneratorfunction(self.pipe_run) else next(steps, None)

    def _make(self, entry: PlanEntry) -> Any:
        repo = plan.repo()
        self._inputs = inputs = dynamic.static_inputs(repo, self, entry)
        b = self._bundle = Bundle(entry.context, name=entry.name, repo=repo).open(
            force_uuid=entry.uuid)
        try:
            start = time.time()
            rv = self.pipe_run(**{arg: ib.data for arg, ib in inputs.items()})
            if inspect.isgenerator(rv):
                rv = yield from dynamic.drive(repo, self, rv, entry, inputs)
            stop = time.time()
            b.name = self.human_name()
            b.add_data(rv)
            b.add_timing(start, stop)
            b.add_dependencies(list(inputs.values()), list(inputs))
            b.processing_name = entry.processing_name
            b.add_params(self.recorded_params())
            b.add_tags(self._tags(entry))
            b.add_code_ref(code_ref(type(self)), code_hash(type(self)))
            b.close()
        except BaseException:
            b.abandon()
            raise
        finally:
            self._bundle = None
            self._inputs = {}
        if entry.push:
            incremental.push_made(repo, entry.context, b, self._user_tags)

    def _tags(self, entry: PlanEntry) -> dict[str, str]:
        tags = dict(self._user_tags)
        if entry.root:
            tags.update({str(k): str(v) for k, v in self.output_tags.items()})
            tags["root_task"] = "True"
        else:  # upstream bundles made under input_tags are selectable by them later
            tags.update({str(k): str(v) for k, v in self.input_tags.items()})
        return tags


class BundleWrapperTask(PipeTask):
    """Stands for bundles made outside pipelines (e.g. with ``api.add``) named ``name``.

    Use it as ``add_external_dependency('x', BundleWrapperTask, {'name': 'x'})``:
    that resolves to the latest bundle with that name.
    """

    name = luigi.OptionalParameter(default=None)
    owner = luigi.OptionalParameter(default=None, significant=False)
    tags = luigi.DictParameter(default={}, significant=False)

    def human_name(self) -> str:
        """The wrapped bundles' name."""
        return str(self.name or super().human_name())

    def pipe_run(self, **upstream: Any) -> Any:
        """Wrapped bundles are made outside pipelines."""
        raise UsageError("a BundleWrapperTask only names existing bundles; use it with "
                         "add_external_dependency")
