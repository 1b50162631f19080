"""``dsdt status``: the repository, the current context and its contents."""

import typer

from dsdt.commands._render import ContextOpt, JsonOpt, json_date, print_json, text_date

NAME = "status"


def run(context: ContextOpt = None, as_json: JsonOpt = False) -> None:
    """Show the repository, the context, its remote, bundle counts and where their data is.

    Data is 'local' (in the cache), 'remote' (on the context's remote, not
    pulled yet), 'nowhere' (neither: whoever made it has not pushed it) or
    'unknown' (its record arrived, e.g. by git pull, after dsdt last read the
    remote; 'dsdt pull' or 'dsdt fsck' reads it). Local bundles the remote
    does not have yet are counted once this clone has read the remote (a
    fresh clone has not: it says so). A remote binding that changed since
    this clone last used the remote (context.yaml comes with git) is named:
    push and pull refuse it until 'dsdt remote' accepts it. This reads
    nothing remote.

    \b
    Examples:
      dsdt status                        # where every bundle's data is
      dsdt status -c features --json
    """
    from dsdt import api
    from dsdt.objects.gate import printable

    info = api.status(context)
    if as_json:
        print_json(info | {"remote_seen": json_date(info["remote_seen"]),
                           "unreachable": [b | {"seen": json_date(b["seen"])}
                                           for b in info["unreachable"]]})
        return
    remote = info.get("remote") or "none"
    typer.echo(f"repository: {info['repository']}")
    typer.echo(f"context:    {info.get('context') or '(none)'}")
    seen = _seen(info["remote_seen"]) if info["remote_seen"] or not info.get("remote") else \
        " (not read by this clone yet: dsdt pull reads it)"
    typer.echo(f"remote:     {remote}{seen}")
    if info["binding_changed"]:
        typer.echo(f"            {info['binding_changed']}")
    typer.echo(f"bundles:    {info['bundles']} ({info['committed']} committed, "
               f"{info['names']} name(s))")
    counts = info["data"]
    line = "data:       " + ", ".join(f"{counts[k]} {k}" for k in counts)
    if info["only_here"]:
        line += f" ({info['only_here']} local bundle(s) not on the remote: dsdt push)"
    typer.echo(line)
    for b in info["unreachable"]:
        who = printable(b["owner"] or "someone") + (f" on {printable(b['host'])}"
                                                    if b["host"] else "")
        typer.echo(f"  {b['where']}: {printable(b['name'])} {b['uuid']} (made by {who})")


def _seen(seen: float | None) -> str:
    return "" if seen is None else f" (last read {text_date(seen)})"

