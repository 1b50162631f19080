"""``dsdt rmr``: remove bundles from the context's remote."""

from typing import Annotated

import typer

from dsdt.commands._render import ContextOpt, TagsOpt, UuidOpt, context_or_current, parse_tags

NAME = "rmr"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME",
        help="Remove the remote copies of every local version with this name "
             "('*' matches anything).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    dryrun: Annotated[bool, typer.Option(
        "--dryrun", help="Only list the bundles that would be removed.")] = False,
    context: ContextOpt = None,
) -> None:
    """Remove bundles from the remote bound with 'dsdt remote' (local copies stay).

    Bundles are chosen like local ones (every local version matching NAME and
    the tags), or by -u UUID even when the bundle is not local. Data that
    other remote bundles still use is kept.
    """
    from dsdt import api

    removed = api.rmr(context_or_current(context), name, uuid=uuid,
                      tags=parse_tags(tag) or None, dryrun=dryrun)
    if not removed:
        typer.echo("No bundles to remove from the remote.")
    elif dryrun:
        typer.echo(f"Found {len(removed)} bundle(s) to remove from the remote:")
    else:
        typer.echo(f"Removed {len(removed)} bundle(s) from the remote.")
    for u in removed:
        typer.echo(u)
