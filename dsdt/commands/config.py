"""``dsdt config``: read and write the settings of ``.dsdt/config.yaml``, as ``git config``."""

from dataclasses import asdict
from typing import Annotated, Any

import typer

from dsdt.commands._render import JsonOpt, print_json

NAME = "config"


def run(
    key: Annotated[str | None, typer.Argument(
        metavar="KEY", help="Dotted key, e.g. lock_timeout or containers.registry.")] = None,
    value: Annotated[str | None, typer.Argument(
        metavar="VALUE", help="New value, parsed by the key's type: an integer, a number, "
        "true/false, a string, or null where the key allows it.")] = None,
    list_all: Annotated[bool, typer.Option(
        "-l", "--list", help="Print every setting as KEY=VALUE, defaults included.")] = False,
    show_origin: Annotated[bool, typer.Option(
        "--show-origin", help="With --list or KEY: put 'config.yaml' (the file sets it) or "
        "'default' and a tab before each line.")] = False,
    unset: Annotated[bool, typer.Option(
        "--unset", help="Remove KEY from the file, so that its default applies.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Read or write a setting of .dsdt/config.yaml, as git config does.

    KEY prints the value dsdt uses (the default when the file does not set
    it; null when there is none); KEY VALUE writes it. Keys are dotted paths
    into the file (docs/format.md, section 3). A write is checked against the
    schema first (an unknown key, a wrong type or a value out of range
    changes nothing) and changes only the key's line, under the file's lock:
    the comments stay. The file is checked in, so a write is for the whole
    team once committed to git. --json prints objects with key, value and
    is_set.

    \b
    Examples:
      dsdt config lock_timeout 60
      dsdt config containers.registry 123456789012.dkr.ecr.us-east-1.amazonaws.com
      dsdt config --list --show-origin
    """
    from dsdt import api
    from dsdt.errors import UsageError

    if list_all:
        if key is not None or unset:
            raise UsageError("--list shows every setting; it takes no KEY and no --unset")
        _show(api.list_config(), show_origin, as_json)
    elif key is None:
        raise UsageError("give a KEY to read, KEY VALUE to write, or --list; see dsdt config -h")
    elif unset:
        if value is not None or as_json or show_origin:
            raise UsageError("--unset takes a KEY only (no VALUE, --json or --show-origin)")
        api.unset_config(key)
    elif value is not None:
        if as_json or show_origin:
            raise UsageError("--json and --show-origin are for reading; a write prints nothing")
        api.set_config(key, value)
    else:
        _show([api.config_value(key)], show_origin, as_json, bare=True)


def _show(values: list[Any], show_origin: bool, as_json: bool, *, bare: bool = False) -> None:
    if as_json:
        rows = [asdict(v) for v in values]
        print_json(rows[0] if bare else rows)
        return
    for v in values:
        origin = ("config.yaml\t" if v.is_set else "default\t") if show_origin else ""
        typer.echo(f"{origin}{'' if bare else v.key + '='}{_text(v.value)}")


def _text(value: Any) -> str:
    """A value as it is written on the command line: true/false, null, numbers, strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # the default 30.0 prints as the file writes it: 30
    return str(value)
