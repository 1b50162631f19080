"""Tests of the remote verbs of the ``dsdt`` command line: remote, push, pull, rmr, context -d -r.

Most use a directory remote; one round trip goes through the moto S3 server.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import dsdt_cli, fails, fsck_ok, ok
from typer.testing import CliRunner

from dsdt.commands import _progress
from dsdt.commands._progress import IndexBar, TransferProgress, transfer_progress
from dsdt.commands._render import fmt_bytes

REMOTE_VERBS = ["remote", "push", "pull", "rmr"]


class Clones:
    """Two repositories (two people's clones) sharing one remote; one is current at a time."""

    def __init__(self, a: Path, b: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths = {"a": a, "b": b}
        self.url = url
        self.mp = monkeypatch

    def use(self, who: str) -> None:
        """Make repository ``who`` the current directory."""
        self.mp.chdir(self.paths[who])


@pytest.fixture
def remote_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty directory remote."""
    return str(tmp_path_factory.mktemp("remote"))


@pytest.fixture
def clones(project: Path, remote_dir: str, tmp_path_factory: pytest.TempPathFactory,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Clones]:
    """Repository ``a`` (current, with f.txt) and an initialised repository ``b``."""
    (project / "f.txt").write_text("hello\n")
    other = tmp_path_factory.mktemp("clone")
    ok("init", str(other))
    yield Clones(project, other, remote_dir, monkeypatch)


def committed(name: str, *extra: str) -> str:
    """Add f.txt as bundle ``name`` and commit it; return its uuid."""
    uuid = ok("add", name, "f.txt", *extra).out.strip()
    ok("commit", "-u", uuid)
    return uuid


# --- help --------------------------------------------------------------------------------


def test_help_lists_the_remote_verbs() -> None:
    out = ok("--help").out
    for verb in REMOTE_VERBS:
        assert f"  {verb} " in out


@pytest.mark.parametrize("verb", REMOTE_VERBS)
def test_remote_verbs_have_help(verb: str) -> None:
    r = ok(verb, "--help")
    assert r.out.startswith(f"Usage: dsdt {verb}")
    assert "--context" in r.out and len(r.lines) > 6


# --- remote ------------------------------------------------------------------------------


def test_bind_and_rebind(project: Path, remote_dir: str, tmp_path_factory: pytest.TempPathFactory
                         ) -> None:
    assert ok("remote", "shared", remote_dir + "/").out == \
        f"Bound context default to shared@{remote_dir}\n"
    ok("remote", "shared", remote_dir)  # the same binding again is fine
    assert "--force" in fails(2, "remote", "other", remote_dir)
    other = str(tmp_path_factory.mktemp("other"))
    assert ok("remote", "other", f"file://{other}", "-f").out == \
        f"Bound context default to other@{other}\n"
    assert ok("context").lines == [f"*\tdefault\t[other@{other}]"]
    assert "does not exist" in fails(11, "remote", "x", str(project / "missing"), "-f")
    (project / "f.txt").write_text("x")
    err = fails(11, "remote", "x", str(project / "f.txt"), "-f")
    assert "is a file, not a directory" in err and "mkdir" not in err
    ok("context", "work")
    assert ok("remote", "w", remote_dir, "-c", "work").out.startswith("Bound context work to w@")
    fails(2, "remote", "x", "ftp://host/dir")
    fails(4, "remote", "x", remote_dir, "-c", "nope")


# --- push / pull ---------------------------------------------------------------------------


def test_push_needs_a_remote_and_a_commit(clones: Clones) -> None:
    uuid = ok("add", "x", "f.txt").out.strip()
    assert "no remote" in fails(11, "push", "x")
    ok("remote", "shared", clones.url)
    assert "not committed" in fails(7, "push", "x")
    assert "not committed" in fails(7, "push", "-u", uuid)
    assert ok("push").out == "Nothing to push: no committed bundles\n"
    fails(4, "push", "nothing-called-this")
    r = dsdt_cli("push", "-j", "0")  # a click usage error
    assert r.code == 2 and "--jobs" in r.err


def test_push_then_pull_into_a_second_repository(clones: Clones) -> None:
    ok("remote", "shared", clones.url)
    uuid = committed("x", "-t", "team:ml")
    r = ok("push", "x", "-j", "1")
    assert r.out.startswith("Pushed 1 bundle(s), ") and f"to shared@{clones.url}" in r.out
    assert r.err == ""
    assert ok("push", "x").out == f"Nothing to push: 1 bundle(s) already on shared@{clones.url}\n"
    assert ok("push").out.startswith("Nothing to push: 1 bundle(s)")
    other = committed("y")
    r = ok("push")
    assert r.out.startswith("Pushed 1 bundle(s)") and r.out.endswith("; 1 already there\n")

    clones.use("b")
    ok("remote", "shared", clones.url)
    assert ok("pull", "x").out == f"Pulled 1 bundle(s) from shared@{clones.url}\n"
    assert ok("ls", "-v").lines[1].split()[-1] == uuid
    assert ok("ls", "-d").lines[1].split()[6] == "remote"  # not local yet
    r = ok("pull", "-l")
    # x and y hold the same data: one blob
    assert r.out.startswith("Pulled 1 bundle(s), 1 blob(s), 6 B") and "; 1 already here" in r.out
    assert str(clones.paths["b"]) in ok("cat", "x").out  # now local
    assert ok("cat", "-u", other).out.count(str(clones.paths["b"])) == 1
    assert ok("pull").out == f"Pulled 0 bundle(s) from shared@{clones.url}; 2 already here\n"
    fsck_ok()


def test_push_by_uuid_and_tags_and_delocalize(clones: Clones) -> None:
    ok("remote", "shared", clones.url)
    first = committed("x", "-t", "v:1")
    (clones.paths["a"] / "f.txt").write_text("second\n")  # other data: not shared with first
    second = committed("x", "-t", "v:2")
    assert ok("push", "-u", first).out.startswith("Pushed 1 bundle(s)")
    assert ok("push", "x", "-t", "v:2").out.startswith("Pushed 1 bundle(s)")
    r = ok("push", "-d", "-u", second)
    assert r.lines == [f"Nothing to push: 1 bundle(s) already on shared@{clones.url}",
                       "Removed 1 local blob(s) of 1 bundle(s)"]
    where = {line.split()[7]: line.split()[6] for line in ok("ls", "-d").lines[1:]}
    assert (where[second], where[first]) == ("remote", "local")
    r = ok("pull", "-l", "-u", second)
    assert r.out.startswith("Pulled 0 bundle(s), 1 blob(s), 7 B") and "1 already here" in r.out
    assert clones.url not in ok("cat", "-u", second).out  # a directory remote's paths: never
    fsck_ok()


def test_push_and_pull_with_a_progress_bar(clones: Clones, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from rich.console import Console

    screen = io.StringIO()
    monkeypatch.setattr(_progress, "_stderr_is_tty", lambda: True)
    real = _progress._make_bar
    monkeypatch.setattr(_progress, "_make_bar", lambda console=None: real(
        Console(file=screen, force_terminal=True, width=100)))
    ok("remote", "shared", clones.url)
    committed("x")
    assert ok("push", "-j", "4").out.startswith("Pushed 1 bundle(s)")
    clones.use("b")
    ok("remote", "shared", clones.url)
    assert ok("pull", "-l").out.startswith("Pulled 1 bundle(s), 1 blob(s)")
    assert "files" in screen.getvalue()


# --- rmr and context -d -r -------------------------------------------------------------------


def test_rmr(clones: Clones) -> None:
    ok("remote", "shared", clones.url)
    a, b = committed("x"), committed("x")
    keep = committed("y")
    ok("push")
    r = ok("rmr", "x", "--dryrun")
    assert r.lines[0] == "Found 2 bundle(s) to remove from the remote:"
    assert sorted(r.lines[1:]) == sorted([a, b])
    assert ok("push").out.startswith("Nothing to push: 3 bundle(s)")  # dry run changed nothing
    r = ok("rmr", "x")
    assert r.lines[0] == "Removed 2 bundle(s) from the remote."
    assert ok("rmr", "x").out == "No bundles to remove from the remote.\n"
    assert "name the bundle" in fails(2, "rmr")
    r = ok("push")
    assert r.out.startswith("Pushed 2 bundle(s)") and "; 1 already there" in r.out
    assert ok("rmr", "-u", keep).lines == ["Removed 1 bundle(s) from the remote.", keep]
    fsck_ok()


def test_context_delete_with_remote(clones: Clones) -> None:
    ok("context", "work")
    ok("switch", "work")
    ok("remote", "shared", clones.url)
    committed("x")
    ok("push")
    assert "force" in fails(2, "context", "-d", "-r", "work")
    assert ok("context", "-d", "-r", "-f", "work").lines[0] == "Deleted context work"
    ok("switch", "default")
    ok("remote", "shared", clones.url)
    assert ok("pull").out == f"Pulled 0 bundle(s) from shared@{clones.url}\n"
    fsck_ok()


# --- S3 ----------------------------------------------------------------------------------


def test_s3_round_trip(project: Path, s3_bucket: tuple[str, str],
                       tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, _ = s3_bucket
    url = f"s3://{bucket}/projects/churn"
    (project / "f.txt").write_text("hello\n")
    ok("remote", "shared", url + "/")
    uuid = committed("x")
    assert ok("push").out.startswith(f"Pushed 1 bundle(s), 1 blob(s), 6 B to shared@{url}")
    assert ok("push").out == f"Nothing to push: 1 bundle(s) already on shared@{url}\n"
    other = tmp_path_factory.mktemp("s3clone")
    ok("init", str(other))
    monkeypatch.chdir(other)
    ok("remote", "shared", url)
    assert ok("pull", "-l").out.startswith("Pulled 1 bundle(s), 1 blob(s), 6 B from shared@s3://")
    assert ok("cat", "-u", uuid).out.count(str(other)) == 1
    assert ok("rmr", "x").lines == ["Removed 1 bundle(s) from the remote.", uuid]
    fsck_ok()


# --- the progress sink -------------------------------------------------------------------


def _hammer(sink: TransferProgress, threads: int = 4, files: int = 50, chunk: int = 7) -> None:
    sink.begin(threads * files, threads * files * chunk * 3)

    def work() -> None:
        for _ in range(files):
            for _ in range(3):
                sink.advance(chunk)
            sink.file_done()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


@pytest.mark.parametrize("with_bar", [False, True])
def test_progress_sink_is_thread_safe(with_bar: bool) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True) if with_bar else None
    with transfer_progress("push", console=console) as sink:
        assert (sink._bar is not None) == with_bar
        _hammer(sink)
        sink.begin(1, 10)  # a second phase adds to the totals
        sink.advance(10)
        sink.file_done()
    assert (sink.files_done, sink.files_total) == (201, 201)
    assert (sink.bytes_done, sink.bytes_total) == (4 * 50 * 21 + 10, 4 * 50 * 21 + 10)
    if with_bar:
        task = sink._bar.tasks[0]  # type: ignore[union-attr]
        assert (task.completed, task.total) == (sink.bytes_done, sink.bytes_total)
        assert task.fields["files"] == "201/201 files"


def test_progress_is_silent_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with transfer_progress("pull") as sink:
        _hammer(sink, threads=2, files=3)
    assert sink._bar is None and capsys.readouterr() == ("", "")


def test_fmt_bytes() -> None:
    assert [fmt_bytes(n) for n in (0, 1023, 1024, 1536 * 1024, 3 * 2**30)] == \
        ["0 B", "1023 B", "1.0 KiB", "1.5 MiB", "3.0 GiB"]


def test_fsck_remote_flag(loose: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``dsdt fsck --remote`` checks the bound remote too, and fails when a blob is gone."""

    from dsdt.commands.app import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSDT_DIR", raising=False)
    runner = CliRunner()
    remote = tmp_path / "remote"
    remote.mkdir()
    (tmp_path / "f.bin").write_bytes(b"x" * 5000)
    for args in (["init"], ["remote", "shared", str(remote)], ["add", "f", "f.bin"],
                 ["commit", "f"], ["push"], ["fsck", "--remote"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    for blob in (remote / "blobs").rglob("*"):
        if blob.is_file():
            blob.chmod(0o644)
            blob.unlink()
    result = runner.invoke(app, ["fsck", "--remote"])
    assert result.exit_code == 1 and "missing" in result.output


def test_the_index_bar_appears_only_for_a_long_rebuild_and_goes_away(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    screen = io.StringIO()
    bar = IndexBar(Console(file=screen, force_terminal=True, width=80))
    for done in range(11):  # quicker than the delay: nothing drawn
        bar(done, 10)
    assert screen.getvalue() == ""
    monkeypatch.setattr(IndexBar, "DELAY", 0.0)
    for done in range(10):
        bar(done, 10)
    assert "indexing bundles" in screen.getvalue() and "100%" not in screen.getvalue()
    bar(10, 10)  # the end, also of a failed rebuild: no 100% is drawn
    assert "100%" not in screen.getvalue() and bar._bar is None


def test_the_cli_draws_index_rebuilds_on_a_terminal_only(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dsdt.index import Index

    monkeypatch.setattr(Index, "progress", None)
    ok("ls")
    assert Index.progress is None
    monkeypatch.setattr(_progress, "_stderr_is_tty", lambda: True)
    ok("ls", "--help")
    assert Index.progress is None  # help runs no verb
    monkeypatch.setenv("TERM", "dumb")  # rich cannot redraw a line there
    ok("ls")
    assert Index.progress is None
    monkeypatch.setenv("TERM", "xterm")
    ok("ls")
    assert isinstance(Index.progress, IndexBar)


def test_an_index_bar_under_a_transfer_bar_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull that rebuilds the index draws both bars on the one stderr console."""
    from rich.console import Console

    monkeypatch.setattr(IndexBar, "DELAY", 0.0)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with transfer_progress("pull", console=console) as sink:
        sink.begin(1, 10)
        bar = IndexBar(console)
        for done in range(4):
            bar(done, 3)
        sink.advance(10)
    assert "indexing bundles" in screen.getvalue() and "pull" in screen.getvalue()
    assert _progress.stderr_console() is _progress.stderr_console()
