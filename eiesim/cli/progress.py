"""Progress on stderr for the long steps of a command: a bar (one tick per ONNX node or layer) or a status line.

Shown only when stderr is a terminal, and cleared when done, so pipes, files and tests see
nothing of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: ``tick(done, total, name)``: ``done`` of ``total`` steps finished, the last one named ``name``.
Tick = Callable[[int, int, str], None]


@contextlib.contextmanager
def step_bar(label: str) -> Iterator[Tick]:
    """A transient bar titled ``label``; yields the callback that advances it."""
    console = Console(stderr=True)
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def tick(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=name)

        yield tick


@contextlib.contextmanager
def status_line(text: str) -> Iterator[Callable[[str], None]]:
    """A transient spinner with ``text`` on stderr, for steps that cannot count their work.

    Shown only when stderr is a terminal (like ``step_bar``); yields the function that
    changes the text as the command moves to its next step.
    """
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _text: None
        return
    with console.status(text) as status:
        def update(new_text: str) -> None:
            status.update(new_text)

        yield update
