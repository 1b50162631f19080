"""``dsdt run`` through the CLI, without an engine: the task's --help, ``--wait --timeout``,
and the output bundle that comes back (AWS services on a moto server)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from clirun import dsdt_cli, fails, ok
from container_pkg import write_package

from dsdt import api
from dsdt.containers import aws
from dsdt.containers import run as run_module
from dsdt.errors import StillRunningError

SM_ROLE = "arn:aws:iam::123456789012:role/sm"


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    return write_package(tmp_path / "pkg")


def _configure(project: Path, **containers: str) -> None:
    cfg = project / ".dsdt" / "config.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["containers"] = {"registry": "127.0.0.1:5999/team", **containers}
    cfg.write_text(yaml.safe_dump(data))


def test_run_help_lists_the_task_parameters(project: Path, pkg: Path, tmp_path: Path) -> None:
    plain = ok("run", "--help").out
    assert "--timeout SECONDS" in plain
    assert plain.splitlines()[-5] == "  Examples:"
    assert "LocalSageMaker (the SageMaker image run here" in " ".join(plain.split())
    assert plain.splitlines()[-1].startswith("    dsdt run ./churn-pipeline")
    r = ok("run", str(pkg), "churn.tasks.Train", "--help")
    assert r.out.startswith(plain)
    assert r.lines[-3:] == ["Parameters of churn.tasks.Train:",
                            "  --day   Parameter, default: 2026-11-01",
                            "  --fail  BoolParameter, default: False"]
    # A class that cannot be loaded here gets the usual help only.
    assert ok("run", str(pkg), "churn.tasks.Nope", "--help").out == plain
    assert ok("run", str(tmp_path / "nowhere"), "churn.tasks.Train", "--help").out == plain


def test_job_timeout_defaults() -> None:
    assert aws._job_timeout({}) == aws.DEFAULT_WAIT == 86400
    assert aws._job_timeout({"timeout": {"attemptDurationSeconds": 600}}) == 600


def test_poll_gives_up_after_the_timeout() -> None:
    states = iter(["SUBMITTED", "RUNNING", "RUNNING", "RUNNING"])
    lines: list[str] = []
    with pytest.raises(StillRunningError, match=r"^job j is still RUNNING after 0\.05 s; it "
                       r"goes on .*nothing is lost.*'look j', then dsdt pull$"):
        aws._poll(lambda: (next(states), {}), ("DONE",), "job j", 0.03, 0.05, "look j",
                  lines.append)
    assert lines == ["job j: SUBMITTED", "job j: RUNNING"]
    states = iter(["RUNNING", "DONE"])
    assert aws._poll(lambda: (next(states), {"n": 1}), ("DONE",), "job j", 0.01, 5, "",
                     lines.append) == ("DONE", {"n": 1})


def test_batch_wait_timeout_is_one_line_naming_the_job(
        project: Path, pkg: Path, s3_bucket: tuple[str, str], batch_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(project, batch_queue=batch_queue)
    seen: list[str] = []

    def running(_batch: object, job_id: str) -> dict:
        seen.append(job_id)
        return {"status": "RUNNING", "timeout": {"attemptDurationSeconds": 1}}

    monkeypatch.setattr(aws, "_describe_job", running)
    api.context("work")
    args = ["run", str(pkg), "churn.tasks.Train", "-c", "work", "-b", "AWSBatch", "--wait",
            "-r", f"s3://{s3_bucket[0]}/dsdt", "--aws-session-token-duration", "0"]
    r = dsdt_cli(*args)  # the job's own timeout: 1 s
    job = seen[0]
    assert r.code == 15  # (moto's server thread, in this process, may print on stdout)
    assert r.err.splitlines()[-2:] == [  # the status change, then the error
        f"AWS Batch job {job}: RUNNING",
        f"dsdt: error: AWS Batch job {job} is still RUNNING after 1 s; it goes on and pushes "
        "its outputs to the remote (nothing is lost): follow it with 'aws batch "
        f"describe-jobs --jobs {job}', then dsdt pull"]
    r = dsdt_cli(*args, "--timeout", "2")
    assert r.code == 15 and "RUNNING after 2 s" in r.err
    r = dsdt_cli(*args, "--timeout", "0")
    assert r.code == 2 and "Invalid value for '--timeout'" in r.err
    no_wait = [a for a in args if a != "--wait"]
    assert fails(2, *no_wait, "--timeout", "60") == (
        "dsdt: error: --timeout applies only with --wait (how long to wait for the job)\n")
    assert api.search("work") == []


def test_sagemaker_wait_pulls_and_names_the_output(
        project: Path, pkg: Path, s3_bucket: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's training jobs complete at once: the bundle the job would have pushed is
    pushed here first, with the uuid run asks of the root."""
    _configure(project, sagemaker_role_arn=SM_ROLE)
    url = f"s3://{s3_bucket[0]}/dsdt"
    api.context("maker")
    api.remote("maker", "work", url)
    (project / "m.txt").write_text("model")
    made = api.add("maker", "model", project / "m.txt")
    api.commit("maker", "model")
    api.push("maker", "model")
    monkeypatch.setattr(run_module, "new_uuid", lambda: made.uuid)
    api.context("work")
    args = ["run", str(pkg), "churn.tasks.Train", "-c", "work", "-b", "SageMaker", "--wait",
            "-r", url]
    r = ok(*args)
    assert re.fullmatch(rf"SageMaker training job \S+ Completed: made bundle model "
                        rf"{made.uuid} \(pulled\)", r.out.strip()), r.out
    assert re.search(r"SageMaker training job \S+: Completed", r.err)
    assert api.get("work", "model").uuid == made.uuid
    out = json.loads(ok(*args, "--json").out)
    assert out["status"] == "Completed" and out["pulled"] is True
    assert (out["output_name"], out["output_uuid"]) == ("model", made.uuid)
    # Without --wait nothing comes back yet.
    r = ok(*args[:-3], "-r", url)
    assert re.fullmatch(r"Created SageMaker training job \S+", r.out.strip())


def test_sagemaker_failure_is_a_container_error(
        project: Path, pkg: Path, s3_bucket: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(project, sagemaker_role_arn=SM_ROLE)
    monkeypatch.setattr(aws, "_wait_training", lambda *_a: {"status": "Failed",
                                                             "reason": "AlgorithmError: boom"})
    api.context("work")
    err = fails(12, "run", str(pkg), "churn.tasks.Train", "-c", "work", "-b", "SageMaker",
                "--wait", "-r", f"s3://{s3_bucket[0]}/dsdt")
    assert re.fullmatch(r"dsdt: error: SageMaker training job \S+ failed: AlgorithmError: "
                        r"boom\n", err)
    assert api.search("work") == []
