"""The plan of a pipeline run: which tasks reuse a bundle and which make a new one.

This module is the only owner of the state of a run (the repository, each
task's :class:`PlanEntry`, and the tasks' source hashes), published by
:func:`running` for the duration of an ``apply`` (forked luigi workers
inherit it). The rules are checked in order for every task, upstream first:

1. forced (``mark_force``, ``force`` on the root, ``force_all``) -> run;
2. no bundle with the task's processing name -> run (``new params`` when
   bundles of that name exist, else ``no bundle``);
3. none of those bundles has the task's human name -> run (``renamed``);
4. an upstream task runs, or the uuid it provides differs from the one in the
   lineage of the newest bundle with this processing name *and* name -> run;
5. the code changed (``code_version`` in ``config.yaml``): ``task`` -> the
   task class's source hash differs from the recorded one (``code changed``);
   ``repo`` -> the project's git commit differs from the recorded one (``code
   changed``) or the work tree is dirty (``dirty tree``); ``never`` -> never;
6. otherwise reuse that newest bundle.

External dependencies are never run. One that has no bundle is planned as
``missing`` (the tasks needing it run); the run fails only if it is still
missing when a task needs it.

Dynamic dependencies (``yield_dependency``) are not in the plan: a task
whose ``pipe_run`` is a generator may have recorded args that are not static
dependencies; rule 4 then also rebuilds each recorded dynamic task (class and
params from the upstream bundle's record) and requires that it would reuse
exactly the recorded bundle (:func:`lazy_entry`). Force flags do not apply to
dynamic dependencies.

Tasks are told apart by the class attribute ``dsdt_external`` (True for an
external bundle, False for a pipeline task), so this module needs no task class.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from dsdt.errors import UsageError
from dsdt.index import Query
from dsdt.objects.ids import new_uuid
from dsdt.remote.state import NOWHERE, UNKNOWN, require_reachable, settle
from dsdt.repo import Repository

#: Parameters every PipeTask has; none is significant, none is recorded as a bundle param.
RESERVED = ("data_context", "force", "driver_output_bundle", "output_tags", "input_tags")


@dataclass
class PlanEntry:
    """What ``apply`` decided for one task: reuse a bundle or make a new one.

    Attributes:
        task: The luigi task id.
        processing_name: The task's processing name.
        action: ``run`` or ``reuse``.
        reason: Why (``forced``, ``new params``, ``no bundle``, ``renamed``,
            ``upstream changed``, ``code changed``, ``dirty tree`` or ``reused``).
        uuid: The reused bundle, or the uuid the new bundle will get.
        name: The human name of the bundle.
        context: The context the bundle is in.
        root: True for the task ``apply`` was called with.
        push: Commit and push the bundle once made (incremental push).
        pull: Pull and localize the inputs before ``pipe_run`` (incremental pull).
    """

    task: str
    processing_name: str
    action: str
    reason: str
    uuid: str
    name: str
    context: str
    root: bool = False
    push: bool = False
    pull: bool = False


@dataclass
class _Run:
    repo: Repository | None = None
    entries: dict[str, PlanEntry] = field(default_factory=dict)
    hashes: dict[type, str] = field(default_factory=dict)


_RUN = _Run()


@contextmanager
def running(repo: Repository) -> Iterator[None]:
    """Hold the state of one pipeline run (a nested run restores the outer one)."""
    global _RUN
    saved, _RUN = _RUN, _Run(repo)
    try:
        yield
    finally:
        _RUN = saved


def publish(entries: dict[str, PlanEntry]) -> None:
    """Make the decided entries the plan luigi's targets answer from."""
    _RUN.entries.update(entries)


def repo() -> Repository:
    """The repository of the running pipeline (outside a run: the current one)."""
    return _RUN.repo or Repository.current()


def planned(task_id: str) -> PlanEntry | None:
    """The plan entry of a task, if it is part of the running plan."""
    return _RUN.entries.get(task_id)


