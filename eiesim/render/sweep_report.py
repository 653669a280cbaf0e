"""Render a sweep's table (eiesim.sweep) as a self-contained HTML or Markdown page.

Content: the table (Pareto-optimal points marked), speedup, chip area and energy
against the swept parameter (``num_pes`` when it is swept, otherwise the first
swept key; one line per combination of the other swept keys), and the
area/latency Pareto front. Rows whose cost-model columns are missing or NaN are
still tabulated; they are just left out of the plots that need those columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from eiesim.render import plots
from eiesim.render.document import MISSING, Document, Figure, Para, Section, Table, fmt_num, fmt_pct, render

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


def render_sweep(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str = "html",
                 manifest: Mapping[str, Any] | None = None) -> str:
    """The sweep report as one HTML page (``fmt="html"``) or Markdown file (``fmt="md"``)."""
    return render(build_sweep_document(rows, columns, manifest), fmt)


def _provenance_section(manifest: Mapping[str, Any]) -> Section:
    """What the sweep ran on (DIR/manifest.json): workload, architecture, images, version, command."""
    sec = Section("What was swept", "provenance")
    wl, arch = manifest.get("workload") or {}, manifest.get("arch") or {}
    rows = [["workload", f"{wl.get('name', MISSING)} ({wl.get('path', MISSING)})"],
            ["workload SHA-256", str(wl.get("sha256", MISSING))],
            ["architecture", str(arch.get("path") or "built-in defaults")],
            ["architecture SHA-256", str(arch.get("sha256", MISSING))],
            ["eiesim version", str(manifest.get("eiesim_version", MISSING))],
            ["model digest (SHA-256 of the model sources)", str(manifest.get("model_digest", MISSING))],
            ["axes", ", ".join(f"`{s}`" for s in manifest.get("sets") or []) or MISSING]]
    for i, img in enumerate(manifest.get("images") or []):
        if isinstance(img, Mapping):
            rows.append([f"input {i + 1}", f"{img.get('image')} (input SHA-256 {str(img.get('input_sha256'))[:16]}…)"])
    if manifest.get("command"):
        rows.append(["command", " ".join(str(a) for a in manifest["command"])])
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

def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def pareto_front(rows: Sequence[Mapping[str, Any]], x_key: str = PARETO_X, y_key: str = PARETO_Y) -> list[bool]:
    """For each row: is it Pareto-optimal when minimising both ``x_key`` and ``y_key``?

    A row is on the front unless another row is at least as good in both columns
    and strictly better in one. Rows with a missing or non-finite value in either
    column are never on the front (and never dominate). Exact duplicates are all
    on the front (neither dominates the other).
    """
    points = [(_num(r.get(x_key)), _num(r.get(y_key))) for r in rows]
    valid = [(i, x, y) for i, (x, y) in enumerate(points) if x is not None and y is not None]
    on = [False] * len(rows)
    # Sort by x then y: a point is dominated iff some earlier point (x' <= x) has y' < y,
    # or an identical-x point has y' < y, or (x' < x and y' <= y).
    order = sorted(valid, key=lambda t: (t[1], t[2]))
    best_y = math.inf  # smallest y among points with strictly smaller x
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and order[j][1] == order[i][1]:
            j += 1
        group = order[i:j]  # same x
        min_y = min(y for _, _, y in group)
        for idx, _x, y in group:
            on[idx] = y == min_y and y < best_y
        best_y = min(best_y, min_y)
        i = j
    return on


def swept_keys(columns: Sequence[str]) -> list[str]:
    """The swept architecture keys: the columns before ``point`` (eiesim.sweeps.sweep's layout)."""
    from eiesim.sweeps.points import BREAKDOWN_COLUMNS, METRIC_COLUMNS

    if "point" in columns:
        return list(columns[:list(columns).index("point")])
    return [c for c in columns if c not in METRIC_COLUMNS and c not in BREAKDOWN_COLUMNS and c != "speedup"]


def x_axis_key(keys: Sequence[str]) -> str | None:
    """``num_pes`` when swept, otherwise the first swept key."""
    if "num_pes" in keys:
        return "num_pes"
    return keys[0] if keys else None


def speedups(rows: Sequence[Mapping[str, Any]], x_key: str | None, group_keys: Sequence[str]) -> list[float | None]:
    """cycles(baseline) / cycles per row; baseline = the smallest ``x_key`` of the row's group."""
    out: list[float | None] = [None] * len(rows)
    if x_key is None:
        return out
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(tuple(repr(r.get(k)) for k in group_keys), []).append(i)
    for members in groups.values():
        base = min(members, key=lambda i: _sort_key(rows[i].get(x_key)))
        base_cycles = _num(rows[base].get("cycles"))
        for i in members:
            c = _num(rows[i].get("cycles"))
            if base_cycles and c:
                out[i] = base_cycles / c
    return out


def _sort_key(value: Any) -> tuple:
    v = _num(value)
    return (0, v, "") if v is not None else (1, 0.0, str(value))


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
    return f"{key} ({units[key]})" if key in units else key


def _cell(key: str, value: Any) -> str:
    if key == "load_balance_efficiency":
        return fmt_pct(value)
    if key == "speedup":
        return fmt_num(value, 4)
    if key in ("cycles", "padding_entries", "dram_bytes") and _num(value) is not None:
        return f"{int(round(float(value))):,}"
    if value is None:
        return MISSING
    return fmt_num(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def build_sweep_document(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                         manifest: Mapping[str, Any] | None = None) -> Document:
    """The sweep report's content, independent of the output format."""
    rows = [r for r in rows if isinstance(r, Mapping)]
    columns = list(columns) if columns else (list(rows[0]) if rows else [])
    keys = swept_keys(columns)
    x_key = x_axis_key([k for k in keys if len({repr(r.get(k)) for r in rows}) > 1] or keys)
    # series = combinations of the other swept keys that actually vary
    others = [k for k in keys if k != x_key and len({repr(r.get(k)) for r in rows}) > 1]
    order = sorted(range(len(rows)), key=lambda i: (tuple(_sort_key(rows[i].get(k)) for k in others),
                                                    _sort_key(rows[i].get(x_key)) if x_key else (0, 0.0, "")))
    rows = [rows[i] for i in order]
    spd = speedups(rows, x_key, others)
    front = pareto_front(rows)
    units = _param_units()

    varying = [k for k in keys if len({repr(r.get(k)) for r in rows}) > 1] or keys
    fixed = [k for k in keys if k not in varying]
    context = sweep_context(manifest)
    doc = Document(title="eiesim sweep: " + (", ".join(varying) if varying else "results"),
                   subtitle=(f"{context}; " if context else "") + f"{len(rows)} design points"
                   + (f"; x axis: `{x_key}`" if x_key else "") + "".join(f"; `{k}` = {rows[0].get(k)}" for k in fixed))
    if manifest:
        doc.sections.append(_provenance_section(manifest))
    warnings = sorted({w for r in rows for w in str(r.get("warnings") or "").split(" | ") if w})
    if warnings:
        wsec = Section("Warnings", "warnings")
        wsec.blocks.append(Para(f"{len(warnings)} distinct warning(s) over the points (column `warnings` of "
                                "results.csv says which points):", "fail"))
        wsec.blocks += [Para(w, "note") for w in warnings]
        doc.sections.append(wsec)
    if rows:
        fastest = min(range(len(rows)), key=lambda i: _num(rows[i].get("time_us")) or math.inf)
        if _num(rows[fastest].get("time_us")) is not None:
            doc.summary.append(("points", str(len(rows))))
            doc.summary.append(("fastest point", ", ".join(f"{k}={rows[fastest].get(k)}" for k in varying) or "-"))
            doc.summary.append(("its time (µs)", fmt_num(rows[fastest].get("time_us"))))
            finite_spd = [s for s in spd if s is not None]
            if finite_spd:
                doc.summary.append(("max speedup (×)", fmt_num(max(finite_spd), 3)))
            doc.summary.append(("Pareto points", str(sum(front))))

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
    table_sec.blocks.append(Table(headers, table_rows, numeric, marked_rows={i for i, f in enumerate(front) if f},
                                  caption=("★ and highlighting: on the area/latency Pareto front (no other point has "
                                           "both smaller or equal chip area and time, one of them smaller). Speedup "
                                           "= cycles of the smallest "
                                           f"`{x_key}` in the same series / cycles." if x_key else
                                           "★: on the area/latency Pareto front.")))
    doc.sections.append(table_sec)

    # plots against the swept key
    if x_key is not None and rows:
        plot_sec = Section(f"Metrics vs {x_key}", "plots")
        for block in _metric_plots(rows, spd, x_key, others, units):
            plot_sec.blocks.append(block)
        if plot_sec.blocks:
            doc.sections.append(plot_sec)

    breakdown_sec = _breakdown_section(rows, columns, varying)
    if breakdown_sec is not None:
        doc.sections.append(breakdown_sec)

    pareto_sec = Section("Area / latency Pareto front", "pareto")
    idx = [i for i, r in enumerate(rows) if _num(r.get(PARETO_X)) is not None and _num(r.get(PARETO_Y)) is not None]
    if len(idx) >= 1:
        labels = [", ".join(f"{rows[i].get(k)}" for k in keys) or str(i) for i in idx]
        xs = [_num(rows[i][PARETO_X]) for i in idx]
        ys = [_num(rows[i][PARETO_Y]) for i in idx]
        spread = lambda v: max(v) / min(v) if min(v) > 0 else 1.0  # noqa: E731
        png = plots.pareto_scatter(xs, ys, [front[i] for i in idx], labels, title="Time vs chip area",
                                   xlabel="chip area (mm²)", ylabel="time per frame (µs)",
                                   logx=spread(xs) > 20, logy=spread(ys) > 20)
        pareto_sec.blocks.append(Figure(png, "Scatter of time vs chip area with the Pareto front highlighted",
                                        "Each point is one design; red points are Pareto-optimal (labels: "
                                        + ", ".join(keys) + ")."))
        names = [", ".join(f"{k}={rows[i].get(k)}" for k in keys) for i in range(len(rows)) if front[i]]
        pareto_sec.blocks.append(Para(f"{sum(front)} of {len(rows)} points are Pareto-optimal: " + "; ".join(names) + "."))
    else:
        pareto_sec.blocks.append(Para("No point has both a chip area and a time (the cost model's columns are "
                                      "missing), so there is no area/latency front to draw.", "note"))
    doc.sections.append(pareto_sec)
    src = Section("Where the numbers come from", "sources")
    src.blocks.append(Para("Each row is one full simulation (`eiesim.simulate`) of the sweep's workload on the base "
                           "architecture with the swept keys overridden; the columns are summarised from that run's "
                           "JSON report (`docs/report-schema.md`): load balance is the compute-cycle-weighted mean "
                           "over layers, energy/power/area come from the cost model (`eiesim/costs/`)."))
    doc.sections.append(src)
    if context:
        from eiesim.render.run_report import name_figures

        name_figures(doc, context)
    return doc


def _breakdown_section(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                       varying: Sequence[str]) -> Section | None:
    """The network's cycle breakdown per point (``cycle_breakdown.*`` columns): stacked bars and the numbers.

    Sweeps written before the breakdown existed have no such columns: the section is left out.
    """
    from eiesim.render.run_report import BREAKDOWN_COLORS

    cols = [c for c in columns if c.startswith(BREAKDOWN_PREFIX)]
    if not cols or not any(_num(r.get(c)) is not None for r in rows for c in cols):
        return None
    parts = [c[len(BREAKDOWN_PREFIX):] for c in cols]
    labels = [", ".join(f"{k}={r.get(k)}" for k in varying) or str(i) for i, r in enumerate(rows)]
    series = {part: [_num(r.get(c)) or 0.0 for r in rows] for part, c in zip(parts, cols)}
    sec = Section("Where the cycles go", "cycle-breakdown")
    sec.blocks.append(Para("Each point's cycles split into the parts of the cycle breakdown (columns "
                           "`cycle_breakdown.*` of results.csv, in cycles; they add up to `cycles`); definitions in "
                           "`docs/timing-model.md`, section \"Where the cycles go\"."))
    sec.blocks.append(Figure(plots.stacked_bars(labels, series, title="Where the cycles go, per point",
                                                ylabel="cycles", colors=BREAKDOWN_COLORS),
                             "Stacked bar chart of each point's cycles split into " + ", ".join(parts),
                             "One bar per design point; segments: the parts of the cycle breakdown."))
    table_rows = []
    for label, r in zip(labels, rows):
        total = _num(r.get("cycles"))
        values = [_num(r.get(c)) for c in cols]
        table_rows.append([label, _cell("cycles", r.get("cycles"))] + [
            MISSING if v is None else f"{int(round(v)):,} ({fmt_pct(v / total) if total else MISSING} %)"
            for v in values])
    sec.blocks.append(Table(["point", "cycles"] + [f"{p} (cycles, % of the point)" for p in parts], table_rows,
                            [False] + [True] * (len(cols) + 1)))
    return sec


def _metric_plots(rows: Sequence[Mapping[str, Any]], spd: Sequence[float | None], x_key: str,
                  others: Sequence[str], units: Mapping[str, str]) -> list[Figure]:
    xs_raw = [r.get(x_key) for r in rows]
    numeric_x = all(_num(v) is not None for v in xs_raw)
    if numeric_x:
        xvals = [_num(v) for v in xs_raw]
        uniq = sorted(set(xvals))
        logx = min(uniq) > 0 and max(uniq) / min(uniq) >= 8
        xticks, xticklabels = uniq, None
    else:
        labels = sorted({str(v) for v in xs_raw}, key=lambda s: s)
        pos = {s: float(i) for i, s in enumerate(labels)}
        xvals = [pos[str(v)] for v in xs_raw]
        logx, xticks, xticklabels = False, [pos[s] for s in labels], labels
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        name = ", ".join(f"{k}={r.get(k)}" for k in others) or "sweep"
        groups.setdefault(name, []).append(i)
    xlabel = _header(x_key, units)

    def series(values: Sequence[float | None]) -> dict[str, tuple[list[float], list[float]]]:
        out = {}
        for name, members in groups.items():
            pts = sorted((xvals[i], values[i]) for i in members if values[i] is not None)
            if pts:
                out[name] = ([p[0] for p in pts], [p[1] for p in pts])
        return out

    figs: list[Figure] = []
    s = series(spd)
    if s:
        reference = None
        if x_key == "num_pes" and numeric_x:
            base = min(uniq)
            reference = ("ideal (linear)", uniq, [x / base for x in uniq])
        figs.append(Figure(plots.line_plot(s, title=f"Speedup vs {x_key}", xlabel=xlabel, ylabel="speedup (×)",
                                           logx=logx, logy=logx, xticks=xticks, xticklabels=xticklabels,
                                           reference=reference),
                           f"Line plot of speedup against {x_key}",
                           "Speedup = cycles at the smallest value / cycles; dashed: ideal linear scaling."
                           if reference else "Speedup = cycles at the smallest value / cycles."))
    for key, title, ylabel in (("chip_area_mm2", "Chip area", "chip area (mm²)"),
                               ("energy_uj", "Energy per frame", "energy (µJ)"),
                               ("time_us", "Time per frame", "time (µs)"),
                               ("load_balance_efficiency", "Load-balance efficiency", "load balance (fraction)")):
        vals = [_num(r.get(key)) for r in rows]
        s = series(vals)
        if not s:
            continue
        finite = [v for v in vals if v is not None and v > 0]
        logy = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 30
        figs.append(Figure(plots.line_plot(s, title=f"{title} vs {x_key}", xlabel=xlabel, ylabel=ylabel,
                                           logx=logx, logy=logy, xticks=xticks, xticklabels=xticklabels),
                           f"Line plot of {title.lower()} against {x_key}"))
    return figs
