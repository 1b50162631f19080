"""``dsdt ui``: the server's routes and safety, the static export, hostile records (no browser)."""

from __future__ import annotations

import http.client
import re
from importlib import resources
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pandas as pd
import pytest
from clirun import dsdt_cli, fails, ok
from ui_fixture import HOSTILE_NAME, Repo, fetch, make_repo, serving

from dsdt import api
from dsdt.repo import Repository
from dsdt.ui import links
from dsdt.ui.pages import Site


@pytest.fixture
def repo(project: Path) -> Repo:
    return make_repo(project)


def test_templates_and_stylesheet_ship_in_the_package() -> None:
    base = resources.files("dsdt.ui")
    for name in ("base.html", "contexts.html", "bundles.html", "bundle.html", "log.html"):
        assert base.joinpath("templates", name).is_file()
    assert all(base.joinpath("static", name).is_file() for name in links.STATIC)


def test_pages_show_names_lineage_and_diff(repo: Repo) -> None:
    with serving() as s:
        base = s.url
        code, headers, body = fetch(base)
        assert code == 200 and 'href="c/t/index.html"' in body
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        code, _, body = fetch(base + "c/t/index.html")
        assert ">n000<" in body and "page 1 of 2" in body and ">raw<" not in body
        code, _, body = fetch(base + "c/t/index.html?page=2")
        assert ">raw<" in body and ">scores<" in body and ">n000<" not in body
        code, _, body = fetch(base + "c/t/index.html?name=sc*&tag=model:xgb")
        assert ">scores<" in body and ">n000<" not in body and "1 name<" in body
        code, _, body = fetch(base + f"c/t/b/{repo.scores}.html")
        assert code == 200 and "&lt;b&gt;c&lt;/b&gt;" in body  # a preview cell, escaped
        assert f'data-from="{repo.raw}" data-to="{repo.scores}"' in body  # a lineage edge
        assert "tag model: lr -&gt; xgb" in body and repo.old_scores in body  # a diff row
        assert "day1.csv" not in body  # raw's file, not this bundle's
        code, _, body = fetch(base + f"c/t/b/{repo.raw}.html")
        assert "data/day1.csv" in body and "16 B" in body
        code, _, body = fetch(base + "c/t/log/scores.html")
        assert code == 200 and repo.scores in body and repo.old_scores in body


def test_hostile_names_and_tags_are_escaped_everywhere(repo: Repo) -> None:
    with serving() as s:
        pages = [s.url + "c/t/index.html?name=" + quote('"*'), s.url + f"c/t/b/{repo.raw}.html",
                 s.url + f"c/t/b/{repo.hostile}.html", s.url + f"c/t/b/{repo.scores}.html",
                 s.url + "c/t/log/" + quote(links.log_file(HOSTILE_NAME), safe="")]
        for url in pages:
            code, _, body = fetch(url)
            assert code == 200, url
            assert "<img" not in body and "<script" not in body, url
        assert "&lt;script&gt;" in fetch(s.url + f"c/t/b/{repo.raw}.html")[2]
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in fetch(pages[2])[2]


@pytest.mark.parametrize("path", [
    "/../../etc/passwd", "/static/../../pyproject.toml", "/static/%2e%2e%2fpages.py",
    "/static/base.html", "/c/nosuch/index.html", "/c/..%2f..%2f/index.html",
    "/c/t/b/not-a-uuid.html", "/c/t/b/00000000-0000-0000-0000-000000000000.html",
    "/c/t/log/..%2fconfig.yaml.html", "/c/t/log/nosuch.html", "/.dsdt/config.yaml",
    "/c/t/b/%ff.html"])
def test_no_request_reaches_a_file(repo: Repo, path: str) -> None:
    with serving() as s:
        conn = http.client.HTTPConnection("127.0.0.1", s.server_address[1], timeout=10)
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status in (400, 404), (path, r.status)
        assert "format_version" not in body and "Traceback" not in body


@pytest.mark.parametrize("query", ["page=0", "page=x", "after=soon", "tag=nocolon",
                                   "page=1&page=2", "page=99999999999999999999999999",
                                   "page=%C2%B2", "page=-1"])
