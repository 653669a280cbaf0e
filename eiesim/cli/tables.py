"""Terminal tables that stay readable at any width, 80 columns included.

Rich shrinks a table that is wider than the console by cutting every cell ("Al…",
"pa…"), which is what ``eiesim reproduce eie-table4 | less`` showed. ``FoldingConsole``
prints such a table as several tables instead, each repeating the key columns (the first
column, or as many as ``set_key_columns`` declared: a sweep's swept keys, so that every row
of every part can be told apart) and holding as many of the other columns as fit, so no cell
is ever cut. The width is the
terminal's, or ``COLUMNS``, or 80 when the output is a pipe or a file; a caller asking for
a *wider* console (``Console(width=120)``) gets the real width, because a table that does
not fit the reader's screen is cut there anyway.

``reproduce_console()`` makes every ``rich.console.Console`` a command creates while it
runs a FoldingConsole, so the ``eiesim reproduce`` scripts (which build their own rich
tables and consoles) fold too, without each of them knowing about it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import rich.console
from rich.table import Table

_RichConsole = rich.console.Console

#: Tables whose first N columns identify a row (set_key_columns); the others have one.
_KEY_COLUMNS: weakref.WeakKeyDictionary[Table, int] = weakref.WeakKeyDictionary()


def set_key_columns(table: Table, count: int) -> Table:
    """Declare that the first ``count`` columns of ``table`` identify a row: a folded part repeats them all."""
    _KEY_COLUMNS[table] = max(1, count)
    return table


def output_width(stream: Any = None) -> int:
    """Columns available on ``stream`` (stdout): the terminal's, else ``COLUMNS``, else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream if stream is not None else sys.stdout
    try:
        if stream.isatty():
            return shutil.get_terminal_size((80, 24)).columns
    except (AttributeError, ValueError, OSError):
        pass
    return 80


class FoldingConsole(_RichConsole):
    """A rich Console whose tables fold into several narrower tables instead of being cut."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        stream = kwargs.get("file") or (sys.stderr if kwargs.get("stderr") else sys.stdout)
        real = output_width(stream)
        requested = kwargs.get("width")
        kwargs["width"] = min(requested, real) if isinstance(requested, int) and requested > 0 else real
        super().__init__(*args, **kwargs)

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: A003 - rich's name
        if len(objects) == 1 and isinstance(objects[0], Table):
            parts = fold_table(self, objects[0], _KEY_COLUMNS.get(objects[0], 1))
            for part in parts:
                super().print(part, **kwargs)
            if len(parts) > 1 and objects[0].caption:  # the legend once, at full width, after the parts
                super().print(objects[0].caption, highlight=False)
            return
        super().print(*objects, **kwargs)


def _column_need(console: _RichConsole, table: Table, index: int) -> int:
    """Characters column ``index`` needs so that no cell is cut (a header may wrap at spaces)."""
    col = table.columns[index]
    options = console.options.update(width=10_000)
    cells = max((console.measure(cell, options=options).maximum for cell in col._cells), default=0)
    header = 0
    if table.show_header:
        measured = console.measure(col.header, options=options)
        header = measured.maximum if col.no_wrap else measured.minimum
    return max(cells, header, col.min_width or 0)


def _table_width(needs: list[int], table: Table) -> int:
    """Width of a table whose columns are ``needs`` wide: cell padding (1 + 1) and borders."""
    borders = (len(needs) + 1) if table.box is not None else 0
    if table.box is not None and not table.show_edge:
        borders -= 2
    return sum(needs) + 2 * len(needs) + borders


def fold_table(console: _RichConsole, table: Table, key_columns: int = 1) -> list[Table]:
    """``table`` itself if it fits ``console.width``; otherwise column groups that each fit.

    Every part repeats the first ``key_columns`` columns (the row labels). A single column
    too wide for the screen gets a part of its own (the terminal wraps it; nothing is cut).
    Each column keeps the width its longest cell needs.
    """
    width = console.width
    needs = [_column_need(console, table, i) for i in range(len(table.columns))]
    if len(table.columns) <= key_columns + 1 and _table_width(needs, table) > width:
        return [table]  # nothing to fold: rich wraps the cells at spaces (minimum widths would make it cut them)
    for col, need in zip(table.columns, needs):
        col.min_width = need
    if _table_width(needs, table) <= width:
        return [table]
    keys = list(range(key_columns))
    groups: list[list[int]] = []
    current: list[int] = []
    for index in range(key_columns, len(table.columns)):
        trial = current + [index]
        if current and _table_width([needs[i] for i in keys + trial], table) > width:
            groups.append(current)
            current = [index]
        else:
            current = trial
    if current:
        groups.append(current)
    parts = []
    title = str(table.title) if table.title is not None else ""
    for n, group in enumerate(groups, 1):
        label = f"{title} ({n}/{len(groups)})" if title else f"({n}/{len(groups)})"
        parts.append(_subtable(table, keys + group, label, None))
    return parts


def _subtable(table: Table, columns: list[int], title: Any, caption: Any) -> Table:
    sub = Table(title=title or None, caption=caption, show_header=table.show_header, box=table.box,
                show_edge=table.show_edge, show_lines=table.show_lines, header_style=table.header_style,
                title_justify=table.title_justify, caption_justify=table.caption_justify, expand=False)
    for i in columns:
        col = table.columns[i]
        sub.add_column(col.header, justify=col.justify, no_wrap=col.no_wrap, style=col.style,
                       header_style=col.header_style, min_width=col.min_width, max_width=col.max_width)
    for r, row in enumerate(table.rows):
        sub.add_row(*[table.columns[i]._cells[r] for i in columns], style=row.style, end_section=row.end_section)
    return sub


def out_console(**kwargs: Any) -> FoldingConsole:
    """The console for a command's tables on stdout."""
    return FoldingConsole(**kwargs)


def legend_text(abbreviations: Mapping[str, str]) -> str:
    """One line per abbreviation used in a table's headers: ``abbr: meaning``."""
    return "\n".join(f"  {abbr}: {meaning}" for abbr, meaning in abbreviations.items())


@contextlib.contextmanager
def reproduce_console() -> Iterator[None]:
    """While active, ``rich.console.Console(...)`` creates a FoldingConsole (see module docstring)."""
    previous = rich.console.Console
    rich.console.Console = FoldingConsole  # type: ignore[misc]
    try:
        yield
    finally:
        rich.console.Console = previous  # type: ignore[misc]


def coverage_table(rows: list[dict[str, str]], title: str) -> Table:
    """The ONNX coverage report (``import-onnx --report``, ``info``): node, operator, where it runs, why."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["where"]] = counts.get(row["where"], 0) + 1
    caption = ", ".join(f"{where}: {n}" for where, n in counts.items())
    table = Table(title=title, caption=f"{len(rows)} nodes ({caption})")
    for col in ("node", "op", "where", "why"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(row["node"], row["op"], row["where"], row["why"])
    return table
