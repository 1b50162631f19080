"""Progress of long work on a terminal (silence elsewhere): transfers and index rebuilds.

:class:`TransferProgress` implements :class:`dsdt.remote.sync.ProgressSink`
for ``push`` and ``pull``. It always counts files and bytes (so the totals
can be checked); when given a :class:`rich.progress.Progress` it also draws a
bar with bytes transferred, total, speed and files done. Its methods are
called from several worker threads, so every update is made under one lock.
:class:`IndexBar` draws the rebuild of the index a fresh clone's first
command makes (:func:`dsdt.api.on_index_progress`).

This module is imported at start-up, so :mod:`rich` is imported only inside
:func:`transfer_progress`, and only when stderr is a terminal.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

class TransferProgress:
    """A thread-safe progress sink: counts files and bytes, optionally drives a rich bar.

    ``begin`` may be called more than once (one call per transfer phase);
    the totals then add up.

    Attributes:
        files_total: Objects announced by ``begin``.
        bytes_total: Bytes announced by ``begin``.
        files_done: Objects reported finished.
        bytes_done: Bytes reported transferred.
    """

    def __init__(self, label: str, bar: Progress | None = None) -> None:
        """Make a sink.

        Args:
            label: What is transferred (e.g. ``"push"``), shown left of the bar.
            bar: A started rich ``Progress`` to draw on, or None to only count.
        """
        self.label = label
        self.files_total = self.bytes_total = self.files_done = self.bytes_done = 0
        self._bar = bar
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def begin(self, files: int, nbytes: int) -> None:
        """A transfer of ``files`` objects totalling ``nbytes`` starts."""
        with self._lock:
            self.files_total += files
            self.bytes_total += nbytes
            if self._bar is None or not files:
                return
            if self._task is None:
                self._task = self._bar.add_task(self.label, total=self.bytes_total,
                                                files=self._files_text())
            else:
                self._bar.update(self._task, total=self.bytes_total, files=self._files_text())

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes were transferred."""
        with self._lock:
            self.bytes_done += nbytes
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, advance=nbytes)

    def file_done(self) -> None:
        """One more object finished."""
        with self._lock:
            self.files_done += 1
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, files=self._files_text())

    def _files_text(self) -> str:
        return f"{self.files_done}/{self.files_total} files"


def _make_bar(console: Any = None) -> Progress:
    """A rich progress display on stderr: label, bar, bytes done/total, speed, files, ETA."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TextColumn("{task.fields[files]}"),
        TimeRemainingColumn(),
        console=console or stderr_console(),
        transient=True,
    )


@contextmanager
def transfer_progress(label: str, *, console: Any = None) -> Iterator[TransferProgress]:
    """A progress sink for one push or pull, with a bar while stderr is a terminal.

    Off a terminal (pipes, CI, tests) nothing is drawn: the verb prints its
    own one-line summary.

    Args:
        label: Shown left of the bar.
        console: A rich ``Console`` to draw on instead of stderr (forces the bar).

    Yields:
        The sink to hand to :func:`dsdt.api.push` or :func:`dsdt.api.pull`.
    """
    if console is None and not _stderr_is_tty():
        yield TransferProgress(label)
        return
    with _make_bar(console) as bar:
        yield TransferProgress(label, bar)


class IndexBar:
    """Draws an index rebuild on stderr once it has run for :attr:`DELAY` seconds (a quick
    refresh draws nothing); the bar goes away when the rebuild ends.

    Args:
        console: A rich ``Console`` to draw on instead of stderr.
    """

    DELAY = 0.5  #: seconds a rebuild runs before the bar appears

    def __init__(self, console: Any = None) -> None:
        self._console = console
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        """``done`` of ``total`` shards of refs are in the index (0 starts a rebuild)."""
        with self._lock:
            if done == 0:
                self._started = time.monotonic()
            if (self._bar is None and done < total
                    and time.monotonic() - self._started >= self.DELAY):
                self._start(total)
            if self._bar is not None and self._task is not None:
                if done < total:
                    self._bar.update(self._task, completed=done, total=total)
                    return
                self._bar.stop()  # as drawn last: a failed rebuild never shows 100%
                self._bar = self._task = None

    def _start(self, total: int) -> None:
        """Draw the bar (under a transfer's bar, when one is drawn: they share stderr)."""
        from rich.errors import LiveError

        bar = _make_index_bar(self._console)
        try:
            bar.start()
        except LiveError:  # an older rich draws one display at a time: this one waits
            self._started = float("inf")
            return
        self._bar, self._task = bar, bar.add_task("indexing bundles", total=total)


def install_index_bar() -> None:
    """Draw index rebuilds from now on, when stderr is a terminal that can redraw a line
    (rich would not, and imports are kept for what runs)."""
    if _stderr_is_tty() and os.environ.get("TERM", "").lower() not in ("dumb", "unknown"):
        from dsdt import api

        api.on_index_progress(IndexBar())


def _make_index_bar(console: Any) -> Progress:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                    TimeElapsedColumn(), console=console or stderr_console(), transient=True)


@functools.cache
def stderr_console() -> Any:
    """The one rich console on stderr: bars drawn at once (a rebuild during a pull) stack."""
    from rich.console import Console

    return Console(stderr=True)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False
