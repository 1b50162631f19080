"""Luigi pipelines whose task outputs are dsdt bundles.

``from dsdt.pipe import PipeTask`` is the user's entry point; the modules:
:mod:`~dsdt.pipe.task` (the task classes), :mod:`~dsdt.pipe.targets` (their
outputs and external inputs), :mod:`~dsdt.pipe.plan` (reuse decisions and the
state of a run), :mod:`~dsdt.pipe.dynamic` (dynamic dependencies and inputs),
:mod:`~dsdt.pipe.incremental` (push and pull as tasks finish),
:mod:`~dsdt.pipe.params` (task classes and parameters from text) and
:mod:`~dsdt.pipe.apply` (running a pipeline).
"""

from dsdt.pipe.plan import RESERVED, PlanEntry
from dsdt.pipe.targets import BundleTarget, ExternalBundle
from dsdt.pipe.task import BundleWrapperTask, PipeTask

__all__ = ["RESERVED", "BundleTarget", "BundleWrapperTask", "ExternalBundle", "PipeTask",
           "PlanEntry"]
