"""The ``LocalSageMaker`` backend: the SageMaker image run here as a training job runs.

SageMaker starts a training container as ``docker run IMAGE train``, with
``/opt/ml`` holding ``input/config/hyperparameters.json`` (and the resource and
data-channel configs), the job's ``Environment`` plus ``TRAINING_JOB_NAME``; it
keeps what ``train`` writes to ``/opt/ml/model`` and reports
``/opt/ml/output/failure``. This does the same on the local engine, with the
hyperparameters and environment the ``SageMaker`` backend sends, and the
``Local`` backend's user, network, directory-remote mount and AWS credentials
(on SageMaker those come from the job's role). The ``/opt/ml`` directory is a
temporary one, removed afterwards; the outputs travel through the remote.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsdt.config import ContainerSettings
from dsdt.containers import engine
from dsdt.containers.aws import training_job_name
from dsdt.containers.local import failure, local_image, run_container
from dsdt.containers.protocol import hyperparameters
from dsdt.errors import ContainerError

ML_ROOT = "/opt/ml"
#: What SageMaker writes to ``input/config/resourceconfig.json`` for a one-instance job.
RESOURCE_CONFIG = {"current_host": "algo-1", "hosts": ["algo-1"],
                   "network_interface_name": "eth0"}


def run_local_sagemaker(name: str, args: list[str], url: str | None, env: dict[str, str],
                        settings: ContainerSettings,
                        log: Callable[[str], None] | None) -> dict[str, Any]:
    """Run the SageMaker image ``name`` here as one training job, to its end.

    Args:
        name: The SageMaker image's name (``NAME-sagemaker``; ``:latest``
            locally, else the registry's).
        args: The entrypoint's arguments (sent as the ``arguments`` hyperparameter).
        url: The remote URL (a directory one is mounted).
        env: The training job's environment (region, endpoints).
        settings: The ``containers:`` settings.
        log: Receives the container's stderr lines; without it, a failure's
            last lines go into the error.

    Returns:
        The summary ``train`` wrote to ``/opt/ml/model/dsdt-summary.json``
        (``success``, ``did_work``, ``output_uuid``) plus ``image``,
        ``exit_code`` and ``training_job_name``.

    Raises:
        dsdt.errors.UsageError: The arguments are longer than SageMaker allows.
        dsdt.errors.ContainerError: No engine or no image, or the job failed
            (with the reason ``train`` wrote to ``/opt/ml/output/failure``).
        dsdt.errors.PathError: The directory remote does not exist.
    """
    params = hyperparameters(args)
    c = engine.client()
    image = local_image(c, settings, name)
    if not settings.registry and not engine.has_image(c, image):
        raise ContainerError(f"no image {image} here: build it with dsdt dockerize "
                             "--sagemaker SETUP_DIR")
    job = training_job_name(name)
    with tempfile.TemporaryDirectory(prefix="dsdt-opt-ml-") as tmp:
        root = Path(tmp)
        _write_config(root, params)
        status, _, tail = run_container(c, image, ["train"], url,
                                        {**env, "TRAINING_JOB_NAME": job},
                                        {tmp: {"bind": ML_ROOT, "mode": "rw"}}, log)
        summary = _read_summary(root / "model" / "dsdt-summary.json")
        reason = _read_failure(root / "output" / "failure")
    if status != 0:
        raise ContainerError(failure(image, status, tail, log is not None, reason,
                                     what=f"SageMaker training job {job} (run locally)"))
    return {**summary, "image": image, "exit_code": status, "training_job_name": job}


def _write_config(root: Path, params: dict[str, str]) -> None:
    """Lay out ``/opt/ml`` as SageMaker does before it starts ``train``."""
    config = root / "input" / "config"
    for sub in (config, root / "input" / "data", root / "model", root / "output" / "data"):
        sub.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(params))
    (config / "resourceconfig.json").write_text(json.dumps(RESOURCE_CONFIG))
    (config / "inputdataconfig.json").write_text("{}")


def _read_summary(path: Path) -> dict[str, Any]:
    """The summary ``train`` left (nothing when it wrote none or not a JSON object)."""
    try:
        out = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _read_failure(path: Path) -> str | None:
    """The failure reason ``train`` left, on one line (None when it wrote none)."""
    try:
        text = " ".join(path.read_text(errors="replace").split())
    except OSError:
        return None
    return text or None
