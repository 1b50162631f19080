"""``dsdt cat``: print a bundle's data (or write it as CSV or parquet, or show its metadata).

A large DataFrame, Series or array prints as a preview, the way pandas and
numpy show them: the first and last rows and the shape. Only the rows shown
are ever formatted, so a preview of millions of rows is as quick as one of ten.
"""

import json
import os
import pprint
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dsdt.commands import _complete
from dsdt.commands._render import (
    ContextOpt,
    JsonOpt,
    TagsOpt,
    UuidOpt,
    bundle_dict,
    context_or_current,
    need_bundle,
    parse_tags,
    print_json,
)

NAME = "cat"
_SCALARS = (str, int, float, bool, type(None))
#: Frames and Series with more rows than this print as a preview (pandas' display.max_rows).
PREVIEW_MAX_ROWS = 60
#: Rows a preview shows: half from the top, half from the bottom (pandas' display.min_rows).
PREVIEW_ROWS = 10
#: Arrays with more elements than this print summarized (numpy's print threshold).
PREVIEW_MAX_ITEMS = 1000
_FORMATS = {".csv": "CSV", ".parquet": "parquet"}


def run(
    name: Annotated[str | None, typer.Argument(
        metavar="NAME", autocompletion=_complete.bundle_names,
        help="Bundle name (the latest version is shown).")] = None,
    uuid: UuidOpt = None,
    tag: TagsOpt = None,
    all_rows: Annotated[bool, typer.Option(
        "--all", help="Print every row of a DataFrame, Series or array, not a preview.")] = False,
    rows: Annotated[int | None, typer.Option(
        "-n", "--rows", min=1, metavar="N",
        help="Print only the first N rows of a DataFrame, Series or array.")] = None,
    file: Annotated[Path | None, typer.Option(
        "-f", "--file", metavar="OUT.csv|OUT.parquet",
        help="Write the data to this file instead of printing it, as CSV or parquet "
             "(chosen by the suffix), with its index.")] = None,
    as_json: JsonOpt = False,
    context: ContextOpt = None,
) -> None:
    """Print the data of the latest bundle called NAME (with the tags), or of -u UUID.

    A DataFrame or Series of more than 60 rows prints as a preview: the first
    and last 5 rows and its shape, as pandas shows it (a large array: its
    corners and shape, as numpy does); --all prints every row, -n N the first
    N. Text prints as is; lists and dicts print as indented JSON. -f writes a
    table (DataFrame, Series, array, list of records) to a .csv or .parquet
    file with its index (CSV: as the first columns, unless it is the default
    0..n-1; read it back with pandas.read_csv(FILE, index_col=0)). --json
    prints the bundle's metadata instead of its data.

    \b
    Examples:
      dsdt cat scores                   # a preview: head, tail and shape
      dsdt cat scores -n 20             # the first 20 rows (--all: every row)
      dsdt cat scores -f scores.parquet # the whole table to a file, index kept
    """
    from dsdt import api
    from dsdt.errors import UsageError

    tags = parse_tags(tag)
    if name is None and uuid is None and not tags:
        raise UsageError("name the bundle to show (NAME, -u UUID or -t KEY:VALUE)")
    _check_choices(all_rows, rows, file, as_json)
    ctx = context_or_current(context)
    if as_json:
        print_json(bundle_dict(need_bundle(ctx, name, uuid, tags or None)))
        return
    value = api.cat(ctx, name, uuid=uuid, tags=tags or None)
    if file is not None:
        _write_table(_table(value, name or uuid or "bundle"), file)
        typer.echo(f"Wrote {file}")
    else:
        _show(value, None if all_rows else rows or 0)


def _check_choices(all_rows: bool, rows: int | None, file: Path | None, as_json: bool) -> None:
    """Refuse options that contradict each other, before any data is read."""
    from dsdt.errors import UsageError

    if all_rows and rows is not None:
        raise UsageError("--all and -n/--rows exclude each other")
    if file is not None and as_json:
        raise UsageError("-f writes the data and --json prints the metadata: give one of them")
    if (all_rows or rows is not None) and (file is not None or as_json):
        raise UsageError("--all and -n/--rows choose the rows to print; -f writes every row "
                         "and --json prints metadata")
    if file is not None and file.suffix.lower() not in _FORMATS:
        raise UsageError(f"cannot tell the format of {file.name!r}: -f writes .csv or "
                         ".parquet files")


