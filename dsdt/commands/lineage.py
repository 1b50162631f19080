"""``dsdt lineage``: where a bundle came from and what uses it, as text, Mermaid, DOT or JSON.

With neither ``--down`` nor ``--format`` the historical output is kept: one
block per bundle, breadth-first through the inputs (``--json``: a list of
them). Otherwise the lineage graph (:mod:`dsdt.ops.graph`) is rendered.
"""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    context_or_current,
    json_date,
    print_json,
    text_date,
)

if TYPE_CHECKING:
    from dsdt.bundle import LineageInfo

NAME = "lineage"


class Format(StrEnum):
    """Output formats of the lineage graph."""

    text = "text"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


def run(
    uuid: Annotated[str, typer.Argument(
        metavar="BUNDLE", autocompletion=_complete.bundle_names,
        help="The bundle to start from: a name (its latest version), a uuid, "
             "or a unique uuid prefix of 4 or more characters.")],
    depth: Annotated[int, typer.Option(
        "-d", "--depth", min=0, metavar="N", help="How many levels to follow.")] = 3,
    down: Annotated[bool, typer.Option(
        "--down", help="Also follow the bundles that use it (downstream).")] = False,
    up: Annotated[bool, typer.Option(
        "--up/--no-up", help="Follow the bundles it was made from (upstream).")] = True,
    fmt: Annotated[Format | None, typer.Option(
        "--format", case_sensitive=False,
        help="Graph output: text (a tree), mermaid, dot or json.")] = None,
    as_json: JsonOpt = False,
    context: ContextOpt = None,
) -> None:
    """Show the lineage of BUNDLE: its inputs and/or the bundles that use it.

    Without --down or --format, each input bundle is shown breadth-first with
    its processing name, creation date, code reference, git facts and run
    time (--json: the same as a list). With --down, --no-up or --format, the
    lineage graph is drawn as a tree (text), a Mermaid flowchart, a Graphviz
    digraph or JSON; --json then means --format json. Inputs that are not in
    the context are marked so. Dates print in local time (ISO 8601); in JSON
    they are UTC, and an unset start or stop time is null.

    \b
    Examples:
      dsdt lineage model                 # the inputs of the latest 'model'
      dsdt lineage 1a2b3c4d --down       # also what was built from it
      dsdt lineage model --format mermaid > lineage.mmd
    """
    from dsdt import api
    from dsdt.errors import UsageError

    ctx = context_or_current(context)
    if as_json and fmt not in (None, Format.json):
        raise UsageError(f"--json conflicts with --format {fmt.value}")
    if fmt is None and not down and up:
        nodes = api.lineage(ctx, uuid, max_depth=depth)
        if not nodes:
            from dsdt.ops.query import ref_not_found

            raise ref_not_found(ctx, uuid)
        if as_json:
            print_json([_node_dict(d, u, info) for d, u, info in nodes])
            return
        for d, u, info in nodes:
            _print_node(d, u, info)
        return
    _print_graph(ctx, uuid, depth, down, up, Format.json if as_json else fmt or Format.text)


def _print_graph(ctx: str | None, uuid: str, depth: int, down: bool, up: bool,
                 fmt: Format) -> None:
    from dsdt import api
    from dsdt.errors import UsageError
    from dsdt.ops import render

    if not (up or down):
        raise UsageError("--no-up without --down leaves nothing to show")
    g = api.lineage_graph(ctx, uuid, max_depth=depth, downstream=down, upstream=up)
    draw = {Format.text: render.render_text, Format.mermaid: render.render_mermaid,
            Format.dot: render.render_dot, Format.json: render.render_json}[fmt]
    typer.echo(draw(g), nl=False)


def _node_dict(depth: int, uuid: str, info: "LineageInfo | None") -> dict[str, Any]:
    if info is None:
        return {"depth": depth, "uuid": uuid, "name": None, "processing_name": None,
                "created": None, "depends_on": None, "code_ref": None, "git": None,
                "start_time": None, "stop_time": None}
    return {
        "depth": depth, "uuid": uuid, "name": info.name,
        "processing_name": info.processing_name, "created": json_date(info.creation_date),
        "depends_on": [{"processing_name": dep.processing_name, "uuid": dep.uuid,
                        "arg_name": dep.arg_name} for dep in info.depends_on],
        "code_ref": info.code_ref, "git": info.git,
        "start_time": json_date(info.start_time), "stop_time": json_date(info.stop_time),
    }


def _print_node(depth: int, uuid: str, info: "LineageInfo | None") -> None:
    pad = "\t" * depth
    if info is None:
        typer.echo(f"{pad}{uuid} (not in this context)")
        return
    git = info.git
    duration = info.stop_time - info.start_time if info.start_time and info.stop_time else None
    lines = [
        f"------ Lineage @ depth {depth} -----",
        f"name:            {info.name}",
        f"processing name: {info.processing_name}",
        f"uuid:            {info.uuid}",
        f"created:         {text_date(info.creation_date)}",
        f"code ref:        {info.code_ref or '-'}",
        f"git repo:        {git.get('repo') or '-'}",
        f"git commit:      {git.get('commit') or '-'}",
        f"git branch:      {git.get('branch') or '-'}",
        f"start:           {text_date(info.start_time)}",
        f"stop:            {text_date(info.stop_time)}",
        f"duration:        {f'{duration:.3f}s' if duration is not None else '-'}",
    ]
    lines += [f"input:           {dep.arg_name} {dep.uuid} ({dep.processing_name})"
              for dep in info.depends_on]
    from dsdt.objects.gate import printable

    for line in lines:
        typer.echo(pad + printable(line))
