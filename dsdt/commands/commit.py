"""``dsdt commit``: mark a bundle committed."""

from typing import Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    TagsOpt,
    UuidOpt,
    bundle_dict,
    context_or_current,
    parse_tags,
    print_json,
)

NAME = "commit"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Bundle name (its latest version is committed).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Commit the latest bundle called NAME (with the given tags), or the bundle -u UUID.

    Committed bundles are protected from 'dsdt rm' (unless --force). Committing
    twice is harmless. --json prints the bundle's metadata (as 'dsdt cat
    --json', with "context").

    \b
    Examples:
      dsdt commit scores
      dsdt commit -u 1a2b3c4d
      dsdt commit -t stage:prod --json
    """
    from dsdt import api
    from dsdt.errors import UsageError

    tags = parse_tags(tag)
    if name is None and uuid is None and not tags:
        raise UsageError("name the bundle to commit (NAME, -u UUID or -t KEY:VALUE)")
    ctx = context_or_current(context)
    b = api.commit(ctx, name, tags=tags or None, uuid=uuid)
    if as_json:
        print_json({"context": ctx, **bundle_dict(b)})
    else:
        typer.echo(f"Committed {b.name} {b.uuid}")
