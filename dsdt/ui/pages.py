"""The pages of ``dsdt ui``, rendered from :mod:`dsdt.api` with autoescaping Jinja2 templates.

Each function reads the index and records through the API (a page of names,
one bundle's record, files and lineage, the first rows of its DataFrame) and
returns the HTML. Records are untrusted input: every value reaches the page
through Jinja2's autoescaping, in text, attributes and the SVG graph alike.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2
import markupsafe

from dsdt import api
from dsdt._dates import text_date
from dsdt.errors import (
    BundleNotFoundError,
    ContextNotFoundError,
    CorruptObjectError,
    FileSystemError,
    UsageError,
)
from dsdt.objects.gate import printable
from dsdt.objects.ids import is_uuid
from dsdt.ops.difftext import change_lines, fmt_bytes
from dsdt.refs.names import check_bundle_name, check_context_name, parse_tags
from dsdt.ui import layout, links

PAGE_SIZE = 50
PREVIEW_ROWS = 20
PREVIEW_COLUMNS = 40
LINEAGE_NODES = 50  #: bundles shown each way at most (the walk reads no more records)
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'self'")
CSP = _CSP + "; frame-ancestors 'none'"  #: the header's policy (a <meta> cannot hold the last part)


def static_file(name: str) -> bytes:
    """A file of the package's ``static/`` directory, if it is on the allow-list."""
    if name not in links.STATIC:
        raise BundleNotFoundError(f"no static file {name!r}")
    return resources.files("dsdt.ui").joinpath("static", name).read_bytes()


def visible(value: Any) -> Any:
    """A string with control and bidi characters shown escaped (``\\x1b``, ``\\u202e``).

    Jinja2's ``finalize`` hook: every value a template prints passes here, so
    no ESC, BEL or right-to-left override of a record reaches the page as is.
    """
    if not isinstance(value, str) or isinstance(value, markupsafe.Markup):
        return value
    return printable(value)


