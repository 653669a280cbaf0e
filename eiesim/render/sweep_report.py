"""Render a sweep's table (eiesim.sweep) as a self-contained HTML or Markdown page.

Content: the table (Pareto-optimal points marked), speedup, chip area, energy, time and
load balance against each swept key that varies (or the one the user picks; the other keys
as lines, panels or a heatmap: ``eiesim.render.sweep_figures``), and the area/latency
Pareto front (chip areas within ``AREA_TOLERANCE`` of each other count as equal). Rows
whose cost-model columns are missing or NaN are still tabulated; they are just left out of
the plots that need those columns. Paths are shown relative to the report's folder.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eiesim.render import plots
from eiesim.render.document import (
    MISSING,
    Document,
    Figure,
    Para,
    Section,
    Table,
    fmt_int,
    fmt_num,
    fmt_pct,
    relative_path,
    render,
)
from eiesim.render.style import colour_name
from eiesim.render.sweep_figures import image_count, metric_figures, num, sort_key, speedups, varying_keys, x_axes

#: Header (with unit) of each metric column of eiesim.sweeps.points.METRIC_COLUMNS.
METRIC_HEADERS = {
    "cycles": "cycles",
    "time_us": "time (µs)",
    "frames_per_s": "frames/s",
    "energy_uj": "energy (µJ)",
    "chip_power_mw": "chip power (mW)",
    "pe_area_um2": "PE area (µm²)",
    "chip_area_mm2": "chip area (mm²)",
    "load_balance_efficiency": "load balance (%)",
    "padding_entries": "padding (entries)",
    "dram_bytes": "DRAM traffic (bytes)",
    "functional": "functional check",
    "speedup": "speedup (×)",
}
#: Columns of the network's cycle breakdown (eiesim.sweeps.points.BREAKDOWN_COLUMNS) start with this.
BREAKDOWN_PREFIX = "cycle_breakdown."
#: The Pareto front minimises these two columns.
PARETO_X, PARETO_Y = "chip_area_mm2", "time_us"
#: Chip areas within this fraction of each other count as equal on the report's Pareto front: area
#: differences of fractions of a percent (e.g. a FIFO depth sweep) are below the cost model's accuracy.
AREA_TOLERANCE = 0.01


def render_sweep(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str = "html",
                 manifest: Mapping[str, Any] | None = None, *, x_key: str | None = None,
                 layout: str = "lines") -> str:
    """The sweep report as one HTML page (``fmt="html"``) or Markdown file (``fmt="md"``)."""
    return render(build_sweep_document(rows, columns, manifest, x_key=x_key, layout=layout), fmt)


def _provenance_section(manifest: Mapping[str, Any], base_dir: str | Path | None) -> Section:
    """What the sweep ran on (DIR/manifest.json): workload, architecture, images, version, command."""
    sec = Section("What was swept", "provenance")
    wl, arch = manifest.get("workload") or {}, manifest.get("arch") or {}
    rel = lambda p: relative_path(p, base_dir)  # noqa: E731
    rows = [["workload", f"{wl.get('name', MISSING)} (`{rel(wl.get('path', MISSING))}`)"],
            ["workload SHA-256", str(wl.get("sha256", MISSING))],
            ["architecture", f"`{rel(arch['path'])}`" if arch.get("path") else "built-in defaults"],
            ["architecture SHA-256", str(arch.get("sha256", MISSING))],
            ["eiesim version", str(manifest.get("eiesim_version", MISSING))],
            ["model digest (SHA-256 of the model sources)", str(manifest.get("model_digest", MISSING))],
            ["axes", ", ".join(f"`{s}`" for s in manifest.get("sets") or []) or MISSING]]
    for i, img in enumerate(manifest.get("images") or []):
        if isinstance(img, Mapping):
            rows.append([f"input {i + 1}",
                         f"`{rel(img.get('image'))}` (input SHA-256 {str(img.get('input_sha256'))[:16]}…)"])
    if manifest.get("command"):
        rows.append(["command", "`" + " ".join(rel(a) for a in manifest["command"]) + "`"])
    sec.blocks.append(Table(["item", "value"], rows, [False, False]))
    return sec


def sweep_context(manifest: Mapping[str, Any] | None) -> str:
    """``"squeezenet on eie-64pe-8bit.yaml, eiesim 0.1.0"`` from a manifest ("" without one)."""
    if not manifest:
        return ""
    wl, arch = manifest.get("workload") or {}, manifest.get("arch") or {}
    return (f"sweep of {wl.get('name', 'workload')} on {arch.get('name') or 'the default architecture'}"
            f", eiesim {manifest.get('eiesim_version', '?')}")


# -- analysis ----------------------------------------------------------------------------

def pareto_front(rows: Sequence[Mapping[str, Any]], x_key: str = PARETO_X, y_key: str = PARETO_Y,
                 x_tolerance: float = 0.0) -> list[bool]:
    """For each row: is it Pareto-optimal when minimising both ``x_key`` and ``y_key``?

    A row is on the front unless another row is at least as good in both columns
    and strictly better in one. With ``x_tolerance`` (a fraction), x values within
    ``x_tolerance`` x |x| of a row's x count as equal to it: a row is then dominated by
    any faster row whose x is at most that much larger, and by an equally fast row whose
    x is smaller by more than that. Rows with a missing or non-finite value in either
    column are never on the front (and never dominate). Exact duplicates are all on the
    front (neither dominates the other).
    """
    points = [(num(r.get(x_key)), num(r.get(y_key))) for r in rows]
    valid = sorted((x, y) for x, y in points if x is not None and y is not None)
    xs = [x for x, _ in valid]
    prefix_min: list[float] = []  # smallest y among the first k points (by x)
    for _, y_sorted in valid:
        prefix_min.append(min(y_sorted, prefix_min[-1]) if prefix_min else y_sorted)

    def best_y(count: int) -> float:
        return prefix_min[count - 1] if count > 0 else math.inf

    on = [False] * len(rows)
    for i, (x, y) in enumerate(points):
        if x is None or y is None:
            continue
        slack = x_tolerance * abs(x)
        faster_nearby = best_y(bisect.bisect_right(xs, x + slack)) < y     # no more than the slack larger, faster
        smaller_as_fast = best_y(bisect.bisect_left(xs, x - slack)) <= y   # clearly smaller, as fast or faster
        on[i] = not (faster_nearby or smaller_as_fast)
    return on


def area_spread(rows: Sequence[Mapping[str, Any]], key: str = PARETO_X) -> float | None:
    """(max - min) / min of a column over the rows that have it (None without two positive values)."""
    values = [v for v in (num(r.get(key)) for r in rows) if v is not None and v > 0]
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / min(values)


def swept_keys(columns: Sequence[str]) -> list[str]:
    """The swept architecture keys: the columns before ``point`` (eiesim.sweeps.sweep's layout)."""
    from eiesim.sweeps.points import BREAKDOWN_COLUMNS, METRIC_COLUMNS

    if "point" in columns:
        return list(columns[:list(columns).index("point")])
    return [c for c in columns if c not in METRIC_COLUMNS and c not in BREAKDOWN_COLUMNS and c != "speedup"]


# -- the document -------------------------------------------------------------------------

def _param_units() -> dict[str, str]:
    try:
        from eiesim.config.arch import describe_parameters

        return {p["key"]: p["unit"] for p in describe_parameters() if p.get("unit") and p["unit"] != "1"}
    except Exception:  # noqa: BLE001 - units are a nicety; the report must still render
        return {}


def _header(key: str, units: Mapping[str, str]) -> str:
    if key in METRIC_HEADERS:
        return METRIC_HEADERS[key]
    for stat in ("min", "max"):
        base = key[:-len(stat) - 1]
        if key.endswith(f"_{stat}") and base in METRIC_HEADERS:
            name, _, unit = METRIC_HEADERS[base].partition(" (")
            return f"{name} {stat}" + (f" ({unit}" if unit else "")
    if key == "images":
        return "images (count)"
    return f"{key} ({units[key]})" if key in units else key


#: Columns that are counts (whole numbers, even when a mean over images makes them floats).
COUNT_COLUMNS = ("cycles", "cycles_min", "cycles_max", "padding_entries", "dram_bytes", "images")


def _cell(key: str, value: Any) -> str:
    """A table cell by the one number rule (eiesim.render.numbers); counts as whole numbers."""
    if key == "load_balance_efficiency":
        return fmt_pct(value)
    if key in COUNT_COLUMNS and num(value) is not None:
        return fmt_int(value)
    return fmt_num(value)


def build_sweep_document(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                         manifest: Mapping[str, Any] | None = None, *, x_key: str | None = None,
                         layout: str = "lines", base_dir: str | Path | None = None) -> Document:
    """The sweep report's content, independent of the output format.

    ``x_key``: draw the metric figures against this swept key only (default: one set of
    figures per swept key that varies); ``layout``: how the other keys show (``lines``,
    ``facets`` or ``heatmap``, see ``eiesim.render.sweep_figures``); ``base_dir``: the
    report's folder, which the paths it shows are relative to.
    """
    rows = [r for r in rows if isinstance(r, Mapping)]
    columns = list(columns) if columns else (list(rows[0]) if rows else [])
    keys = swept_keys(columns)
    axes = x_axes(rows, keys, x_key) if keys else []
    first_x = axes[0] if axes else None
    varying = varying_keys(rows, keys) or keys
    # table order and speedups: series = combinations of the other swept keys that vary, along the first x axis
    others = [k for k in varying_keys(rows, keys) if k != first_x]
    order = sorted(range(len(rows)), key=lambda i: (tuple(sort_key(rows[i].get(k)) for k in others),
                                                    sort_key(rows[i].get(first_x)) if first_x else (0, 0.0, "")))
    rows = [rows[i] for i in order]
    spd = speedups(rows, first_x, others)
    front = pareto_front(rows, x_tolerance=AREA_TOLERANCE)
    units = _param_units()
    headers_of = {k: _header(k, units) for k in keys}

    fixed = [k for k in keys if k not in varying]
    context = sweep_context(manifest)
    doc = Document(title="eiesim sweep: " + (", ".join(varying) if varying else "results"),
                   subtitle=(f"{context}; " if context else "") + f"{len(rows)} design points"
                   + (f"; figures against {', '.join(f'`{k}`' for k in axes)}" if axes else "")
                   + "".join(f"; `{k}` = {rows[0].get(k)}" for k in fixed))
    if manifest:
        doc.sections.append(_provenance_section(manifest, base_dir))
    warnings = sorted({w for r in rows for w in str(r.get("warnings") or "").split(" | ") if w})
    if warnings:
        wsec = Section("Warnings", "warnings")
        wsec.blocks.append(Para(f"{len(warnings)} distinct warning(s) over the points (column `warnings` of "
                                "results.csv says which points):", "fail"))
        wsec.blocks += [Para(w, "note") for w in warnings]
        doc.sections.append(wsec)
    n_images = image_count(rows)
    if rows:
        fastest = min(range(len(rows)), key=lambda i: num(rows[i].get("time_us")) or math.inf)
        if num(rows[fastest].get("time_us")) is not None:
            doc.summary.append(("points", fmt_int(len(rows))))
            doc.summary.append(("fastest point", ", ".join(f"{k}={rows[fastest].get(k)}" for k in varying) or "-"))
            doc.summary.append(("its time (µs)" + (", mean" if n_images > 1 else ""),
                                fmt_num(rows[fastest].get("time_us"))))
            finite_spd = [s for s in spd if s is not None]
            if finite_spd:
                doc.summary.append(("max speedup (×)", fmt_num(max(finite_spd))))
            doc.summary.append(("Pareto points", fmt_int(sum(front))))

    # table
    metric_cols = [c for c in columns if c not in keys and c not in ("point", "warnings")
                   and not c.startswith(BREAKDOWN_PREFIX)]  # the breakdown has a section of its own
    shown = keys + (["speedup"] if any(s is not None for s in spd) else []) + metric_cols
    table_rows = []
    for r, s, f in zip(rows, spd, front):
        cells = [_cell(c, s if c == "speedup" else r.get(c)) for c in shown]
        table_rows.append(cells + ["★" if f else ""])
    numeric = [c != "functional" for c in shown] + [False]
    headers = [_header(c, units) for c in shown] + ["Pareto"]
    table_sec = Section("Results table", "table")
    caption = ("★ and highlighting: on the area/latency Pareto front (no other point has both smaller or equal "
               f"chip area and time, one of them smaller; chip areas within {100 * AREA_TOLERANCE:g} % of "
               "each other count as equal).")
    if first_x:
        caption += f" Speedup = cycles of the smallest `{first_x}` in the same series / cycles."
    if n_images > 1:
        caption += (f" Each point ran {n_images} images: the metrics are means over the images; the min and max "
                    "columns give their range.")
    table_sec.blocks.append(Table(headers, table_rows, numeric, marked_rows={i for i, f in enumerate(front) if f},
                                  caption=caption))
    doc.sections.append(table_sec)

    # the metrics against each x axis
    for n, axis_key in enumerate(axes):
        plot_sec = Section(f"Metrics vs {axis_key}", "plots" if n == 0 else f"plots-{axis_key}")
        plot_sec.blocks.extend(metric_figures(rows, keys, axis_key, layout, headers_of))
        if plot_sec.blocks:
            doc.sections.append(plot_sec)

    breakdown_sec = _breakdown_section(rows, columns, varying)
    if breakdown_sec is not None:
        doc.sections.append(breakdown_sec)
    doc.sections.append(_pareto_section(rows, keys, varying, front))
    src = Section("Where the numbers come from", "sources")
    src.blocks.append(Para("Each row is one full simulation (`eiesim.simulate`) of the sweep's workload on the base "
                           "architecture with the swept keys overridden; the columns are summarised from that run's "
                           "JSON report (`docs/report-schema.md`): load balance is the compute-cycle-weighted mean "
                           "over layers, energy/power/area come from the cost model (`eiesim/costs/`)."
                           + (f" With several images ({n_images} here) a point's metrics are the means over the "
                              "images." if n_images > 1 else "")))
    doc.sections.append(src)
    if context:
        from eiesim.render.run_report import name_figures

        name_figures(doc, context)
    return doc


def _pareto_section(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], varying: Sequence[str],
                    front: Sequence[bool]) -> Section:
    """Time against chip area, the front in blue; says so when the areas hardly differ."""
    sec = Section("Area / latency Pareto front", "pareto")
    idx = [i for i, r in enumerate(rows) if num(r.get(PARETO_X)) is not None and num(r.get(PARETO_Y)) is not None]
    if not idx:
        sec.blocks.append(Para("No point has both a chip area and a time (the cost model's columns are "
                               "missing), so there is no area/latency front to draw.", "note"))
        return sec
    label_keys = list(varying) or list(keys)
    labels = [", ".join(f"{rows[i].get(k)}" for k in label_keys) or str(i) for i in idx]
    xs = [num(rows[i][PARETO_X]) for i in idx]
    ys = [num(rows[i][PARETO_Y]) for i in idx]
    ratio = lambda v: max(v) / min(v) if min(v) > 0 else 1.0  # noqa: E731
    png = plots.pareto_scatter(xs, ys, [front[i] for i in idx], labels, title="Time vs chip area",
                               xlabel="chip area (mm²)", ylabel="time per frame (µs)",
                               logx=ratio(xs) > 20, logy=ratio(ys) > 20)
    spread = area_spread(rows)
    flat = spread is not None and spread < AREA_TOLERANCE
    caption = (f"Each point is one design; {colour_name(plots.FRONT_COLOUR)} points (joined by the staircase) are "
               f"Pareto-optimal, {colour_name(plots.DOMINATED_COLOUR)} points are dominated; chip areas within "
               f"{100 * AREA_TOLERANCE:g} % of each other count as equal. Labels: {', '.join(label_keys)}")
    if png.labels_left_out:
        caption += f"; {png.labels_left_out} label(s) left out where they would overlap"
    sec.blocks.append(Figure(png, "Scatter of time vs chip area with the Pareto front highlighted", caption + "."))
    if flat and spread is not None:  # (flat implies a spread; said again for the type checker)
        sec.blocks.append(Para(f"Chip area varies by only {fmt_num(100 * spread)} % over all points (less than the "
                               f"{100 * AREA_TOLERANCE:g} % tolerance): these designs do not trade area for "
                               "time, so the front is not meaningful; it holds the fastest design(s).", "note"))
    names = [", ".join(f"{k}={rows[i].get(k)}" for k in label_keys) for i in range(len(rows)) if front[i]]
    sec.blocks.append(Para(f"{sum(front)} of {len(rows)} points are Pareto-optimal: " + "; ".join(names) + "."))
    return sec


