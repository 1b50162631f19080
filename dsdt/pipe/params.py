"""Task classes and parameters from text: ``pkg.mod.Class`` and ``--name value`` arguments.

Used by ``dsdt apply``, ``dsdt run`` and the container entrypoint.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import luigi

from dsdt.errors import UsageError
from dsdt.pipe.plan import RESERVED


def load_task_class(dotted: str) -> type:
    """Import ``pkg.mod.Class`` (the current directory is importable).

    Raises:
        dsdt.errors.UsageError: The module or class cannot be found.
    """
    if dotted.startswith("-"):
        raise UsageError(f"unknown option {dotted}: put the task class first and its "
                         "parameters after it (see --help)")
    mod_name, _, cls_name = dotted.rpartition(".")
    if not mod_name or not cls_name:
        raise UsageError(f"task {dotted!r} must be PKG.MOD.CLASS")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise UsageError(f"cannot import module {mod_name!r} of task {dotted!r}: {e}") from None
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type):
        raise UsageError(f"module {mod_name!r} has no class {cls_name!r}")
    return cls


def load_pipe_task(dotted: str) -> type:
    """Import ``pkg.mod.Class`` and check that it is a :class:`~dsdt.pipe.PipeTask`.

    Raises:
        dsdt.errors.UsageError: The module or class cannot be found, or is no PipeTask.
    """
    from dsdt.pipe.task import PipeTask

    cls = load_task_class(dotted)
    if not issubclass(cls, PipeTask):
        raise UsageError(f"{dotted} is not a dsdt PipeTask: a pipeline's tasks subclass "
                         "dsdt.pipe.PipeTask")
    return cls


def describe_params(cls: type) -> list[dict[str, Any]]:
    """The task's own luigi parameters (not dsdt's), in declaration order.

    Returns:
        One dict per parameter: ``name`` (as ``--name``), ``type`` (the luigi
        Parameter class), ``default`` (serialised, None when required),
        ``required`` and ``description`` (None when luigi has none).
    """
    out = []
    for name, param in getattr(cls, "get_params", list)():
        if name in RESERVED:
            continue
        required = param._default is luigi.parameter._no_value  # luigi has no public API
        default = None
        if not required:
            try:
                default = param.serialize(param._default)
            except Exception:  # noqa: BLE001 - an odd default still gets listed
                default = repr(param._default)
        out.append({"name": f"--{name.replace('_', '-')}", "type": type(param).__name__,
                    "default": default, "required": required,
                    "description": param.description or None})
    return out


def format_params(cls: type) -> str:
    """``describe_params`` as help text: a heading, then one line per parameter."""
    rows = describe_params(cls)
    if not rows:
        return f"{cls.__name__} has no task parameters."
    width = max(len(r["name"]) for r in rows)
    lines = [f"Parameters of {cls.__module__}.{cls.__name__}:"]
    for r in rows:
        default = "required" if r["required"] else f"default: {r['default']}"
        text = f"  {r['name']:<{width}}  {r['type']}, {default}"
        if r["description"]:
            text += f". {' '.join(str(r['description']).split())}"
        lines.append(text)
    return "\n".join(lines)


def parse_task_params(cls: type, args: list[str]) -> dict[str, Any]:
    """``--name value`` pairs -> ``{name: parsed value}`` using the class's luigi parameters.

    ``--name=value`` works too, a bool parameter given without a value is
    True, and ``-`` in names stands for ``_``.

    Raises:
        dsdt.errors.UsageError: An argument is not a parameter of the task, a
            value is missing, a parameter is given twice or cannot parse its value.
    """
    known = {n: p for n, p in getattr(cls, "get_params", list)() if n not in RESERVED}
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        raw = args[i]
        if not raw.startswith("--") or len(raw) == 2:
            raise UsageError(f"unexpected argument {raw!r}: task parameters are --name value")
        key, eq, value = raw[2:].partition("=")
        name = key.replace("-", "_")
        param = known.get(name)
        if param is None:
            have = ", ".join(f"--{n.replace('_', '-')}" for n in known) or "none"
            raise UsageError(f"{cls.__name__} has no parameter --{key} (it has: {have})")
        if not eq:
            if _is_bool(param) and (i + 1 == len(args) or args[i + 1].startswith("--")):
                value = "true"
            elif i + 1 == len(args):
                raise UsageError(f"parameter --{key} needs a value")
            else:
                i += 1
                value = args[i]
        if name in out:
            raise UsageError(f"parameter --{key} is given twice")
        out[name] = _parse(param, key, value)
        i += 1
    return out


def _is_bool(param: Any) -> bool:
    return isinstance(param, luigi.BoolParameter)


def _parse(param: Any, key: str, value: str) -> Any:
    try:
        return param.parse(value)
    except Exception as e:  # noqa: BLE001 - any parse failure is the user's input
        raise UsageError(f"bad value {value!r} for --{key}: {e}") from None
