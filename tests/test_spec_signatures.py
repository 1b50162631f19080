"""Every function of the documented API (api-reference.txt) exists with its documented signature.

dsdt may add parameters after the documented ones (with defaults), never
rename, reorder or drop one, nor change a default (a required one may gain one).
"""

from __future__ import annotations

import ast
import inspect

import pytest

from dsdt import api

SPEC = """
def add(local_context, bundle_name, path, tags=None)
def apply(local_context, transform, output_bundle='-', input_tags=None, output_tags=None, force=False, force_all=False, params=None, output_bundle_uuid=None, central_scheduler=False, workers=1, incremental_push=False, incremental_pull=False)
def cat(local_context, bundle_name)
def commit(local_context, bundle_name, tags=None, uuid=None)
def context(context_name)
def current_context()
def delete_context(context_name, remote=False, force=False)
def dockerize(setup_dir, config_dir=None, build=True, push=False, sagemaker=False)
def get(local_context, bundle_name, uuid=None, tags=None)
def lineage(local_context, uuid, max_depth=None)
def ls_contexts()
def pull(local_context, bundle_name=None, uuid=None, localize=False)
def push(local_context, bundle_name, tags=None, uuid=None)
def remote(local_context, remote_context, remote_url, force=False)
def rm(local_context, bundle_name=None, uuid=None, tags=None, rm_all=False, rm_old_only=False, force=False)
def run(local_context, remote_context, setup_dir, pipe_cls, pipeline_args, output_bundle='-', remote=None, backend='Local', input_tags=None, output_tags=None, force=False, force_all=False, no_pull=False, no_push=False, no_push_int=False, vcpus=2, memory=4000, workers=1, no_submit=False, aws_session_token_duration=42300, job_role_arn=None)
def search(local_context, search_name=None, search_tags=None, is_committed=None, find_intermediates=False, find_roots=False, before=None, after=None)
def set_aws_profile(aws_profile)
def switch(context_name)
"""  # noqa: E501


def _spec() -> list[tuple[str, list[tuple[str, object]]]]:
    out = []
    for line in SPEC.strip().splitlines():
        fn = ast.parse(line + ": pass").body[0]
        assert isinstance(fn, ast.FunctionDef)
        args = fn.args.args
        defaults = [inspect.Parameter.empty] * (len(args) - len(fn.args.defaults)) + [
            ast.literal_eval(d) for d in fn.args.defaults]
        out.append((fn.name, [(a.arg, d) for a, d in zip(args, defaults, strict=True)]))
    return out


@pytest.mark.parametrize(("name", "params"), _spec(), ids=[n for n, _ in _spec()])
def test_documented_signature(name: str, params: list[tuple[str, object]]) -> None:
    ours = list(inspect.signature(getattr(api, name)).parameters.values())
    positional = [p for p in ours if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert [p.name for p in positional[:len(params)]] == [n for n, _ in params]
    for p, (_, default) in zip(positional, params, strict=False):
        if default is not inspect.Parameter.empty:  # a required one may gain a default
            assert p.default == default, p.name
    assert all(p.default is not p.empty for p in ours[len(params):]
               if p.kind is not p.VAR_KEYWORD)
