"""``dsdt add``: make a bundle from files or directories."""

from typing import Annotated

import typer

from dsdt.commands._render import ContextOpt, TagsOpt, context_or_current, parse_tags

NAME = "add"


def run(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name of the new bundle.")],
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="File(s) or directory(ies) to add.")],
    tag: TagsOpt = None,
    follow_symlinks: Annotated[bool, typer.Option(
        "--follow-symlinks",
        help="Store the targets of symlinks that point outside an added directory "
             "(default: refuse them).")] = False,
    context: ContextOpt = None,
) -> None:
    """Make a bundle NAME from a file, a directory (structure kept) or several paths.

    Prints the uuid of the new bundle.
    """
    from dsdt import api

    tags = parse_tags(tag)
    path: str | list[str] = paths[0] if len(paths) == 1 else paths
    b = api.add(context_or_current(context), name, path, tags=tags or None,
                follow_symlinks=True if follow_symlinks else None)
    typer.echo(b.uuid)
