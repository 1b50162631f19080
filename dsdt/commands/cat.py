"""``dsdt cat``: print a bundle's data (or write it as CSV, or show its metadata)."""

import json
import pprint
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

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

NAME = "cat"
_SCALARS = (str, int, float, bool, type(None))


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME",
        help="Bundle name (the latest version is shown).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    file: Annotated[Path | None, typer.Option(
        "-f", "--file", metavar="OUT.csv",
        help="Write the data as CSV (no index) to this file instead of printing it.")] = None,
    as_json: JsonOpt = False,
    context: ContextOpt = None,
) -> None:
    """Print the data of the latest bundle called NAME (with the tags), or of -u UUID.

    A DataFrame prints in full; text prints as is; lists and dicts print as
    indented JSON. --json prints the bundle's metadata instead of its data.
    """
    from dsdt import api
    from dsdt.errors import BundleNotFoundError, UsageError

    tags = parse_tags(tag)
    if name is None and uuid is None and not tags:
        raise UsageError("name the bundle to show (NAME, -u UUID or -t KEY:VALUE)")
    ctx = context_or_current(context)
    if as_json:
        b = api.get(ctx, name, uuid=uuid, tags=tags or None)
        if b is None:
            raise BundleNotFoundError(f"no bundle {_what(name, uuid)} in context {ctx!r}")
        print_json(bundle_dict(b))
        return
    value = api.cat(ctx, name, uuid=uuid, tags=tags or None)
    if file is not None:
        _write_csv(_table(value, name or uuid or "bundle"), file)
        typer.echo(f"Wrote {file}")
    else:
        _show(value)


def _what(name: str | None, uuid: str | None) -> str:
    parts = [f"named {name!r}" if name else "", f"with uuid {uuid}" if uuid else ""]
    return " ".join(p for p in parts if p) or "matching the tags"


def _show(value: Any) -> None:
    """Print a bundle's value in the most readable form for its type."""
    module = type(value).__module__
    if isinstance(value, bytes) and sys.stdout.isatty():
        typer.echo(value.decode("utf-8", "backslashreplace"))  # escaped on the way
    elif isinstance(value, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(value)
        sys.stdout.flush()
    elif isinstance(value, str):
        typer.echo(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 13_000:
        typer.echo(hex(value))  # Python prints at most 4,300 decimal digits
    elif isinstance(value, _SCALARS):
        typer.echo(str(value))
    elif module.startswith("pandas") and hasattr(value, "to_string"):
        typer.echo(value.to_string())
    elif module.startswith("numpy") and hasattr(value, "ndim"):
        import numpy as np

        typer.echo(np.array2string(value, threshold=sys.maxsize) if value.ndim else str(value))
    elif isinstance(value, list | dict | tuple):
        typer.echo(_pretty(value))
    else:
        typer.echo(str(value))


def _pretty(value: Any) -> str:
    """Indented JSON when that is lossless (no tuples, only str keys), else ``pprint``."""
    if _only_lists_and_str_keys(value):
        try:
            return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            pass
    return pprint.pformat(value, sort_dicts=False)


def _only_lists_and_str_keys(value: Any) -> bool:
    if isinstance(value, tuple):
        return False
    if isinstance(value, list):
        return all(_only_lists_and_str_keys(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_lists_and_str_keys(v) for k, v in value.items())
    return True


def _write_csv(table: Any, file: Path) -> None:
    """Write a DataFrame as CSV without its index; OS errors become :class:`PathError`."""
    from dsdt.errors import PathError

    try:
        table.to_csv(file, index=False)
    except OSError as e:
        raise PathError(f"cannot write {file}: {e}") from None


def _table(value: Any, what: str) -> Any:
    """The value as a DataFrame, for CSV output.

    Raises:
        dsdt.errors.UsageError: The value is not table-like.
    """
    import pandas as pd

    from dsdt.errors import UsageError

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame()
    if type(value).__module__.startswith("numpy") and getattr(value, "ndim", 0) in (1, 2):
        return pd.DataFrame(value)
    if isinstance(value, list | tuple) and value and all(isinstance(r, dict) for r in value):
        return pd.DataFrame(list(value))
    if isinstance(value, list | tuple) and value and all(isinstance(v, _SCALARS) for v in value):
        return pd.DataFrame({"value": list(value)})
    if isinstance(value, dict) and value and all(
            isinstance(v, list | tuple) for v in value.values()):
        try:
            return pd.DataFrame({k: list(v) for k, v in value.items()})
        except ValueError:
            pass
    raise UsageError(f"bundle {what!r} holds a {type(value).__name__}, which is not a table; "
                     "-f/--file writes DataFrames, Series, arrays and lists of records only")
