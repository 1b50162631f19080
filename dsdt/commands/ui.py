"""``dsdt ui``: browse the repository's contexts, bundles, lineage and diffs in a web browser."""

from pathlib import Path
from typing import Annotated

import typer

NAME = "ui"


def run(
    port: Annotated[int, typer.Option(
        "--port", "-p", min=0, max=65535, metavar="N",
        help="The port to listen on (default: a free one).")] = 0,
    host: Annotated[str, typer.Option(
        "--host", metavar="ADDR",
        help="The address to listen on. Anything but the loopback interface "
             "(127.0.0.1, ::1, localhost) needs --token.")] = "127.0.0.1",
    token: Annotated[str | None, typer.Option(
        "--token", metavar="SECRET", envvar="DSDT_UI_TOKEN",
        help="A secret every client must give (open the printed URL once; a cookie keeps "
             "it). Needed with --host; at least 16 characters. Also read from "
             "DSDT_UI_TOKEN.")] = None,
    open_browser: Annotated[bool, typer.Option(
        "--open", help="Open the URL in the default web browser.")] = False,
    export: Annotated[Path | None, typer.Option(
        "--export", metavar="DIR",
        help="Write the pages as a static site into DIR (new, empty, or an earlier "
             "export) instead of serving them; it opens from file:// or any static "
             "host. Over an earlier export, the pages it no longer writes are "
             "removed.")] = None,
) -> None:
    """Serve a read-only web catalog of this repository, or export it as a static site.

    Pages: the contexts with their remotes; a context's bundle names (latest
    version, versions, tags, committed, created, size, where the data is),
    paged, filtered by name pattern, tag and date; a bundle (record, files,
    the first rows of a DataFrame, its lineage graph up and down, its diff with
    the previous version); the log of a name. Everything is read from the
    index and the records; nothing is written, and nothing is fetched from
    the network. The server runs until interrupted (Ctrl-C).

    \b
    Examples:
      dsdt ui                              # serve on 127.0.0.1, a free port
      dsdt ui --port 8400 --open
      dsdt ui --host 0.0.0.0 --token "$(openssl rand -hex 16)"
      dsdt ui --export site/               # a static site, e.g. for a team's web server
    """
    from dsdt.errors import UsageError

    if export is not None:
        if port or token or open_browser or host != "127.0.0.1":
            raise UsageError("--export writes files: it takes no --port, --host, --token or "
                             "--open")
        _export(export)
        return
    from dsdt.ui.server import UiServer, is_loopback

    if not is_loopback(host) and token is None:
        raise UsageError(f"--host {host} listens beyond this machine: give --token SECRET too")
    if token is not None and len(token) < 16:
        raise UsageError("the --token must be at least 16 characters (try openssl rand -hex 16)")
    _serve(UiServer, host, port, token, open_browser)


def _export(target: Path) -> None:
    from dsdt.repo import Repository
    from dsdt.ui.export import export

    Repository.current()  # no repository: the usual error, before any directory is made
    count, skipped = export(target)
    typer.echo(f"wrote {count} files to {target}; open {target / 'index.html'}")
    if skipped:
        typer.echo(f"skipped {skipped} unreadable bundle{'' if skipped == 1 else 's'} (a corrupt "
                   "record: run dsdt fsck)")


def _serve(server_class: type, host: str, port: int, token: str | None,
           open_browser: bool) -> None:
    from dsdt.errors import FileSystemError
    from dsdt.repo import Repository

    Repository.current()  # no repository: the usual error, before listening
    try:
        server = server_class(host, port, token)
    except OSError as e:
        raise FileSystemError(f"cannot listen on {host}:{port} ({e.strerror or e}); "
                              "pick another --port or --host") from None
    typer.echo(f"dsdt ui: serving {server.url} (read-only; Ctrl-C stops)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("dsdt ui: stopped")
    finally:
        server.server_close()
