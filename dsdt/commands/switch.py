"""``dsdt switch``: change the current context."""

from typing import Annotated

import typer

NAME = "switch"


def run(
    context: Annotated[str, typer.Argument(metavar="CONTEXT",
                                           help="The context to make current.")],
) -> None:
    """Make CONTEXT the current context (it must exist; see 'dsdt context')."""
    from dsdt import api

    api.switch(context)
    typer.echo(f"Switched to context {context}")
