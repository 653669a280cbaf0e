"""Write a report's figures as separate files (SVG, PDF, PNG) with their captions, for papers and slides.

Each figure of the document is rendered again in every format asked for: SVG and PDF
(vector, text kept as text) and PNG at ``style.EXPORT_DPI`` (300 dpi). Its caption (which
names the workload and architecture, and says what the colours and bars mean) goes into a
file beside it, ``figNN-<what>.caption.md``, and is drawn under the plot only when asked
(``caption_in_figure``): a paper sets its own caption. File names are ``figNN-<what>.<fmt>``
in document order. Bytes are deterministic (no dates or software versions in the files),
like the embedded PNGs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from eiesim.outputs.commit import atomic_path
from eiesim.render.document import Document, Figure
from eiesim.render.plots import FORMATS, PlotImage

DEFAULT_FORMATS = ("svg", "pdf", "png")
#: Suffix of the caption file written beside each figure.
CAPTION_SUFFIX = ".caption.md"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "figure"


def _write(target: Path, data: bytes) -> None:
    with atomic_path(target, suffix=target.suffix) as tmp:
        Path(tmp).write_bytes(data)


def export_figures(doc: Document, directory: str | Path, formats: Sequence[str] = DEFAULT_FORMATS,
                   caption_in_figure: bool = False) -> list[Path]:
    """Write every figure of ``doc`` into ``directory`` in each of ``formats``, and its caption file.

    Returns the files written (figures and captions).
    """
    from eiesim.errors import UsageError

    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown figure format {bad[0]!r}; valid: {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    figures = [(b, b.png) for s in doc.sections for b in s.blocks
               if isinstance(b, Figure) and isinstance(b.png, PlotImage)]
    for n, (fig, image) in enumerate(figures, 1):
        stem = f"fig{n:02d}-{_slug(fig.alt)}"
        caption = fig.caption or fig.alt
        for fmt in formats:
            target = directory / f"{stem}.{fmt}"
            _write(target, image.save(fmt, caption, caption_in_figure))
            written.append(target)
        target = directory / f"{stem}{CAPTION_SUFFIX}"
        _write(target, f"**Figure {n}.** {caption}\n".encode())
        written.append(target)
    return written
