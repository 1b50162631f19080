"""``dsdt remote``: bind a context to a remote context on S3 or in a directory."""

from typing import Annotated

import typer

from dsdt.commands._render import ContextOpt, context_or_current

NAME = "remote"


def run(
    remote_context: Annotated[str, typer.Argument(
        metavar="REMOTE_CONTEXT", help="Name of the context on the remote.")],
    url: Annotated[str, typer.Argument(
        metavar="URL",
        help="Where the remote is: s3://bucket[/prefix], file:///dir or a directory path "
             "(the bucket or directory must exist).")],
    force: Annotated[bool, typer.Option(
        "-f", "--force",
        help="Re-bind a context already bound elsewhere (data only on the old remote "
             "becomes unreachable from it).")] = False,
    context: ContextOpt = None,
) -> None:
    """Bind the current context (or -c CONTEXT) to REMOTE_CONTEXT at URL.

    Push and pull then move bundles between the local context and the remote
    context. Binding the same remote again is harmless; binding another one
    needs --force.

    \b
    Examples:
      dsdt remote shared s3://team-bucket/projects/churn
      dsdt remote shared /mnt/nas/dsdt-remote -c features
      dsdt remote other s3://bucket/x --force   # re-bind
    """
    from dsdt import api

    ctx = context_or_current(context)
    api.remote(ctx, remote_context, url, force=force)
    typer.echo(f"Bound context {ctx} to {binding(ctx)}")


def binding(ctx: str | None) -> str:
    """``REMOTE_CONTEXT@URL`` of the context ``ctx`` (as stored, URL normalised).

    Args:
        ctx: A local context name.

    Returns:
        The binding, or ``its remote`` when the context is unknown or unbound.
    """
    bound = remote_dict(ctx)
    return f"{bound['context']}@{bound['url']}" if bound else "its remote"


def remote_dict(ctx: str | None) -> dict[str, str] | None:
    """``{"context": remote context, "url": url}`` of the remote bound to ``ctx``, or None."""
    from dsdt import api

    for c in api.contexts():
        if c.name == ctx and c.remote_url:
            return {"context": str(c.remote_context), "url": str(c.remote_url)}
    return None
