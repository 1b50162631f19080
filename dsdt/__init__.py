"""dsdt: git for data bundles.

Immutable, named, tagged versions of data with their lineage, in a ``.dsdt``
directory beside your project. Start with :mod:`dsdt.api` or the ``dsdt`` CLI.
"""

__version__ = "0.1.0"
