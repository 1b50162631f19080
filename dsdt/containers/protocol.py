"""The ``dsdt-container`` protocol: its argument list and exit codes.

Every ``run`` backend builds the container's arguments with :func:`make_args`;
the entrypoint (:mod:`dsdt.containers.entrypoint`, run by
``dsdt.commands.container``) parses them with :func:`parser`. The exit codes:

    0  success.
    1  the pipeline ran but a task failed (or it could not run, e.g. a missing
       external dependency).
    2  bad arguments (unknown class or parameter, bad tag, bad uuid, ...).
    3  the repository, context or remote could not be set up (init, context,
       remote binding or the metadata pull failed).
    4  committing or pushing the outputs failed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from dsdt.errors import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SETUP, EXIT_PUSH = 0, 1, 2, 3, 4
PROG = "dsdt-container"
ML_ROOT_ENV = "DSDT_ML_ROOT"  # SageMaker's /opt/ml, moved elsewhere by tests
#: SageMaker's limit on the length of one hyperparameter value.
HYPERPARAMETER_MAX = 2500


class Exit(Exception):
    """Ends the entrypoint with an exit code and a one-line message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 itself; keep our one-line form
        raise Exit(EXIT_USAGE, message)


def parser() -> argparse.ArgumentParser:
    """The entrypoint's argument parser (its errors raise :class:`Exit` with code 2)."""
    p = _Parser(prog=PROG, description="Run a dsdt pipeline and push its outputs.",
                allow_abbrev=False)
    p.add_argument("--context", help="REMOTE/LOCAL or LOCAL (default: the current context, "
                                     "else 'default')")
    p.add_argument("--remote", help="Remote URL (s3://bucket/prefix or a directory)")
    p.add_argument("--output-bundle", default="-", help="Name of the root's bundle")
    p.add_argument("--output-bundle-uuid", help="The uuid the root's bundle gets")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--force", action="store_true")
    p.add_argument("--force-all", action="store_true")
    p.add_argument("--input-tag", action="append", default=[], metavar="K:V")
    p.add_argument("--output-tag", action="append", default=[], metavar="K:V")
    p.add_argument("--no-pull", action="store_true")
    p.add_argument("--no-push", action="store_true")
    p.add_argument("--no-push-intermediates", action="store_true")
    p.add_argument("--repo-dir", help="Repository directory (default: $DSDT_DIR, else ./)")
    p.add_argument("task", metavar="PKG.MOD.CLASS")
    p.add_argument("params", nargs=argparse.REMAINDER, help="The task's --param value pairs")
    return p


def make_args(pipe_cls: str, pipeline_args: dict[str, Any] | list[str] | None = None, *,
              context: str, remote: str | None = None, output_bundle: str = "-",
              output_bundle_uuid: str | None = None, workers: int = 1,
              force: bool = False, force_all: bool = False,
              input_tags: dict[str, str] | None = None,
              output_tags: dict[str, str] | None = None, no_pull: bool = False,
              no_push: bool = False, no_push_intermediates: bool = False) -> list[str]:
    """The entrypoint's argument list: what every ``run`` backend hands the container.

    Args:
        pipe_cls: ``pkg.mod.Class`` of the pipeline's root task.
        pipeline_args: The root task's parameters, as ``{name: value}`` (values
            rendered as luigi parses them: bools ``true``/``false``, dates in ISO
            form, dicts and lists as JSON) or as ready ``--name value`` tokens.
        context: ``REMOTE/LOCAL`` or ``LOCAL``.
        remote: The remote URL.
        output_bundle: Name of the root task's bundle.
        output_bundle_uuid: The uuid the root task's bundle gets.
        workers: Luigi workers.
        force: Re-run the root task.
        force_all: Re-run every task.
        input_tags: Tags the inputs must have.
        output_tags: Tags put on every output bundle.
        no_pull: Do not pull before running.
        no_push: Do not push the outputs.
        no_push_intermediates: Push only the root's bundle.

    Returns:
        The argument list (without the program name).
    """
    args = ["--context", context, "--output-bundle", output_bundle, "--workers", str(workers)]
    if output_bundle_uuid:
        args += ["--output-bundle-uuid", output_bundle_uuid]
    if remote:
        args += ["--remote", remote]
    flags = {"--force": force, "--force-all": force_all, "--no-pull": no_pull,
             "--no-push": no_push, "--no-push-intermediates": no_push_intermediates}
    args += [flag for flag, on in flags.items() if on]
    for opt, tags in (("--input-tag", input_tags), ("--output-tag", output_tags)):
        for k, v in (tags or {}).items():
            args += [opt, f"{k}:{v}"]
    return [*args, pipe_cls, *task_tokens(pipeline_args)]


def task_tokens(pipeline_args: dict[str, Any] | list[str] | None,
                render: Callable[[str, Any], str] | None = None) -> list[str]:
    """The root task's parameters as ``--name=value`` tokens (a list is taken as it is).

    Args:
        pipeline_args: ``{name: value}`` (``-`` or ``_`` in names), or tokens.
        render: ``render(name, value)`` gives a value's text (default: a
            rendering luigi's usual parsers read).
    """
    if not isinstance(pipeline_args, dict):
        return list(pipeline_args or [])
    render = render or (lambda _, value: _param_text(value))
    return [f"--{name.replace('_', '-')}={render(name.replace('-', '_'), v)}"
            for name, v in pipeline_args.items()]


def _param_text(value: Any) -> str:
    """A parameter value as luigi's parsers read it (when the task class is not at hand)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)




def hyperparameters(args: list[str]) -> dict[str, str]:
    """The SageMaker form of the argument list: ``{"arguments": "<JSON list>"}``.

    What the ``SageMaker`` backend sends as the training job's hyperparameters
    and ``LocalSageMaker`` writes to ``hyperparameters.json``; the image's
    ``train`` reads it back.

    Raises:
        dsdt.errors.UsageError: The list is longer than SageMaker allows
            (:data:`HYPERPARAMETER_MAX` characters).
    """
    arguments = json.dumps(list(args))
    if len(arguments) > HYPERPARAMETER_MAX:
        raise UsageError(f"the pipeline arguments take {len(arguments)} characters, more than "
                         f"SageMaker's {HYPERPARAMETER_MAX}; pass fewer tags or parameters")
    return {"arguments": arguments}
