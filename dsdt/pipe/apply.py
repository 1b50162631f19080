"""``apply``: run a pipeline of :class:`dsdt.pipe.PipeTask` locally with luigi.

Before luigi starts, every task of the DAG is resolved (:mod:`dsdt.pipe.plan`):
reused tasks point at an existing bundle, the others get the uuid of the
bundle they will make. Each task's output target exists exactly when that
bundle exists, so luigi runs only the tasks that need to.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import luigi
from luigi.execution_summary import LuigiStatusCode
from luigi.task_register import Register

from dsdt.errors import ApplyError, BundleExistsError, UsageError
from dsdt.objects.ids import check_uuid
from dsdt.pipe import plan
from dsdt.pipe.incremental import check_remote
from dsdt.pipe.task import PipeTask
from dsdt.refs.names import check_tags
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
          explain: bool = False, scheduler_host: str | None = None,
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
        scheduler_host: Host of the central scheduler.
        scheduler_port: Port of the central scheduler.

    Returns:
        ``{'success': True, 'did_work': bool}``; with ``explain`` also ``plan``:
        one dict per task (upstream first) with ``task, processing_name,
        action, reason, uuid``.

    Raises:
        ApplyError: A task failed; ``.result`` holds the outcome.
        BundleNotFoundError: An external dependency has no bundle.
    """
    if type(workers) is not int or workers < 1:
        raise UsageError(f"workers must be a positive int, not {workers!r}")
    if not (isinstance(transform, type) and issubclass(transform, PipeTask)):
        raise UsageError(f"transform must be a PipeTask subclass, not {transform!r}")
    if params is not None and not isinstance(params, dict):
        raise UsageError(f"params must be a dict, not {type(params).__name__}")
    check_remote(repo, ctx, incremental_push, incremental_pull)
    repo.refresh_git()  # git facts as of this run (forked workers inherit them)
    _configure_luigi()
    Register.clear_instance_cache()
    with plan.running(repo):  # the repository, and task sources as of this run
        return _run(repo, ctx, transform, output_bundle, input_tags, output_tags, force,
                    force_all, params, output_bundle_uuid, incremental_push, incremental_pull,
                    explain, _build_options(central_scheduler, workers, scheduler_host,
                                            scheduler_port))


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
         options: dict[str, Any]) -> dict[str, Any]:
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
    if explain:
        shown = [{k: v for k, v in asdict(e).items()
                  if k in ("task", "processing_name", "action", "reason", "uuid")}
                 | ({"uuid": None} if e.action == "run" else {}) for e in entries.values()]
        return {"success": True, "did_work": False, "plan": shown}
    plan.publish(entries)
    run = luigi.build([root], detailed_summary=True, log_level="WARNING", **options)
    did_work = any(e.action == "run" and repo.member_sha(ctx, e.uuid) is not None
                   for e in entries.values())
    ok = run.scheduling_succeeded and run.status in (LuigiStatusCode.SUCCESS,
                                                     LuigiStatusCode.SUCCESS_WITH_RETRY)
    if not ok:
        result = {"success": False, "did_work": did_work}
        raise ApplyError(f"pipeline {transform.__name__} failed: {run.one_line_summary}",
                         result)
    return {"success": True, "did_work": did_work}
