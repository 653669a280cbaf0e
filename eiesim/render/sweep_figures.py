"""A sweep's metric figures: each metric against a chosen swept key, the other keys as lines, panels or a heatmap.

Why: a ``fifo_depth`` x ``num_pes`` sweep used to plot everything against ``num_pes`` only
(issue 26). Here every swept key that varies gets its figures unless the user picks one
(``x_key``, ``eiesim report --x``), and the other keys show as

* ``lines`` (default): one line per value (combination) of the other keys;
* ``facets``: small multiples, one panel per value of the other keys, one shared y scale;
* ``heatmap``: two swept keys as the two axes of a grid of coloured cells (exactly two
  keys must vary).

With several images per point (results.csv's ``images`` column), the plotted values are
the means over the images and the metrics that have ``_min`` / ``_max`` columns get
min-max error bars; the captions say so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eiesim.errors import UsageError
from eiesim.render import plots
from eiesim.render.document import Figure
from eiesim.render.numbers import format_number

#: How the swept keys other than the x axis show.
LAYOUTS = ("lines", "facets", "heatmap")


@dataclass(frozen=True)
class Metric:
    """A plotted column: its title, axis label (with unit) and whether results.csv has its min / max."""

    key: str
    title: str
    label: str
    has_range: bool = False


#: The metrics drawn against the swept keys (speedup is derived from the cycles).
METRICS = (
    Metric("speedup", "Speedup", "speedup (×)"),
    Metric("chip_area_mm2", "Chip area", "chip area (mm²)"),
    Metric("energy_uj", "Energy per frame", "energy per frame (µJ)", True),
    Metric("time_us", "Time per frame", "time per frame (µs)", True),
    Metric("load_balance_efficiency", "Load-balance efficiency", "load-balance efficiency (fraction)"),
)


def num(value: Any) -> float | None:
    """A finite number, else None (bools, strings, NaN, missing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def sort_key(value: Any) -> tuple[int, float, str]:
    """Numbers first in numeric order, then anything else by its text."""
    v = num(value)
    return (0, v, "") if v is not None else (1, 0.0, str(value))


def varying_keys(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[str]:
    """The swept keys whose value is not the same in every row."""
    return [k for k in keys if len({repr(r.get(k)) for r in rows}) > 1]


def speedups(rows: Sequence[Mapping[str, Any]], x_key: str | None, group_keys: Sequence[str]) -> list[float | None]:
    """cycles(baseline) / cycles per row; baseline = the smallest ``x_key`` of the row's group."""
    out: list[float | None] = [None] * len(rows)
    if x_key is None:
        return out
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(tuple(repr(r.get(k)) for k in group_keys), []).append(i)
    for members in groups.values():
        base = min(members, key=lambda i: sort_key(rows[i].get(x_key)))
        base_cycles = num(rows[base].get("cycles"))
        for i in members:
            c = num(rows[i].get("cycles"))
            if base_cycles and c:
                out[i] = base_cycles / c
    return out


def x_axes(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], x_key: str | None) -> list[str]:
    """The keys to plot against: ``x_key`` if given (it must be a swept key), else every varying key.

    ``num_pes`` comes first when it varies (the usual question: how does it scale?).
    """
    varying = varying_keys(rows, keys)
    if x_key is not None:
        if x_key not in keys:
            raise UsageError(f"--x {x_key!r} is not a swept key of this sweep; swept keys: "
                             + (", ".join(keys) or "none"))
        return [x_key]
    candidates = varying or list(keys[:1])
    return sorted(candidates, key=lambda k: k != "num_pes")


def image_count(rows: Sequence[Mapping[str, Any]]) -> int:
    """Images per point (1 for a one-image sweep)."""
    counts = [num(r.get("images")) for r in rows]
    return int(max((c for c in counts if c is not None), default=1))


def group_name(row: Mapping[str, Any], keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={row.get(k)}" for k in keys)


@dataclass
class _Axis:
    """Where each row sits on the x axis, and how the axis is drawn."""

    positions: list[float]
    ticks: list[float]
    tick_labels: list[str] | None
    log: bool

    @classmethod
    def of(cls, rows: Sequence[Mapping[str, Any]], key: str) -> _Axis:
        raw = [r.get(key) for r in rows]
        values = [num(v) for v in raw]
        if all(v is not None for v in values):
            xs = [float(v) for v in values if v is not None]
            uniq = sorted(set(xs))
            return cls(xs, uniq, None, min(uniq) > 0 and max(uniq) / min(uniq) >= 8)
        labels = sorted({str(v) for v in raw}, key=lambda s: sort_key(_number_or_text(s)))
        pos = {s: float(i) for i, s in enumerate(labels)}
        return cls([pos[str(v)] for v in raw], [pos[s] for s in labels], labels, False)


def _number_or_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def metric_figures(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], x_key: str, layout: str,
                   headers: Mapping[str, str]) -> list[Figure]:
    """The figures of every metric against ``x_key`` in ``layout`` (see the module docstring).

    ``headers``: axis labels (with units) of the swept keys.
    """
    xlabel = headers.get(x_key, x_key)
    if layout not in LAYOUTS:
        raise UsageError(f"unknown figure layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    others = [k for k in varying_keys(rows, keys) if k != x_key]
    if layout == "heatmap":
        return _heatmaps(rows, x_key, others, xlabel, headers)
    axis = _Axis.of(rows, x_key)
    spd = speedups(rows, x_key, others)
    n_images = image_count(rows)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):  # one other key: its values name the lines, the legend's title names the key
        name = str(r.get(others[0])) if len(others) == 1 else group_name(r, others)
        groups.setdefault(name or "sweep", []).append(i)
    figs: list[Figure] = []
    for metric in METRICS:
        values = spd if metric.key == "speedup" else [num(r.get(metric.key)) for r in rows]
        series, ranges = _series(rows, axis, groups, values, metric if n_images > 1 else None)
        if not series:
            continue
        finite = [v for v in values if v is not None and v > 0]
        span = max(finite) / min(finite) if finite else 1.0
        # Speedup: log-log on a log x axis (ideal scaling is then a straight line), but only when it spans more
        # than a decade; a log axis over less carries one labelled tick (10^0) and cannot be read.
        logy = axis.log and span > 10 if metric.key == "speedup" else span > 30
        title = f"{metric.title} vs {x_key}"
        common = dict(title=title, xlabel=xlabel, ylabel=metric.label, logx=axis.log, logy=logy,
                      xticks=axis.ticks, xticklabels=axis.tick_labels)
        if layout == "facets" and others:
            panel = (lambda name: f"{others[0]}={name}") if len(others) == 1 else (lambda name: name)
            png = plots.facet_lines({panel(name): {metric.title.lower(): pts} for name, pts in series.items()},
                                    ranges={panel(name): {metric.title.lower(): r} for name, r in ranges.items()},
                                    **common)  # type: ignore[arg-type]
            shape = f"one panel per {', '.join(others)}"
        else:
            reference = None
            if metric.key == "speedup" and x_key == "num_pes" and not axis.tick_labels:
                base = min(axis.ticks)
                reference = ("ideal (linear)", axis.ticks, [x / base for x in axis.ticks])
            png = plots.line_plot(series, ranges=ranges, reference=reference,
                                  legend_title=", ".join(others) if others else None,
                                  **common)  # type: ignore[arg-type]
            shape = f"one line per {', '.join(others)}" if others else "one line"
        figs.append(Figure(png, f"Line plot of {metric.title.lower()} against {x_key}",
                           _caption(metric, x_key, shape, n_images, reference_drawn=metric.key == "speedup"
                                    and layout != "facets" and x_key == "num_pes",
                                    several_lines=layout != "facets" and len(series) > 1 and bool(ranges))))
    return figs


def _series(rows: Sequence[Mapping[str, Any]], axis: _Axis, groups: Mapping[str, list[int]],
            values: Sequence[float | None], ranged: Metric | None
            ) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, tuple[list[float], list[float]]]]:
    series: dict[str, tuple[list[float], list[float]]] = {}
    ranges: dict[str, tuple[list[float], list[float]]] = {}
    for name, members in groups.items():
        pts = sorted((axis.positions[i], values[i], i) for i in members if values[i] is not None)
        if not pts:
            continue
        series[name] = ([p[0] for p in pts], [float(p[1]) for p in pts if p[1] is not None])
        if ranged is not None and ranged.has_range:
            lows = [num(rows[p[2]].get(f"{ranged.key}_min")) for p in pts]
            highs = [num(rows[p[2]].get(f"{ranged.key}_max")) for p in pts]
            if all(v is not None for v in lows + highs):
                ranges[name] = ([float(v) for v in lows if v is not None], [float(v) for v in highs if v is not None])
    return series, ranges


