"""``dsdt ui`` in a real browser: headless Chromium opens each page, clicks, takes screenshots.

The screenshots go to a temporary directory, printed at the start of each
test (pytest shows it when a test fails).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, chromium_path
from clirun import ok
from ui_fixture import HOSTILE_NAME, Repo, make_repo, serving


@pytest.fixture
def shots() -> Path:
    path = Path(tempfile.mkdtemp(prefix="dsdt-ui-shots-"))
    print(f"screenshots in {path}")
    return path


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    chromium_path()
    b = Browser(tmp_path)
    yield b
    b.close()


@pytest.fixture
def repo(project: Path) -> Repo:
    return make_repo(project)


def _no_injection(browser: Browser) -> None:
    assert browser.js("document.querySelectorAll('img, script, iframe').length") == 0
    assert browser.dialogs() == []


def test_every_page_in_the_browser(repo: Repo, browser: Browser, shots: Path) -> None:
    with serving() as s:
        browser.goto(s.url)
        browser.screenshot(shots / "1-contexts.png")
        assert "t" in browser.text("#contexts") and "no remote" in browser.text("#contexts")
        browser.click('#contexts a[href="c/t/index.html"]')
        browser.screenshot(shots / "2-bundles.png")
        table = browser.text("#bundles")
        assert HOSTILE_NAME in table and "n000" in table and "page 1 of 2" in browser.text()
        _no_injection(browser)
        browser.click("a[rel=next]")
        assert "scores" in browser.text("#bundles") and "n000" not in browser.text("#bundles")
        browser.js("document.querySelector('input[name=name]').value = 'sc*'")
        browser.js("document.querySelector('input[name=tag]').value = 'model:xgb'")
        browser.click("form.filters button")
        browser.screenshot(shots / "3-filtered.png")
        assert browser.text("#bundles").count("\n") == 1 and "scores" in browser.text("#bundles")
        browser.click("#bundles a.uuid")
        browser.screenshot(shots / "4-bundle.png")
        assert browser.text("h1").startswith("scores")
        edge = f'line.edge[data-from="{repo.raw}"][data-to="{repo.scores}"]'
        assert browser.js(f"document.querySelectorAll('{edge}').length") == 1
        assert "tag model: lr -> xgb" in browser.text("#diff")
        assert "<b>c</b>" in browser.text("#preview")
        _no_injection(browser)
        browser.click(f'a.node-link[href$="{repo.raw}.html"]')  # from the bundle to its input
        browser.screenshot(shots / "5-input.png")
        assert browser.text("h1").startswith("raw") and "data/day1.csv" in browser.text("#files")
        assert "<script>" in browser.text("#record")  # the hostile tag, shown as text
        _no_injection(browser)
        browser.click("header a:last-of-type")  # the crumb to the log of raw
        browser.screenshot(shots / "6-log.png")
        assert repo.raw in browser.text("#log")
        browser.goto(s.url + f"c/t/b/{repo.hostile}.html")
        browser.screenshot(shots / "7-hostile.png")
        assert browser.text("h1").startswith(HOSTILE_NAME)
        _no_injection(browser)


def test_the_export_opens_from_file_urls(repo: Repo, browser: Browser, shots: Path,
                                         tmp_path: Path) -> None:
    site = tmp_path / "site"
    ok("ui", "--export", str(site))
    browser.goto((site / "index.html").as_uri())
    browser.click('#contexts a[href="c/t/index.html"]')
    browser.click('a[rel=next]')
    browser.screenshot(shots / "export-2-page2.png")
    assert browser.js("location.href").endswith("c/t/page-2.html")
    browser.click("#bundles a.name")  # a name's log
    browser.click("#log a.uuid")
    browser.screenshot(shots / "export-3-bundle.png")
    assert browser.js("getComputedStyle(document.querySelector('header')).backgroundColor") \
        == "rgb(22, 32, 43)"  # the stylesheet loaded under the page's CSP
    browser.goto((site / "c" / "t" / "b" / f"{repo.scores}.html").as_uri())
    browser.click(f'a.node-link[href$="{repo.raw}.html"]')
    assert browser.text("h1").startswith("raw")
    browser.goto((site / "c" / "t" / "index.html").as_uri())
    browser.click("#bundles a.name")  # the hostile name's log page, from a file
    assert browser.text("h1") == f"Log of {HOSTILE_NAME}"
    _no_injection(browser)
