"""``dsdt commit``: mark a bundle committed."""

from typing import Annotated

import typer

from dsdt.commands._render import ContextOpt, TagsOpt, UuidOpt, context_or_current, parse_tags

NAME = "commit"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", help="Bundle name (its latest version is committed).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    context: ContextOpt = None,
) -> None:
    """Commit the latest bundle called NAME (with the given tags), or the bundle -u UUID.

    Committed bundles are protected from 'dsdt rm' (unless --force). Committing
    twice is harmless.
    """
    from dsdt import api
    from dsdt.errors import UsageError

    tags = parse_tags(tag)
    if name is None and uuid is None and not tags:
        raise UsageError("name the bundle to commit (NAME, -u UUID or -t KEY:VALUE)")
    b = api.commit(context_or_current(context), name, tags=tags or None, uuid=uuid)
    typer.echo(f"Committed {b.name} {b.uuid}")
