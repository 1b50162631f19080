"""``dsdt rm``: remove bundles from a context."""

from typing import Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    TagsOpt,
    UuidOpt,
    context_or_current,
    need_bundle,
    parse_tags,
)

NAME = "rm"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Bundle name or pattern ('*' matches anything).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    rm_all: Annotated[bool, typer.Option(
        "--all", help="Remove every version of the matching names (alone: empty the "
                      "context).")] = False,
    old: Annotated[bool, typer.Option(
        "--old", help="Remove all but the latest version of each matching name.")] = False,
    force: Annotated[bool, typer.Option(
        "-f", "--force", help="Also remove committed bundles.")] = False,
    context: ContextOpt = None,
) -> None:
    """Remove bundles: by default the latest version of each name matching NAME.

    Needs a NAME, -u UUID or -t tags (or --all alone, which empties the context).
    Committed bundles are kept unless --force. The data stays in the cache
    until garbage collection.

    \b
    Examples:
      dsdt rm scores                     # the latest version of 'scores'
      dsdt rm scores --old               # all but the latest
      dsdt rm -u 1a2b3c4d -f             # one version, even if committed
    """
    from dsdt import api

    ctx, tags = context_or_current(context), parse_tags(tag) or None
    removed = api.rm(ctx, name, uuid=uuid, tags=tags, rm_all=rm_all, rm_old_only=old,
                     force=force)
    if not removed:
        if name or uuid or tag:  # nothing matches at all: an error, as for cat and commit
            need_bundle(ctx, name, uuid, tags)
        typer.echo("No bundles to remove.")
        return
    typer.echo(f"Removed {len(removed)} bundle(s)")
    for u in removed:
        typer.echo(u)