def test_bad_filters_are_a_400_page_with_navigation(repo: Repo, query: str) -> None:
    with serving() as s:
        code, headers, body = fetch(s.url + "c/t/index.html?" + query)
    assert code == 400 and headers["Content-Type"].startswith("text/html")
    assert re.search(r'<p id="error">[^<\n]+</p>', body) and 'href="/index.html"' in body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_read_only(repo: Repo, method: str) -> None:
    with serving() as s:
        code, headers, _ = fetch(s.url, method=method)
        assert code == 405 and headers["Allow"] == "GET, HEAD"


def test_head_and_foreign_host(repo: Repo) -> None:
    with serving() as s:
        code, headers, body = fetch(s.url, method="HEAD")
        assert code == 200 and body == "" and int(headers["Content-Length"]) > 0
        code, _, _ = fetch(s.url, headers={"Host": "evil.example:80"})
        assert code == 421


def test_a_token_is_checked_then_kept_in_a_cookie(repo: Repo) -> None:
    token = "s3cret-token-0123456789"
    with serving(token=token) as s:
        plain = s.url.split("?")[0]
        assert fetch(plain)[0] == 401
        assert fetch(plain + "?token=wrong-token-000000000")[0] == 401
        code, headers, _ = fetch(s.url)
        assert code == 303 and headers["Location"] == "/"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert fetch(plain + "c/t/index.html", headers={"Cookie": cookie})[0] == 200
        port = plain.rstrip("/").rsplit(":", 1)[1]
        assert cookie.startswith(f"dsdt_ui_token_{port}=")  # per port: a host's ports share
        other = cookie.replace(f"_{port}=", "_1=")  # cookies, so two servers never collide
        assert fetch(plain + "c/t/index.html", headers={"Cookie": other})[0] == 401


def test_cli_refuses_bad_options(repo: Repo) -> None:
    assert "--token" in fails(2, "ui", "--host", "0.0.0.0")
    assert "16 characters" in fails(2, "ui", "--token", "short")
    assert "takes no" in fails(2, "ui", "--export", "site", "--port", "80")
    r = ok("ui", "--help")
    for flag in ("--port", "--host", "--token", "--open", "--export"):
        assert flag in r.out


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSDT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    fails(3, "ui", "--export", "site")
    assert not (tmp_path / "site").exists()


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_export_writes_every_page_with_working_relative_links(repo: Repo,
                                                              tmp_path: Path) -> None:
    site = tmp_path / "site"
    r = ok("ui", "--export", str(site))
    assert "wrote" in r.out and (site / "index.html").is_file()
    pages = list(site.rglob("*.html"))
    assert (site / "c" / "t" / "b" / f"{repo.hostile}.html") in pages
    assert (site / "c" / "t" / "page-2.html").is_file()
    for page in pages:
        html = page.read_text()
        assert 'http-equiv="Content-Security-Policy"' in html
        assert "<img" not in html and "<script" not in html
        for href in _hrefs(html):
            target = (page.parent / unquote(urlsplit(href).path)).resolve()
            assert target.is_file(), (page, href)
            assert site.resolve() in target.parents
    ok("ui", "--export", str(site))  # again, over its own earlier export
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    assert "not empty" in fails(10, "ui", "--export", str(tmp_path / "other"))


def test_a_name_too_long_for_a_file_gets_a_hashed_log_page() -> None:
    name = "x" * 255
    assert len(links.log_file(name)) < 100 and links.log_file("ab") == "ab.html"


def test_site_checks_its_arguments(repo: Repo) -> None:
    from dsdt.errors import InvalidNameError, NotFoundError

    site = Site()
    with pytest.raises(InvalidNameError):
        site.bundles("../t")
    with pytest.raises(NotFoundError):
        site.bundle("t", "abc")