def _caption(metric: Metric, x_key: str, shape: str, n_images: int, reference_drawn: bool,
             several_lines: bool = False) -> str:
    parts = [f"{metric.title} against {x_key}, {shape}"]
    if metric.key == "speedup":
        parts.append(f"speedup = cycles at the smallest {x_key} of the same series / cycles"
                     + ("; dashed: ideal linear scaling" if reference_drawn else ""))
    if n_images > 1:
        if metric.has_range:
            parts.append(f"values are means over {n_images} images; error bars span the minimum to the maximum "
                         "over the images" + ("; the lines are set slightly apart sideways so that their bars stay "
                                              "readable" if several_lines else ""))
        elif metric.key == "speedup":
            parts.append(f"from the mean cycles over {n_images} images")
        else:
            parts.append(f"values are means over {n_images} images")
    return "; ".join(parts) + "."


def _heatmaps(rows: Sequence[Mapping[str, Any]], x_key: str, others: Sequence[str], xlabel: str,
              headers: Mapping[str, str]) -> list[Figure]:
    if len(others) != 1:
        raise UsageError("a heatmap needs exactly two swept keys that vary; this sweep varies "
                         f"{len(others) + 1} ({', '.join([x_key, *others])}); use --layout lines or facets")
    y_key = others[0]
    xs = sorted({repr(r.get(x_key)): r.get(x_key) for r in rows}.values(), key=sort_key)
    ys = sorted({repr(r.get(y_key)): r.get(y_key) for r in rows}.values(), key=sort_key)
    n_images = image_count(rows)
    figs: list[Figure] = []
    for metric in METRICS:
        if metric.key == "speedup":
            continue  # a speedup needs a baseline per line; the time heatmap shows the same information
        grid: list[list[float | None]] = [[None] * len(xs) for _ in ys]
        for r in rows:
            grid[[repr(v) for v in ys].index(repr(r.get(y_key)))][[repr(v) for v in xs].index(repr(r.get(x_key)))] = \
                num(r.get(metric.key))
        if all(v is None for line in grid for v in line):
            continue
        png = plots.heatmap(grid, [str(v) for v in xs], [str(v) for v in ys], title=f"{metric.title}",
                            xlabel=xlabel, ylabel=headers.get(y_key, y_key), colorbar_label=metric.label, cell_text=format_number)
        caption = (f"{metric.title} for every {x_key} (columns) and {y_key} (rows); the colour (cividis scale, "
                   "dark = low, light yellow = high) and the number in each cell give the value")
        if n_images > 1:
            caption += f"; values are means over {n_images} images (results.csv holds the min and max)"
        figs.append(Figure(png, f"Heatmap of {metric.title.lower()} over {x_key} and {y_key}", caption + "."))
    return figs


__all__ = ["LAYOUTS", "METRICS", "image_count", "metric_figures", "speedups", "varying_keys", "x_axes"]
