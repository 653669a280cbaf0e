"""Deterministic matplotlib figures for reports: every function returns PNG bytes.

Why this module exists: reports embed their figures, and a report rendered twice
from the same numbers must be byte-identical (issue 6, reproducibility). So the
figures are drawn on a bare ``Figure`` with the Agg canvas (no pyplot global state,
no display backend), under eiesim's one style (``eiesim.render.style``: rc settings,
width, colours), and saved with the metadata that would vary stripped (matplotlib
otherwise writes its version into a ``Software`` text chunk). A figure can be saved
again as SVG, PDF or a 300 dpi PNG for a paper (``PlotImage.save``).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from eiesim.render import style
from eiesim.render.style import CATEGORY_COLOURS, CATEGORY_MARKERS, EMBED_DPI, EXPORT_DPI, applied

#: A fixed, colour-blind-safe palette (Okabe-Ito, eiesim.render.style) so that a category keeps its colour
#: from one figure to the next.
PALETTE = CATEGORY_COLOURS
#: Colour of the Pareto-optimal points and of the dominated ones.
FRONT_COLOUR, DOMINATED_COLOUR = style.OKABE_ITO["blue"], style.LIGHT_GREY


def _size(height_in: float | None = None) -> tuple[float, float]:
    st = style.current()
    return (st.width_in, height_in if height_in is not None else st.height_in)


def _figure(size_in: tuple[float, float] | None = None) -> Figure:
    fig = Figure(figsize=size_in or _size(), dpi=EMBED_DPI)
    FigureCanvasAgg(fig)
    return fig


def _wide_for(n_categories: int) -> tuple[float, float]:
    """Wider figures for many bars (e.g. SqueezeNet's 26 layers), up to 10.2 in, unless a paper's width is fixed."""
    st = style.current()
    extra = 0.6 if n_categories > 12 else 0.0
    if st.fixed_width:
        return (st.width_in, st.height_in + extra)
    return (min(max(st.width_in, 3.2 + 0.3 * n_categories), 10.2), st.height_in + extra)


#: Formats a figure can be written in, with the metadata that would make the bytes vary from run to run removed.
FORMATS: dict[str, dict[str, Any]] = {"png": {"Software": None}, "svg": {"Date": None},
                                      "pdf": {"CreationDate": None, "Producer": None}}


class PlotImage(bytes):
    """A figure's PNG bytes (what reports embed) that can also be written as SVG, PDF or a 300 dpi PNG.

    ``save(fmt)`` renders the same matplotlib figure again in ``fmt`` (PNG at ``EXPORT_DPI``).
    The caption stays outside the image (a paper sets its own caption) unless
    ``caption_in_figure`` asks for it to be drawn under the plot. ``labels_left_out``: how many
    point labels were thinned out because they had no free place (the caption says so).
    """

    figure: Figure
    labels_left_out: int = 0

    def save(self, fmt: str, caption: str = "", caption_in_figure: bool = False) -> bytes:
        if fmt not in FORMATS:
            from eiesim.errors import UsageError

            raise UsageError(f"unknown figure format {fmt!r}; valid: {', '.join(FORMATS)}")
        fig = self.figure
        with applied():
            # Below the figure; bbox_inches="tight" grows the saved area to hold it (the layout is untouched).
            note = fig.text(0.01, -0.02, caption, fontsize=7.0, color="#333333", ha="left", va="top",
                            wrap=True) if caption and caption_in_figure else None
            try:
                buf = io.BytesIO()
                fig.savefig(buf, format=fmt, dpi=EXPORT_DPI, metadata=FORMATS[fmt],
                            bbox_inches="tight" if note else None)
                return buf.getvalue()
            finally:
                if note is not None:
                    note.remove()


def figure_png(fig: Figure) -> PlotImage:
    """PNG bytes of ``fig`` with no timestamp or software metadata (reproducible); also savable as SVG/PDF."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=EMBED_DPI, metadata=FORMATS["png"])
    image = PlotImage(buf.getvalue())
    image.figure = fig
    return image


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding a PNG in HTML or Markdown."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def marker_for(index: int) -> str:
    return CATEGORY_MARKERS[index % len(CATEGORY_MARKERS)]


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) if v is not None and math.isfinite(float(v)) else math.nan for v in values]


