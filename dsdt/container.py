"""``dsdt-container``: the in-container entrypoint (Disdat's ``dsdt_docker``).

Usage::

    dsdt-container [--context [REMOTE/]LOCAL] [--remote URL] [--output-bundle NAME]
                   [--output-bundle-uuid UUID] [--workers N] [--force] [--force-all]
                   [--input-tag K:V]... [--output-tag K:V]... [--no-pull] [--no-push]
                   [--no-push-intermediates] [--repo-dir DIR] PKG.MOD.CLASS [--param value ...]
    dsdt-container --sagemaker     # the arguments from SageMaker's hyperparameters.json

Steps: ensure a repository in ``--repo-dir`` (default ``$DSDT_DIR``, else the
current directory; created when missing); create the context when missing;
with ``--remote``, bind it (remote context: the part of ``--context`` before
``/``, else the local name) and pull metadata (unless ``--no-pull``); run
``apply`` with incremental pull (and push, unless ``--no-push`` or
``--no-push-intermediates``) when a remote is set; then, with a remote and
without ``--no-push``, commit and push the output bundle and, unless
``--no-push-intermediates``, every other non-transient bundle the run made.
It works the same outside a container. A one-line JSON summary
``{"success": ..., "did_work": ..., "output_uuid": ...}`` goes to stdout.

Exit codes:
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
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsdt.errors import DsdtError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SETUP, EXIT_PUSH = 0, 1, 2, 3, 4
PROG = "dsdt-container"
ML_ROOT_ENV = "DSDT_ML_ROOT"  # SageMaker's /opt/ml, moved elsewhere by tests


class _Exit(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 itself; keep our one-line form
        raise _Exit(EXIT_USAGE, message)


def _parser() -> argparse.ArgumentParser:
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


def _tags(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition(":")
        if not sep or not k:
            raise _Exit(EXIT_USAGE, f"bad tag {item!r}: expected KEY:VALUE")
        out[k] = v
    return out


def _setup_repo(repo_dir: str | None) -> None:
    from dsdt import api

    path = Path(repo_dir or os.environ.get("DSDT_DIR") or ".").expanduser().resolve()
    if not any((d / "config.yaml").is_file() for d in (path, path / ".dsdt")):
        api.init(path)
    os.environ["DSDT_DIR"] = str(path)


def _run(argv: list[str]) -> tuple[int, dict[str, Any]]:
    from dsdt import api
    from dsdt.commands.apply import load_task_class, parse_task_params
    from dsdt.refs.names import split_context

    args = _parser().parse_args(argv)
    extra = args.params
    if args.workers < 1:
        raise _Exit(EXIT_USAGE, f"--workers must be >= 1, not {args.workers}")
    in_tags, out_tags = _tags(args.input_tag), _tags(args.output_tag)
    try:
        cls = load_task_class(args.task)
        params = parse_task_params(cls, extra)
    except UsageError as e:
        raise _Exit(EXIT_USAGE, str(e)) from None
    summary: dict[str, Any] = {"success": False, "did_work": False, "output_uuid": None}
    remote = args.remote

    try:
        _setup_repo(args.repo_dir)
        name = args.context or api.current_context() or "default"
        remote_ctx, local = split_context(name)
        api.context(name)
        if remote:
            api.remote(local, remote_ctx or local, remote, force=True)
            if not args.no_pull:
                api.pull(local)
    except DsdtError as e:
        raise _Exit(EXIT_SETUP, str(e)) from None

    before = {b.uuid for b in api.search(local)}
    push_now = bool(remote) and not args.no_push
    try:
        out = api.apply(local, cls, args.output_bundle, in_tags or None, out_tags or None,
                        args.force, args.force_all, params,
                        output_bundle_uuid=args.output_bundle_uuid, workers=args.workers,
                        incremental_pull=bool(remote),
                        incremental_push=push_now and not args.no_push_intermediates)
    except UsageError as e:
        raise _Exit(EXIT_USAGE, str(e)) from None
    except DsdtError as e:
        result = getattr(e, "result", {})
        summary.update(did_work=bool(result.get("did_work")))
        print(json.dumps(summary))
        raise _Exit(EXIT_FAILED, str(e)) from None
    summary.update(success=True, did_work=out["did_work"])

    made = [b for b in api.search(local) if b.uuid not in before]
    output = _output_bundle(api, local, cls, params, args, made)
    summary["output_uuid"] = output.uuid if output is not None else None
    if push_now:
        todo = [output] if output is not None else []
        if not args.no_push_intermediates:
            todo += [b for b in made if (output is None or b.uuid != output.uuid)
                     and b.tags.get("__transient") != "True"]
        try:
            for b in todo:
                if not b.is_committed:
                    api.commit(local, None, uuid=b.uuid)
                api.push(local, uuid=b.uuid)
        except DsdtError as e:
            summary["success"] = False
            print(json.dumps(summary))
            raise _Exit(EXIT_PUSH, f"pushing the outputs failed: {e}") from None
    return EXIT_OK, summary


def _output_bundle(api: Any, local: str, cls: type, params: dict[str, Any],
                   args: argparse.Namespace, made: list[Any]) -> Any:
    """The root's bundle: by the forced uuid, else the new root bundle, else the reused one."""
    if args.output_bundle_uuid:
        b = api.get(local, None, uuid=args.output_bundle_uuid)
        if b is not None:
            return b
    new_roots = {b.uuid for b in api.search(local, find_roots=True)} & {b.uuid for b in made}
    for b in made:  # newest first
        if b.uuid in new_roots:
            return b
    plan = api.apply(local, cls, args.output_bundle, _tags(args.input_tag) or None,
                     _tags(args.output_tag) or None, False, False,
                     params, explain=True)["plan"]
    uuid = plan[-1]["uuid"] if plan else None
    return api.get(local, None, uuid=uuid) if uuid else None


