"""The logic of each verb family, as functions of ``(repo, ctx, ...)``.

One module per family, as DVC's ``repo/<verb>.py``: :mod:`query` (get,
search, cat), :mod:`write` (add, commit, rm), :mod:`contexts`, :mod:`remote`
(bind, push, pull, rmr), :mod:`housekeeping` (gc, du, fsck, status),
:mod:`history` (log, diff) and :mod:`graph` (lineage walks and graphs). The
API façade and the CLI are thin calls into these; nothing here keeps state
or finds the repository by itself.
"""
