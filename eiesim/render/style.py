"""The look of every eiesim figure, declared once: matplotlib rc, sizes, resolutions, colours.

Why one module: a figure taken out of a report for a paper must look like its neighbours
and fit the paper's column, whatever the user's matplotlibrc says. ``applied()`` is the
only place that touches matplotlib's rc settings; every drawing and saving function of
``eiesim.render.plots`` runs inside it. ``use(FigureStyle)`` chooses the width (a paper's
column or page, or inches) for the figures drawn while it is active (``eiesim report
--figure-width``).

Colours: the Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2008), which stays
distinguishable with the common colour-vision deficiencies, with a name for each colour so
that captions can say which colour means what (:func:`colour_name`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import matplotlib

#: Okabe-Ito colours by name (black last: it is kept for reference lines and text).
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
GREY = "#999999"
LIGHT_GREY = "#BBBBBB"
_NAMES = {hex_.upper(): name for name, hex_ in OKABE_ITO.items()} | {GREY: "grey", LIGHT_GREY: "light grey"}

#: Colours of categories without an order (series, components), in the order they are handed out.
CATEGORY_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish green"], OKABE_ITO["vermillion"],
                    OKABE_ITO["reddish purple"], OKABE_ITO["sky blue"], OKABE_ITO["black"], GREY,
                    OKABE_ITO["yellow"])
#: Markers paired with the category colours, so that series stay apart in greyscale print too.
CATEGORY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h")
#: Colour map of heatmaps: cividis is perceptually uniform and readable with colour-vision deficiencies.
SEQUENTIAL_CMAP = "cividis"

#: Widths (inches) of the named figure widths: one column and the full text width of a two-column paper.
WIDTHS_IN = {"column": 3.5, "page": 7.0}
#: Resolution of the PNGs embedded in HTML / Markdown reports, and of PNG files written for papers.
EMBED_DPI = 150
EXPORT_DPI = 300


def colour_name(hex_colour: str) -> str:
    """The name of a palette colour (``"#0072B2"`` -> ``"blue"``), for captions."""
    return _NAMES.get(hex_colour.upper(), hex_colour)


@dataclass(frozen=True)
class FigureStyle:
    """Width of the figures and whether that width is fixed (a paper's) or may grow for many bars."""

    width_in: float = WIDTHS_IN["page"]
    fixed_width: bool = False

    @property
    def font_scale(self) -> float:
        """Fonts shrink a little for a column-wide figure (7 pt instead of 9 pt at most)."""
        return min(max(self.width_in / WIDTHS_IN["page"], 0.78), 1.0)

    @property
    def height_in(self) -> float:
        """The height of a one-panel figure: a 16:9-ish aspect, a little taller for narrow figures."""
        return round(max(self.width_in * 0.53, 2.4), 2)

    @classmethod
    def for_width(cls, width: str | float | None) -> FigureStyle:
        """``"column"``, ``"page"``, a number of inches, or None (the reports' default, width may grow)."""
        from eiesim.errors import UsageError

        if width is None:
            return cls()
        if isinstance(width, str) and width in WIDTHS_IN:
            return cls(WIDTHS_IN[width], True)
        try:
            inches = float(width)
        except (TypeError, ValueError):
            raise UsageError(f"figure width must be column, page or a number of inches, not {width!r}") from None
        if not 1.5 <= inches <= 20.0:
            raise UsageError(f"figure width {inches:g} in is outside 1.5-20 in")
        return cls(inches, True)


_CURRENT: ContextVar[FigureStyle] = ContextVar("eiesim_figure_style", default=FigureStyle())
_APPLIED: ContextVar[bool] = ContextVar("eiesim_rc_applied", default=False)


def current() -> FigureStyle:
    """The style of the figures drawn now."""
    return _CURRENT.get()


@contextmanager
def use(style: FigureStyle) -> Iterator[FigureStyle]:
    """Draw the figures made inside the ``with`` block in ``style``."""
    token = _CURRENT.set(style)
    try:
        with _rc_context(style):
            yield style
    finally:
        _CURRENT.reset(token)


def _rc(style: FigureStyle) -> dict[str, object]:
    s = style.font_scale
    return {
        "font.family": "DejaVu Sans",
        "font.size": 9.0 * s,
        "axes.titlesize": 10.0 * s,
        "axes.labelsize": 9.0 * s,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.axisbelow": True,
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "legend.fontsize": 8.0 * s,
        "legend.frameon": False,
        "xtick.labelsize": 8.0 * s,
        "ytick.labelsize": 8.0 * s,
        "lines.linewidth": 1.4,
        "svg.hashsalt": "eiesim",
        "svg.fonttype": "none",   # SVG text stays text (searchable, editable in a paper's figure)
        "pdf.fonttype": 42,       # TrueType in PDFs, as publishers ask
        "path.simplify": True,
    }


@contextmanager
def applied() -> Iterator[None]:
    """Matplotlib's defaults plus eiesim's style, whatever the user's rc files say (once per nesting)."""
    if _APPLIED.get():
        yield
        return
    with _rc_context(current()):
        yield


@contextmanager
def _rc_context(style: FigureStyle) -> Iterator[None]:
    """The one rc context: matplotlib's defaults, then ``_rc(style)``; restored on exit."""
    token = _APPLIED.set(True)
    try:
        with matplotlib.rc_context():
            matplotlib.rcdefaults()
            matplotlib.rcParams.update(cast(Any, _rc(style)))  # rcParams types its keys as literals
            yield
    finally:
        _APPLIED.reset(token)


__all__ = ["CATEGORY_COLOURS", "CATEGORY_MARKERS", "EMBED_DPI", "EXPORT_DPI", "FigureStyle", "OKABE_ITO",
           "SEQUENTIAL_CMAP", "WIDTHS_IN", "applied", "colour_name", "current", "use"]
