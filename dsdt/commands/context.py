"""``dsdt context``: list, create or delete contexts."""

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import JsonOpt, print_json

if TYPE_CHECKING:
    from dsdt.repo import ContextInfo

NAME = "context"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="CONTEXT", autocompletion=_complete.contexts,
        help="Context to create, as [REMOTE/]LOCAL (or to delete with -d).")] = None,
    delete: Annotated[bool, typer.Option("-d", "--delete", help="Delete the context.")] = False,
    force: Annotated[bool, typer.Option(
        "-f", "--force", help="With -d: delete even if some bundle's data is only here (not "
        "pushed, in no other context) and would be lost to the next gc.")] = False,
    remote: Annotated[bool, typer.Option(
        "-r", "--remote", help="With -d -f: also delete the bound remote context (its "
        "bundles, and their data no other remote context uses).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List contexts (no argument), create one, or delete one with -d.

    The list marks the current context with '*' and shows the bound remote as
    [remote@url]. 'dsdt context A/B' creates context B bound to the remote
    context A (its remote URL comes with 'dsdt remote').

    --json prints the list as [{"name", "remote_context", "remote_url",
    "current", "broken"}] (broken: why the context's context.yaml is unreadable,
    else null), a creation as {"context", "remote_context", "created"} and a
    deletion as {"deleted", "current"}.

    Like 'git branch -d', -d refuses when a bundle's data would be left
    nowhere (it is only here: uncommitted, or committed and not pushed, and in
    no other context); -f deletes anyway. This reads nothing remote: the
    remote is as the last push or pull saw it.

    \b
    Examples:
      dsdt context                       # list; '*' marks the current one
      dsdt context features             # create context 'features'
      dsdt context -d scratch           # delete, refusing if data would be lost
    """
    from dsdt import api
    from dsdt.errors import ContextNotFoundError, UsageError

    if name is None:
        if delete or force or remote:
            raise UsageError("-d/--delete, -f/--force and -r/--remote need a context name")
        _list(api.contexts(), as_json)
    elif delete:
        if name not in [c.name for c in api.contexts()]:  # a broken one too
            raise ContextNotFoundError(f"no context {name!r} to delete")
        _delete(name, remote, force, as_json)
    elif force or remote:
        raise UsageError("-f/--force and -r/--remote only go with -d/--delete")
    else:
        _create(name, as_json)


def _create(spec: str, as_json: bool) -> None:
    from dsdt import api
    from dsdt.refs.names import split_context

    remote_context, local = split_context(spec)
    created = api.context(spec) == 0
    if as_json:
        print_json({"context": local, "remote_context": remote_context, "created": created})
    elif not created:
        typer.echo(f"Context {local} already exists")
    elif remote_context is None:
        typer.echo(f"Created context {local}")
    else:
        typer.echo(f"Created context {local}, bound to remote context {remote_context} (the "
                   f"part before '/'); give it a remote with 'dsdt remote {remote_context} URL "
                   f"-c {local}'")


def _delete(name: str, remote: bool, force: bool, as_json: bool) -> None:
    from dsdt import api

    was_current = api.current_context() == name
    api.delete_context(name, remote=remote, force=force, strict=True)
    now = api.current_context()
    if as_json:
        print_json({"deleted": name, "current": now})
        return
    typer.echo(f"Deleted context {name}")
    if was_current:
        typer.echo(f"{name} was the current context; the current context is now {now}" if now
                   else f"{name} was the current context; choose another with 'dsdt switch "
                   "<context>'")


def _list(contexts: "list[ContextInfo]", as_json: bool) -> None:
    if as_json:
        print_json([asdict(c) for c in contexts])
        return
    for c in contexts:
        bound = ""
        if c.broken:
            bound = "\t[broken: its context.yaml is unreadable; run dsdt fsck]"
        elif c.remote_context or c.remote_url:
            bound = f"\t[{c.remote_context}@{c.remote_url or '(no URL yet: dsdt remote)'}]"
        typer.echo(f"{'*' if c.current else ''}\t{c.name}{bound}")
