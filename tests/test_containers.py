"""Containers without an engine: the argument list, the package, the context, settings, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from clirun import fails
from container_pkg import write_package

from dsdt import api
from dsdt.config import Config, ContainerSettings
from dsdt.containers.context import (
    SystemPackages,
    default_base_image,
    read_config_dir,
    render_dockerfile,
    write_context,
)
from dsdt.containers.dockerize import pipeline_image_name
from dsdt.containers.project import dist_name, image_name, project_dir, source_fingerprint
from dsdt.containers.protocol import make_args, parser, task_tokens
from dsdt.containers.registry import target
from dsdt.containers.wheels import Wheelhouse, dsdt_wheel
from dsdt.errors import ContainerError, NoRemoteError, PathError, UsageError
from dsdt.gitinfo import GitInfo, git_info

# --- the argument list -------------------------------------------------------------------


def test_make_args_round_trips_through_the_entrypoint_parser() -> None:
    args = make_args("churn.tasks.Train", {"day": "2026-11-01", "fail": False},
                     context="rc/local", remote="s3://b/p", output_bundle="model",
                     output_bundle_uuid="u-1", workers=3, force=True,
                     input_tags={"stage": "raw"}, output_tags={"team": "ml:core"},
                     no_pull=True, no_push_intermediates=True)
    ns = parser().parse_args(args)
    assert (ns.context, ns.remote, ns.output_bundle, ns.output_bundle_uuid, ns.workers) == (
        "rc/local", "s3://b/p", "model", "u-1", 3)
    assert (ns.force, ns.force_all, ns.no_pull, ns.no_push, ns.no_push_intermediates) == (
        True, False, True, False, True)
    assert ns.input_tag == ["stage:raw"] and ns.output_tag == ["team:ml:core"]
    assert ns.task == "churn.tasks.Train"
    assert ns.params == ["--day=2026-11-01", "--fail=false"]


def test_make_args_minimal_has_no_optional_flags() -> None:
    args = make_args("a.b.C", None, context="c")
    assert args == ["--context", "c", "--output-bundle", "-", "--workers", "1", "a.b.C"]


def test_task_tokens_render_values_for_luigi() -> None:
    import datetime

    assert task_tokens({"when": datetime.date(2026, 11, 1), "cfg": {"b": 1, "a": [1, 2]},
                        "n_iter": 5, "flag": True}) == [
        "--when=2026-11-01", '--cfg={"a": [1, 2], "b": 1}', "--n-iter=5", "--flag=true"]
    assert task_tokens(["--day", "x"]) == ["--day", "x"]


# --- the package -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["pyproject", "setup.cfg", "poetry"])
def test_dist_name_from_static_metadata(tmp_path: Path, layout: str) -> None:
    if layout == "poetry":
        (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nname = "Churn_Pipeline"\n')
    else:
        write_package(tmp_path, "Churn_Pipeline", layout)
    assert dist_name(tmp_path) == "Churn_Pipeline"
    assert image_name("Churn_Pipeline") == "churn-pipeline"


def test_setup_py_only_package_is_named_by_its_wheel(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSDT_CACHE_DIR", str(tmp_path / "cache"))
    pkg = write_package(tmp_path / "pkg", "Churn_Pipeline", "setup.py")
    assert dist_name(pkg) is None
    assert pipeline_image_name(pkg) == "churn-pipeline"
    assert pipeline_image_name(pkg, sagemaker=True) == "churn-pipeline-sagemaker"


def test_project_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="no such directory"):
        project_dir(tmp_path / "missing")
    with pytest.raises(UsageError, match=r"no pyproject\.toml or setup\.py"):
        project_dir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        dist_name(tmp_path)


def test_image_name_refuses_what_cannot_name_an_image() -> None:
    with pytest.raises(UsageError):
        image_name("über")


def test_fingerprint_sees_edits_and_ignores_caches(tmp_path: Path) -> None:
    write_package(tmp_path)
    before = source_fingerprint(tmp_path)
    for junk in ("__pycache__/x.pyc", ".git/HEAD", "build/lib/x.py", "x.egg-info/PKG-INFO",
                 ".dsdt/config.yaml"):
        (tmp_path / junk).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / junk).write_text("junk")
    assert source_fingerprint(tmp_path) == before
    tasks = tmp_path / "churn" / "tasks.py"
    tasks.write_text(tasks.read_text() + "\n# edited\n")
    assert source_fingerprint(tmp_path) != before


# --- the dsdt wheel ----------------------------------------------------------------------


def test_dsdt_wheel_is_complete_and_reproducible(tmp_path: Path) -> None:
    first = dsdt_wheel(tmp_path / "a").read_bytes()
    wheel = dsdt_wheel(tmp_path / "b")
    assert wheel.read_bytes() == first
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = zf.read(info).decode()
    assert {"dsdt/commands/container.py", "dsdt/_template/config.yaml",
            "dsdt/_dockerizer/Dockerfile.in", "dsdt/_dockerizer/train"} <= names
    assert not any("__pycache__" in n for n in names)
    assert "dsdt-container = dsdt.commands.container:main" in entry_points


def test_dsdt_wheel_installs_into_a_fresh_venv(tmp_path: Path) -> None:
    """pip accepts the wheel (RECORD, WHEEL) and the entry points work without dependencies."""
    wheel = dsdt_wheel(tmp_path / "w")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")],
                   check=True)
    target_dir = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                    "--quiet", "--target", str(target_dir), str(wheel)], check=True)
    assert (target_dir / "dsdt" / "_template" / "config.yaml").is_file()
    assert (target_dir / "bin" / "dsdt-container").is_file()


# --- the build context -------------------------------------------------------------------


def test_read_config_dir(tmp_path: Path) -> None:
    assert read_config_dir(None) == (SystemPackages(), None)
    (tmp_path / "deb.txt").write_text("# tools\ncurl\n\nlibpq5 # for postgres\n")
    (tmp_path / "pip.conf").write_text("[global]\n")
    (tmp_path / "tool.deb").write_bytes(b"!<arch>\n")
    packages, pip_conf = read_config_dir(tmp_path)
    assert packages.names == ("curl", "libpq5")
    assert [d.name for d in packages.debs] == ["tool.deb"]
    assert pip_conf == tmp_path / "pip.conf"
    for bad in ("curl; rm -rf /", "--allow-unauthenticated", "-oAPT::Get::X=true"):
        (tmp_path / "deb.txt").write_text(bad + "\n")
        with pytest.raises(UsageError, match="not a Debian package name"):
            read_config_dir(tmp_path)
    with pytest.raises(PathError):
        read_config_dir(tmp_path / "nope")


def test_dockerfile_layers_and_settings(tmp_path: Path) -> None:
    git = GitInfo("https://example.com/churn.git", "abc123", "main", True)
    text = render_dockerfile("python:3.11-slim", SystemPackages(("curl",)), False, git,
                             "churn-pipeline")
    lines = text.splitlines()
    assert lines[2] == "FROM python:3.11-slim"
    assert "apt-get update" in text and "curl" in text
    # the layers that change most often come last
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(p)) for p in
             ("RUN python3 -m venv", "COPY wheels/deps/", "COPY wheels/packages/", "ENTRYPOINT",
              "LABEL", "ENV PIPELINE_GIT_FETCH_URL")]
    assert order == sorted(order)
    assert '"--no-index"' not in text and "--no-index" in text
    assert 'PIPELINE_GIT_HASH="abc123"' in text and 'dsdt.git.dirty="true"' in text
    assert 'ENTRYPOINT ["dsdt-container"]' in text and "$PATH" in text
    sm = render_dockerfile("b", SystemPackages(), True, None, "x-sagemaker")
    assert 'CMD ["train"]' in sm and "ENTRYPOINT []" in sm and "PIPELINE_GIT" not in sm
    assert "apt-get" not in sm
    debs = render_dockerfile("b", SystemPackages((), (tmp_path / "my pkg;id.deb",)), False,
                             None, "x")
    assert "/opt/dsdt/debs/*.deb" in debs and "my pkg" not in debs  # no file name written


@pytest.mark.parametrize("base", ["python:3.11-slim\nRUN echo injected", "-x", "a b", ""])
def test_a_base_image_must_be_an_image_reference(base: str) -> None:
    with pytest.raises(UsageError, match="not an image reference"):
        render_dockerfile(base, SystemPackages(), False, None, "x")


def test_git_facts_in_the_image_carry_no_secret_and_no_expansion(tmp_path: Path) -> None:
    from dulwich import porcelain

    repo = porcelain.init(str(tmp_path))
    config = repo.get_config()
    config.set((b"remote", b"origin"), b"url", b"https://user:ghp_SECRET@example.com/o/r.git")
    config.write_to_path()
    (tmp_path / "f").write_text("x")
    porcelain.add(str(tmp_path), [str(tmp_path / "f")])
    porcelain.commit(str(tmp_path), message=b"m", author=b"a <a@b>", committer=b"a <a@b>")
    info = git_info(tmp_path)
    assert info is not None
    text = render_dockerfile("b", SystemPackages(), False, replace(info, branch="feat/$PATH"),
                             "x")
    assert "ghp_SECRET" not in text and "user@" not in text
    assert 'PIPELINE_GIT_FETCH_URL="https://example.com/o/r.git"' in text
    assert 'PIPELINE_GIT_BRANCH="feat/\\$PATH"' in text


def test_default_base_image_matches_this_python() -> None:
    assert default_base_image() == f"python:{sys.version_info[0]}.{sys.version_info[1]}-slim"


def test_write_context_refuses_a_foreign_directory(tmp_path: Path) -> None:
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "a-1-py3-none-any.whl").write_bytes(b"a")
    pkg = tmp_path / "p-1-py3-none-any.whl"
    pkg.write_bytes(b"p")
    wheels = Wheelhouse(deps, (pkg,))
    ctx = write_context(tmp_path / "ctx", "FROM x\n", wheels, SystemPackages(), True)
    assert sorted(p.relative_to(ctx).as_posix() for p in ctx.rglob("*") if p.is_file()) == [
        ".dsdt-context", "Dockerfile", "train", "wheels/deps/a-1-py3-none-any.whl",
        "wheels/packages/p-1-py3-none-any.whl"]
    assert os.access(ctx / "train", os.X_OK)
    write_context(ctx, "FROM y\n", wheels, SystemPackages(), False)  # ours: replaced
    assert not (ctx / "train").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(PathError, match="not a dsdt build context"):
        write_context(other, "FROM x\n", wheels, SystemPackages(), False)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(PathError, match="is a file"):
        write_context(other / "notes.txt", "FROM x\n", wheels, SystemPackages(), False)


# --- settings and registries -------------------------------------------------------------


def test_containers_settings_in_config_yaml(project: Path) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    cfg.write_text(cfg.read_text().replace(
        "containers:\n", "containers:\n  registry: 127.0.0.1:5000/team\n"
                         "  sagemaker_instance_count: 2\n", 1)
        .replace("  registry: null\n", "").replace("  sagemaker_instance_count: 1\n", ""))
    loaded = Config.load(cfg).containers
    assert loaded.registry == "127.0.0.1:5000/team" and loaded.sagemaker_instance_count == 2
    assert loaded.sagemaker_instance_type == "ml.m5.large"
    cfg.write_text(cfg.read_text() + "  batch_queu: q\n")
    with pytest.raises(UsageError, match="unknown containers setting 'batch_queu'"):
        Config.load(cfg)


def test_registry_targets() -> None:
    t = target(ContainerSettings(registry="127.0.0.1:5000/team"), "churn")
    assert (t.repository, t.push_repository, t.ecr_region) == (
        "127.0.0.1:5000/team/churn", "127.0.0.1:5000/team/churn", None)
    assert t.reference == "127.0.0.1:5000/team/churn:latest"
    ecr = target(ContainerSettings(registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                                   registry_endpoint="127.0.0.1:5001"), "churn")
    assert ecr.ecr_region == "eu-west-1"
    assert ecr.repository == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn"
    assert ecr.push_repository == "127.0.0.1:5001/churn"
    with pytest.raises(UsageError, match="no registry is configured"):
        target(ContainerSettings(), "churn")
    with pytest.raises(UsageError, match="not HOST"):
        target(ContainerSettings(registry="bad host/Team"), "churn")


# --- errors before any container starts --------------------------------------------------


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    return write_package(tmp_path / "pkg")


def test_run_refuses_an_unknown_backend(ctx: str, pkg: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown backend 'Kubernetes': use Local, AWSBatch, "
                                         r"LocalSageMaker, SageMaker$"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {}, backend="Kubernetes")


def test_local_sagemaker_checks_before_the_engine(ctx: str, pkg: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory remote is fine (it is mounted, as for Local); arguments SageMaker would
    refuse are refused before any engine is asked."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    (tmp_path / "r").mkdir()
    with pytest.raises(ContainerError, match="no Docker engine is reachable"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {}, remote=str(tmp_path / "r"),
                backend="localsagemaker")
    with pytest.raises(UsageError, match="more than SageMaker's 2500"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {}, remote=str(tmp_path / "r"),
                backend="LocalSageMaker", output_tags={"k": "v" * 2500})
    assert "more than SageMaker's 2500" in fails(
        2, "run", "-c", ctx, str(pkg), "churn.tasks.Train", "-b", "LocalSageMaker",
        "-r", str(tmp_path / "r"), "-ot", "k:" + "v" * 2500)


def test_run_needs_a_remote_unless_told_not_to_move_data(ctx: str, pkg: Path) -> None:
    with pytest.raises(NoRemoteError, match="run needs a remote"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {})


def test_aws_backends_need_an_s3_remote(ctx: str, pkg: Path, tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    with pytest.raises(UsageError, match="cannot reach the directory remote"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {}, remote=str(tmp_path / "r"),
                backend="awsbatch")


@pytest.mark.parametrize(("cls", "args", "match"), [
    ("churn.nothere.Train", {}, "no module 'churn.nothere'"),
    ("churn.tasks.Nope", {}, "no luigi task class 'Nope'"),
    ("Train", {}, "must be PKG.MOD.CLASS"),
    ("churn.tasks.Train", {"dya": "x"}, "has no parameter dya"),
    ("churn.tasks.Train", ["--dya", "x"], "no parameter --dya"),
])
def test_run_checks_the_pipe_class_first(ctx: str, pkg: Path, cls: str, args: object,
                                         match: str) -> None:
    with pytest.raises(UsageError, match=match):
        api.run(ctx, None, pkg, cls, args, no_pull=True, no_push=True)


def test_no_engine_is_a_clear_error(ctx: str, pkg: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(ContainerError, match="no Docker engine is reachable at unix://"):
        api.run(ctx, None, pkg, "churn.tasks.Train", {"day": "d"}, no_pull=True, no_push=True)
    with pytest.raises(ContainerError, match="start Docker"):
        api.dockerize(pkg)
    assert "no Docker engine" in fails(12, "dockerize", str(pkg))


def test_push_needs_a_registry_and_a_build(pkg: Path) -> None:
    with pytest.raises(UsageError, match="no registry is configured"):
        api.dockerize(pkg, push=True)
    with pytest.raises(UsageError, match="push needs build"):
        api.dockerize(pkg, build=False, push=True)


# --- the SageMaker entry, outside a container --------------------------------------------


def _train(ml_root: Path, cwd: Path, pkg: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DSDT_ML_ROOT=str(ml_root), DSDT_DIR=str(cwd / "repo"),
               PYTHONPATH=str(pkg))
    return subprocess.run([sys.executable, "-m", "dsdt.commands.container", "--sagemaker"], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_sagemaker_train_reads_hyperparameters(tmp_path: Path, pkg: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    args = make_args("churn.tasks.Train", {"day": "2026-11-05"}, context="rc/work",
                     remote=str(remote), output_bundle="model")
    config = tmp_path / "ml" / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"arguments": json.dumps(args)}))
    proc = _train(tmp_path / "ml", tmp_path, pkg)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "ml" / "model" / "dsdt-summary.json").read_text())
    assert summary["success"] and summary["output_uuid"]
    assert not (tmp_path / "ml" / "output" / "failure").exists()
    assert (remote / "contexts" / "rc").is_dir()


def test_sagemaker_train_reports_failure(tmp_path: Path, pkg: Path) -> None:
    config = tmp_path / "ml" / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"arguments": "[1, 2]"}))
    proc = _train(tmp_path / "ml", tmp_path, pkg)
    assert proc.returncode == 2
    assert "list of strings" in (tmp_path / "ml" / "output" / "failure").read_text()
    args = make_args("churn.tasks.Train", {"fail": True}, context="work", no_pull=True,
                     no_push=True)
    (config / "hyperparameters.json").write_text(json.dumps({"arguments": json.dumps(args)}))
    proc = _train(tmp_path / "ml", tmp_path, pkg)
    assert proc.returncode == 1
    assert (tmp_path / "ml" / "output" / "failure").read_text()


def test_the_class_check_reads_an_edited_task_afresh(pkg: Path) -> None:
    from dsdt.containers.run import _task_args

    assert _task_args(pkg, "churn.tasks.Train", {"day": "d"}) == ["--day=d"]
    tasks = pkg / "churn" / "tasks.py"
    tasks.write_text(tasks.read_text().replace(
        "    fail = luigi.BoolParameter(default=False)\n",
        "    fail = luigi.BoolParameter(default=False)\n"
        "    learning_rate = luigi.FloatParameter(default=0.1)\n"))
    assert _task_args(pkg, "churn.tasks.Train", {"learning-rate": 0.5, "fail": True}) == [
        "--learning-rate=0.5", "--fail=True"]  # luigi's own serialisers
    assert not any(m == "churn" or m.startswith("churn.") for m in sys.modules)


def test_run_on_sagemaker_names_the_remote_context(pkg: Path, project: Path,
                                                   s3_bucket: tuple[str, str]) -> None:
    """``REMOTE/LOCAL`` names the remote context; the image comes from the registry."""
    import boto3
    import yaml

    cfg = project / ".dsdt" / "config.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["containers"] = {"registry": "127.0.0.1:5999/team",
                          "sagemaker_role_arn": "arn:aws:iam::123456789012:role/sm"}
    cfg.write_text(yaml.safe_dump(data))
    api.context("work")
    out = json.loads(api.run("shared/work", None, pkg, "churn.tasks.Train", {"day": "d"},
                             remote=f"s3://{s3_bucket[0]}/dsdt", backend="sagemaker"))
    assert out["arguments"][:2] == ["--context", "shared/work"]
    assert not out["pulled"] and out["backend"] == "SageMaker"
    job = boto3.client("sagemaker").describe_training_job(
        TrainingJobName=out["training_job_name"])
    assert job["AlgorithmSpecification"]["TrainingImage"] == (
        "127.0.0.1:5999/team/churn-pipeline-sagemaker:latest")
    assert json.loads(job["HyperParameters"]["arguments"]) == out["arguments"]
