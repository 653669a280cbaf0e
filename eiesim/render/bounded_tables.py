"""Terminal tables of bounded length.

A per-layer (or per-point) table of a 10,000-layer workload took rich about ten seconds to
lay out and is unreadable anyway. :func:`shown` lets a table loop add one row per item up to
:data:`MAX_TABLE_ROWS`; beyond that it shows the first and the last rows and one row
saying how many were left out and where all of them are (the JSON and CSV outputs
always hold every row).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from rich.table import Table

T = TypeVar("T")

#: Most item rows a terminal table shows.
MAX_TABLE_ROWS = 200


def shown(items: Sequence[T], table: Table, noun: str = "rows", where: str = "",
          limit: int = MAX_TABLE_ROWS) -> Iterator[T]:
    """The items a loop should add to ``table``: all of them up to ``limit``, else the first
    three quarters and the last quarter of ``limit``, with one row between them (added here,
    in order) saying how many were left out; the caption says where they all are."""
    if len(items) <= limit:
        yield from items
        return
    head = limit * 3 // 4
    yield from items[:head]
    hidden = len(items) - limit
    table.add_row(f"({hidden:,} more)", *[""] * (len(table.columns) - 1))
    note = f"{hidden:,} of {len(items):,} {noun} not shown" + (f"; {where}" if where else "")
    table.caption = f"{table.caption}; {note}" if table.caption else note
    yield from items[len(items) - (limit - head):]


__all__ = ["MAX_TABLE_ROWS", "shown"]
