"""Dynamic dependencies of pipeline tasks (``PipeTask.yield_dependency``), and task inputs.

Inside ``pipe_run`` a task may write
``data = yield self.yield_dependency("arg", SomeTask, {"p": 1})``. Luigi runs
the yielded task when its bundle is missing and then runs the yielding task's
``run()`` again from the start; ``data`` is the upstream bundle's data.

A dynamic task is found inside a (possibly forked) worker, after the plan was
made, so its reuse decision is made lazily and never cached
(:func:`dsdt.pipe.plan.lazy_entry`): its output exists when a bundle with its
processing name and name exists whose lineage matches its current upstream
bundles (and code); running it makes a new bundle with a new uuid. Force
flags (``force``, ``force_all``, ``mark_force``) do not apply to dynamic
dependencies, and ``explain`` does not list them.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from dsdt.bundle import Bundle
from dsdt.errors import UsageError
from dsdt.ops import query
from dsdt.pipe import incremental
from dsdt.pipe.plan import PlanEntry, input_uuid
from dsdt.repo import Repository


@dataclass(frozen=True)
class DynamicDependency:
    """What ``yield_dependency`` returns: ``pipe_run`` must yield it."""

    arg: str
    task: Any


def _input(repo: Repository, entry: PlanEntry, arg: str, owner: Any, uuid: str) -> Bundle:
    """The bundle of one input (pulled first under incremental pull)."""
    if entry.pull:
        incremental.localize_inputs(repo, entry.context, [uuid])
    found = query.get(repo, entry.context, None, uuid)
    if found is None:
        raise UsageError(f"input {arg!r} of {owner.task_id} has no bundle")
    return found


def drive(repo: Repository, owner: Any, gen: Generator[Any, Any, Any], entry: PlanEntry,
          inputs: dict[str, Bundle]) -> Generator[Any, Any, Any]:
    """Run a generator ``pipe_run``: hand its dynamic tasks to luigi, send back their data.

    Resolved dynamic inputs are added to ``inputs`` (by arg name).

    Returns:
        The value ``pipe_run`` returned.
    """
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
            found = _input(repo, entry, item.arg, owner, input_uuid(item.task))
            inputs[item.arg] = found
            send = found.data
    finally:
        gen.close()


def static_inputs(repo: Repository, task: Any, entry: PlanEntry) -> dict[str, Bundle]:
    """The bundles of a running task's static inputs by arg name (pulled when asked)."""
    ups = {arg: input_uuid(up) for arg, up in task.requires().items()}
    if entry.pull:
        incremental.localize_inputs(repo, entry.context, list(ups.values()))
    pulled = replace(entry, pull=False)  # pulled together just above
    return {arg: _input(repo, pulled, arg, task, uuid) for arg, uuid in ups.items()}
