"""Headless Chromium for the tests, driven through the DevTools protocol (websocket-client).

``scripts/test.sh`` installs Debian's ``chromium`` when it is missing. Without
it the browser tests skip, except in CI (``CI=true``), where they fail: they
never go silently unrun there.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def chromium_path() -> str:
    """The Chromium binary, or a skip (a failure in CI) when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "no chromium (scripts/test.sh installs it: apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; the browser tests must run in CI", pytrace=False)
    pytest.skip(reason)


class Browser:
    """One headless Chromium with one page.

    Args:
        workdir: Where its profile goes.
    """

    def __init__(self, workdir: Path) -> None:
        import websocket

        profile = workdir / "profile"
        self.proc = subprocess.Popen(
            [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={profile}", "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with _opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            target = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=20)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method; return its result (events met meanwhile are kept)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_load(self) -> None:
        """Wait for the page's load event (one not yet consumed)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == "Page.loadEventFired":
                    del self.events[:i + 1]
                    time.sleep(0.05)
                    return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError("the page did not load")

    def goto(self, url: str) -> None:
        """Open a URL and wait until it has loaded."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_load()

    def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; return its value."""
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    def text(self, selector: str = "body") -> str:
        """The visible text of the first element matching ``selector``."""
        return self.js(f"document.querySelector({json.dumps(selector)}).innerText")

    def click(self, selector: str) -> None:
        """Click the middle of an element with the mouse, as a user does, and wait for the load."""
        find = f"document.querySelector({json.dumps(selector)})"
        rect = self.js("(() => { const e = " + find + "; if (!e) return null;"
                       " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                       " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        if rect is None:
            raise AssertionError(f"nothing matches {selector} on {self.js('location.href')}")
        self.events.clear()
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=rect[0], y=rect[1],
                      button="left", clickCount=1)
        self.wait_load()

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the whole page."""
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def dialogs(self) -> list[dict[str, Any]]:
        """JavaScript dialogs opened so far (an ``alert`` injected by a record would be one)."""
        return [e for e in self.events if e.get("method") == "Page.javascriptDialogOpening"]

    def close(self) -> None:
        """Stop the browser."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
