"""The ``dsdt`` Typer application and :func:`main`, the console-script entry point.

:func:`main` is the only place where a :class:`dsdt.errors.DsdtError` becomes a
process exit code: it prints one line ``dsdt: error: <message>`` to stderr and
exits with the error's ``exit_code``.
"""

import functools
import inspect
import io
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from dsdt.commands import (
    add,
    adopt,
    apply,
    cat,
    commit,
    config,
    context,
    diff,
    dockerize,
    du,
    fsck,
    gc,
    hooks,
    init,
    lineage,
    log,
    ls,
    pull,
    push,
    remote,
    rm,
    rmr,
    run,
    status,
    switch,
    ui,
)
from dsdt.commands._progress import install_index_bar

app = typer.Typer(
    name="dsdt",
    help="dsdt: git for data bundles. Named, tagged, immutable versions of data with lineage.",
    epilog="\b\nExamples:\n  dsdt init && dsdt add raw data/raw/ && dsdt commit raw\n"
           "  dsdt ls -v\n  dsdt remote shared s3://team-bucket/churn && dsdt push\n\n"
           "'dsdt VERB --help' documents each verb.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)



def _command_of(name: str, fn: Callable[..., Any], **options: Any) -> None:
    """Register a verb; the Examples block of its docstring goes after the options."""
    doc = inspect.getdoc(fn) or ""
    head, mark, examples = doc.partition("\b\nExamples:")
    if mark:
        options = {"help": head.rstrip(), "epilog": mark + examples, **options}
    app.command(name, **options)(_drawing_rebuilds(fn))


def _drawing_rebuilds(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The verb ``fn``, drawing any index rebuild it makes (``--help`` imports nothing)."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        install_index_bar()
        return fn(*args, **kwargs)

    return run


for _module in (init, context, switch, status, ls, cat, add, rm, commit, lineage, fsck,
                remote, push, pull, adopt, rmr, log, diff, gc, du, dockerize, config, ui):
    _command_of(_module.NAME, _module.run)
_command_of(hooks.INSTALL, hooks.install)
_command_of(hooks.HOOK, hooks.hook, hidden=True)
for _module in (apply, run):  # task parameters arrive as extra arguments; --help lists them
    app.command(_module.NAME, context_settings=_module.CONTEXT_SETTINGS,
                cls=_module.COMMAND_CLASS, epilog=_module.EPILOG)(_drawing_rebuilds(_module.run))


def _version(value: bool) -> None:
    if value:
        from dsdt import __version__

        typer.echo(f"dsdt {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the dsdt version and exit.")] = False,
    profile: Annotated[str | None, typer.Option("--profile", metavar="PROFILE",
                                                help="AWS profile to use for S3 remotes.")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose",
                                          help="Log debug messages to stderr.")] = False,
) -> None:
    """dsdt: git for data bundles. Named, tagged, immutable versions of data with lineage."""
    if verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    if profile:
        from dsdt import api

        api.set_aws_profile(profile)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``dsdt`` command line and exit the process.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: Always; 0 on success, the error's exit code otherwise
            (2 for usage errors, 130 on Ctrl-C).
    """
    from dsdt.errors import DsdtError, FileSystemError

    if _is_terminal(sys.stdout):
        sys.stdout = _Escaping(sys.stdout)
    elif isinstance(sys.stdout, io.TextIOWrapper):  # a lone surrogate (a label's) has no UTF-8
        sys.stdout.reconfigure(errors="backslashreplace")
    command = _command()
    try:
        code = command.main(args=list(argv) if argv is not None else None, prog_name="dsdt",
                            standalone_mode=False)
    except DsdtError as e:
        _fail(_one_line(e), e.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        print(file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as e:  # typer's (vendored click) usage errors
        _show_usage_error(e)
        sys.exit(e.exit_code)
    except OSError as e:  # the disk is full, a directory is read-only...
        where = f": {e.filename}" if e.filename else ""
        _fail(f"{e.strerror or _one_line(e)}{where}", FileSystemError.exit_code)
    except (MemoryError, RecursionError) as e:
        _fail(f"out of memory or stack ({type(e).__name__}); the input is too large or too "
              "deeply nested", 1)
    except Exception as e:
        import logging

        logging.getLogger("dsdt").debug("internal error", exc_info=True)
        _fail(f"internal error {type(e).__name__}: {_one_line(e)} (re-run with -v for the "
              "traceback, and please report it)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    from dsdt.objects.gate import printable

    print(f"dsdt: error: {printable(message)}", file=sys.stderr)
    sys.exit(code)


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Escaping(io.TextIOWrapper):
    """A terminal's stdout on which control characters (terminal escapes) show as ``\\x1b``.

    Names, tags, column labels and values come from records others wrote; on
    a terminal none of their bytes may move the cursor or set the title. A
    pipe or a file gets the text unchanged.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream.buffer, encoding=stream.encoding, errors="backslashreplace",
                         line_buffering=True)
        self._wrapped = stream  # it owns the buffer: it must not be collected (and close it)

    def write(self, text: str) -> int:
        from dsdt.objects.gate import printable

        if not isinstance(text, str):  # as any text stream: click probes with b""
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        return super().write(printable(text, layout=True))

    def close(self) -> None:
        """Flush and let go of the terminal's buffer (it belongs to the stream wrapped)."""
        if not self.closed:
            self.flush()
            self.detach()


@functools.cache
def _command() -> typer.core.TyperGroup:
    """The click command of :data:`app`, built once per process."""
    return typer.main.get_command(app)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _show_usage_error(err: typer.TyperException) -> None:
    """One line, as every other error: what is wrong, and where the help is.

    ``dsdt`` or a group given no arguments shows its help instead (as before).
    """
    from dsdt.objects.gate import printable

    if type(err).__name__ == "NoArgsIsHelpError":
        print(err.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
        return
    ctx = getattr(err, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    format_message = getattr(err, "format_message", None)
    text = format_message() if callable(format_message) else str(err)
    message = " ".join(text.split()) or type(err).__name__
    print(f"dsdt: error: {printable(message)}{where}", file=sys.stderr)