def main(argv: list[str] | None = None) -> int:
    """Run the entrypoint; returns the exit code (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        _parser().print_help()
        return EXIT_OK
    if argv and argv[0] == "--sagemaker":
        return _sagemaker(argv[1:])
    return _execute(argv)[0]


def _execute(argv: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    """Run and report: ``(exit code, summary or None, error message or '')``."""
    try:
        code, summary = _run(argv)
    except _Exit as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.code, None, str(e)
    print(json.dumps(summary))
    return code, summary, ""


def _sagemaker(extra: list[str]) -> int:
    """The SageMaker training-container contract (the image's ``train`` runs this).

    The arguments are the JSON list in the ``arguments`` hyperparameter of
    ``$DSDT_ML_ROOT/input/config/hyperparameters.json`` (default root
    ``/opt/ml``); the summary goes to ``model/dsdt-summary.json`` and, on
    failure, the reason to ``output/failure``, where SageMaker reports it.
    """
    root = Path(os.environ.get(ML_ROOT_ENV, "/opt/ml"))
    source = root / "input" / "config" / "hyperparameters.json"
    try:
        args = json.loads(json.loads(source.read_text())["arguments"])
        if not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
            raise ValueError("'arguments' must be a JSON list of strings")
    except (OSError, ValueError, KeyError, TypeError) as e:
        code, summary, message = EXIT_USAGE, None, f"cannot read the arguments from {source}: {e}"
        print(f"{PROG}: error: {message}", file=sys.stderr)
    else:
        code, summary, message = _execute(args + extra)
    if summary is not None:
        (root / "model").mkdir(parents=True, exist_ok=True)
        (root / "model" / "dsdt-summary.json").write_text(json.dumps(summary) + "\n")
    if code != EXIT_OK:
        (root / "output").mkdir(parents=True, exist_ok=True)
        (root / "output" / "failure").write_text(message or f"{PROG} exited with {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
