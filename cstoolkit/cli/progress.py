"""Progress of long commands: the one helper every command uses (beside :mod:`cstoolkit.output`).

A bar (rich) on stderr while a command works, for people at a terminal only: when stderr is not
a terminal (cron, pipes, CI), under ``--quiet`` or ``--log-format json``, or with
``CSTOOLKIT_PROGRESS=0``, every call here does nothing and prints nothing. ``rich`` is imported
only when a bar is shown.

* :func:`task` - one bar: a count against a total when it is known (``1,200/5,000 tickets``),
  else a spinner with the count so far; always the elapsed time;
* :func:`bars` - several bars at once (one per backend of ``cst sync pull``), and
  :meth:`Bars.say` to print a line above them without breaking the display.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any


def wanted(quiet: bool = False) -> bool:
    """Whether bars are shown: stderr is a terminal, not quiet, logs are not JSON."""
    if quiet or os.environ.get("CSTOOLKIT_PROGRESS", "") == "0":
        return False
    if not sys.stderr.isatty():
        return False
    import click

    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().params if ctx is not None else {}
    return not root.get("quiet") and root.get("log_format") != "json"


class Task:
    """One bar. ``advance``/``update`` are cheap no-ops when nothing is shown."""

    def __init__(self, bars: Any = None, task_id: Any = None) -> None:
        self._bars, self._id = bars, task_id

    def advance(self, n: float = 1) -> None:
        if self._bars is not None:
            self._bars.advance(self._id, n)

    def update(
        self, *, completed: float | None = None, total: float | None = None, note: str = ""
    ) -> None:
        if self._bars is not None:
            fields: dict[str, Any] = {"note": note}
            if completed is not None:
                fields["completed"] = completed
            if total is not None:
                fields["total"] = total
            self._bars.update(self._id, **fields)

    def finish(self) -> None:
        """Stop the clock of this bar (the display goes away with :func:`bars`)."""
        if self._bars is not None:
            t = self._bars.tasks[self._id]
            done = max(t.completed, 1)
            self._bars.update(self._id, total=done, completed=done)
            self._bars.stop_task(self._id)


class Bars:
    """Bars shown together; a no-op where bars are not wanted."""

    def __init__(self, progress: Any = None) -> None:
        self._progress = progress

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def add(self, description: str, *, total: float | None = None, unit: str = "") -> Task:
        if self._progress is None:
            return Task()
        task_id = self._progress.add_task(description, total=total, unit=unit, note="")
        return Task(self._progress, task_id)

    def say(self, text: str) -> None:
        """A message line above the bars (literal, neutralised), or on stderr without them."""
        from cstoolkit.output import echo, terminal_text

        if self._progress is None:
            echo(text)
        else:
            self._progress.console.print(
                terminal_text(text), markup=False, highlight=False, soft_wrap=True
            )


@contextlib.contextmanager
def bars(*, quiet: bool = False) -> Iterator[Bars]:
    if not wanted(quiet):
        yield Bars()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class Count(ProgressColumn):  # "1,200/5,000 tickets", "1,200 tickets", or nothing
        def render(self, t: Any) -> Text:
            unit = t.fields.get("unit") or ""
            if not unit:
                return Text("")
            of = f"/{t.total:,.0f}" if t.total is not None else ""
            return Text(f"{t.completed:,.0f}{of} {unit}")

    display = Progress(
        SpinnerColumn(finished_text="•"),
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(bar_width=24),
        TaskProgressColumn(),
        Count(),
        TextColumn("{task.fields[note]}", markup=False),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with display:
        yield Bars(display)


@contextlib.contextmanager
def task(
    description: str, *, total: float | None = None, unit: str = "", quiet: bool = False
) -> Iterator[Task]:
    """One bar for the duration of the block."""
    with bars(quiet=quiet) as shown:
        one = shown.add(description, total=total, unit=unit)
        try:
            yield one
        finally:
            one.finish()
