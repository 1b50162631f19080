"""``dsdt apply|run PKG.MOD.Task --help``: the verb's help, then the task's own parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperCommand

_HELP = ("-h", "--help")


class TaskHelpCommand(TyperCommand):
    """A command whose ``--help`` after a task class also lists that task's parameters.

    :attr:`task_help` gets the command's arguments as parsed (the help flag
    left out) and returns the text to add, or ''.
    """

    task_help: Callable[[dict[str, Any]], str] = staticmethod(lambda _opts: "")

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        """Remember the arguments given with ``--help``, then parse as usual."""
        if any(a in _HELP for a in args):
            ctx.meta["dsdt.help_args"] = [a for a in args if a not in _HELP]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        """The usual help; then, when a task class was named, its parameters."""
        super().format_help(ctx, formatter)
        args = ctx.meta.get("dsdt.help_args")
        if not args:
            return
        try:
            opts, _, _ = self.make_parser(ctx).parse_args(args=list(args))
        except Exception:  # noqa: BLE001 - arguments that do not parse: the usual help only
            return
        extra = self.task_help(opts) if opts.get("task") else ""
        if extra:
            formatter.write("\n" + extra + "\n")


def task_help_command(describe: Callable[[dict[str, Any]], str]) -> type[TaskHelpCommand]:
    """A :class:`TaskHelpCommand` whose task help is ``describe(parsed arguments)``."""
    return type("TaskHelp", (TaskHelpCommand,), {"task_help": staticmethod(describe)})