def test_a_planted_blob_is_not_previewed(repo: Repo) -> None:
    from dsdt.repo import Repository

    other = api.Bundle("t", "planted", data=pd.DataFrame({"user": ["PLANTED"], "score": [5.0]}))
    blobs = Repository.current().blobs
    target = blobs.path(api.get("t", None, uuid=repo.scores).record.data["blob"])
    target.chmod(0o644)  # as git checks out a file added with git add -f
    target.write_bytes(blobs.path(other.record.data["blob"]).read_bytes())
    assert "sha256" in fails(9, "cat", "-c", "t", "-u", repo.scores)
    with serving() as s:
        code, _, body = fetch(s.url + f"c/t/b/{repo.scores}.html")
    assert code == 200 and "PLANTED" not in body and "unreadable" in body


def _break_context(project: Path, name: str) -> None:
    api.context(name)
    yaml = project / ".dsdt" / "refs" / "contexts" / name / "context.yaml"
    yaml.write_text('remote_context: "<script>alert(1)</script>"\nremote_url: null\n')


def test_one_hostile_context_yaml_does_not_take_down_the_others(repo: Repo, project: Path,
                                                                tmp_path: Path) -> None:
    _break_context(project, "bad")
    infos = {c.name: c for c in api.contexts()}
    assert infos["t"].broken is None and "not a valid context name" in str(infos["bad"].broken)
    listing = ok("context").out
    assert "\tt" in listing and "bad\t[broken" in listing
    r = dsdt_cli("fsck")
    assert r.code == 1 and "bad/context.yaml" in r.out
    with serving() as s:
        code, _, body = fetch(s.url)
    assert code == 200 and 'href="c/t/index.html"' in body and "broken" in body
    assert "<script" not in body
    ok("ui", "--export", str(tmp_path / "site"))
    assert (tmp_path / "site" / "c" / "t" / "index.html").is_file()
    assert "broken" in (tmp_path / "site" / "index.html").read_text()


def test_the_pull_hint_names_context_and_uuid_and_needs_a_remote(repo: Repo,
                                                                 tmp_path: Path) -> None:
    from dsdt.repo import Repository

    blob = Repository.current().blobs.path(api.get("t", None, uuid=repo.scores).record.data["blob"])
    blob.unlink()
    with serving() as s:
        body = fetch(s.url + f"c/t/b/{repo.scores}.html")[2]
        assert "not in the local cache" in body and "dsdt pull" not in body
        (tmp_path / "remote").mkdir()
        api.remote("t", "shared", str(tmp_path / "remote"))
        body = fetch(s.url + f"c/t/b/{repo.scores}.html")[2]
    assert f"<code>dsdt pull -c t -u {repo.scores} -l</code>" in body


def test_a_corrupt_record_is_a_500_page_without_absolute_paths(repo: Repo, project: Path,
                                                               tmp_path: Path) -> None:
    record = next((project / ".dsdt" / "records").rglob(f"{repo.raw}.yaml"))
    record.chmod(0o644)
    record.write_text(record.read_text() + "# edited by hand\n")
    Repository.forget()  # no record read before
    with serving() as s:
        code, headers, body = fetch(s.url + f"c/t/b/{repo.raw}.html")
        assert code == 500 and headers["Content-Type"].startswith("text/html")
        assert "run dsdt fsck" in body and 'href="/index.html"' in body
        assert str(project) not in body and "frame-ancestors" in headers["Content-Security-Policy"]
        code, _, body = fetch(s.url + "c/t/index.html?page=2")
        assert code == 200 and ">raw<" not in body and "1 bundle skipped as unreadable" in body
        code, _, body = fetch(s.url + "c/t/b/00000000-0000-4000-8000-000000000000.html")
        assert code == 404 and 'href="/index.html"' in body
    r = ok("ui", "--export", str(tmp_path / "site"))
    assert "skipped 1 unreadable bundle" in r.out


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                                 b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 120 + b"\r\n",
                                 b"GET / HTTP/2.0\r\n\r\n"])
def test_the_standard_librarys_errors_carry_the_security_headers(repo: Repo, raw: bytes) -> None:
    import socket

    with serving() as s, socket.create_connection(("127.0.0.1", s.server_address[1]), 10) as c:
        c.sendall(raw)
        head = c.makefile("rb").read().split(b"\r\n\r\n")[0].decode()
    assert re.match(r"HTTP/1\.[01] (400|414|431|505) ", head), head
    for name in ("Content-Security-Policy", "X-Content-Type-Options: nosniff",
                 "X-Frame-Options: DENY", "Referrer-Policy: no-referrer"):
        assert name in head, head


