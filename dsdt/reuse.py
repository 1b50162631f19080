"""Deciding, before a pipeline runs, which tasks reuse a bundle and which make a new one.

The rules are checked in order for every task, upstream tasks first:

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

External dependencies are never run; a missing one is an error.

Dynamic dependencies (``yield_dependency``) are not in the plan: a task
whose ``pipe_run`` is a generator may have recorded args that are not static
dependencies; rule 4 then also rebuilds each recorded dynamic task (class and
params from the upstream bundle's record) and requires that it would reuse
exactly the recorded bundle (:func:`lazy_entry`). Force flags do not apply to
dynamic dependencies.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import replace
from typing import Any

from dsdt.errors import BundleNotFoundError
from dsdt.index import Query
from dsdt.objects.ids import new_uuid
from dsdt.pipe import _PLAN, RESERVED, ExternalBundle, PipeTask, PlanEntry, code_hash
from dsdt.repo import Repository


def walk(root: Any) -> list[Any]:
    """Every task of the DAG below ``root`` (externals not expanded), upstream first."""
    order: list[Any] = []
    seen: set[str] = set()

    def visit(task: Any) -> None:
        if task.task_id in seen:
            return
        seen.add(task.task_id)
        if isinstance(task, PipeTask):
            for up in task.requires().values():
                visit(up)
        order.append(task)

    visit(root)
    return order


def _str_tags(tags: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(tags or {}).items()}


def decide(repo: Repository, ctx: str, task: Any, entries: dict[str, PlanEntry], *,
           root: bool, force_all: bool, dynamic: bool = False) -> PlanEntry:
    """The plan entry of one task, given the entries of its upstream tasks.

    ``dynamic``: decided outside the plan (force flags are ignored).
    """
    proc = task.processing_name
    if isinstance(task, ExternalBundle):
        if not task.uuid:
            raise BundleNotFoundError(
                f"external dependency {task.what} has no bundle in context {ctx!r}; make it "
                "first (e.g. with dsdt add) or fix the name, uuid or input_tags")
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
    return PlanEntry(task.task_id, proc, "reuse", "reused", newest.uuid, name, ctx, root)


def code_changed(repo: Repository, task: PipeTask, lineage: Any) -> str | None:
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


def plan(repo: Repository, ctx: str, root: PipeTask, force_all: bool) -> dict[str, PlanEntry]:
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
    entry = _PLAN.get(task.task_id)
    if entry is not None:
        if entry.action == "run" and repo.member_sha(entry.context, entry.uuid) is not None:
            return replace(entry, action="reuse", reason="made")
        return entry
    ctx = str(task.data_context)
    ups = task.requires().values() if isinstance(task, PipeTask) else ()
    entries = {up.task_id: lazy_entry(repo, up) for up in ups}
    return decide(repo, ctx, task, entries, root=False, force_all=False, dynamic=True)


def _dynamic_current(repo: Repository, ctx: str, task: PipeTask, uuid: str) -> bool:
    """True when the dynamic dependency that made bundle ``uuid`` would reuse it now."""
    dep = rebuild(repo, ctx, uuid, task.input_tags)
    if dep is None:
        return False
    entry = lazy_entry(repo, dep)
    return entry.action == "reuse" and entry.uuid == uuid


def rebuild(repo: Repository, ctx: str, uuid: str, input_tags: Any) -> PipeTask | None:
    """The task that made bundle ``uuid`` (class and params from its record), or None."""
    sha = repo.member_sha(ctx, uuid)
    if sha is None:
        return None
    rec = repo.read_record(uuid, sha)
    try:
        module, _, qual = rec.lineage.code_ref.rpartition(".")
        cls = getattr(importlib.import_module(module), qual)
        if not (isinstance(cls, type) and issubclass(cls, PipeTask)):
            return None
        kwargs = {n: p.parse(rec.params[n]) for n, p in cls.get_params()
                  if n in rec.params and n not in RESERVED}
        dep = cls(**kwargs, data_context=ctx, input_tags=input_tags)
        return dep if dep.processing_name == rec.processing_name else None
    except Exception:  # noqa: BLE001 - a task that cannot be rebuilt is not current
        return None
