"""The ``dsdt`` command line: one module per verb, wired together in :mod:`dsdt.commands.app`.

Command modules import only :mod:`typer` and the light :mod:`dsdt.commands._render`
at module level; :mod:`dsdt.api` (and through it pandas, numpy, yaml...) is
imported inside the command functions so that ``dsdt --help`` starts fast.
"""
