"""``dsdt du``: where the bytes go."""

from dataclasses import asdict

import typer

from dsdt.commands._render import ContextOpt, JsonOpt, fmt_bytes, print_json

NAME = "du"


def run(context: ContextOpt = None, as_json: JsonOpt = False) -> None:
    """Bytes per context and per bundle name: apparent versus stored.

    'apparent' adds each bundle's data as if it were alone; 'stored' counts
    what is in the local cache, data shared between versions, names or
    contexts once (as it is on disk; data only on a remote counts 0).
    Without --context every context is shown.

    \b
    Examples:
      dsdt du
      dsdt du -c features
    """
    from dsdt import api

    usage = api.du(context)
    if as_json:
        print_json(asdict(usage))
        return
    rows = [(u.context, u.name, u.bundles, u.apparent, u.unique) for u in usage.names]
    width = max([len(f"{c}/{n}") for c, n, *_ in rows]
                + [len(f"{u.context} (all)") for u in usage.contexts] + [12])
    typer.echo(f"{'NAME':<{width}}  {'BUNDLES':>7}  {'APPARENT':>10}  {'STORED':>10}")
    for c, n, count, apparent, unique in rows:
        typer.echo(f"{c + '/' + n:<{width}}  {count:>7}  {fmt_bytes(apparent):>10}  "
                   f"{fmt_bytes(unique):>10}")
    for u in usage.contexts:
        typer.echo(f"{u.context + ' (all)':<{width}}  {u.bundles:>7}  "
                   f"{fmt_bytes(u.apparent):>10}  {fmt_bytes(u.unique):>10}")
    typer.echo(f"{'total':<{width}}  {'':>7}  {fmt_bytes(usage.total_apparent):>10}  "
               f"{fmt_bytes(usage.total_unique):>10}")
