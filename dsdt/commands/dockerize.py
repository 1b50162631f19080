"""``dsdt dockerize``: build (and push) the Docker image of a pipeline package."""

from typing import Annotated

import typer

NAME = "dockerize"


def run(
    setup_dir: Annotated[str, typer.Argument(
        metavar="SETUP_DIR", help="The pipeline package's directory (pyproject.toml or "
                                  "setup.py); the image is named after the package.")],
    config_dir: Annotated[str | None, typer.Option(
        "--config-dir", metavar="DIR",
        help="Directory with deb.txt (Debian packages to install), *.deb files and "
             "pip.conf (used while building the wheels).")] = None,
    no_build: Annotated[bool, typer.Option(
        "--no-build", help="Only write the build context (Dockerfile, wheels).")] = False,
    output_dir: Annotated[str | None, typer.Option(
        "-o", "--output-dir", metavar="DIR",
        help="Write the build context here and keep it (a new or empty directory, or "
             "one dsdt wrote before).")] = None,
    push: Annotated[bool, typer.Option(
        "--push", help="Push the image to containers.registry (an ECR registry: create "
                       "the repository if needed and log in).")] = False,
    sagemaker: Annotated[bool, typer.Option(
        "--sagemaker", help="Build the SageMaker variant NAME-sagemaker (its 'train' "
                            "reads /opt/ml/input/config/hyperparameters.json).")] = False,
    base_image: Annotated[str | None, typer.Option(
        "--base-image", metavar="IMAGE",
        help="Image to start from (default: containers.base_image, else the slim "
             "official Python image of this Python's version).")] = None,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="Do not show pip's and the engine's output.")] = False,
) -> None:
    """Build the Docker image of a pipeline package.

    The image holds dsdt, the package and every dependency, installed from
    wheels built here (so the image build needs no network), and runs
    dsdt-container. Unchanged packages reuse their wheels and the engine's
    cached layers. Settings: the containers section of .dsdt/config.yaml.

    \b
    Examples:
      dsdt dockerize ./churn-pipeline
      dsdt dockerize ./churn-pipeline --push
      dsdt dockerize ./churn-pipeline --sagemaker --push
    """
    from dsdt import api

    log = None if quiet else (lambda line: typer.echo(line, err=True))
    info = api.build_image(setup_dir, config_dir, build=not no_build, push=push,
                           sagemaker=sagemaker, base_image=base_image, output_dir=output_dir,
                           log=log)
    if info.image_id is not None:
        typer.echo(f"Built {info.tag} ({info.image_id[7:19]}) from {info.base_image}")
    if info.context is not None:
        typer.echo(f"Build context: {info.context}")
    if info.pushed:
        typer.echo(f"Pushed {info.pushed}")
