"""``dsdt status``: the repository, the current context and its contents."""

import typer

from dsdt.commands._render import ContextOpt, JsonOpt, print_json

NAME = "status"


def run(context: ContextOpt = None, as_json: JsonOpt = False) -> None:
    """Show the repository path, the context, its remote and bundle counts."""
    from dsdt import api

    info = api.status(context)
    if as_json:
        print_json(info)
        return
    remote = info.get("remote") or "none"
    typer.echo(f"repository: {info['repository']}")
    typer.echo(f"context:    {info.get('context') or '(none)'}")
    typer.echo(f"remote:     {remote}")
    typer.echo(f"bundles:    {info['bundles']} ({info['committed']} committed, "
               f"{info['names']} name(s))")

