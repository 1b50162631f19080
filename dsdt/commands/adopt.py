"""``dsdt adopt``: check in bundles pulled from the context's remote."""

from typing import Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    TagsOpt,
    UuidOpt,
    context_or_current,
    need_bundle,
    parse_tags,
    print_json,
)

NAME = "adopt"


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Only bundles with this name ('*' matches anything; default: all).")
    ] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check in pulled bundles (all, NAME, -u UUID or -t KEY:VALUE), so a git commit records them.

    'dsdt pull' keeps what it brings in .dsdt/cache, which git ignores, so git
    pull and dsdt pull never fight over files. Adopting writes the records and
    refs of pulled bundles into .dsdt/records and .dsdt/refs; commit them with
    git before your next git pull (git refuses to overwrite untracked files,
    even identical ones). Bundles already checked in are left alone. --json
    prints {"context", "adopted": [uuids]}.

    \b
    Examples:
      dsdt adopt                         # every pulled bundle
      dsdt adopt scores && git add .dsdt && git commit -m 'scores'
    """
    from dsdt import api

    ctx, tags = context_or_current(context), parse_tags(tag) or None
    adopted = api.adopt(ctx, name, uuid, tags)
    if not adopted and (name or uuid or tags):
        need_bundle(ctx, name, uuid, tags, "; pull it first (dsdt pull)")
    if as_json:
        print_json({"context": ctx, "adopted": adopted})
    else:
        typer.echo(f"Adopted {len(adopted)} bundle(s) into {ctx}")
