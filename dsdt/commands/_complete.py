"""Shell completion of context and bundle names (``dsdt --install-completion``).

Completion runs dsdt once per key press, so these read the index and the
context refs only, never a record or the data, and a problem (no
repository, an unreadable one) completes nothing rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable

import typer


def _quietly(fn: Callable[[], list[str]]) -> list[str]:
    from dsdt.errors import DsdtError

    try:
        return fn()
    except (DsdtError, OSError):
        return []


def contexts(incomplete: str) -> list[str]:
    """Local context names starting with ``incomplete``."""
    from dsdt import api

    return _quietly(lambda: [c for c in api.ls_contexts() if c.startswith(incomplete)])


def bundle_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Bundle names starting with ``incomplete`` in the context the command line names
    (``-c``), else the current one."""
    from dsdt import api

    local = ctx.params.get("context") or None
    return _quietly(lambda: api.bundle_names(local or api.current_context(), incomplete))
