"""A small repository for the ``dsdt ui`` tests, hostile names and tags included."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dsdt import api
from dsdt.ui.server import UiServer

HOSTILE_NAME = '"><img src=x onerror=alert(1)>'
HOSTILE_TAG = "<script>alert('tag')</script>"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Repo:
    """What the fixture made: a context ``t`` with raw -> scores (two versions) -> hostile."""

    raw: str
    old_scores: str
    scores: str
    hostile: str


def make_repo(root: Path) -> Repo:
    """Fill the current repository (a project at ``root``)."""
    api.context("t")
    (root / "data").mkdir()
    (root / "data" / "day1.csv").write_text("day,clicks\n1,17\n")
    raw = api.add("t", "raw", str(root / "data"), tags={"stage": HOSTILE_TAG}).uuid
    uuids = []
    for i, model in enumerate(("lr", "xgb")):
        with api.Bundle("t", "scores") as b:
            b.add_data(pd.DataFrame({"user": ["a", "b", "<b>c</b>"], "score": [0.9, 0.2, i]}))
            b.add_tags({"model": model})
            b.add_dependencies(api.get("t", None, uuid=raw), ["raw"])
        uuids.append(b.uuid)
    with api.Bundle("t", HOSTILE_NAME) as h:
        h.add_data({"k": 1})
        h.add_dependencies(api.get("t", None, uuid=uuids[1]), ["scores"])
    for i in range(60):  # more names than one page holds
        api.Bundle("t", f"n{i:03d}", data=i)
    return Repo(raw, uuids[0], uuids[1], h.uuid)


@contextmanager
def serving(token: str | None = None, host: str = "127.0.0.1") -> Iterator[UiServer]:
    """A ``dsdt ui`` server on a free loopback port, for the duration of the block."""
    server = UiServer(host, 0, token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None,
          ) -> tuple[int, dict[str, str], str]:
    """``(status, headers, body)`` of a request (no proxy, no redirect followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