def entry(task_id: str) -> PlanEntry:
    """The plan entry of a task of the running plan.

    Raises:
        UsageError: No ``apply`` runs this task.
    """
    found = planned(task_id)
    if found is None:
        raise UsageError(f"task {task_id} is not part of a running dsdt.api.apply; run "
                         "pipelines with dsdt.api.apply")
    return found


def code_hash(cls: type) -> str:
    """sha256 of a task class's source ("" when the source is not available)."""
    if cls in _RUN.hashes:
        return _RUN.hashes[cls]
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return ""
    _RUN.hashes[cls] = digest = hashlib.sha256(source.encode()).hexdigest()
    return digest


def code_ref(cls: type) -> str:
    """``module.Class`` of a task class."""
    return f"{cls.__module__}.{cls.__qualname__}"


# --- deciding ----------------------------------------------------------------------------


def walk(root: Any) -> list[Any]:
    """Every task of the DAG below ``root`` (externals not expanded), upstream first."""
    order: list[Any] = []
    seen: set[str] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        task, expanded = stack.pop()
        if expanded:
            order.append(task)
            continue
        if task.task_id in seen:
            continue
        seen.add(task.task_id)
        stack.append((task, True))
        if not task.dsdt_external:
            stack.extend((up, False) for up in reversed(list(task.requires().values())))
    return order


def _str_tags(tags: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(tags or {}).items()}


def decide(repo: Repository, ctx: str, task: Any, entries: dict[str, PlanEntry], *,
           root: bool, force_all: bool, dynamic: bool = False) -> PlanEntry:
    """The plan entry of one task, given the entries of its upstream tasks.

    ``dynamic``: decided outside the plan (force flags are ignored).
    """
    proc = task.processing_name
    if task.dsdt_external:
        if not task.uuid:  # an error only if a task that runs needs it (and it is still missing)
            return PlanEntry(task.task_id, proc, "missing", "no bundle", "", "", ctx)
        require_reachable(repo, ctx, [str(task.uuid)])
        return PlanEntry(task.task_id, proc, "reuse", "reused", str(task.uuid), "", ctx)
    name = task.human_name()

    def run(reason: str) -> PlanEntry:
        return PlanEntry(task.task_id, proc, "run", reason, new_uuid(), name, ctx, root)

    if not dynamic and (task._forced or force_all):
        return run("forced")
    # a root's bundle must carry the output tags; an input must carry the input tags
    tags = _str_tags(task.output_tags if root else task.input_tags)
    rows = repo.index.find(ctx, Query(processing_name=proc, tags=tags))
    if not rows:
        same_name = repo.index.find(ctx, Query(name_glob=name, tags=tags))
        return run("new params" if same_name else "no bundle")
    named = [r for r in rows if r.name == name]
    if not named:
        return run("renamed")
    newest = named[0]
    lineage = repo.read_record(newest.uuid, newest.sha).lineage
    recorded = {d.arg_name: d.uuid for d in lineage.depends_on}
    ups = task.requires()
    extra = {a: u for a, u in recorded.items() if a not in ups}
    if not set(ups) <= set(recorded) or (
            extra and not inspect.isgeneratorfunction(type(task).pipe_run)):
        return run("upstream changed")
    for arg, up in ups.items():
        up_entry = entries[up.task_id]
        if up_entry.action == "run" or recorded[arg] != up_entry.uuid:
            return run("upstream changed")
    if not all(_dynamic_current(repo, ctx, task, uuid) for uuid in extra.values()):
        return run("upstream changed")
    changed = code_changed(repo, task, lineage)
    if changed:
        return run(changed)
    if settle(repo, ctx, [newest.uuid])[newest.uuid].where in (NOWHERE, UNKNOWN):
        return run("data unreachable")  # not here, not on the remote: as if never made
    return PlanEntry(task.task_id, proc, "reuse", "reused", newest.uuid, name, ctx, root)


