"""``dsdt diff``: what changed between two versions of a bundle, from their records only."""

from typing import Annotated

import typer

from dsdt.commands import _complete
from dsdt.commands._render import ContextOpt, JsonOpt, context_or_current, print_json
from dsdt.ops.difftext import render

NAME = "diff"


def run(
    bundles: Annotated[list[str] | None, typer.Argument(
        metavar="[[OLD] NEW]", autocompletion=_complete.bundle_names,
        help="One bundle: compare it with the version of its name before "
             "it. Two: compare OLD with NEW. Each is a name (its latest "
             "version), a uuid or a unique uuid prefix.")] = None,
    uuid: Annotated[list[str] | None, typer.Option(
        "-u", "--uuid", metavar="UUID",
        help="Compare these two bundles instead (give -u twice: old, then new).")] = None,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what changed between two versions of a bundle.

    'dsdt diff NAME' compares the latest version of NAME with the one before;
    'dsdt diff UUID' compares that version with the one before it; 'dsdt diff
    OLD NEW' (or -u OLD -u NEW) compares any two bundles.

    One line per change: '+' added, '-' removed, '~' changed, '?' unknown (no
    summary recorded). Tags, params, inputs, code commit, and the data:
    columns, stats and rows of DataFrames, arrays, files of directories, and
    values inside containers. Only records are read, never the data, so it
    works for bundles whose data is only on a remote. The two header lines
    show each bundle's creation date in local time (--json: UTC).

    \b
    Examples:
      dsdt diff scores                   # latest vs the one before
      dsdt diff 1a2b3c4d 5e6f7a8b        # any two bundles
      dsdt diff scores --json
    """
    from dsdt import api
    from dsdt.errors import UsageError

    refs = list(bundles or [])
    if len(refs) > 2 or (refs and uuid):
        raise UsageError("give one bundle, two bundles (OLD NEW), or -u OLD -u NEW")
    pair = refs if len(refs) == 2 else uuid
    result = api.diff(context_or_current(context), refs[0] if len(refs) == 1 else None, pair)
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo("\n".join(render(result)))
