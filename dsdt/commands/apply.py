"""``dsdt apply``: run a pipeline of PipeTasks, reusing the bundles that are up to date."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dsdt.commands._render import ContextOpt, context_or_current, padded, parse_tags

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
) -> None:
    """Run the pipeline ending in PKG.MOD.CLASS with luigi.

    Tasks whose bundle is up to date are reused; the others run and make new
    bundles. Task parameters follow the class as --name value and are parsed
    by each luigi parameter. Exits 0 only when every task succeeded.
    """
    from dsdt import api

    cls = load_task_class(task)
    params = parse_task_params(cls, list(ctx.args))
    local = context_or_current(context)
    out = api.apply(local, cls, output_bundle, parse_tags(input_tag) or None,
                    parse_tags(output_tag) or None, force, force_all, params,
                    central_scheduler=central_scheduler, workers=workers,
                    incremental_push=incremental_push, incremental_pull=incremental_pull,
                    explain=explain)
    if explain:
        rows = [["TASK", "ACTION", "REASON"]]
        rows += [[p["task"], p["action"], p["reason"]] for p in out["plan"]]
        for line in padded(rows):
            typer.echo(line)
    elif out["did_work"]:
        typer.echo(f"Applied {cls.__name__}: new bundles made in {local}")
    else:
        typer.echo(f"Applied {cls.__name__}: every bundle was up to date in {local}")


def load_task_class(dotted: str) -> type:
    """Import ``pkg.mod.Class`` (the current directory is importable).

    Raises:
        dsdt.errors.UsageError: The module or class cannot be found.
    """
    import importlib
    import os
    import sys

    from dsdt.errors import UsageError

    mod_name, _, cls_name = dotted.rpartition(".")
    if not mod_name or not cls_name:
        raise UsageError(f"task {dotted!r} must be PKG.MOD.CLASS")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise UsageError(f"cannot import module {mod_name!r} of task {dotted!r}: {e}") from None
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type):
        raise UsageError(f"module {mod_name!r} has no class {cls_name!r}")
    return cls


def parse_task_params(cls: type, args: list[str]) -> dict[str, Any]:
    """``--name value`` pairs -> ``{name: parsed value}`` using the class's luigi parameters.

    ``--name=value`` works too, a bool parameter given without a value is
    True, and ``-`` in names stands for ``_``.

    Raises:
        dsdt.errors.UsageError: An argument is not a parameter of the task, a
            value is missing or a parameter cannot parse its value.
    """
    from dsdt.errors import UsageError
    from dsdt.pipe import RESERVED

    known = {n: p for n, p in getattr(cls, "get_params", list)() if n not in RESERVED}
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        raw = args[i]
        if not raw.startswith("--") or len(raw) == 2:
            raise UsageError(f"unexpected argument {raw!r}: task parameters are --name value")
        key, eq, value = raw[2:].partition("=")
        name = key.replace("-", "_")
        param = known.get(name)
        if param is None:
            have = ", ".join(f"--{n}" for n in known) or "none"
            raise UsageError(f"{cls.__name__} has no parameter --{key} (it has: {have})")
        if not eq:
            if _is_bool(param) and (i + 1 == len(args) or args[i + 1].startswith("--")):
                value = "true"
            elif i + 1 == len(args):
                raise UsageError(f"parameter --{key} needs a value")
            else:
                i += 1
                value = args[i]
        out[name] = _parse(param, key, value)
        i += 1
    return out


def _is_bool(param: Any) -> bool:
    import luigi

    return isinstance(param, luigi.BoolParameter)


def _parse(param: Any, key: str, value: str) -> Any:
    from dsdt.errors import UsageError

    try:
        return param.parse(value)
    except Exception as e:  # noqa: BLE001 - any parse failure is the user's input
        raise UsageError(f"bad value {value!r} for --{key}: {e}") from None
