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
        "-f", "--force", help="With -d: delete even if some bundle's data is only here (not "
        "pushed, in no other context) and would be lost to the next gc.")] = False,
    remote: Annotated[bool, typer.Option(
        "-r", "--remote", help="With -d -f: also delete the bound remote context (its "
        "bundles, and their data no other remote context uses).")] = False,
) -> None:
    """List contexts (no argument), create one, or delete one with -d.

    The list marks the current context with '*' and shows the bound remote as
    [remote@url]. Like 'git branch -d', -d refuses when a bundle's data would
    be left nowhere (it is only here: uncommitted, or committed and not
    pushed, and in no other context); -f deletes anyway. This reads nothing
    remote: the remote is as the last push or pull saw it.
    """
    from dsdt import api
    from dsdt.errors import ContextNotFoundError, UsageError

    if name is None:
        if delete or force or remote:
            raise UsageError("-d/--delete, -f/--force and -r/--remote need a context name")
        _list(api.contexts())
    elif delete:
        if name not in api.ls_contexts():
            raise ContextNotFoundError(f"no context {name!r} to delete")
        was_current = api.current_context() == name
        api.delete_context(name, remote=remote, force=force)
        typer.echo(f"Deleted context {name}")
        now = api.current_context()
        if was_current:
            typer.echo(f"{name} was the current context; the current context is now "
                       f"{now}" if now else f"{name} was the current context; choose another "
                       "with 'dsdt switch <context>'")
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
