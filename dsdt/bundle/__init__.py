"""The :class:`Bundle`: a named, tagged, immutable version of some data, with its lineage.

The class is put together from parts: :mod:`~dsdt.bundle.core` (its lifecycle:
open, close, read the data), :mod:`~dsdt.bundle.metadata` (setting and reading
name, tags, params, inputs, code and timing), :mod:`~dsdt.bundle.managed`
(files written inside an open bundle) and :mod:`~dsdt.bundle.remote` (push,
pull, localize, delocalize, rmr). Every part acts on the bundle's own
repository (``self._repo``), never on whatever is current.
"""

from dsdt.bundle.core import Bundle
from dsdt.bundle.lineage import LineageInfo, default_processing_name

__all__ = ["Bundle", "LineageInfo", "default_processing_name"]