def _breakdown_section(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                       varying: Sequence[str]) -> Section | None:
    """The network's cycle breakdown per point (``cycle_breakdown.*`` columns): stacked bars and the numbers.

    Sweeps written before the breakdown existed have no such columns: the section is left out.
    """
    from eiesim.render.run_report import BREAKDOWN_COLORS

    cols = [c for c in columns if c.startswith(BREAKDOWN_PREFIX)]
    if not cols or not any(num(r.get(c)) is not None for r in rows for c in cols):
        return None
    parts = [c[len(BREAKDOWN_PREFIX):] for c in cols]
    labels = [", ".join(f"{k}={r.get(k)}" for k in varying) or str(i) for i, r in enumerate(rows)]
    ticks = [", ".join(str(r.get(k)) for k in varying) or str(i) for i, r in enumerate(rows)]  # keys: x label
    series = {part: [num(r.get(c)) or 0.0 for r in rows] for part, c in zip(parts, cols)}
    sec = Section("Where the cycles go", "cycle-breakdown")
    sec.blocks.append(Para("Each point's cycles split into the parts of the cycle breakdown (columns "
                           "`cycle_breakdown.*` of results.csv, in cycles; they add up to `cycles`); definitions in "
                           "`docs/timing-model.md`, section \"Where the cycles go\"."))
    from eiesim.render.components import BREAKDOWN_NAMES

    sec.blocks.append(Figure(plots.stacked_bars(ticks, series, title="Where the cycles go, per point",
                                                ylabel="cycles", colors=BREAKDOWN_COLORS, names=BREAKDOWN_NAMES,
                                                xlabel=", ".join(varying) or None),
                             "Stacked bar chart of each point's cycles split into "
                             + ", ".join(BREAKDOWN_NAMES.get(p, p) for p in parts),
                             "One bar per design point; segments: the parts of the cycle breakdown."))
    table_rows = []
    for label, r in zip(labels, rows):
        total = num(r.get("cycles"))
        values = [num(r.get(c)) for c in cols]
        table_rows.append([label, _cell("cycles", r.get("cycles"))] + [
            MISSING if v is None else f"{int(round(v)):,} ({fmt_pct(v / total) if total else MISSING} %)"
            for v in values])
    sec.blocks.append(Table(["point", "cycles"] + [f"{BREAKDOWN_NAMES.get(p, p)} (cycles, % of the point)" for p in parts], table_rows,
                            [False] + [True] * (len(cols) + 1)))
    return sec