def test_a_client_that_goes_away_leaves_no_traceback(repo: Repo,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import struct

    with serving() as s:
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", s.server_address[1]), 10)
            c.sendall(b"GET /c/t/index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # a reset while the server writes
        assert fetch(s.url)[0] == 200
    assert "Traceback" not in capsys.readouterr().err


def test_an_ipv6_host_is_served() -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as e:
        pytest.skip(f"no IPv6 loopback on this machine ({e})")
    from dsdt.ui.server import UiServer

    server = UiServer("::1", 0)
    try:
        assert server.url.startswith("http://[::1]:") and server.address_family == socket.AF_INET6
    finally:
        server.server_close()


def test_a_page_past_the_last_is_a_404_page(repo: Repo) -> None:
    with serving() as s:
        code, _, body = fetch(s.url + "c/t/index.html?page=999")
    assert code == 404 and "it has 2 pages" in body and 'href="/index.html"' in body


def test_a_re_export_removes_the_pages_it_no_longer_writes(repo: Repo, tmp_path: Path) -> None:
    site = tmp_path / "site"
    api.context("gone")
    api.Bundle("gone", "old", data=1)
    ok("ui", "--export", str(site))
    (site / "mine.html").write_text("not the export's")
    assert (site / "c" / "gone" / "index.html").is_file()
    api.delete_context("gone", force=True)
    api.rm("t", "scores", rm_all=True, force=True)
    ok("ui", "--export", str(site))
    assert not (site / "c" / "gone").exists() and (site / "mine.html").is_file()
    assert not (site / "c" / "t" / "b" / f"{repo.scores}.html").exists()
    assert not (site / "c" / "t" / "log" / "scores.html").exists()
    assert (site / "c" / "t" / "b" / f"{repo.raw}.html").is_file()


def test_control_and_bidi_characters_show_escaped_and_long_values_are_cut(repo: Repo) -> None:
    cell = "bell\x07esc\x1b[31mrlo\u202eend"
    with api.Bundle("t", "odd") as b:
        b.add_data(pd.DataFrame({"c\x1bol": [cell, "x" * 10_000]}))
        b.add_tags({"long": "v" * 5000})
    with serving() as s:
        body = fetch(s.url + f"c/t/b/{b.uuid}.html")[2]
        listing = fetch(s.url + "c/t/index.html?name=odd")[2]
    for text in (body, listing):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "bell\\x07esc\\x1b[31mrlo\\u202eend" in body and "c\\x1bol" in body
    assert "x" * 199 + "…<" in body and 'title="' + "x" * 10_000 + '"' in body
    assert "long:" + "v" * 114 + "…<" in listing and "v" * 5000 in listing


def test_a_deep_chain_is_cut_at_50_bundles_and_says_so(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.members import Members

    api.context("t")
    prev = api.Bundle("t", "v000", data=0)
    first = prev
    for i in range(1, 61):
        with api.Bundle("t", f"v{i:03d}") as b:
            b.add_data(i)
            b.add_dependencies(prev, ["prev"])
        prev = b
    reads: list[str] = []
    real = Members.read_record

    def counting(self: Members, uuid: str, sha: str | None = None):  # type: ignore[no-untyped-def]
        reads.append(uuid)
        return real(self, uuid, sha)

    monkeypatch.setattr(Members, "read_record", counting)
    with serving() as s:
        body = fetch(s.url + f"c/t/b/{prev.uuid}.html")[2]
    assert "(51 bundles) <span" in body and "cut at 50 bundles each way" in body
    assert first.uuid not in body and len(set(reads)) <= 55
    with serving() as s:
        assert "cut at" not in fetch(s.url + f"c/t/b/{first.uuid}.html")[2].split("lineage")[0]


def test_a_context_without_its_slash_redirects(repo: Repo) -> None:
    with serving() as s:
        code, headers, _ = fetch(s.url + "c/t?page=2")
        assert code == 301 and headers["Location"] == "/c/t/?page=2"
        assert ">raw<" in fetch(s.url + "c/t/?page=2")[2]