def _rotate_if_crowded(ax: Any, labels: Sequence[str]) -> None:
    longest = max((len(str(s)) for s in labels), default=0)
    room = 60 * style.current().width_in / style.WIDTHS_IN["page"]
    if len(labels) * max(longest, 3) > room:
        for label in ax.get_xticklabels():
            label.set_rotation(60)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
            label.set_fontsize(7.0 if len(labels) > 24 else 8.0 * style.current().font_scale)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, ylabel: str,
              logy: bool = False, horizontal: bool = False, colors: Sequence[str] | None = None,
              legend: Mapping[str, str] | None = None) -> PlotImage:
    """One bar per label (e.g. area by module, energy by component).

    ``colors``: one colour per bar when the colour means something (a component's kind);
    otherwise every bar is blue: a colour per bar that means nothing would suggest a meaning.
    ``legend``: what the colours mean (label -> colour), drawn as a legend.
    """
    with applied():
        n = len(labels)
        fig = _figure((_size()[0], max(2.0, 0.26 * n + 1.0)) if horizontal else _wide_for(n))
        ax = fig.add_subplot()
        vals = _finite(values)
        bar_colours = list(colors) if colors is not None else [PALETTE[0]] * n
        if horizontal:
            pos = list(range(n))[::-1]
            ax.barh(pos, vals, color=bar_colours)
            ax.set_yticks(pos, [str(s) for s in labels])
            ax.set_xlabel(ylabel)
            ax.grid(axis="y", visible=False)
            if logy:
                ax.set_xscale("log")
        else:
            ax.bar(range(n), vals, color=bar_colours)
            ax.set_xticks(range(n), [str(s) for s in labels])
            ax.set_ylabel(ylabel)
            ax.grid(axis="x", visible=False)
            _rotate_if_crowded(ax, labels)
            if logy:
                ax.set_yscale("log")
        if legend:
            from matplotlib.patches import Patch

            ax.legend(handles=[Patch(color=c, label=name) for name, c in legend.items()], loc="lower right")
        ax.set_title(title)
        fig.tight_layout()
        return figure_png(fig)


def _legend_outside(fig: Figure, ax: Any, n_entries: int) -> None:
    """A legend right of the axes for many entries (or a narrow figure), inside otherwise."""
    if n_entries > 4 or (style.current().width_in < 5 and n_entries > 2):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif n_entries > 1:
        ax.legend(loc="best")


def stacked_bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                 ylabel: str, colors: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None,
                 xlabel: str | None = None) -> PlotImage:
    """Bars per category, stacked by series (e.g. per layer, stacked by energy component).

    ``colors``: series -> colour; ``names``: series -> the label the legend shows (default: the series' key).
    """
    with applied():
        fig = _figure(_wide_for(len(categories)))
        ax = fig.add_subplot()
        bottom = [0.0] * len(categories)
        for i, (name, values) in enumerate(series.items()):
            vals = [0.0 if math.isnan(v) else v for v in _finite(values)]
            color = (colors or {}).get(name, color_for(i))
            ax.bar(range(len(categories)), vals, bottom=bottom, label=(names or {}).get(name, name), color=color,
                   width=0.8)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
        _rotate_if_crowded(ax, categories)
        if xlabel:
            ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="x", visible=False)
        if series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        return figure_png(fig)


def stacked_bar_panels(categories: Sequence[str], panels: Mapping[str, Mapping[str, Sequence[float]]], *,
                       title: str, ylabel: str, colors: Mapping[str, str] | None = None) -> PlotImage:
    """``stacked_bars`` for several cases, one panel each, on one y scale (e.g. a layer breakdown before/after)."""
    with applied():
        width, _ = _wide_for(len(categories))
        fig = _figure((width, 0.5 + 2.6 * max(len(panels), 1) + (0.6 if len(categories) > 12 else 0)))
        axes = fig.subplots(max(len(panels), 1), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
        names = list(dict.fromkeys(name for series in panels.values() for name in series))
        for ax, (panel, series) in zip(axes, panels.items()):
            bottom = [0.0] * len(categories)
            for name in names:
                vals = [0.0 if math.isnan(v) else v for v in _finite(series.get(name, [0.0] * len(categories)))]
                color = (colors or {}).get(name, color_for(names.index(name)))
                ax.bar(range(len(categories)), vals, bottom=bottom, label=name, color=color, width=0.8)
                bottom = [b + v for b, v in zip(bottom, vals)]
            ax.set_title(panel, fontsize=9.5 * style.current().font_scale, loc="left")
            ax.set_ylabel(ylabel)
            ax.grid(axis="x", visible=False)
        axes[-1].set_xticks(range(len(categories)), [str(c) for c in categories])
        _rotate_if_crowded(axes[-1], categories)
        if names:
            axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle(title, fontsize=10.0 * style.current().font_scale)
        fig.tight_layout()
        return figure_png(fig)


#: A series of a line plot: name -> (x values, y values).
Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]
#: Min-max bars of a series: name -> (lows, highs), one per point of the series.
Ranges = Mapping[str, tuple[Sequence[float], Sequence[float]]]


