"""``dsdt context``: list, create or delete contexts."""

from typing import Annotated

import typer

NAME = "context"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="CONTEXT",
        help="Context to create, as [REMOTE/]LOCAL (or to delete with -d).")] = None,
    delete: Annotated[bool, typer.Option("-d", "--delete", help="Delete the context.")] = False,
    force: Annotated[bool, typer.Option(
        "-f", "--force", help="With -d: delete even if it holds committed bundles.")] = False,
    remote: Annotated[bool, typer.Option(
        "-r", "--remote", help="With -d: also delete the bound remote context.")] = False,
) -> None:
    """List contexts (no argument), create one, or delete one with -d.

    The list marks the current context with '*' and shows the bound remote as
    [remote@url].
    """
    from dsdt import api
    from dsdt.errors import UsageError

    if name is None:
        if delete or force or remote:
            raise UsageError("-d/--delete, -f/--force and -r/--remote need a context name")
        _list(api.contexts())
    elif delete:
        was_current = api.current_context() == name.rpartition("/")[2]
        api.delete_context(name, remote=remote, force=force)
        typer.echo(f"Deleted context {name}")
        if was_current:
            typer.echo(f"{name} was the current context; remember to 'dsdt switch <context>'")
    elif force or remote:
        raise UsageError("-f/--force and -r/--remote only go with -d/--delete")
    elif api.context(name) == 0:
        typer.echo(f"Created context {name}")
    else:
        typer.echo(f"Context {name} already exists")


def _list(contexts: list) -> None:
    for c in contexts:
        bound = ""
        if c.remote_context or c.remote_url:
            bound = f"\t[{c.remote_context}@{c.remote_url}]"
        typer.echo(f"{'*' if c.current else ''}\t{c.name}{bound}")
