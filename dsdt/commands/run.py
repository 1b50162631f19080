"""``dsdt run``: run a dockerized pipeline locally, on AWS Batch or on SageMaker."""

import json
from typing import Annotated, Any

import typer

from dsdt.commands._render import ContextOpt, JsonOpt, parse_tags
from dsdt.commands._taskhelp import task_help_command
from dsdt.commands.apply import (
    CONTEXT_SETTINGS,
    ForceAllOpt,
    ForceOpt,
    OutputBundleOpt,
    OutTagOpt,
    TagOpt,
    WorkersOpt,
)

NAME = "run"
__all__ = ["COMMAND_CLASS", "CONTEXT_SETTINGS", "EPILOG", "NAME", "run"]


#: Shown at the end of --help.
EPILOG = """\b
Examples:
  dsdt run ./churn-pipeline churn.tasks.Train --help
  dsdt run ./churn-pipeline churn.tasks.Train --day 2026-11-01
  dsdt run ./churn-pipeline churn.tasks.Train -b LocalSageMaker
  dsdt run ./churn-pipeline churn.tasks.Train -b AWSBatch --wait --timeout 3600 --json"""


def run(
    ctx: typer.Context,
    setup_dir: Annotated[str, typer.Argument(
        metavar="SETUP_DIR", help="The pipeline package's directory (its image must be "
                                  "built with dsdt dockerize).")],
    task: Annotated[str, typer.Argument(
        metavar="PKG.MOD.CLASS", help="The root task class; its parameters follow as "
                                      "--name value.")],
    backend: Annotated[str, typer.Option(
        "-b", "--backend", metavar="NAME",
        help="Local (docker run here), AWSBatch, LocalSageMaker (the SageMaker image run "
             "here as a training job, to test it for free) or SageMaker.")] = "Local",
    remote: Annotated[str | None, typer.Option(
        "-r", "--remote", metavar="URL",
        help="Remote the container pulls from and pushes to (default: the context's).")] = None,
    remote_context: Annotated[str | None, typer.Option(
        "--remote-context", metavar="NAME",
        help="Context on the remote (default: the REMOTE of -c REMOTE/LOCAL, else the "
             "bound one, else the local name).")] = None,
    output_bundle: OutputBundleOpt = "-",
    input_tag: TagOpt = None,
    output_tag: OutTagOpt = None,
    force: ForceOpt = False,
    force_all: ForceAllOpt = False,
    no_pull: Annotated[bool, typer.Option(
        "--no-pull", help="Do not pull before running.")] = False,
    no_push: Annotated[bool, typer.Option(
        "--no-push", help="Do not push the outputs (they stay in the container).")] = False,
    no_push_intermediates: Annotated[bool, typer.Option(
        "--no-push-intermediates", help="Push only the root task's bundle.")] = False,
    workers: WorkersOpt = 1,
    vcpus: Annotated[int, typer.Option(
        "--vcpus", metavar="N", min=1, help="AWSBatch: vCPUs of the job.")] = 2,
    memory: Annotated[int, typer.Option(
        "--memory", metavar="MIB", min=4, help="AWSBatch: memory of the job in MiB.")] = 4000,
    no_submit: Annotated[bool, typer.Option(
        "--no-submit", help="AWSBatch: only register (or find) the job definition.")] = False,
    wait: Annotated[bool, typer.Option(
        "--wait", help="AWSBatch, SageMaker: follow the job to its end, then pull its "
                       "output.")] = False,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", metavar="SECONDS", min=1,
        help="With --wait: stop waiting after SECONDS (the job goes on; exit 15). Default: "
             "the Batch job's own timeout, else 24 h; SageMaker: its max runtime + 1 h.")
    ] = None,
    job_role_arn: Annotated[str | None, typer.Option(
        "--job-role-arn", metavar="ARN",
        help="AWSBatch: IAM role of the job (default: containers.job_role_arn).")] = None,
    token_duration: Annotated[int, typer.Option(
        "--aws-session-token-duration", metavar="SECONDS", min=0,
        help="AWSBatch without a job role: lifetime of the session credentials passed "
             "to the job (0: none).")] = 42300,
    context: ContextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the pipeline ending in PKG.MOD.CLASS in the package's image.

    The container binds the context to the remote, pulls, runs the pipeline
    and pushes its outputs. Local runs the image here with docker, as you and
    on this machine's network, with your AWS settings passed to it (never
    stored in the image), then pulls the output bundle's metadata into the
    context. LocalSageMaker runs the SageMaker image (dockerize --sagemaker)
    the same way, as a training job would: its train command, the
    hyperparameters.json and environment the SageMaker backend sends. Task
    parameters follow the class as --name value, and PKG.MOD.CLASS --help
    lists them when the class can be imported here.

    When the run ends here (Local, LocalSageMaker, or --wait) the output
    bundle's name and uuid are printed. --json prints the object api.run
    returns: "backend", "arguments", "requested_uuid", "output_uuid",
    "output_name" (once pulled), "pulled", and the backend's facts (Local:
    "success", "did_work", "image", "exit_code"; LocalSageMaker: the same
    and "training_job_name"; AWSBatch: "job_definition", "registered",
    "job_id", "job_name", "queue", with --wait "status"; SageMaker:
    "training_job_name", "training_job_arn", "output_path", with
    --wait "status"). Logs and job status go to stderr.
    """
    from dsdt import api

    out = json.loads(api.run(
        context, remote_context, setup_dir, task, list(ctx.args), output_bundle, remote,
        backend, parse_tags(input_tag) or None, parse_tags(output_tag) or None, force,
        force_all, no_pull, no_push, no_push_intermediates, vcpus, memory, workers, no_submit,
        token_duration, job_role_arn, wait=wait, timeout=timeout,
        log=lambda line: typer.echo(line, err=True)))
    if as_json:
        typer.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        typer.echo(_describe(out))


def _describe(out: dict[str, Any]) -> str:
    if out["backend"] == "Local":
        return f"Ran in {out['image']}: {_output(out)}"
    if out["backend"] == "LocalSageMaker":
        return f"Ran {out['image']} as SageMaker training job " \
               f"{out['training_job_name']} here: {_output(out)}"
    if out["backend"] == "AWSBatch":
        if "job_id" not in out:
            return f"Job definition: {out['job_definition']}"
        if out.get("status"):
            return f"AWS Batch job {out['job_id']} {out['status']}: {_output(out)}"
        return f"Submitted AWS Batch job {out['job_id']} ({out['job_name']})"
    if out.get("status"):
        return f"SageMaker training job {out['training_job_name']} {out['status']}: " \
               f"{_output(out)}"
    return f"Created SageMaker training job {out['training_job_name']}"


def _output(out: dict[str, Any]) -> str:
    """Which bundle the run made, and where it is."""
    if out.get("output_name") and out.get("pulled"):
        done = "made" if out.get("did_work", True) else "up to date:"
        return f"{done} bundle {out['output_name']} {out['output_uuid']} (pulled)"
    if out.get("output_uuid"):
        return f"output bundle {out['output_uuid']} (left on the remote, not pulled)"
    return ("no new output bundle came back (the root's bundle was reused, or the outputs "
            "were not pushed)")


def _task_help(opts: dict[str, Any]) -> str:
    from dsdt.containers.run import describe_package_task

    return describe_package_task(opts.get("setup_dir") or "", opts["task"])


#: ``dsdt run SETUP_DIR PKG.MOD.CLASS --help`` lists the task's parameters.
COMMAND_CLASS = task_help_command(_task_help)
