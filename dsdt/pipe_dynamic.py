"""Dynamic dependencies of pipeline tasks (``PipeTask.yield_dependency``).

Inside ``pipe_run`` a task may write
``data = yield self.yield_dependency("arg", SomeTask, {"p": 1})``. Luigi runs
the yielded task when its bundle is missing and then runs the yielding task's
``run()`` again from the start; ``data`` is the upstream bundle's data.

A dynamic task is found inside a (possibly forked) worker, after the plan was
made, so its reuse decision is made lazily and never cached
(:func:`dsdt.reuse.lazy_entry`): its output exists when a bundle with its
processing name and name exists whose lineage matches its current upstream
bundles (and code); running it makes a new bundle with a new uuid. Force
flags (``force``, ``force_all``, ``mark_force``) do not apply to dynamic
dependencies, and ``explain`` does not list them.

Also here: resolving a running task's static and external inputs.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import luigi

from dsdt.bundle import Bundle
from dsdt.errors import UsageError
from dsdt.pipe import _PLAN, PipeTask, PlanEntry, _entry


@dataclass(frozen=True)
class DynamicDependency:
    """What ``yield_dependency`` returns: ``pipe_run`` must yield it."""

    arg: str
    task: PipeTask


def _repo() -> Any:
    from dsdt.api import _repo as repo

    return repo()


def entry_for(task: PipeTask) -> PlanEntry:
    """The plan entry a task runs under: planned, else decided now."""
    from dsdt import reuse

    planned = _PLAN.get(task.task_id)
    if planned is not None or not _PLAN:
        return _entry(task.task_id)
    entry = reuse.lazy_entry(_repo(), task)
    first = next(iter(_PLAN.values()))
    entry.push, entry.pull = first.push, first.pull
    return entry


def exists(task: Any) -> bool:
    """True when the bundle of a task outside the plan exists and is up to date."""
    from dsdt import reuse

    if not _PLAN or not isinstance(task, PipeTask) or task.data_context is None:
        return False
    return reuse.lazy_entry(_repo(), task).action == "reuse"


def input_uuid(task: Any) -> str:
    """The uuid of the bundle an (already complete) upstream task provides."""
    from dsdt import reuse

    planned = _PLAN.get(task.task_id)
    if planned is not None:
        return planned.uuid
    entry = reuse.lazy_entry(_repo(), task)
    if entry.action != "reuse":
        raise UsageError(f"dynamic dependency {task.task_id} has no up-to-date bundle")
    return entry.uuid


def drive(owner: PipeTask, gen: Generator[Any, Any, Any], entry: PlanEntry,
          inputs: dict[str, Bundle]) -> Generator[luigi.Task, Any, Any]:
    """Run a generator ``pipe_run``: hand its dynamic tasks to luigi, send back their data.

    Resolved dynamic inputs are added to ``inputs`` (by arg name).

    Returns:
        The value ``pipe_run`` returned.
    """
    import dsdt.api as api
    from dsdt import pipe_remote

    send: Any = None
    try:
        while True:
            try:
                item = gen.send(send)
            except StopIteration as stop:
                return stop.value
            if not isinstance(item, DynamicDependency):
                raise UsageError(f"{type(owner).__name__}.pipe_run may only yield "
                                 f"self.yield_dependency(...), not {type(item).__name__}")
            yield item.task
            uuid = input_uuid(item.task)
            if entry.pull:
                pipe_remote.localize_inputs(entry.context, [uuid])
            found = api.get(entry.context, None, uuid=uuid)
            if found is None:
                raise UsageError(f"dynamic input {item.arg!r} of {owner.task_id} has no bundle")
            inputs[item.arg] = found
            send = found.data
    finally:
        gen.close()


def static_inputs(task: PipeTask, entry: PlanEntry) -> dict[str, Bundle]:
    """The bundles of a running task's static inputs by arg name (pulled when asked)."""
    import dsdt.api as api
    from dsdt import pipe_remote

    ups = {arg: input_uuid(up) for arg, up in task.requires().items()}
    if entry.pull:
        pipe_remote.localize_inputs(entry.context, list(ups.values()))
    inputs: dict[str, Bundle] = {}
    for arg, uuid in ups.items():
        found = api.get(entry.context, None, uuid=uuid)
        if found is None:
            raise UsageError(f"input {arg!r} of {task.task_id} has no bundle")
        inputs[arg] = found
    return inputs


def find_external(owner: PipeTask, task: PipeTask, human_name: str | None,
                  uuid: str | None) -> Bundle | None:
    """The bundle an external dependency of ``owner`` names (see ``add_external_dependency``)."""
    import dsdt.api as api
    from dsdt.pipe import BundleWrapperTask

    tags = {str(k): str(v) for k, v in owner.input_tags.items()}
    ctx = owner.data_context
    if uuid:
        return api.get(ctx, None, uuid=uuid, tags=tags)
    if human_name is None and isinstance(task, BundleWrapperTask):
        human_name = task.human_name()
    if human_name:
        return api.get(ctx, human_name, tags=tags)
    found = api.search(ctx, processing_name=task.processing_name, tags=tags)
    return found[0] if found else None