#: With min-max bars, the series at one x are set this far apart (a fraction of the x range, or of an octave on a
#: log axis) so that their bars do not hide each other.
DODGE_FRACTION = 0.012


def _dodged(xs: Sequence[float], slot: float, logx: bool, span: float) -> list[float]:
    """``xs`` moved sideways by ``slot`` dodge steps (multiplicatively on a log axis)."""
    if logx:
        return [x * 2 ** (slot * DODGE_FRACTION * 4) for x in xs]
    return [x + slot * DODGE_FRACTION * span for x in xs]


def _draw_lines(ax: Any, series: Series, ranges: Ranges | None, colour_index: Mapping[str, int],
                logx: bool = False) -> None:
    """Each series as a line with markers; with ``ranges``, min-max bars, the series dodged sideways."""
    finite_x = [v for xs, _ in series.values() for v in _finite(xs) if math.isfinite(v)]
    span = (max(finite_x) - min(finite_x)) if finite_x else 0.0
    dodge = bool(ranges) and len(series) > 1
    for k, (name, (xs, ys)) in enumerate(series.items()):
        i = colour_index.get(name, 0)
        x, y = _finite(xs), _finite(ys)
        if dodge:
            x = _dodged(x, k - (len(series) - 1) / 2, logx, span)
        ax.plot(x, y, marker=marker_for(i), markersize=3.8, label=name, color=color_for(i))
        if ranges and name in ranges:
            lows, highs = (_finite(v) for v in ranges[name])
            err = [[max(m - lo, 0.0) for m, lo in zip(y, lows)], [max(hi - m, 0.0) for m, hi in zip(y, highs)]]
            ax.errorbar(x, y, yerr=err, fmt="none", ecolor=color_for(i), elinewidth=0.9, capsize=2.5)


def _x_axis(ax: Any, logx: bool, logy: bool, xticks: Sequence[float] | None,
            xticklabels: Sequence[str] | None) -> None:
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(list(xticks), list(xticklabels) if xticklabels is not None else [f"{t:g}" for t in xticks])
        ax.minorticks_off()


def line_plot(series: Series, *, title: str, xlabel: str,
              ylabel: str, logx: bool = False, logy: bool = False, xticks: Sequence[float] | None = None,
              xticklabels: Sequence[str] | None = None,
              reference: tuple[str, Sequence[float], Sequence[float]] | None = None,
              annotate: Sequence[tuple[float, float, str]] = (), ranges: Ranges | None = None,
              legend_title: str | None = None) -> PlotImage:
    """Lines with markers, one per series name -> (x, y); optional min-max bars and a dashed reference line."""
    with applied():
        fig = _figure()
        ax = fig.add_subplot()
        _draw_lines(ax, series, ranges, {name: i for i, name in enumerate(series)}, logx)
        if reference is not None:
            name, xs, ys = reference
            ax.plot(_finite(xs), _finite(ys), linestyle="--", color="#555555", linewidth=1.0, label=name)
        for x, y, text in annotate:
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8, color="#333333")
        _x_axis(ax, logx, logy, xticks, xticklabels)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        _legend_outside(fig, ax, len(series) + (reference is not None))
        legend = ax.get_legend()
        if legend_title and legend is not None:
            legend.set_title(legend_title, prop=FontProperties(size=8.0 * style.current().font_scale))
        fig.tight_layout()
        return figure_png(fig)


