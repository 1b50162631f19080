"""``dsdt gc``: reclaim the space of removed bundles."""

from dataclasses import asdict
from typing import Annotated

import typer

from dsdt.commands._render import JsonOpt, fmt_bytes, print_json

NAME = "gc"


def run(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", "-n", help="List what would be removed (and how many bytes); remove "
        "nothing.")] = False,
    remote: Annotated[bool, typer.Option(
        "--remote", help="Collect on the remotes bound to the contexts instead; objects "
        "younger than remote_gc_grace seconds are kept. Packs of small files that no bundle "
        "needs are removed; those mostly garbage are rewritten with only what is "
        "needed.")] = False,
    workspace_only: Annotated[bool, typer.Option(
        "--workspace-only", help="Keep what the work tree's contexts use; of the bundles "
        "other git branches, tags or stashes hold, remove the data that is on a remote "
        "(never the only copy).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove data and records that no ref reaches (rm only moves refs; gc frees the space).

    Everything any context (or, with --remote, any remote context) still uses
    is kept. Inside a git project, so is the data of every bundle git holds:
    in any branch, tag, remote-tracking ref, stash entry or the index (git's
    objects are read, nothing is checked out). Safe while other dsdt
    processes write: their unfinished bundles and open bundles are left alone.

    \b
    Examples:
      dsdt gc --dry-run                  # what would be freed
      dsdt gc
      dsdt gc --remote
    """
    from dsdt import api
    from dsdt.errors import UsageError

    if remote and workspace_only:
        raise UsageError("--workspace-only is about the local cache; it does not go with --remote")
    result = api.gc(dry_run=dry_run, remote=remote, workspace_only=workspace_only)
    reports = result if isinstance(result, list) else [result]
    if as_json:
        print_json([asdict(r) for r in reports] if remote else asdict(result))
        return
    verb = "Would remove" if dry_run else "Removed"
    for r in reports:
        where = f" from {r.url}" if remote else ""
        typer.echo(f"{verb} {len(r.blobs)} blob(s), {fmt_bytes(r.bytes)}, and "
                   f"{len(r.records)} record(s){where}; kept {r.kept_blobs} blob(s)")
        if remote and (r.packs_removed or r.packs_rewritten):
            typer.echo(f"  {r.packs_removed} pack(s) removed whole, {r.packs_rewritten} "
                       "rewritten without their garbage")
        for error in r.errors if remote else []:
            typer.echo(f"  {error}")
        if remote and r.young:
            typer.echo(f"  {r.young} unreferenced object(s) younger than the grace period kept")
        if not remote and r.git_records and not workspace_only:
            typer.echo(f"  kept the data of {r.git_records} bundle(s) that other git branches, "
                       "tags or stashes hold")
        if not remote and r.unpushed:
            typer.echo(f"  kept the data of {r.unpushed} bundle(s) that other git branches, "
                       "tags or stashes hold and no remote has (push them to free it)")
        if dry_run:
            for blob in r.blobs:
                typer.echo(f"  blob   {blob}")
            for uuid in r.records:
                typer.echo(f"  record {uuid}")
    if remote and not reports:
        typer.echo("No context is bound to a remote.")
