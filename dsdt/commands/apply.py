"""``dsdt apply``: run a pipeline of PipeTasks, reusing the bundles that are up to date."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    context_or_current,
    padded,
    parse_tags,
    print_json,
)
from dsdt.commands._taskhelp import task_help_command

NAME = "apply"

#: The task's own parameters (``--day 2026-11-01``) arrive as extra arguments.
CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}

TagOpt = Annotated[list[str] | None, typer.Option(
    "-it", "--input-tag", metavar="KEY:VALUE",
    help="Inputs must carry this tag; upstream bundles made now get it (repeatable).")]
OutTagOpt = Annotated[list[str] | None, typer.Option(
    "-ot", "--output-tag", metavar="KEY:VALUE",
    help="Tag for the root task's bundle (repeatable).")]
OutputBundleOpt = Annotated[str, typer.Option(
    "-o", "--output-bundle", metavar="NAME",
    help="Name of the root task's bundle ('-': the task's own name).")]
ForceOpt = Annotated[bool, typer.Option("-f", "--force", help="Re-run the root task.")]
ForceAllOpt = Annotated[bool, typer.Option(
    "--force-all", help="Re-run every task except external dependencies.")]
WorkersOpt = Annotated[int, typer.Option(
    "-w", "--workers", metavar="N", min=1, help="Number of luigi worker processes.")]


#: Shown at the end of --help.
EPILOG = """\b
Examples:
  dsdt apply mypipe.tasks.Train --help
  dsdt apply mypipe.tasks.Train --day 2026-11-01 --lr 0.2 -o model
  dsdt apply mypipe.tasks.Train --day 2026-11-01 --explain --json"""


def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(
        metavar="PKG.MOD.CLASS", help="The root task class; its parameters follow as --name "
                                      "value.")],
    central_scheduler: Annotated[bool, typer.Option(
        "-cs", "--central-scheduler",
        help="Use the luigid scheduler of the luigi config.")] = False,
    workers: WorkersOpt = 1,
    input_tag: TagOpt = None,
    output_tag: OutTagOpt = None,
    output_bundle: OutputBundleOpt = "-",
    force: ForceOpt = False,
    force_all: ForceAllOpt = False,
    incremental_push: Annotated[bool, typer.Option(
        "--incremental-push", help="Commit and push each bundle as soon as it is made.")] = False,
    incremental_pull: Annotated[bool, typer.Option(
        "--incremental-pull", help="Pull and localize each input bundle before use.")] = False,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Print what would run or be reused, and why; run nothing.")] = False,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the pipeline ending in PKG.MOD.CLASS with luigi.

    Tasks whose bundle is up to date are reused; the others run and make new
    bundles. Task parameters follow the class as --name value and are parsed
    by each luigi parameter. Exits 0 only when every task succeeded.

    --explain prints each task's ACTION (run or reuse) and REASON: reused, no
    bundle, new params, renamed, upstream changed, code changed, dirty tree,
    forced, or data unreachable (a bundle exists, but its data is neither
    here nor on the context's remote: it runs again). Task ids show as
    Class(param=value, ...).

    --json prints {"success", "did_work", "context", "output": {"name",
    "uuid", "processing_name", "action"}, "bundles": [{"name", "uuid",
    "processing_name"}, ...]} (the root's bundle, and the bundles made by
    this run, upstream first); with --explain, "output" (uuid null when it
    would run) and "plan": [{"task", "processing_name", "action", "reason",
    "uuid"}, ...] instead of "bundles". A failed pipeline prints {"context",
    "success": false, "did_work", "error"} (and exits 1). Logs go to stderr.

    PKG.MOD.CLASS --help also lists the task's parameters.
    """
    from dsdt import api
    from dsdt.errors import ApplyError
    from dsdt.pipe.params import load_pipe_task, parse_task_params

    cls = load_pipe_task(task)
    params = parse_task_params(cls, list(ctx.args))
    local = context_or_current(context)
    try:
        out = api.apply(local, cls, output_bundle, parse_tags(input_tag) or None,
                        parse_tags(output_tag) or None, force, force_all, params,
                        central_scheduler=central_scheduler, workers=workers,
                        incremental_push=incremental_push, incremental_pull=incremental_pull,
                        explain=explain, report=True)
    except ApplyError as e:
        if as_json:  # a script reads the outcome; the one-line error still goes to stderr
            print_json({"context": local, **e.result, "error": " ".join(str(e).split())})
        raise
    if as_json:
        print_json({"context": local} | out)
    elif explain:
        rows = [["TASK", "ACTION", "REASON"]]
        rows += [[p["task"], p["action"], p["reason"]] for p in out["plan"]]
        for line in padded(rows):
            typer.echo(line)
    else:
        typer.echo(describe(cls.__name__, out))


def describe(task: str, out: dict[str, Any]) -> str:
    """``Applied Train: made bundle train_out 1a2b...`` (or which bundle was up to date)."""
    root = out["output"]
    made = [b for b in out["bundles"] if b["uuid"] != root["uuid"]]
    others = f" (and {len(made)} upstream)" if made else ""
    if root["action"] == "run":
        return f"Applied {task}: made bundle {root['name']} {root['uuid']}{others}"
    return f"Applied {task}: bundle {root['name']} {root['uuid']} was up to date{others}"


def _task_help(opts: dict[str, Any]) -> str:
    from dsdt.errors import DsdtError
    from dsdt.pipe.params import format_params, load_pipe_task

    try:
        return format_params(load_pipe_task(opts["task"]))
    except DsdtError as e:
        return f"(cannot list the parameters of {opts['task']}: {e})"


#: ``dsdt apply PKG.MOD.CLASS --help`` lists the task's parameters.
COMMAND_CLASS = task_help_command(_task_help)