def clip(value: Any, limit: int) -> str:
    """``value`` as text, cut to ``limit`` characters with an ellipsis (the page shows the
    whole value in a ``title`` attribute)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _when(value: datetime | float | str) -> str:
    if isinstance(value, float):
        value = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        value = datetime.fromisoformat(value)
    return text_date(value)


class Site:
    """Renders pages; ``export`` makes them for a static site (no filters, paged files).

    Args:
        export: Render for ``dsdt ui --export`` rather than for the server.
    """

    def __init__(self, export: bool = False) -> None:
        self.export = export
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("dsdt.ui", "templates"),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
            lstrip_blocks=True, finalize=visible)
        self.env.globals.update(
            context_path=links.context_path, bundle_path=links.bundle_path,
            log_path=links.log_path, fmt_bytes=fmt_bytes, when=_when, export=export,
            csp=_CSP, short=lambda u: u[:8], clip=clip)

    def _render(self, template: str, root: str, **values: Any) -> str:
        return self.env.get_template(template).render(root=root, **values)

    @staticmethod
    def check_context(ctx: str) -> str:
        """``ctx`` if it is a valid name of an existing context, else raise."""
        check_context_name(ctx)
        if ctx not in api.ls_contexts():
            raise ContextNotFoundError(f"no context {ctx!r}")
        return ctx

    def error(self, title: str, message: str) -> str:
        """An error page (served from any path: its links start at the site's root ``/``)."""
        return self._render("error.html", "/", title=title, message=message)

    def contexts(self) -> str:
        """The contexts, with their remotes."""
        return self._render("contexts.html", "", title="contexts", contexts=api.contexts())

    def bundles(self, ctx: str, page: int = 1, name: str = "", tag: str = "",
                after: str = "", before: str = "") -> str:
        """A page of a context's bundle names, filtered by name pattern, tag and dates."""
        self.check_context(ctx)
        if page < 1:
            raise UsageError(f"page numbers start at 1, not {page}")
        tags = parse_tags([tag]) if tag else None
        found = api.catalog(ctx, name=name or None, tags=tags, after=after or None,
                            before=before or None, limit=PAGE_SIZE,
                            offset=(page - 1) * PAGE_SIZE)
        pages = max(1, -(-found.total // PAGE_SIZE))
        if page > pages:
            raise BundleNotFoundError(f"no page {page} of {ctx!r}: it has {pages} page"
                                      f"{'' if pages == 1 else 's'} of names")
        filters = {"name": name, "tag": tag, "after": after, "before": before}

        def page_link(n: int) -> str:
            return links.page_path(ctx, n, filters, self.export)

        return self._render("bundles.html", "../../", title=ctx, ctx=ctx, found=found,
                            page=page, pages=pages, filters=filters, page_link=page_link)

    def bundle(self, ctx: str, uuid: str) -> str:
        """A bundle: record, files, data preview, lineage graph, diff with the version before."""
        self.check_context(ctx)
        if not is_uuid(uuid):
            raise BundleNotFoundError(f"{uuid!r} is not a bundle uuid")
        b = api.get(ctx, None, uuid=uuid)
        if b is None:
            raise BundleNotFoundError(f"no bundle {uuid} in context {ctx!r}")
        graph = api.lineage_graph(ctx, uuid, None, downstream=True, upstream=True,
                                  max_nodes=LINEAGE_NODES)
        return self._render(
            "bundle.html", "../../../", title=b.name, ctx=ctx, b=b, rec=b.record,
            state=api.data_states(ctx, [uuid]).get(uuid), files=api.bundle_files(ctx, uuid),
            preview=_preview(ctx, uuid), drawing=layout.layout(graph),
            box=layout, diff=_diff(ctx, uuid), pull_hint=_pull_hint(ctx, uuid),
            graph_cut=graph.cut, graph_limit=LINEAGE_NODES)

    def log(self, ctx: str, name: str) -> str:
        """Every version of a bundle name, newest first."""
        self.check_context(ctx)
        check_bundle_name(name)
        entries = [e for e in api.log(ctx, name) if e.name == name]
        if not entries:
            raise BundleNotFoundError(f"no bundle named {name!r} in context {ctx!r}")
        return self._render("log.html", "../../../", title=name, ctx=ctx, name=name,
                            entries=entries)


def _pull_hint(ctx: str, uuid: str) -> str:
    """The command that fetches the bundle's data, shell-quoted ("" when ``ctx`` has no remote)."""
    info = next((c for c in api.contexts() if c.name == ctx), None)
    if info is None or not info.remote_url:
        return ""
    return f"dsdt pull -c {shlex.quote(ctx)} -u {shlex.quote(uuid)} -l"


def _preview(ctx: str, uuid: str) -> dict[str, Any] | None:
    """The head of the bundle's frame as text cells (None: no frame here).

    A blob that fails the cache's trust check (or cannot be read) gives
    ``{"unreadable": True}``: the page says so and shows no cell of it.
    """
    try:
        head = api.preview(ctx, uuid, PREVIEW_ROWS)
    except (CorruptObjectError, FileSystemError):
        return {"unreadable": True}
    if head is None:
        return None
    frame = head.to_frame() if head.ndim == 1 else head
    shown = frame.iloc[:, :PREVIEW_COLUMNS]
    return {"columns": [str(c) for c in shown.columns],
            "rows": [(str(i), [str(v) for v in row])
                     for i, row in zip(shown.index, shown.itertuples(index=False), strict=True)],
            "more_columns": frame.shape[1] - shown.shape[1]}


def _diff(ctx: str, uuid: str) -> dict[str, Any] | None:
    """The diff with the previous version of the same name (None: it is the first)."""
    try:
        d = api.diff(ctx, uuid)
    except UsageError:
        return None
    return {"old": d.old_uuid, "old_created": d.old_created, "same": d.same,
            "rows": [(line[0], line[2:]) for line in change_lines(d)]}
