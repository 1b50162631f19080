"""A small pipeline package, written into a directory, for the container tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

TASKS = '''
import luigi

from dsdt.pipe import PipeTask


class Prep(PipeTask):
    day = luigi.Parameter()

    def pipe_run(self):
        return {"day": self.day, "rows": [1, 2, 3]}


class Train(PipeTask):
    day = luigi.Parameter(default="2026-11-01")
    fail = luigi.BoolParameter(default=False)

    def pipe_requires(self):
        self.add_dependency("prep", Prep, {"day": self.day})

    def pipe_run(self, prep=None):
        if self.fail:
            raise RuntimeError("asked to fail")
        return {"day": self.day, "total": sum(prep["rows"])}


class Inspect(PipeTask):
    """What the container sees: SageMaker's config files and the AWS variables' names."""

    def pipe_run(self):
        import os
        from pathlib import Path

        config = Path("/opt/ml/input/config")
        files = {f.name: f.read_text() for f in sorted(config.glob("*.json"))}
        env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "TRAINING_"))}
        return {"config": files, "environment": sorted(env),
                "endpoints": {k: v for k, v in env.items() if "ENDPOINT" in k or "REGION" in k
                              or k == "TRAINING_JOB_NAME"},
                "user": f"{os.getuid()}:{os.getgid()}"}
'''


def write_package(root: Path, name: str = "churn_pipeline", layout: str = "pyproject",
                  version: str = "0.1.0") -> Path:
    """Write the package ``churn`` (tasks ``churn.tasks.Prep``, ``.Train``, ``.Inspect``)
    into ``root``.

    Args:
        root: The package's directory (created).
        name: The distribution name.
        layout: ``pyproject`` (setuptools via pyproject.toml), ``setup.cfg`` or ``setup.py``.
        version: The distribution version.
    """
    (root / "churn").mkdir(parents=True, exist_ok=True)
    (root / "churn" / "__init__.py").write_text("")
    (root / "churn" / "tasks.py").write_text(TASKS)
    if layout == "pyproject":
        (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{name}"
            version = "{version}"
            dependencies = ["dsdt"]

            [tool.setuptools]
            packages = ["churn"]
            """))
    elif layout == "setup.cfg":
        (root / "setup.cfg").write_text(f"[metadata]\nname = {name}\nversion = {version}\n")
        (root / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    else:
        (root / "setup.py").write_text(
            f"from setuptools import setup\nsetup(name={name!r}, version={version!r}, "
            "packages=['churn'])\n")
    return root
