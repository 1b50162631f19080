"""``dsdt switch``: change the current context."""

from typing import Annotated

import typer

from dsdt.commands import _complete

NAME = "switch"


def run(
    context: Annotated[str, typer.Argument(metavar="CONTEXT", autocompletion=_complete.contexts,
                                           help="The context to make current.")],
) -> None:
    """Make CONTEXT the current context (it must exist; see 'dsdt context').

    \b
    Examples:
      dsdt switch features
      dsdt context features && dsdt switch features
    """
    from dsdt import api

    api.switch(context)
    typer.echo(f"Switched to context {context}")
