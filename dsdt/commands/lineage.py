"""``dsdt lineage``: where a bundle came from, breadth-first through its inputs."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsdt.commands._render import ContextOpt, JsonOpt, context_or_current, fmt_epoch, print_json

if TYPE_CHECKING:
    from dsdt.bundle import LineageInfo

NAME = "lineage"


def run(
    uuid: Annotated[str, typer.Argument(metavar="UUID", help="Uuid of the bundle to start from.")],
    depth: Annotated[int, typer.Option(
        "-d", "--depth", min=0, metavar="N", help="How many levels of inputs to follow.")] = 3,
    as_json: JsonOpt = False,
    context: ContextOpt = None,
) -> None:
    """Show the lineage of bundle UUID and of its inputs, breadth-first.

    Each bundle shows its processing name, creation date, code reference, git
    facts and run time. Inputs that are not in the context are marked so.
    """
    from dsdt import api
    from dsdt.errors import BundleNotFoundError

    ctx = context_or_current(context)
    nodes = api.lineage(ctx, uuid, max_depth=depth)
    if not nodes:
        raise BundleNotFoundError(f"no bundle with uuid {uuid} in context {ctx!r}")
    if as_json:
        print_json([_node_dict(d, u, info) for d, u, info in nodes])
        return
    for d, u, info in nodes:
        _print_node(d, u, info)


def _node_dict(depth: int, uuid: str, info: "LineageInfo | None") -> dict[str, Any]:
    if info is None:
        return {"depth": depth, "uuid": uuid, "name": None, "processing_name": None,
                "created": None, "depends_on": None, "code_ref": None, "git": None,
                "start_time": None, "stop_time": None}
    return {
        "depth": depth, "uuid": uuid, "name": info.name,
        "processing_name": info.processing_name, "created": info.creation_date.isoformat(),
        "depends_on": [{"processing_name": dep.processing_name, "uuid": dep.uuid,
                        "arg_name": dep.arg_name} for dep in info.depends_on],
        "code_ref": info.code_ref, "git": info.git,
        "start_time": info.start_time, "stop_time": info.stop_time,
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
        f"created:         {info.creation_date.astimezone():%Y-%m-%d %H:%M:%S}",
        f"code ref:        {info.code_ref or '-'}",
        f"git repo:        {git.get('repo') or '-'}",
        f"git commit:      {git.get('commit') or '-'}",
        f"git branch:      {git.get('branch') or '-'}",
        f"start:           {fmt_epoch(info.start_time)}",
        f"stop:            {fmt_epoch(info.stop_time)}",
        f"duration:        {f'{duration:.3f}s' if duration is not None else '-'}",
    ]
    lines += [f"input:           {dep.arg_name} {dep.uuid} ({dep.processing_name})"
              for dep in info.depends_on]
    for line in lines:
        typer.echo(pad + line)