def _show(value: Any, rows: int | None) -> None:
    """Print a bundle's value in the most readable form for its type.

    Args:
        value: The bundle's data.
        rows: For tables and arrays: ``None`` every row, ``0`` a preview, else the first N.
    """
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
        typer.echo(_pandas_text(value, rows))
    elif module.startswith("numpy") and hasattr(value, "ndim"):
        typer.echo(_array_text(value, rows) if value.ndim else str(value))
    elif isinstance(value, list | dict | tuple):
        typer.echo(_pretty(value))
    else:
        typer.echo(str(value))


def _pandas_text(value: Any, rows: int | None) -> str:
    """A DataFrame or Series as text: every row, the first ``rows``, or a preview (0)."""
    import pandas as pd

    if not isinstance(value, pd.DataFrame | pd.Series):
        return str(value.to_string())
    if rows:
        return str(value.head(rows).to_string())
    if rows is None or len(value) <= PREVIEW_MAX_ROWS:
        return str(value.to_string())
    if isinstance(value, pd.Series):
        return str(value.to_string(max_rows=PREVIEW_MAX_ROWS, min_rows=PREVIEW_ROWS,
                                   length=True, name=True, dtype=True))
    return str(value.to_string(max_rows=PREVIEW_MAX_ROWS, min_rows=PREVIEW_ROWS,
                               show_dimensions=True))


def _array_text(value: Any, rows: int | None) -> str:
    """An array as text: every row, the first ``rows``, or summarized with its shape (0)."""
    import numpy as np

    if rows:
        return np.array2string(value[:rows], threshold=sys.maxsize)
    if rows is None or value.size <= PREVIEW_MAX_ITEMS:
        return np.array2string(value, threshold=sys.maxsize)
    text = np.array2string(value, threshold=PREVIEW_MAX_ITEMS, edgeitems=3)
    return f"{text}\n\n[array of shape {value.shape}, dtype {value.dtype}]"


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


def _write_table(table: Any, file: Path) -> None:
    """Write a DataFrame as CSV or parquet (by the suffix of ``file``), keeping its index.

    The file is written beside its destination and renamed into place, so a
    failure leaves no partial file (and an older file as it was).

    Raises:
        dsdt.errors.PathError: The file cannot be written.
        dsdt.errors.UsageError: The table cannot be stored as parquet.
    """
    from dsdt._fs import tmp_name, unlink_quietly
    from dsdt.errors import PathError, UsageError

    fmt = _FORMATS[file.suffix.lower()]
    tmp = tmp_name(file)
    try:
        if fmt == "CSV":
            table.to_csv(tmp, index=not _plain_index(table))
        else:
            _string_columns(table).to_parquet(tmp)
        os.replace(tmp, file)
    except OSError as e:
        raise PathError(f"cannot write {file}: {e.strerror or e}") from None
    except (ValueError, TypeError, NotImplementedError) as e:
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        hint = "; try a .csv file" if fmt == "parquet" else ""
        raise UsageError(f"cannot write {file} as {fmt}: {reason}{hint}") from None
    finally:
        unlink_quietly(tmp)


def _plain_index(table: Any) -> bool:
    """True for pandas' default index (0, 1, ... unnamed), which CSV output leaves out."""
    import pandas as pd

    index = table.index
    return (isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0
            and index.step == 1)


def _string_columns(table: Any) -> Any:
    """The table with its column labels as text when they are not (parquet needs text)."""
    import pandas as pd

    columns = table.columns
    if isinstance(columns, pd.MultiIndex) or all(isinstance(c, str) for c in columns):
        return table
    labels = [str(c) for c in columns]
    if len(set(labels)) < len(labels):
        raise ValueError(f"column labels {list(columns)[:5]} are not distinct as text")
    return table.set_axis(labels, axis=1)


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
