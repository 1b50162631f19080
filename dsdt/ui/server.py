"""The read-only HTTP server of ``dsdt ui`` (the standard library's ThreadingHTTPServer).

Routes take context names and uuids checked by dsdt's own rules; no file
path is built from a request (static files come from a fixed allow-list in
the package). Only GET and HEAD are answered (anything else: 405). Every
response carries a strict Content-Security-Policy. On the loopback
interface the ``Host`` header must name it (no DNS rebinding); elsewhere a
token is required, given once as ``?token=`` (then kept in a cookie) and
compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from dsdt.errors import CorruptObjectError, DsdtError, NotFoundError, UsageError
from dsdt.ui.pages import CSP, Site, static_file

COOKIE = "dsdt_ui_token"
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Cache-Control": "no-store"}
_FILTERS = ("name", "tag", "after", "before")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _one(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key, [])
    if len(values) > 1:
        raise UsageError(f"give {key} once")
    return values[0] if values else ""


def route(site: Site, path: str, query: dict[str, list[str]]) -> tuple[str, bytes]:
    """The content type and body of the page at ``path`` (raw, still quoted).

    Raises:
        NotFoundError: No such page, context or bundle.
        UsageError: A bad filter or page number.
    """
    parts = [unquote(p, errors="strict") for p in path.split("/")[1:]]
    if parts in ([""], ["index.html"]):
        return "text/html", site.contexts().encode()
    if len(parts) == 2 and parts[0] == "static":
        return "text/css", static_file(parts[1])
    if len(parts) == 3 and parts[0] == "c" and parts[2] in ("", "index.html"):
        page = _one(query, "page") or "1"
        if not (page.isascii() and page.isdigit()) or len(page) > 9:
            raise UsageError(f"bad page number {page[:20]!r}: give a whole number from 1")
        html = site.bundles(parts[1], int(page), **{k: _one(query, k) for k in _FILTERS})
        return "text/html", html.encode()
    if len(parts) == 4 and parts[0] == "c" and parts[3].endswith(".html"):
        ctx, kind, leaf = parts[1], parts[2], parts[3].removesuffix(".html")
        if kind == "b":
            return "text/html", site.bundle(ctx, leaf).encode()
        if kind == "log":
            return "text/html", site.log(ctx, leaf).encode()
    raise NotFoundError(f"no page {path}")


class Handler(BaseHTTPRequestHandler):
    """One request: GET and HEAD are served, every other method is refused (405)."""

    server: UiServer
    server_version = "dsdt-ui"
    default_request_version = "HTTP/1.0"  # no header-less HTTP/0.9 answer, errors included
    sys_version = ""

    def do_GET(self) -> None:
        """Serve a page."""
        self._serve(body=True)

    def do_HEAD(self) -> None:
        """Serve a page's headers."""
        self._serve(body=False)

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain",
                   b"dsdt ui is read-only: GET and HEAD only\n", True, {"Allow": "GET, HEAD"})

    def _serve(self, body: bool) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if not self._host_ok():
            self._send(HTTPStatus.MISDIRECTED_REQUEST, "text/plain", b"unexpected Host\n", body)
            return
        if self.server.token is not None and not self._authorised(url.path, query, body):
            return
        if url.path.count("/") == 2 and url.path.startswith("/c/") and url.path[3:]:
            self._send(HTTPStatus.MOVED_PERMANENTLY, "text/plain", b"", body, {
                "Location": url.path + "/" + (f"?{url.query}" if url.query else "")})
            return  # /c/<ctx> -> /c/<ctx>/ (its relative links need the slash)
        try:
            ctype, content = route(self.server.site, url.path, query)
            status = HTTPStatus.OK
        except NotFoundError as e:
            ctype, content, status = self._error(404, "Not found", str(e))
        except CorruptObjectError as e:
            ctype, content, status = self._error(
                500, "Corrupt record",
                f"the repository holds a corrupt record: run dsdt fsck ({e})")
        except (DsdtError, UnicodeDecodeError) as e:
            ctype, content, status = self._error(400, "Bad request", str(e))
        except Exception as e:  # noqa: BLE001 - one line in the log, no traceback to the user
            print(f"dsdt ui: {self.path}: {type(e).__name__}: {e}", file=sys.stderr)
            ctype, content, status = self._error(500, "Internal error",
                                                 "internal error (see the server's log)")
        self._send(status, ctype, content, body)

    def _error(self, status: int, title: str, message: str) -> tuple[str, bytes, int]:
        """An HTML error page; paths in ``message`` are shown relative to the repository."""
        message = self.server.relative(message)
        return "text/html", self.server.site.error(title, message).encode(), status

    def _host_ok(self) -> bool:
        if not is_loopback(self.server.host):
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return is_loopback(host)

    def _cookie(self) -> str:
        """The token's cookie, named per port: browsers share cookies across a host's ports,
        so two dsdt ui servers on one host must not overwrite each other's."""
        return f"{COOKIE}_{self.server.server_address[1]}"

    def _authorised(self, path: str, query: dict[str, list[str]], body: bool) -> bool:
        token = self.server.token or ""
        given = query.pop("token", [""])[0]
        if given and hmac.compare_digest(given.encode(), token.encode()):
            rest = urlencode({k: v[0] for k, v in query.items()})
            self._send(HTTPStatus.SEE_OTHER, "text/plain", b"", body, {
                "Location": path + (f"?{rest}" if rest else ""),
                "Set-Cookie": f"{self._cookie()}={token}; HttpOnly; SameSite=Strict; Path=/"})
            return False
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie") or "")
        except Exception:  # noqa: BLE001 - a malformed cookie is no token
            cookie = SimpleCookie()
        name = self._cookie()
        held = cookie[name].value if name in cookie else ""
        if held and hmac.compare_digest(held.encode(), token.encode()):
            return True
        self._send(HTTPStatus.UNAUTHORIZED, "text/plain",
                   b"open the URL dsdt ui printed, with its ?token=\n", body)
        return False

    def _send(self, status: int, ctype: str, content: bytes, body: bool,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(content)

    def end_headers(self) -> None:
        """Add the security headers to every response, the standard library's errors too."""
        for k, v in _HEADERS.items():
            self.send_header(k, v)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (the terminal shows the URL and errors only)."""


class UiServer(ThreadingHTTPServer):
    """The server: a site, the address it listens on, and the token (None on loopback).

    Args:
        host: The address to listen on.
        port: The port (0: a free one).
        token: Required from every client (None: no token).
    """

    daemon_threads = True

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host = host = host.strip("[]")
        self.token = token
        self.site = Site(export=False)
        if ":" in host:  # an IPv6 address
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is no error; anything else is one line on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # reset, broken pipe, aborted
            return
        print(f"dsdt ui: {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr)

    def relative(self, text: str) -> str:
        """``text`` with the repository's absolute paths made relative (``.dsdt/...``)."""
        from dsdt.repo import Repository

        root = Repository.current().root
        for base, shown in ((root, root.name), (root.parent, ".")):
            text = text.replace(f"{base}/", f"{shown}/").replace(str(base), shown)
        return text

    @property
    def url(self) -> str:
        """The URL to open (with the token, when there is one)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.server_address[1]}/"
        return base + (f"?{urlencode({'token': self.token})}" if self.token else "")