def facet_lines(panels: Mapping[str, Series], *, title: str, xlabel: str, ylabel: str, logx: bool = False,
                logy: bool = False, xticks: Sequence[float] | None = None, xticklabels: Sequence[str] | None = None,
                ranges: Mapping[str, Ranges] | None = None) -> PlotImage:
    """Small multiples: one panel per name (e.g. per value of the other swept key), one shared y scale."""
    with applied():
        n = max(len(panels), 1)
        cols = min(n, 4 if style.current().width_in >= 6 else 2)
        rows = -(-n // cols)
        width = style.current().width_in
        fig = _figure((width, max(2.0, 0.35 + rows * width / cols * 0.75)))
        axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
        names = list(dict.fromkeys(name for series in panels.values() for name in series))
        index = {name: i for i, name in enumerate(names)}
        for k, ax in enumerate(axes.flat):
            if k >= len(panels):
                ax.set_visible(False)
                continue
            panel, series = list(panels.items())[k]
            _draw_lines(ax, series, (ranges or {}).get(panel), index, logx)
            _x_axis(ax, logx, logy, xticks, xticklabels)
            ax.set_title(panel, fontsize=8.5 * style.current().font_scale)
            if k % cols == 0:
                ax.set_ylabel(ylabel)
            if k >= len(panels) - cols:
                ax.set_xlabel(xlabel)
                ax.tick_params(axis="x", labelbottom=True)
        if len(names) > 1:
            axes.flat[0].legend(loc="best")
        fig.suptitle(title, fontsize=10.0 * style.current().font_scale)
        fig.tight_layout()
        return figure_png(fig)


def heatmap(values: Sequence[Sequence[float | None]], xlabels: Sequence[str], ylabels: Sequence[str], *, title: str,
            xlabel: str, ylabel: str, colorbar_label: str, cell_text: Callable[[float], str]) -> PlotImage:
    """``values[row][col]`` as coloured cells (cividis) with the number written in each cell."""
    import numpy as np

    with applied():
        width = style.current().width_in
        fig = _figure((width, max(2.2, min(0.45 * len(ylabels) + 1.4, width * 0.9))))
        ax = fig.add_subplot()
        grid = np.array([_finite(row) for row in values], dtype=float)
        masked = np.ma.masked_invalid(grid)
        image = ax.imshow(masked, cmap=style.SEQUENTIAL_CMAP, aspect="auto", origin="lower", interpolation="nearest")
        ax.set_xticks(range(len(xlabels)), [str(s) for s in xlabels])
        ax.set_yticks(range(len(ylabels)), [str(s) for s in ylabels])
        ax.grid(visible=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
        finite = grid[np.isfinite(grid)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for r in range(grid.shape[0]):
            for c in range(grid.shape[1]):
                v = grid[r, c]
                if not math.isfinite(v):
                    continue
                light = (v - low) / (high - low) > 0.6 if high > low else False  # cividis is light at the top
                ax.text(c, r, cell_text(float(v)), ha="center", va="center",
                        fontsize=7.5 * style.current().font_scale, color="#000000" if light else "#FFFFFF")
        bar = fig.colorbar(image, ax=ax)
        bar.set_label(colorbar_label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        fig.tight_layout()
        return figure_png(fig)


#: Offsets (points) tried, in order, for a point's label: right-above first, then the other sides.
_LABEL_OFFSETS = ((5, 4, "left", "bottom"), (5, -4, "left", "top"), (-5, 4, "right", "bottom"),
                  (-5, -4, "right", "top"), (0, 7, "center", "bottom"), (0, -7, "center", "top"),
                  (9, 0, "left", "center"), (-9, 0, "right", "center"), (12, 12, "left", "bottom"),
                  (12, -12, "left", "top"), (-12, 12, "right", "bottom"), (-12, -12, "right", "top"))


def place_labels(fig: Figure, ax: Any, points: Sequence[tuple[float, float, str]], fontsize: float,
                 marker_px: float = 6.0) -> int:
    """Label each point where its text overlaps no other label, no marker and stays inside the axes.

    Tries the offsets of ``_LABEL_OFFSETS`` in order; a point with no free place gets no
    label (thinned). The layout must be final (``tight_layout`` done) before this runs,
    because the free places are measured in display coordinates. Returns how many labels
    were left out.
    """
    renderer = cast(FigureCanvasAgg, fig.canvas).get_renderer()  # every figure here is drawn on Agg (_figure)
    frame = ax.get_window_extent(renderer)
    to_px = ax.transData.transform
    markers = []
    for x, y, _ in points:
        px, py = to_px((x, y))
        markers.append((px - marker_px / 2, py - marker_px / 2, px + marker_px / 2, py + marker_px / 2))
    placed: list[tuple[float, float, float, float]] = []
    legend = ax.get_legend()
    if legend is not None:  # the legend is an obstacle too
        lb = legend.get_window_extent(renderer)
        placed.append((lb.x0, lb.y0, lb.x1, lb.y1))
    left_out = 0
    for x, y, text in points:
        own = to_px((x, y))
        for dx, dy, ha, va in _LABEL_OFFSETS:
            label = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), ha=ha, va=va,
                                fontsize=fontsize, color="#222222")
            box = label.get_window_extent(renderer)
            rect = (box.x0, box.y0, box.x1, box.y1)
            inside = frame.x0 <= rect[0] and rect[2] <= frame.x1 and frame.y0 <= rect[1] and rect[3] <= frame.y1
            clear = not any(_overlap(rect, other) for other in placed) and not any(
                _overlap(rect, m) for m in markers if not _contains(m, own))
            if inside and clear:
                placed.append(rect)
                break
            label.remove()
        else:
            left_out += 1
    return left_out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _contains(box: tuple[float, float, float, float], point: Any) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def pareto_scatter(xs: Sequence[float | None], ys: Sequence[float | None], on_front: Sequence[bool],
                   labels: Sequence[str], *, title: str, xlabel: str, ylabel: str, logx: bool = False,
                   logy: bool = False, label_all: bool = False) -> PlotImage:
    """Dominated points light grey, Pareto points blue and joined by a staircase; labels never overlap.

    The front's points are labelled (every point with ``label_all``), each where its text
    overlaps nothing (``place_labels``); ``labels_left_out`` of the returned image says how
    many had no free place.
    """
    with applied():
        fig = _figure()
        ax = fig.add_subplot()
        x, y = _finite(xs), _finite(ys)
        ax.scatter(x, y, s=18, color=DOMINATED_COLOUR, label="dominated", zorder=2)
        front = sorted((a, b, lab) for a, b, lab, f in zip(x, y, labels, on_front) if f)
        if front:
            fx, fy = [p[0] for p in front], [p[1] for p in front]
            ax.step(fx, fy, where="post", color=FRONT_COLOUR, linewidth=1.0, zorder=3)
            ax.scatter(fx, fy, s=30, color=FRONT_COLOUR, label="Pareto-optimal", zorder=4)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.margins(0.12)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="upper right")
        fig.tight_layout()
        to_label = ([(a, b, lab) for a, b, lab in zip(x, y, labels) if math.isfinite(a) and math.isfinite(b)]
                    if label_all else front)
        left_out = place_labels(fig, ax, to_label, 7.0 * style.current().font_scale)
        image = figure_png(fig)
        image.labels_left_out = left_out
        return image


def range_bars(labels: Sequence[str], means: Sequence[float], lows: Sequence[float], highs: Sequence[float], *,
               title: str, ylabel: str) -> PlotImage:
    """One bar per label at the mean, with a whisker from min to max (e.g. cycles per layer over images)."""
    with applied():
        n = len(labels)
        fig = _figure(_wide_for(n))
        ax = fig.add_subplot()
        m, lo, hi = _finite(means), _finite(lows), _finite(highs)
        err = [[max(a - b, 0.0) for a, b in zip(m, lo)], [max(b - a, 0.0) for a, b in zip(m, hi)]]
        ax.bar(range(n), m, color=PALETTE[0], yerr=err, capsize=2.5, ecolor="#333333", error_kw={"linewidth": 0.8},
               label="mean (whiskers: min to max)")
        ax.set_xticks(range(n), [str(s) for s in labels])
        _rotate_if_crowded(ax, labels)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="x", visible=False)
        ax.legend(loc="best")
        fig.tight_layout()
        return figure_png(fig)
