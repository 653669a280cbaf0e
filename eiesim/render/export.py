"""Write a report's figures as separate files (SVG, PDF, PNG) for papers and slides.

Each figure of the document is rendered again in every format asked for, with its
caption (which names the workload and architecture) drawn under the plot; file names
are ``fig01-<what>.<fmt>`` in document order. Bytes are deterministic (no dates or
software versions in the files), like the embedded PNGs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from eiesim.outputs.commit import atomic_path
from eiesim.render.document import Document, Figure
from eiesim.render.plots import FORMATS, PlotImage

DEFAULT_FORMATS = ("svg", "pdf", "png")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "figure"


def export_figures(doc: Document, directory: str | Path, formats: Sequence[str] = DEFAULT_FORMATS) -> list[Path]:
    """Write every figure of ``doc`` into ``directory`` in each of ``formats``; returns the files written."""
    from eiesim.errors import UsageError

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown figure format {bad[0]!r}; valid: {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    figures = [b for s in doc.sections for b in s.blocks if isinstance(b, Figure) and isinstance(b.png, PlotImage)]
    for n, fig in enumerate(figures, 1):
        stem = f"fig{n:02d}-{_slug(fig.alt)}"
        for fmt in formats:
            target = directory / f"{stem}.{fmt}"
            data = fig.png.save(fmt, fig.caption or fig.alt)
            with atomic_path(target, suffix=f".{fmt}") as tmp:
                Path(tmp).write_bytes(data)
            written.append(target)
    return written