def code_changed(repo: Repository, task: Any, lineage: Any) -> str | None:
    """Why the code of ``task`` differs from the one that made a bundle (None: it does not).

    ``repo.git`` holds the project's git facts (``{}`` outside git, which is
    never dirty); ``apply`` refreshes them once per run.
    """
    mode = repo.config.code_version
    if mode == "task":
        return "code changed" if lineage.code_hash != code_hash(type(task)) else None
    if mode == "repo":
        now = repo.git
        if now.get("dirty") is True:
            return "dirty tree"
        if str(now.get("commit", "")) != str(lineage.git.get("commit", "")):
            return "code changed"
    return None


def plan(repo: Repository, ctx: str, root: Any, force_all: bool) -> dict[str, PlanEntry]:
    """Plan entries of every task below ``root`` by task id, upstream first."""
    entries: dict[str, PlanEntry] = {}
    for task in walk(root):
        entries[task.task_id] = decide(repo, ctx, task, entries, root=task is root,
                                       force_all=force_all)
    return entries


def lazy_entry(repo: Repository, task: Any) -> PlanEntry:
    """The decision for a task as things are now (for tasks outside the plan; never cached).

    A planned task whose bundle has been made counts as reused.
    """
    found = planned(task.task_id)
    if found is not None:
        if found.action == "run" and repo.member_sha(found.context, found.uuid) is not None:
            return replace(found, action="reuse", reason="made")
        return found
    ctx = str(task.data_context)
    ups = () if task.dsdt_external else task.requires().values()
    entries = {up.task_id: lazy_entry(repo, up) for up in ups}
    return decide(repo, ctx, task, entries, root=False, force_all=False, dynamic=True)


def _dynamic_current(repo: Repository, ctx: str, task: Any, uuid: str) -> bool:
    """True when the dynamic dependency that made bundle ``uuid`` would reuse it now."""
    dep = rebuild(repo, ctx, uuid, task.input_tags)
    if dep is None:
        return False
    found = lazy_entry(repo, dep)
    return found.action == "reuse" and found.uuid == uuid


def rebuild(repo: Repository, ctx: str, uuid: str, input_tags: Any) -> Any | None:
    """The task that made bundle ``uuid`` (class and params from its record), or None."""
    sha = repo.member_sha(ctx, uuid)
    if sha is None:
        return None
    rec = repo.read_record(uuid, sha)
    try:
        module, _, qual = rec.lineage.code_ref.rpartition(".")
        cls = getattr(importlib.import_module(module), qual)
        if not (isinstance(cls, type) and getattr(cls, "dsdt_external", True) is False):
            return None
        kwargs = {n: p.parse(rec.params[n]) for n, p in cls.get_params()
                  if n in rec.params and n not in RESERVED}
        dep = cls(**kwargs, data_context=ctx, input_tags=input_tags)
        return dep if dep.processing_name == rec.processing_name else None
    except Exception:  # noqa: BLE001 - a task that cannot be rebuilt is not current
        return None


# --- answering for tasks outside the plan (dynamic dependencies) -----------------------


def entry_for(task: Any) -> PlanEntry:
    """The plan entry a task runs under: planned, else decided now."""
    found = planned(task.task_id)
    if found is not None or not _RUN.entries:
        return entry(task.task_id)
    decided = lazy_entry(repo(), task)
    first = next(iter(_RUN.entries.values()))
    decided.push, decided.pull = first.push, first.pull
    return decided


def exists(task: Any) -> bool:
    """True when the bundle of a task outside the plan exists and is up to date."""
    if not _RUN.entries or task.dsdt_external or task.data_context is None:
        return False
    return lazy_entry(repo(), task).action == "reuse"


def input_uuid(task: Any) -> str:
    """The uuid of the bundle an (already complete) upstream task provides."""
    found = planned(task.task_id)
    if found is not None and (found.uuid or not task.dsdt_external):
        return found.uuid
    if task.dsdt_external:  # missing when planned: made since, or still an error
        bundle = task.find()
        if bundle is None:
            raise task.missing()
        return str(bundle.uuid)
    decided = lazy_entry(repo(), task)
    if decided.action != "reuse":
        raise UsageError(f"dynamic dependency {task.task_id} has no up-to-date bundle")
    return decided.uuid
