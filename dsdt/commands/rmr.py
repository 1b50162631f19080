"""``dsdt rmr``: remove bundles from the context's remote."""

from typing import Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import ContextOpt, TagsOpt, UuidOpt, context_or_current, parse_tags

NAME = "rmr"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Remove every version with this name, local or only on the remote "
             "('*' matches anything).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    dryrun: Annotated[bool, typer.Option(
        "--dryrun", help="Only list the bundles that would be removed.")] = False,
    context: ContextOpt = None,
) -> None:
    """Remove bundles from the remote bound with 'dsdt remote'.

    Bundles are chosen by NAME (every version the remote or this clone has),
    by NAME and -t tags (the versions here that match), or by -u UUID. Data
    that other remote bundles still use is kept. Checked-in bundles stay here
    (with their local data); bundles that were only pulled disappear with
    their remote copy.

    \b
    Examples:
      dsdt rmr scores --dryrun           # what would go
      dsdt rmr -u 1a2b3c4d
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
