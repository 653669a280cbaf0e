"""Deterministic matplotlib figures for reports: every function returns PNG bytes.

Why this module exists: reports embed their figures, and a report rendered twice
from the same numbers must be byte-identical (issue 6, reproducibility). So the
figures are drawn on a bare ``Figure`` with the Agg canvas (no pyplot global state,
no display backend), under a fixed style that ignores the user's matplotlibrc,
at a fixed size and dpi, and saved with the PNG metadata stripped (matplotlib
otherwise writes its version into a ``Software`` text chunk).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Figure size (inches) and resolution of every report figure.
FIGURE_SIZE_IN = (7.2, 3.8)
DPI = 110

#: A fixed, colour-blind-friendly palette (Okabe-Ito, then greys) so that a
#: category keeps its colour from one figure to the next.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#999999",
           "#7F3C8D", "#B8860B", "#11A579", "#3969AC", "#E73F74", "#80BA5A", "#E68310", "#F0E442")

_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "svg.hashsalt": "eiesim",
    "svg.fonttype": "none",   # SVG text stays text (searchable, editable in a paper's figure)
    "pdf.fonttype": 42,       # TrueType in PDFs, as publishers ask
    "path.simplify": True,
}


@contextmanager
def _style() -> Iterator[None]:
    """Matplotlib's defaults plus our style, whatever the user's rc files say."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_STYLE)
        yield


def _figure(size_in: tuple[float, float] = FIGURE_SIZE_IN) -> Figure:
    fig = Figure(figsize=size_in, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _wide_for(n_categories: int) -> tuple[float, float]:
    """Wider figures for many bars (e.g. SqueezeNet's 26 layers), up to the page width."""
    return (min(max(FIGURE_SIZE_IN[0], 3.2 + 0.3 * n_categories), 10.2), FIGURE_SIZE_IN[1] + (0.6 if n_categories > 12 else 0))


#: Formats a figure can be written in, with the metadata that would make the bytes vary from run to run removed.
FORMATS = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "Producer": None}}


class PlotImage(bytes):
    """A figure's PNG bytes (what reports embed) that can also be written as SVG or PDF.

    ``save(fmt, caption)`` renders the same matplotlib figure again in ``fmt``, with
    ``caption`` (e.g. the workload and architecture) drawn under the plot, so that a
    figure taken out of a report for a paper still says what it shows.
    """

    figure: Figure

    def save(self, fmt: str, caption: str = "") -> bytes:
        if fmt not in FORMATS:
            from eiesim.errors import UsageError

            raise UsageError(f"unknown figure format {fmt!r}; valid: {', '.join(FORMATS)}")
        fig = self.figure
        with _style():
            # Below the figure; bbox_inches="tight" grows the saved area to hold it (the layout is untouched).
            note = fig.text(0.01, -0.02, caption, fontsize=7.5, color="#333333", ha="left", va="top",
                            wrap=True) if caption else None
            try:
                buf = io.BytesIO()
                fig.savefig(buf, format=fmt, dpi=DPI, metadata=FORMATS[fmt], bbox_inches="tight" if note else None)
                return buf.getvalue()
            finally:
                if note is not None:
                    note.remove()


