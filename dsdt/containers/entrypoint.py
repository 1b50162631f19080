"""What ``dsdt-container`` does (Disdat's ``dsdt_docker``), inside an image or anywhere.

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
A one-line JSON summary ``{"success": ..., "did_work": ..., "output_uuid": ...}``
goes to stdout. The exit codes are in :mod:`dsdt.containers.protocol`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from dsdt.bundle import Bundle
from dsdt.containers.protocol import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PUSH,
    EXIT_SETUP,
    EXIT_USAGE,
    ML_ROOT_ENV,
    PROG,
    Exit,
    parser,
)
from dsdt.errors import DsdtError, UsageError
from dsdt.ops import contexts, query, remote, write
from dsdt.pipe.apply import apply
from dsdt.pipe.params import load_task_class, parse_task_params
from dsdt.refs.names import parse_tags, split_context
from dsdt.repo import Repository


def _tags(items: list[str]) -> dict[str, str]:
    try:
        return parse_tags(items)
    except UsageError as e:
        raise Exit(EXIT_USAGE, str(e)) from None


def _setup_repo(repo_dir: str | None) -> Repository:
    path = Path(repo_dir or os.environ.get("DSDT_DIR") or ".").expanduser().resolve()
    if not any((d / "config.yaml").is_file() for d in (path, path / ".dsdt")):
        Repository.init(path)
    os.environ["DSDT_DIR"] = str(path)
    return Repository.current()


def _bind(args: argparse.Namespace) -> tuple[Repository, str]:
    """The repository and context of the run, bound to the remote and pulled as asked."""
    try:
        repo = _setup_repo(args.repo_dir)
        name = args.context or repo.current_context() or "default"
        remote_ctx, local = split_context(name)
        contexts.create(repo, name)
        if args.remote:
            remote.bind(repo, local, remote_ctx or local, args.remote, force=True)
            if not args.no_pull:
                remote.pull(repo, local)
    except DsdtError as e:
        raise Exit(EXIT_SETUP, str(e)) from None
    return repo, local


def _run(argv: list[str]) -> tuple[int, dict[str, Any]]:
    args = parser().parse_args(argv)
    if args.workers < 1:
        raise Exit(EXIT_USAGE, f"--workers must be >= 1, not {args.workers}")
    in_tags, out_tags = _tags(args.input_tag), _tags(args.output_tag)
    try:
        cls = load_task_class(args.task)
        params = parse_task_params(cls, args.params)
    except UsageError as e:
        raise Exit(EXIT_USAGE, str(e)) from None
    summary: dict[str, Any] = {"success": False, "did_work": False, "output_uuid": None}
    repo, local = _bind(args)
    before = {b.uuid for b in query.search(repo, local)}
    push_now = bool(args.remote) and not args.no_push
    try:
        out = apply(repo, local, cls, args.output_bundle, in_tags or None, out_tags or None,
                    args.force, args.force_all, params,
                    output_bundle_uuid=args.output_bundle_uuid, workers=args.workers,
                    incremental_pull=bool(args.remote),
                    incremental_push=push_now and not args.no_push_intermediates)
    except UsageError as e:
        raise Exit(EXIT_USAGE, str(e)) from None
    except DsdtError as e:
        result = getattr(e, "result", {})
        summary.update(did_work=bool(result.get("did_work")))
        print(json.dumps(summary))
        raise Exit(EXIT_FAILED, str(e)) from None
    summary.update(success=True, did_work=out["did_work"])
    made = [b for b in query.search(repo, local) if b.uuid not in before]
    output = _output_bundle(repo, local, cls, params, args, made)
    summary["output_uuid"] = output.uuid if output is not None else None
    if push_now:
        _push(repo, local, output, made, args, summary)
    return EXIT_OK, summary


def _push(repo: Repository, local: str, output: Bundle | None, made: list[Bundle],
          args: argparse.Namespace, summary: dict[str, Any]) -> None:
    """Commit and push the output bundle (and, unless asked not to, the intermediates)."""
    todo = [output] if output is not None else []
    if not args.no_push_intermediates:
        todo += [b for b in made if (output is None or b.uuid != output.uuid)
                 and b.tags.get("__transient") != "True"]
    try:
        for b in todo:
            if not b.is_committed:
                write.commit(repo, local, None, uuid=b.uuid)
            remote.push(repo, local, uuid=b.uuid)
    except DsdtError as e:
        summary["success"] = False
        print(json.dumps(summary))
        raise Exit(EXIT_PUSH, f"pushing the outputs failed: {e}") from None


def _output_bundle(repo: Repository, local: str, cls: type, params: dict[str, Any],
                   args: argparse.Namespace, made: list[Bundle]) -> Bundle | None:
    """The root's bundle: by the forced uuid, else the new root bundle, else the reused one."""
    if args.output_bundle_uuid:
        b = query.get(repo, local, None, args.output_bundle_uuid)
        if b is not None:
            return b
    roots = {b.uuid for b in query.search(repo, local, roots=True)}
    for b in made:  # newest first
        if b.uuid in roots:
            return b
    plan = apply(repo, local, cls, args.output_bundle, _tags(args.input_tag) or None,
                 _tags(args.output_tag) or None, False, False, params, explain=True)["plan"]
    uuid = plan[-1]["uuid"] if plan else None
    return query.get(repo, local, None, uuid) if uuid else None


def execute(argv: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    """Run and report: ``(exit code, summary or None, error message or '')``."""
    try:
        code, summary = _run(argv)
    except Exit as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.code, None, str(e)
    print(json.dumps(summary))
    return code, summary, ""


def sagemaker(extra: list[str]) -> int:
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
        code, summary, message = execute(args + extra)
    if summary is not None:
        (root / "model").mkdir(parents=True, exist_ok=True)
        (root / "model" / "dsdt-summary.json").write_text(json.dumps(summary) + "\n")
    if code != EXIT_OK:
        (root / "output").mkdir(parents=True, exist_ok=True)
        (root / "output" / "failure").write_text(message or f"{PROG} exited with {code}")
    return code

