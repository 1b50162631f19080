"""``dsdt add``: make a bundle from files or directories."""

from typing import Annotated

import typer

from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    bundle_dict,
    context_or_current,
    parse_tags,
    print_json,
)

NAME = "add"


def run(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name of the new bundle.")],
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="File(s) or directory(ies) to add.")],
    tag: Annotated[list[str] | None, typer.Option(
        "-t", "--tag", metavar="KEY:VALUE",
        help="Tag the new bundle with KEY:VALUE (repeatable; split on the first ':', so the "
             "value may contain ':').")] = None,
    follow_symlinks: Annotated[bool, typer.Option(
        "--follow-symlinks",
        help="Store the targets of symlinks that point outside an added directory "
             "(default: refuse them).")] = False,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a bundle NAME from a file, a directory (structure kept) or several paths.

    Prints the uuid of the new bundle (--json: its metadata, as 'dsdt cat
    --json' shows it, with the context).

    \b
    Examples:
      dsdt add raw data/raw/              # a directory, structure kept
      dsdt add model model.pkl -t stage:dev
      dsdt add inputs a.csv b.csv --json
    """
    from dsdt import api

    tags = parse_tags(tag)
    path: str | list[str] = paths[0] if len(paths) == 1 else paths
    ctx = context_or_current(context)
    b = api.add(ctx, name, path, tags=tags or None,
                follow_symlinks=True if follow_symlinks else None)
    if as_json:
        print_json({"context": ctx, **bundle_dict(b)})
    else:
        typer.echo(b.uuid)