def figure_png(fig: Figure) -> PlotImage:
    """PNG bytes of ``fig`` with no timestamp or software metadata (reproducible); also savable as SVG/PDF."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=FORMATS["png"])
    image = PlotImage(buf.getvalue())
    image.figure = fig
    return image


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding a PNG in HTML or Markdown."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) if v is not None and math.isfinite(float(v)) else math.nan for v in values]


def _rotate_if_crowded(ax, labels: Sequence[str]) -> None:
    longest = max((len(str(s)) for s in labels), default=0)
    if len(labels) * max(longest, 3) > 60:
        for label in ax.get_xticklabels():
            label.set_rotation(60)
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
            label.set_fontsize(7.0 if len(labels) > 24 else 8.0)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, ylabel: str,
              logy: bool = False, horizontal: bool = False) -> bytes:
    """One bar per label (e.g. area by module, energy by component)."""
    with _style():
        n = len(labels)
        fig = _figure((FIGURE_SIZE_IN[0], max(2.4, 0.32 * n + 1.0)) if horizontal else _wide_for(n))
        ax = fig.add_subplot()
        vals = _finite(values)
        colors = [color_for(i) for i in range(n)]
        if horizontal:
            pos = list(range(n))[::-1]
            ax.barh(pos, vals, color=colors)
            ax.set_yticks(pos, [str(s) for s in labels])
            ax.set_xlabel(ylabel)
            ax.grid(axis="y", visible=False)
            if logy:
                ax.set_xscale("log")
        else:
            ax.bar(range(n), vals, color=colors)
            ax.set_xticks(range(n), [str(s) for s in labels])
            ax.set_ylabel(ylabel)
            ax.grid(axis="x", visible=False)
            _rotate_if_crowded(ax, labels)
            if logy:
                ax.set_yscale("log")
        ax.set_title(title)
        fig.tight_layout()
        return figure_png(fig)


def stacked_bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                 ylabel: str, colors: Mapping[str, str] | None = None) -> bytes:
    """Bars per category, stacked by series (e.g. per layer, stacked by energy component)."""
    with _style():
        fig = _figure(_wide_for(len(categories)))
        ax = fig.add_subplot()
        bottom = [0.0] * len(categories)
        for i, (name, values) in enumerate(series.items()):
            vals = [0.0 if math.isnan(v) else v for v in _finite(values)]
            color = (colors or {}).get(name, color_for(i))
            ax.bar(range(len(categories)), vals, bottom=bottom, label=name, color=color, width=0.8)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
        _rotate_if_crowded(ax, categories)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="x", visible=False)
        if series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        return figure_png(fig)


def stacked_bar_panels(categories: Sequence[str], panels: Mapping[str, Mapping[str, Sequence[float]]], *,
                       title: str, ylabel: str, colors: Mapping[str, str] | None = None) -> bytes:
    """``stacked_bars`` for several cases, one panel each, on one y scale (e.g. a layer breakdown before/after)."""
    with _style():
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
            ax.set_title(panel, fontsize=9.5, loc="left")
            ax.set_ylabel(ylabel)
            ax.grid(axis="x", visible=False)
        axes[-1].set_xticks(range(len(categories)), [str(c) for c in categories])
        _rotate_if_crowded(axes[-1], categories)
        if names:
            axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle(title, fontsize=10.5)
        fig.tight_layout()
        return figure_png(fig)


def line_plot(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str, xlabel: str,
              ylabel: str, logx: bool = False, logy: bool = False, xticks: Sequence[float] | None = None,
              xticklabels: Sequence[str] | None = None,
              reference: tuple[str, Sequence[float], Sequence[float]] | None = None,
              annotate: Sequence[tuple[float, float, str]] = ()) -> bytes:
    """Lines with markers, one per series name -> (x, y); optional dashed reference line."""
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        for i, (name, (xs, ys)) in enumerate(series.items()):
            ax.plot(_finite(xs), _finite(ys), marker="o", markersize=3.5, linewidth=1.4, label=name,
                    color=color_for(i))
        if reference is not None:
            name, xs, ys = reference
            ax.plot(_finite(xs), _finite(ys), linestyle="--", color="#777777", linewidth=1.0, label=name)
        for x, y, text in annotate:
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8, color="#333333")
        if logx:
            ax.set_xscale("log", base=2)
        if logy:
            ax.set_yscale("log")
        if xticks is not None:
            ax.set_xticks(list(xticks), list(xticklabels) if xticklabels is not None else [f"{t:g}" for t in xticks])
            ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if len(series) + (reference is not None) > 4:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        elif len(series) > 1 or reference is not None:
            ax.legend(loc="best")
        fig.tight_layout()
        return figure_png(fig)


def pareto_scatter(xs: Sequence[float], ys: Sequence[float], on_front: Sequence[bool], labels: Sequence[str], *,
                   title: str, xlabel: str, ylabel: str, logx: bool = False, logy: bool = False) -> bytes:
    """All points grey, Pareto points highlighted and joined by a staircase."""
    with _style():
        fig = _figure()
        ax = fig.add_subplot()
        x, y = _finite(xs), _finite(ys)
        ax.scatter(x, y, s=18, color="#aaaaaa", label="dominated", zorder=2)
        front = sorted((a, b, lab) for a, b, lab, f in zip(x, y, labels, on_front) if f)
        if front:
            fx, fy = [p[0] for p in front], [p[1] for p in front]
            ax.step(fx, fy, where="post", color=PALETTE[3], linewidth=1.0, zorder=3)
            ax.scatter(fx, fy, s=30, color=PALETTE[3], label="Pareto-optimal", zorder=4)
            for a, b, lab in front:
                ax.annotate(lab, (a, b), textcoords="offset points", xytext=(5, 4), fontsize=7.5, color="#333333")
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="best")
        fig.tight_layout()
        return figure_png(fig)


def range_bars(labels: Sequence[str], means: Sequence[float], lows: Sequence[float], highs: Sequence[float], *,
               title: str, ylabel: str) -> bytes:
    """One bar per label at the mean, with a whisker from min to max (e.g. cycles per layer over images)."""
    with _style():
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
