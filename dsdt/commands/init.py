"""``dsdt init``: create a repository."""

from typing import Annotated

import typer

NAME = "init"


def run(
    path: Annotated[str | None, typer.Argument(
        metavar="PATH",
        help="Project directory to create .dsdt in (default: the current directory).")] = None,
) -> None:
    """Create an empty dsdt repository (.dsdt/) with a 'default' context.

    Fails if the directory already holds a repository.

    \b
    Examples:
      dsdt init                          # .dsdt/ here, with context 'default'
      dsdt init && git add .dsdt && git commit -m 'dsdt'
    """
    from dsdt import api

    root = api.init(path)
    typer.echo(f"Initialized empty dsdt repository in {root}")
