"""Progress of long CLI work (feed posting, training, simulations, monitor runs) on stderr.

A bar when the amount of work is known, a spinner with the elapsed time when it is not.
Shown only when both stdout and stderr are terminals: piped, redirected or captured output
(CI, `$(…)`, tests) gets the plain lines and nothing else. Lines echoed while a bar is shown
are printed above it (rich redirects stdout during the display).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Advance(Protocol):
    def __call__(self, completed: float, description: str | None = None) -> None: ...


def interactive() -> bool:
    """Whether a person watches: stdout and stderr are both terminals."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def _progress(*, known_total: bool) -> Progress:
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if known_total:
        columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    return Progress(
        *columns, console=Console(stderr=True), disable=not interactive(), transient=True
    )


@contextmanager
def progress_bar(description: str, total: float) -> Iterator[Advance]:
    """A bar toward `total`; the callable sets how much is done (and may retitle the bar)."""
    with _progress(known_total=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(completed: float, description: str | None = None) -> None:
            bar.update(task, completed=min(completed, total), description=description)

        yield advance


@contextmanager
def spinner(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time, for work of unknown length; the callable retitles it."""
    with _progress(known_total=False) as live:
        task = live.add_task(description, total=None)
        yield lambda text: live.update(task, description=text)
