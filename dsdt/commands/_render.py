"""Helpers shared by the verbs: option types, tag parsing, dates, JSON and bundle rows.

This module is imported at start-up, so it must stay light: no :mod:`dsdt.api`,
pandas or numpy at module level.
"""

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dsdt._dates import json_date, text_date
from dsdt.commands import _complete
from dsdt.ops.difftext import fmt_bytes
from dsdt.refs.names import parse_tags

# shared by the verbs through this module
__all__ = ["fmt_bytes", "json_date", "parse_tags", "text_date"]

if TYPE_CHECKING:
    from dsdt.bundle import Bundle

TagsOpt = Annotated[
    list[str] | None,
    typer.Option("-t", "--tag", metavar="KEY:VALUE",
                 help="Tag filter KEY:VALUE (repeatable; split on the first ':', so the "
                      "value may contain ':')."),
]
ContextOpt = Annotated[
    str | None,
    typer.Option("-c", "--context", metavar="CONTEXT", autocompletion=_complete.contexts,
                 help="Context to use instead of the current one."),
]
UuidOpt = Annotated[
    str | None,
    typer.Option("-u", "--uuid", metavar="UUID",
                 help="Select the bundle with this uuid (or a unique prefix of 4 or more "
                      "characters)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def context_or_current(context: str | None) -> str | None:
    """The context given with ``--context``, else the current context (None if none)."""
    from dsdt import api

    return context if context else api.current_context()


def need_bundle(ctx: str | None, name: str | None, uuid: str | None,
                tags: dict[str, str] | None, hint: str = "") -> "Bundle":
    """The bundle ``api.get`` finds, or a :class:`BundleNotFoundError` naming what was asked.

    Args:
        hint: Appended to the message (``"; pull it first"``).
    """
    from dsdt import api
    from dsdt.errors import BundleNotFoundError
    from dsdt.ops.query import describe, left_out_note

    b = api.get(ctx, name, uuid=uuid, tags=tags)
    if b is None:
        raise BundleNotFoundError(f"no bundle {describe(name, uuid, tags)} in context "
                                  f"{ctx!r}{hint}"
                                  f"{left_out_note(api.catalog(ctx, limit=1).skipped)}")
    return b


def fmt_pairs(pairs: dict[str, str]) -> str:
    """Tags or params as Disdat prints them: ``[k]:[v]`` separated by spaces."""
    from dsdt.objects.gate import printable

    return " ".join(f"[{printable(k)}]:[{printable(v)}]" for k, v in pairs.items())


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (non-JSON values are converted with ``str``)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def bundle_dict(b: "Bundle") -> dict[str, Any]:
    """The metadata of a closed bundle as a JSON-ready dict (never touches ``b.data``)."""
    return {
        "name": b.name,
        "uuid": b.uuid,
        "processing_name": b.processing_name,
        "owner": b.owner,
        "created": json_date(b.creation_date),
        "committed": bool(b.is_committed),
        "tags": b.user_tags,
        "params": b.params,
    }


def padded(rows: list[list[str]]) -> list[str]:
    """Lay out rows as left-aligned columns separated by two spaces (last column unpadded)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]
        out.append("  ".join(cells).rstrip())
    return out
