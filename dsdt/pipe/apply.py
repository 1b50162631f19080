"""``apply``: run a pipeline of :class:`dsdt.pipe.PipeTask` locally with luigi.

Before luigi starts, every task of the DAG is resolved (:mod:`dsdt.pipe.plan`):
reused tasks point at an existing bundle, the others get the uuid of the
bundle they will make. Each task's output target exists exactly when that
bundle exists, so luigi runs only the tasks that need to.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import luigi
from luigi.execution_summary import LuigiStatusCode
from luigi.task_register import Register

from dsdt.errors import ApplyError, BundleExistsError, UsageError
from dsdt.objects.ids import check_uuid
from dsdt.pipe import plan
from dsdt.pipe.incremental import check_remote
from dsdt.pipe.task import PipeTask
from dsdt.refs.names import check_bundle_name, check_tags
from dsdt.repo import Repository


def _configure_luigi() -> None:
    cfg = luigi.configuration.get_config()
    if not cfg.has_option("core", "autoload_range"):
        cfg.set("core", "autoload_range", "false")


def _build_options(central_scheduler: bool, workers: int, host: str | None,
                   port: int | None) -> dict[str, Any]:
    """Keyword arguments of ``luigi.build`` for the scheduler and the workers."""
    opts: dict[str, Any] = {"local_scheduler": not central_scheduler, "workers": workers}
    if central_scheduler and host is not None:
        opts["scheduler_host"] = host
    if central_scheduler and port is not None:
        opts["scheduler_port"] = int(port)
    return opts


def apply(repo: Repository, ctx: str, transform: type, output_bundle: str = "-",
          input_tags: dict[str, str] | None = None, output_tags: dict[str, str] | None = None,
          force: bool = False, force_all: bool = False, params: dict[str, Any] | None = None,
          output_bundle_uuid: str | None = None, central_scheduler: bool = False,
          workers: int = 1, incremental_push: bool = False, incremental_pull: bool = False, *,
          explain: bool = False, report: bool = False, scheduler_host: str | None = None,
          scheduler_port: int | None = None) -> dict[str, Any]:
    """Run the pipeline ending in ``transform`` in a context, reusing what is up to date.

    Args:
        repo: The repository.
        ctx: The context bundles are read from and written to.
        transform: The root task class (a ``PipeTask`` subclass).
        output_bundle: Name of the root's bundle (``-``: the task's own name).
        input_tags: Tags the input bundles (external dependencies and reused
            upstream bundles) must have; upstream bundles made now get them.
        output_tags: Tags for the root's bundle (a reused root must have them).
        force: Re-run the root task.
        force_all: Re-run every task except external dependencies.
        params: The root task's parameters.
        output_bundle_uuid: The uuid the root's bundle gets when it runs.
        central_scheduler: Use a running ``luigid`` (at ``scheduler_host`` and
            ``scheduler_port``, else where the luigi config says).
        workers: Number of luigi workers; with more than one, each task runs
            in a forked process that inherits the plan.
        incremental_push: Commit and push each bundle once made (not transient
            ones); needs a remote bound to the context.
        incremental_pull: Pull and localize each input bundle just before the
            task that uses it runs; needs a remote bound to the context.
        explain: Only return the plan, run nothing.
        report: Also return ``output`` and ``bundles`` (below).
        scheduler_host: Host of the central scheduler.
        scheduler_port: Port of the central scheduler.

    Returns:
        ``{'success': True, 'did_work': bool}`` as Disdat's. With ``report``
        also ``output``, the root's bundle (``name``, ``uuid``,
        ``processing_name``, ``action``: ``run`` or ``reuse``), and ``bundles``,
        the bundles this run made (the same keys but ``action``), upstream
        first. With ``explain`` also ``plan`` (and with ``report`` ``output``,
        its ``uuid`` None when it would run), instead of ``bundles``: one dict
        per task (upstream first) with ``task`` (``Class(param=value, ...)``),
        ``processing_name``, ``action`` (``run``, ``reuse``, or ``missing``
        for an external input with no bundle), ``reason`` and ``uuid`` (None
        for a task that would run or a missing input).

    Raises:
        ApplyError: A task failed (the message names it and its exception),
            or a task that runs needs an external dependency that has no
            bundle; ``.result`` holds the outcome.
    """
    if type(workers) is not int or workers < 1:
        raise UsageError(f"workers must be a positive int, not {workers!r}")
    if not (isinstance(transform, type) and issubclass(transform, PipeTask)):
        raise UsageError(f"transform must be a PipeTask subclass, not {transform!r}")
    if params is not None and not isinstance(params, dict):
        raise UsageError(f"params must be a dict, not {type(params).__name__}")
    if output_bundle != "-":
        check_bundle_name(output_bundle)  # before anything runs
    check_tags(input_tags)
    check_tags(output_tags)
    check_remote(repo, ctx, incremental_push, incremental_pull)
    repo.refresh_git()  # git facts as of this run (forked workers inherit them)
    _configure_luigi()
    Register.clear_instance_cache()
    with plan.running(repo):  # the repository, and task sources as of this run
        return _run(repo, ctx, transform, output_bundle, input_tags, output_tags, force,
                    force_all, params, output_bundle_uuid, incremental_push, incremental_pull,
                    explain, _build_options(central_scheduler, workers, scheduler_host,
                                            scheduler_port), report)


def _root_task(transform: type, params: dict[str, Any], **own: Any) -> PipeTask:
    """The root task; a parameter missing, unknown or given twice is a UsageError."""
    names = transform.get_param_names(include_significant=True)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise UsageError(f"{transform.__name__} has no parameter {', '.join(unknown)}; "
                         f"its parameters: {', '.join(n for n in names if n not in own)}")
    clash = sorted(set(params) & set(own))
    if clash:
        raise UsageError(f"{', '.join(clash)} is set by apply itself; pass it as an apply "
                         "option, not as a task parameter")
    try:
        return transform(**params, **own)
    except luigi.parameter.MissingParameterException as e:
        missing = re.search(r"requires the '([^']+)' parameter", str(e))
        name = missing.group(1) if missing else "a required"
        raise UsageError(f"{transform.__name__} needs a value for its {name} parameter "
                         f"(--{name.replace('_', '-')} on the command line)") from None


def _run(repo: Repository, ctx: str, transform: type, output_bundle: str,
         input_tags: dict[str, str] | None, output_tags: dict[str, str] | None, force: bool,
         force_all: bool, params: dict[str, Any] | None, output_bundle_uuid: str | None,
         incremental_push: bool, incremental_pull: bool, explain: bool,
         options: dict[str, Any], report: bool) -> dict[str, Any]:
    """Plan, then (unless ``explain``) build the pipeline with luigi."""
    root = _root_task(transform, params or {}, data_context=ctx, force=force_all,
                      driver_output_bundle=None if output_bundle == "-" else output_bundle,
                      output_tags=check_tags(output_tags), input_tags=check_tags(input_tags))
    if force:
        root.mark_force()
    entries = plan.plan(repo, ctx, root, force_all)
    for e in entries.values():
        e.push, e.pull = incremental_push, incremental_pull
    root_entry = entries[root.task_id]
    if output_bundle_uuid and root_entry.action == "run":
        root_entry.uuid = check_uuid(output_bundle_uuid)
        if repo.member_sha(ctx, root_entry.uuid) is not None:
            raise BundleExistsError(f"bundle {root_entry.uuid} already exists in {ctx!r}")
    labels = {t.task_id: task_label(t) for t in plan.walk(root)}
    output = _bundle_dict(root_entry)
    if explain:
        shown = [{"task": labels.get(e.task, e.task), "processing_name": e.processing_name,
                  "action": e.action, "reason": e.reason,
                  "uuid": None if e.action == "run" else e.uuid or None}
                 for e in entries.values()]
        if root_entry.action == "run":
            output["uuid"] = None
        extra = {"output": output} if report else {}
        return {"success": True, "did_work": False, **extra, "plan": shown}
    plan.publish(entries)
    with _quiet_luigi() as level:
        run = luigi.build([root], detailed_summary=True, log_level=level, **options)
    made = [_bundle_dict(e) for e in entries.values()
            if e.action == "run" and repo.member_sha(ctx, e.uuid) is not None]
    made = [{k: v for k, v in b.items() if k != "action"} for b in made]
    ok = run.scheduling_succeeded and run.status in (LuigiStatusCode.SUCCESS,
                                                     LuigiStatusCode.SUCCESS_WITH_RETRY)
    if not ok:
        result = {"success": False, "did_work": bool(made)}
        raise ApplyError(f"pipeline {transform.__name__} failed: "
                         f"{_failure(run, labels) or run.one_line_summary}", result)
    extra = {"output": output, "bundles": made} if report else {}
    return {"success": True, "did_work": bool(made), **extra}


@contextmanager
def _quiet_luigi() -> Iterator[str]:
    """Silence luigi's own log (a failed task's traceback) unless debug logging is on.

    A failure reaches the caller as one :class:`ApplyError` naming the task and
    its exception; ``dsdt -v`` shows luigi's log, tracebacks included.
    """
    luigi_log = logging.getLogger("luigi-interface")
    saved = luigi_log.level
    level = "WARNING" if logging.getLogger("dsdt").isEnabledFor(logging.DEBUG) else "CRITICAL"
    luigi_log.setLevel(level)  # luigi.build sets it only the first time it runs
    try:
        yield level
    finally:
        luigi_log.setLevel(saved)


def task_label(task: Any) -> str:
    """``Class(param=value, ...)``: a task's family and its significant parameters in full
    (dsdt's own apply parameters left out); an external dependency shows what it is."""
    if getattr(task, "dsdt_external", False) and getattr(task, "what", ""):
        return f"{task.task_family}(uuid={task.uuid or None}, input {task.what})"
    params = task.to_str_params(only_significant=True)
    shown = ", ".join(f"{k}={v}" for k, v in params.items() if k not in plan.RESERVED)
    return f"{task.task_family}({shown})"


def _bundle_dict(e: plan.PlanEntry) -> dict[str, Any]:
    return {"name": e.name or None, "uuid": e.uuid, "processing_name": e.processing_name,
            "action": e.action}


_MISSING = "dsdt.errors.BundleNotFoundError: "  # how an external input still missing fails


def _failure(run: Any, labels: dict[str, str]) -> str:
    """``task Class(p=v) raised Error: message`` for the first failed task ('' if unknown)."""
    scheduler = getattr(getattr(run, "worker", None), "_scheduler", None)
    if scheduler is None:
        return ""
    try:
        failed = scheduler.task_list("FAILED", "")
        for task_id in failed:
            error = scheduler.fetch_error(task_id).get("error") or ""
            if error.startswith('"'):  # the local scheduler keeps it JSON-encoded
                error = json.loads(error)
            last = [ln for ln in error.strip().splitlines() if ln.strip()]
            why = last[-1].strip() if last else "no error message"
            if why.startswith(_MISSING + "external dependency "):  # its message says it all
                return why.removeprefix(_MISSING)
            return f"task {labels.get(task_id, task_id)} raised {why}"
    except Exception:  # noqa: BLE001 - a scheduler that cannot say: luigi's summary instead
        return ""
    return ""
