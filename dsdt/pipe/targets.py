"""What a pipeline task's output is, and the inputs no pipeline makes.

:class:`BundleTarget` exists when the bundle the plan chose for a task is in
its context; :class:`ExternalBundle` stands for an existing bundle a task
names as an input (``add_external_dependency``), which a run never makes.
"""

from __future__ import annotations

from typing import Any

import luigi

from dsdt.bundle import Bundle
from dsdt.errors import BundleNotFoundError
from dsdt.ops import query
from dsdt.pipe import plan


class BundleTarget(luigi.Target):
    """Exists when the bundle the plan chose for a task is in its context.

    Args:
        task_id: The luigi task id whose plan entry names the bundle.
        task: The task, decided lazily when it is not planned (a dynamic dependency).
    """

    def __init__(self, task_id: str, task: Any = None) -> None:
        self.task_id = task_id
        self.task = task

    def exists(self) -> bool:
        """True when this run's bundle of the task exists."""
        entry = plan.planned(self.task_id)
        if getattr(self.task, "dsdt_external", False) and not (entry and entry.uuid):
            return self.task.find() is not None  # missing when planned: maybe made since
        if entry is None and self.task is not None:
            return plan.exists(self.task)
        if entry is None or not entry.uuid:
            return False
        return plan.repo().member_sha(entry.context, entry.uuid) is not None


class ExternalBundle(luigi.Task):
    """An existing bundle used as an input; it is never (re)made by a pipeline.

    ``uuid`` is the bundle found when the dependency was declared ("" if none);
    ``by_uuid``, ``by_name`` or ``pipe_processing_name`` (in that order) say
    how it is looked up again when a run needs it and it was not found.
    """

    dsdt_external = True

    uuid = luigi.Parameter(default="")
    by_uuid = luigi.Parameter(default="")
    by_name = luigi.Parameter(default="")
    pipe_processing_name = luigi.Parameter()
    what = luigi.Parameter(default="", significant=False)
    data_context = luigi.OptionalParameter(default=None, significant=False)
    input_tags = luigi.DictParameter(default={}, significant=False)

    @property
    def processing_name(self) -> str:
        """The processing name the dependency stands for (its bundle's, when found by it)."""
        return str(self.pipe_processing_name)

    def find(self) -> Bundle | None:
        """The bundle as of now: by uuid, else the latest by name, else by processing name."""
        repo, ctx = plan.repo(), self.data_context
        tags = {str(k): str(v) for k, v in self.input_tags.items()}
        if self.by_uuid:
            return query.get(repo, ctx, None, str(self.by_uuid), tags)
        if self.by_name:
            return query.get(repo, ctx, str(self.by_name), tags=tags)
        found = query.search(repo, ctx, processing_name=self.processing_name, tags=tags)
        return found[0] if found else None

    def missing(self) -> BundleNotFoundError:
        """The error of a run that needs this input while it has no bundle."""
        return BundleNotFoundError(
            f"external dependency {self.what} has no bundle in context {self.data_context!r}; "
            "make it first (e.g. with dsdt add) or fix the name, uuid or input_tags")

    def output(self) -> BundleTarget:
        """The bundle (when it was found, or is found now)."""
        return BundleTarget(self.task_id, self)

    def run(self) -> None:
        """Runs only when the input is still missing as the run needs it: that is an error."""
        if self.find() is None:
            raise self.missing()
