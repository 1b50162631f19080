"""``dsdt ui``: a read-only, browsable catalog of a repository, served locally or exported.

Pages (:mod:`dsdt.ui.pages`) read through :mod:`dsdt.api` only (the index,
records and the first rows of a DataFrame); templates and the stylesheet
ship in the package, and Jinja2 escapes every value. :mod:`dsdt.ui.server`
serves them over HTTP (GET and HEAD only), :mod:`dsdt.ui.export` writes them
as a static site; both use the same relative links (:mod:`dsdt.ui.links`).
"""
