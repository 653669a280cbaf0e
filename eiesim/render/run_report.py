"""Render one run's JSON report (docs/report-schema.md) as a self-contained HTML or Markdown page.

The report dict is whatever ``SimulationResult.to_dict()`` produced, possibly
without the cost-model sections (``energy``, ``power``, ``area``) or with fields
added by later versions: every section is rendered only from the keys that are
present, and a missing section is simply left out (never an error), so old and
new reports both render.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eiesim.render import components, plots
from eiesim.render.style import colour_name
from eiesim.render.document import (
    MISSING,
    Code,
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
from eiesim.timing.contract import BREAKDOWN_PARTS

#: PE-cycle categories of ``layers[].stalls``, in display order, with their colours.
STALL_ORDER = ("busy", "empty", "starved", "stalled", "drain")
STALL_COLORS = {"busy": "#009E73", "empty": "#56B4E9", "starved": "#E69F00", "stalled": "#D55E00",
                "drain": "#999999"}
STALL_MEANING = {
    "busy": "issuing an entry (real or padding) into the arithmetic pipeline",
    "empty": "reading the pointers of a broadcast column the PE holds no entries for",
    "starved": "waiting on an empty activation FIFO",
    "stalled": "finished its columns, waiting for the slowest PE at the end of the round",
    "drain": "draining the arithmetic pipeline at the end of a round",
}
#: Per-layer cycle components stacked in the cycles figure.
CYCLE_PARTS = (("compute_cycles", "compute"), ("load_cycles", "load"), ("store_cycles", "store"),
               ("io_cycles", "I/O"))
#: Colours of the cycle-breakdown parts (BREAKDOWN_PARTS), from the palette; the compute parts share the
#: colours of the PE states they come from (ideal = busy, finder = starved, imbalance = stalled, drain).
BREAKDOWN_COLORS = {"ideal": plots.PALETTE[2], "idle_pes": plots.PALETTE[5], "imbalance": plots.PALETTE[3],
                    "finder": plots.PALETTE[1], "drain": plots.PALETTE[7], "load": plots.PALETTE[0],
                    "store": plots.PALETTE[4], "io": plots.PALETTE[6]}


def render_run(report: Mapping[str, Any], fmt: str = "html") -> str:
    """The run report as one HTML page (``fmt="html"``) or Markdown file (``fmt="md"``)."""
    return render(build_run_document(report), fmt)


def build_run_document(report: Mapping[str, Any], base_dir: str | Path | None = None) -> Document:
    """The report's content, independent of the output format.

    ``base_dir``: the page's folder; input paths are shown relative to it (never the host's absolute paths).
    """
    if not isinstance(report, Mapping):
        from eiesim.errors import UsageError

        raise UsageError("a run report must be a JSON object")
    report = _relative_inputs(report, base_dir)
    layers = [layer for layer in _list(report.get("layers")) if isinstance(layer, Mapping)]
    workload = _dict(report.get("workload"))
    arch = _dict(report.get("arch"))
    title = f"eiesim run: {workload.get('name', 'workload')} on {arch.get('name', 'EIE')}"
    subtitle_bits = []
    if "num_pes" in arch:
        subtitle_bits.append(f"{arch['num_pes']} PEs")
    if "clock_mhz" in arch:
        subtitle_bits.append(f"{fmt_num(arch['clock_mhz'])} MHz")
    if "tech_nm" in arch:
        subtitle_bits.append(f"{arch['tech_nm']} nm")
    if report.get("engine"):
        subtitle_bits.append(f"engine `{report['engine']}`")
    if report.get("eiesim_version"):
        subtitle_bits.append(f"eiesim {report['eiesim_version']}")
    doc = Document(title=title, subtitle=" · ".join(subtitle_bits), summary=_summary_cards(report))
    for build in (_warnings_section, _setup_section, _images_section, _check_section, _layers_section,
                  _breakdown_section, _utilisation_section, _energy_section,
                  _power_area_section, _sources_section):
        section = build(report, layers)
        if section is not None and section.blocks:
            doc.sections.append(section)
    context = f"{workload.get('name', 'workload')} on {arch.get('name', 'EIE')}" + (
        f" ({arch['num_pes']} PEs)" if "num_pes" in arch else "") + (
        f", eiesim {report['eiesim_version']}" if report.get("eiesim_version") else "")
    name_figures(doc, context)
    return doc


def _relative_inputs(report: Mapping[str, Any], base_dir: str | Path | None) -> Mapping[str, Any]:
    """The report with its input paths (``workload.input``, ``images[].input``) relative to ``base_dir``."""
    out = dict(report)
    workload = _dict(report.get("workload"))
    if isinstance(workload.get("input"), str):
        out["workload"] = {**workload, "input": relative_path(workload["input"], base_dir)}
    images = report.get("images")
    if isinstance(images, list):
        out["images"] = [{**img, "input": relative_path(img["input"], base_dir)}
                         if isinstance(img, Mapping) and isinstance(img.get("input"), str) else img for img in images]
    return out


def name_figures(doc: Document, context: str) -> None:
    """Start every figure's caption with what it shows (workload, architecture, version)."""
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                text = (block.caption or block.alt).rstrip(".")
                block.caption = f"{context}. {text}."


def _images_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    """Several images: each image's totals, and mean / min / max per layer and in total."""
    images = [img for img in _list(report.get("images")) if isinstance(img, Mapping)]
    stats = _dict(report.get("image_stats"))
    if len(images) < 2:
        return None
    sec = Section(f"Images ({len(images)})", "images")
    sec.blocks.append(Para("One simulation per image, each exactly as a run with that image alone (fixed-point "
                           "formats calibrated on it). The other sections of this page show the first image, "
                           f"`{images[0].get('input')}`."))
    rows = [[str(img.get("input")), fmt_int(img.get("cycles")), fmt_num(img.get("time_us")),
             fmt_num((_num(img.get("energy_pj")) or math.nan) / 1e6), fmt_num(img.get("frames_per_s")),
             str(img.get("functional", ""))] for img in images]
    totals = _dict(stats.get("totals"))
    footer_rows = []
    for stat in ("mean", "min", "max"):
        footer_rows.append([stat, fmt_int(_dict(totals.get("cycles")).get(stat)),
                            fmt_num(_dict(totals.get("time_us")).get(stat)),
                            fmt_num((_num(_dict(totals.get("energy_pj")).get(stat)) or math.nan) / 1e6),
                            fmt_num(_dict(totals.get("frames_per_s")).get(stat)), ""])
    sec.blocks.append(Table(["image", "cycles", "time (µs)", "energy (µJ)", "frames/s", "functional check"],
                            rows + footer_rows, [False, True, True, True, True, False],
                            marked_rows=set(range(len(rows), len(rows) + 3)),
                            caption="Per image; the highlighted rows are mean, min and max over the images."))
    layer_stats = [ls for ls in _list(stats.get("layers")) if isinstance(ls, Mapping)]
    if layer_stats:
        lrows = []
        for ls in layer_stats:
            c, d = _dict(ls.get("cycles")), _dict(ls.get("input_density"))
            mean = _num(c.get("mean"))
            rel = ((_num(c.get("max")) or 0.0) - (_num(c.get("min")) or 0.0)) / mean if mean else None
            lrows.append([str(ls.get("name")), fmt_int(c.get("mean")), fmt_int(c.get("min")), fmt_int(c.get("max")),
                          fmt_pct(rel), fmt_num(d.get("mean")), fmt_num(d.get("min")), fmt_num(d.get("max"))])
        sec.blocks.append(Table(["layer", "cycles mean", "cycles min", "cycles max", "spread (%)",
                                 "input density mean", "min", "max"], lrows,
                                [False] + [True] * 7,
                                caption="Per layer over the images: spread = (max - min) / mean of the cycles; input "
                                        "density = non-zero fraction of the layer's input."))
        sec.blocks.append(Figure(plots.range_bars(
            [str(ls.get("name")) for ls in layer_stats],
            [_num(_dict(ls.get("cycles")).get("mean")) or 0.0 for ls in layer_stats],
            [_num(_dict(ls.get("cycles")).get("min")) or 0.0 for ls in layer_stats],
            [_num(_dict(ls.get("cycles")).get("max")) or 0.0 for ls in layer_stats],
            title=f"Cycles per layer over {len(images)} images", ylabel="cycles"),
            "Bar chart of mean cycles per layer with min-max whiskers over the images",
            "Bars: mean over the images; whiskers: min to max"))
    return sec


# -- helpers ---------------------------------------------------------------------------

def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _sentence_start(words: str) -> str:
    """``"idle PEs"`` -> ``"Idle PEs"`` (only the first letter raised; ``str.capitalize`` would lower the rest)."""
    return words[:1].upper() + words[1:]


def _numbers(values: Mapping[Any, Any]) -> dict[str, float]:
    """The entries of ``values`` that are finite numbers (``_num``), keyed by their names as text, in order."""
    pairs = ((str(k), _num(v)) for k, v in values.items())
    return {k: v for k, v in pairs if v is not None}


def _merit(report: Mapping[str, Any], key: str) -> Any:
    """A figure of merit wherever a report version put it (top level, totals, or figures_of_merit)."""
    for where in (report, _dict(report.get("totals")), _dict(report.get("figures_of_merit"))):
        if key in where:
            return where[key]
    return None


def _summary_cards(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    totals = _dict(report.get("totals"))
    energy = _dict(report.get("energy"))
    power = _dict(report.get("power"))
    area = _dict(report.get("area"))
    check = _dict(report.get("check"))
    cards: list[tuple[str, str]] = []

    def add(label: str, value: Any, formatter=fmt_num) -> None:
        if value is not None:
            cards.append((label, formatter(value)))

    add("total cycles", totals.get("cycles"), fmt_int)
    add("time (µs)", totals.get("time_us"))
    add("frames/s", _merit(report, "frames_per_s"))
    total_pj = _num(energy.get("total_pj"))
    add("energy (µJ)", total_pj / 1e6 if total_pj is not None else None)
    add("chip power (mW)", power.get("chip_mw"))
    add("chip area (mm²)", area.get("chip_mm2"))
    add("frames/J", _merit(report, "frames_per_j"))
    add("GOP/s", _merit(report, "gop_per_s"))
    add("frames/s/mm²", _merit(report, "frames_per_s_per_mm2"))
    if "functional" in check:
        cards.append(("functional check", str(check["functional"])))
    return cards


# -- sections ----------------------------------------------------------------------------

def _setup_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section:
    sec = Section("Run set-up", "setup")
    workload = _dict(report.get("workload"))
    arch = _dict(report.get("arch"))
    totals = _dict(report.get("totals"))
    rows: list[list[str]] = []
    for key, label in (("name", "workload"), ("source", "workload source"), ("layers", "layers"),
                       ("nnz", "non-zero weights"), ("input", "input")):
        if key in workload:
            value = workload[key]
            if key == "layers" and isinstance(value, list):
                value = len(value)
            rows.append([label, fmt_int(value) if isinstance(value, (int, float)) else _short(value)])
    for key, label in (("name", "architecture"), ("num_pes", "PEs"), ("clock_mhz", "clock (MHz)"),
                       ("tech_nm", "technology (nm)"), ("fifo_depth", "activation FIFO depth (entries)"),
                       ("codebook_bits", "codebook index (bits)"), ("rel_index_bits", "relative index (bits)"),
                       ("datapath_bits", "datapath (bits)"), ("act_regs_per_pe", "activation registers per PE")):
        if key in arch:
            rows.append([label, _short(arch[key])])
    spmat = _dict(arch.get("spmat_sram"))
    if spmat:
        rows.append(["Spmat SRAM (bytes × bits wide)", f"{_short(spmat.get('size_bytes'))} × {_short(spmat.get('width_bits'))}"])
    if "engine" in report:
        rows.append(["engine", str(report["engine"])])
    if "macs" in totals:
        rows.append(["MACs (count)", fmt_int(totals["macs"])])
    if rows:
        sec.blocks.append(Table(["item", "value"], rows, [False, False]))
    if arch:
        sec.blocks.append(Code(json.dumps(arch, indent=2, sort_keys=True), "Resolved architecture (JSON)"))
    return sec


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 90 else text[:87] + "..."
    return MISSING if value is None else str(value)


def _check_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    check = _dict(report.get("check"))
    if not check:
        return None
    sec = Section("Functional check", "check")
    verdict = str(check.get("functional", "n/a"))
    cls = "pass" if verdict == "pass" else "fail" if verdict == "fail" else ""
    text = {"pass": "PASS: the simulated output activations equal the functional 16-bit fixed-point reference.",
            "fail": "FAIL: the simulated output activations differ from the functional 16-bit fixed-point reference."
            }.get(verdict, f"Functional check: {verdict}.")
    sec.blocks.append(Para(text, cls))
    rows = [[str(k), _short(v) if not isinstance(v, float) else fmt_num(v)] for k, v in check.items()
            if k != "functional"]
    if rows:
        sec.blocks.append(Table(["quantity", "value"], rows, [False, True]))
    return sec


#: Per-layer columns: key, header (with unit), formatter kind. Two tables keep each one readable.
_TIME_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("kind", "kind", "text"),
    ("cycles", "cycles", "int"),
    ("compute_cycles", "compute (cycles)", "int"),
    ("load_cycles", "load (cycles)", "int"),
    ("store_cycles", "store (cycles)", "int"),
    ("io_cycles", "I/O (cycles)", "int"),
    ("broadcast_stall_cycles", "bcast stalls (cycles)", "int"),
    ("time_us", "time (µs)", "num"),
    ("energy_pj", "energy (nJ)", "nj"),
)
_WORK_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("nonzero_activations", "non-zero acts (count)", "int"),
    ("entries_processed", "entries (count)", "int"),
    ("padding_entries", "padding (entries)", "int"),
    ("load_balance_efficiency", "load balance (%)", "pct"),
    ("time_efficiency", "time eff. (%)", "pct"),
    ("real_work_fraction", "real work (%)", "pct"),
)
_SUMMABLE = {"cycles", "compute_cycles", "load_cycles", "store_cycles", "io_cycles", "time_us",
             "nonzero_activations", "entries_processed", "padding_entries", "broadcast_stall_cycles", "energy_pj"}


def _energy_unit(max_pj: float) -> tuple[str, float]:
    """nJ, or µJ when values would pass 100,000 nJ: (unit, pJ per unit)."""
    return ("µJ", 1e6) if max_pj >= 1e8 else ("nJ", 1e3)


def _fmt_kind(kind: str, value: Any, energy_scale: float = 1e3) -> str:
    if kind == "int":
        return fmt_int(value)
    if kind == "pct":
        return fmt_pct(value)
    if kind == "nj":
        v = _num(value)
        return fmt_num(v / energy_scale) if v is not None else MISSING
    if kind == "num":
        return fmt_num(value)
    return MISSING if value is None else str(value)


def _layers_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    if not layers:
        return None
    sec = Section("Per-layer results", "layers")
    for columns, caption in (
            (_TIME_COLUMNS, "Time: one row per layer, in execution order; a layer's cycles = I/O + load + compute "
                            "+ store (phases never overlap)."),
            (_WORK_COLUMNS, "Work: entries include padding; load balance is the ALU utilisation during compute "
                            "(the total row weights it by compute cycles), time efficiency is ideal/actual time "
                            "over the whole layer, real work is real/all entries.")):
        table = _layer_table(layers, columns, caption)
        if table is not None:
            sec.blocks.append(table)
    series = {label: [(_num(layer.get(key)) or 0.0) for layer in layers]
              for key, label in CYCLE_PARTS if any(key in layer for layer in layers)}
    names = [str(layer.get("name", i)) for i, layer in enumerate(layers)]
    if series and any(sum(v) > 0 for v in series.values()):
        png = plots.stacked_bars(names, series, title="Cycles per layer by phase", ylabel="cycles")
        sec.blocks.append(Figure(png, "Stacked bar chart of cycles per layer split into compute, load, store and I/O",
                                 "Where each layer's cycles go: computing, loading activations/weights, storing "
                                 "outputs, and I/O mode (DRAM transfers)."))
    elif any("cycles" in layer for layer in layers):
        png = plots.bar_chart(names, [_num(layer.get("cycles")) or 0.0 for layer in layers],
                              title="Cycles per layer", ylabel="cycles")
        sec.blocks.append(Figure(png, "Bar chart of cycles per layer"))
    return sec


def _layer_table(layers: list[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]],
                 caption: str) -> Table | None:
    cols = [c for c in columns if any(c[0] in layer for layer in layers)]
    if not [c for c in cols if c[0] != "kind"]:
        return None
    unit, scale = _energy_unit(max((_num(layer.get("energy_pj")) or 0.0) for layer in layers))
    headers = ["layer"] + [h.replace("(nJ)", f"({unit})") for _, h, _ in cols]
    numeric = [False] + [kind != "text" for _, _, kind in cols]
    rows = [[str(layer.get("name", f"#{i}"))] + [_fmt_kind(kind, layer.get(key), scale) for key, _, kind in cols]
            for i, layer in enumerate(layers)]
    footer = ["total"]
    for key, _, kind in cols:
        values = [_num(layer.get(key)) for layer in layers]
        if key in _SUMMABLE and any(v is not None for v in values):
            footer.append(_fmt_kind(kind, sum(v for v in values if v is not None), scale))
        elif key == "load_balance_efficiency":
            footer.append(_fmt_kind(kind, _weighted(layers, key)))
        else:
            footer.append("")
    return Table(headers, rows, numeric, footer=footer, caption=caption)


def _weighted(layers: Sequence[Mapping[str, Any]], key: str) -> float | None:
    raw = [(_num(layer.get(key)), _num(layer.get("compute_cycles", layer.get("cycles")))) for layer in layers]
    pairs = [(v, w) for v, w in raw if v is not None and w]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def _breakdown_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    """Where each layer's cycles go (``layers[].cycle_breakdown.cycles``): a stacked bar per layer and the numbers.

    Reports written before the breakdown existed (schema version 2) have none: the section is left out.
    """
    with_parts = [(layer, _dict(_dict(layer.get("cycle_breakdown")).get("cycles"))) for layer in layers]
    with_parts = [(layer, parts) for layer, parts in with_parts if parts]
    if not with_parts:
        return None
    keys = [k for k in BREAKDOWN_PARTS if any(k in parts for _, parts in with_parts)]
    keys += sorted({str(k) for _, parts in with_parts for k in parts} - set(keys))  # parts of a later version
    names = [str(layer.get("name", i)) for i, (layer, _) in enumerate(with_parts)]
    groups = [_dict(layer.get("mapping")).get("pixel_groups") for layer, _ in with_parts]
    show_groups = any(g not in (None, 1) for g in groups)
    sec = Section("Where the cycles go", "cycle-breakdown")
    sec.blocks.append(Para(
        "Each layer's PE cycles (N PEs x the layer's cycles) split into parts, divided by N so that a layer's parts "
        "add up to its cycles; definitions in `docs/timing-model.md`, section \"Where the cycles go\". "
        + " ".join(f"{_sentence_start(components.BREAKDOWN_NAMES.get(k, k))}: {BREAKDOWN_PARTS[k]}."
                   for k in keys if k in BREAKDOWN_PARTS)
        + (" G: the layer's pixel groups (`mapping.pixel_groups`), each of N / G PEs." if show_groups else "")))
    series = {k: [_num(parts.get(k)) or 0.0 for _, parts in with_parts] for k in keys}
    totals = [sum(series[k][i] for k in keys) for i in range(len(with_parts))]
    sec.blocks.append(Figure(
        plots.stacked_bars(names, series, title="Where the cycles go, per layer", ylabel="cycles",
                           colors=BREAKDOWN_COLORS, names=components.BREAKDOWN_NAMES),
        "Stacked bar chart of each layer's cycles split into "
        + ", ".join(components.BREAKDOWN_NAMES.get(k, k) for k in keys),
        "One bar per layer, its height the layer's cycles; segments: the parts of the cycle breakdown."))
    shares = {k: [100.0 * v / total if total else 0.0 for v, total in zip(series[k], totals)] for k in keys}
    sec.blocks.append(Figure(
        plots.stacked_bars(names, shares, title="Where the cycles go, share of each layer",
                           ylabel="share of the layer's cycles (%)", colors=BREAKDOWN_COLORS,
                           names=components.BREAKDOWN_NAMES),
        "Stacked bar chart of each layer's cycle breakdown as shares of the layer's cycles",
        "The same parts as shares (100 % = the layer's cycles), so that small layers can be read too."))
    rows = []
    for (layer, parts), name, g in zip(with_parts, names, groups):
        cycles = _num(layer.get("cycles")) or sum(_num(parts.get(k)) or 0.0 for k in keys)
        rows.append([name] + ([MISSING if g is None else str(g)] if show_groups else []) + [fmt_int(cycles)]
                    + [_part_cell(parts.get(k), cycles) for k in keys])
    network = _dict(_dict(_dict(report.get("totals")).get("cycle_breakdown")).get("cycles"))
    if not network:
        network = {k: sum(_num(parts.get(k)) or 0.0 for _, parts in with_parts) for k in keys}
    total = _num(_dict(report.get("totals")).get("cycles")) or sum(_num(network.get(k)) or 0.0 for k in keys)
    footer = ["network"] + ([""] if show_groups else []) + [fmt_int(total)] + [_part_cell(network.get(k), total)
                                                                             for k in keys]
    sec.blocks.append(Table(["layer"] + (["G"] if show_groups else []) + ["cycles"]
                            + [f"{components.BREAKDOWN_NAMES.get(k, k)} (cycles, % of the layer)" for k in keys], rows,
                            [False] + [True] * (len(keys) + 1 + show_groups), footer=footer,
                            caption="A part's cycles are its PE cycles / N (rounded here; report.json holds the exact "
                                    "PE cycles), with its share of the layer's cycles."))
    return sec


def _part_cell(value: Any, cycles: float) -> str:
    v = _num(value)
    if v is None:
        return MISSING
    return f"{fmt_int(v)} ({fmt_pct(v / cycles) if cycles else MISSING} %)"


def _stalls(layer: Mapping[str, Any]) -> Mapping[str, Any]:
    """Chip totals of per-PE cycles by state (``stalls``, or ``stall_breakdown`` in engine reports)."""
    return _dict(layer.get("stalls")) or _dict(layer.get("stall_breakdown"))


def _utilisation_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    with_stalls = [layer for layer in layers if _stalls(layer)]
    if not with_stalls:
        return None
    sec = Section("PE utilisation", "utilisation")
    keys = [k for k in STALL_ORDER if any(k in _stalls(layer) for layer in with_stalls)]
    extra = sorted({k for layer in with_stalls for k in _stalls(layer)} - set(STALL_ORDER))
    keys += extra
    names = [str(layer.get("name", i)) for i, layer in enumerate(with_stalls)]
    fractions: dict[str, list[float]] = {k: [] for k in keys}
    rows = []
    for layer, name in zip(with_stalls, names):
        stalls = _stalls(layer)
        total = sum(_num(stalls.get(k)) or 0.0 for k in keys)
        row = [name, fmt_int(total)]
        for k in keys:
            frac = (_num(stalls.get(k)) or 0.0) / total if total else 0.0
            fractions[k].append(100.0 * frac)
            row.append(fmt_pct(frac))
        rows.append(row)
    sec.blocks.append(Para("During a layer's compute phases every PE cycle is in exactly one state; the bars show "
                           "each state's share of the PE cycles summed over all PEs. "
                           + " ".join(f"`{k}`: {STALL_MEANING[k]}." for k in keys if k in STALL_MEANING)))
    png = plots.stacked_bars(names, fractions, title="PE cycles by state, per layer", ylabel="share of PE cycles (%)",
                             colors=STALL_COLORS)
    sec.blocks.append(Figure(png, "Stacked bars of PE states (busy, empty, starved, stalled, drain) per layer",
                             "100 % = all PE cycles of the layer's compute phases; "
                             + ", ".join(f"{colour_name(STALL_COLORS[k])}: {k}" for k in keys if k in STALL_COLORS)
                             + f"; {colour_name(STALL_COLORS['busy'])} (busy) is work, padding entries included."))
    sec.blocks.append(Table(["layer", "PE cycles (sum over PEs)"] + [f"{k} (%)" for k in keys], rows,
                            [False] + [True] * (len(keys) + 1)))
    return sec


def _energy_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    energy = _dict(report.get("energy"))
    layer_comp = [_dict(layer.get("energy_by_component_pj")) for layer in layers]
    if not energy and not any(layer_comp):
        return None
    sec = Section("Energy", "energy")
    total_pj = _num(energy.get("total_pj"))
    facts = []
    if total_pj is not None:
        facts.append(f"Total energy {fmt_num(total_pj / 1e6)} µJ")
    on_chip, dram = _num(energy.get("on_chip_pj")), _num(energy.get("dram_pj"))
    if on_chip is not None and dram is not None and (on_chip + dram) > 0:
        facts.append(f"on chip {fmt_num(on_chip / 1e6)} µJ ({fmt_pct(on_chip / (on_chip + dram))} %), "
                     f"DRAM {fmt_num(dram / 1e6)} µJ ({fmt_pct(dram / (on_chip + dram))} %)")
    if facts:
        sec.blocks.append(Para("; ".join(facts) + "."))
    by_comp = {str(k): _num(v) for k, v in _dict(energy.get("by_component_pj")).items()}
    if not by_comp and any(layer_comp):
        for comp in layer_comp:
            for k, v in comp.items():
                by_comp[str(k)] = (by_comp.get(str(k)) or 0.0) + (_num(v) or 0.0)
    known = {k: v for k, v in by_comp.items() if v is not None}
    if known:
        ordered = sorted(known.items(), key=lambda kv: -kv[1])
        comp_total = sum(v for _, v in ordered)
        unit, scale = _energy_unit(max(v for _, v in ordered))
        comps = [k for k, _ in ordered]
        sec.blocks.append(Figure(
            plots.bar_chart([components.human_name(k) for k in comps], [v / scale for _, v in ordered],
                            horizontal=True, title="Energy by component (whole run)", ylabel=f"energy ({unit})",
                            colors=[components.colour_of(k) for k in comps], legend=_part_legend(comps)),
            "Horizontal bar chart of energy by component",
            "Energy of each component over the whole run; the colour gives the part of the chip: "
            + components.colour_legend(comps) + "."))
        sec.blocks.append(Table(["component", "part of the chip", f"energy ({unit})", "share (%)"],
                                [[components.human_name(k), components.part_of(k), fmt_num(v / scale),
                                  fmt_pct(v / comp_total if comp_total else math.nan)]
                                 for k, v in ordered], [False, False, True, True],
                                footer=["total", "", fmt_num(comp_total / scale), "100.0" if comp_total else ""]))
    if any(layer_comp):
        parts: dict[str, list[float]] = {}
        comps_seen: set[str] = set()
        for i, comp in enumerate(layer_comp):
            for k, v in comp.items():
                comps_seen.add(str(k))
                parts.setdefault(components.part_of(str(k)), [0.0] * len(layer_comp))[i] += _num(v) or 0.0
        unit, scale = _energy_unit(max(sum((_num(v) or 0.0) for v in comp.values()) for comp in layer_comp))
        order = [p for p in components.PART_COLOURS if p in parts]
        series = {p: [v / scale for v in parts[p]] for p in order}
        names = [str(layer.get("name", i)) for i, layer in enumerate(layers)]
        sec.blocks.append(Figure(
            plots.stacked_bars(names, series, title="Energy per layer by part of the chip", ylabel=f"energy ({unit})",
                               colors=components.PART_COLOURS),
            "Stacked bar chart of energy per layer split by part of the chip",
            "Each bar is one layer's energy, split by part of the chip (the table above lists the components of "
            "each part): " + components.colour_legend(comps_seen) + "."))
    elif any("energy_pj" in layer for layer in layers):
        names = [str(layer.get("name", i)) for i, layer in enumerate(layers)]
        sec.blocks.append(Figure(plots.bar_chart(names, [(_num(layer.get("energy_pj")) or 0.0) / 1e3 for layer in layers],
                                                 title="Energy per layer", ylabel="energy (nJ)"),
                                 "Bar chart of energy per layer"))
    return sec


def _part_legend(names: Sequence[str]) -> dict[str, str]:
    """Part of the chip -> colour, for the parts the components belong to (legend order)."""
    present = {components.part_of(n) for n in names}
    return {part: colour for part, colour in components.PART_COLOURS.items() if part in present}


def _power_area_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    power, area = _dict(report.get("power")), _dict(report.get("area"))
    merits = [(k, _merit(report, k)) for k in ("frames_per_s", "frames_per_j", "gop_per_s", "frames_per_s_per_mm2")]
    merits = [(k, v) for k, v in merits if v is not None]
    if not power and not area and not merits:
        return None
    sec = Section("Power, area and figures of merit", "power-area")
    rows = []
    labels = {"per_pe_mw": "average power per PE (mW)", "chip_mw": "average chip power (mW)",
              "pe_um2": "area per PE (µm²)", "chip_mm2": "chip area (mm²)",
              "frames_per_s": "throughput (frames/s)", "frames_per_j": "energy efficiency (frames/J)",
              "gop_per_s": "performance (GOP/s)", "frames_per_s_per_mm2": "area efficiency (frames/s/mm²)"}
    for key in ("per_pe_mw", "chip_mw"):
        if key in power:
            rows.append([labels[key], fmt_num(power[key])])
    for key in ("pe_um2", "chip_mm2"):
        if key in area:
            rows.append([labels[key], fmt_num(area[key])])
    rows += [[labels[k], fmt_num(v)] for k, v in merits]
    if rows:
        sec.blocks.append(Table(["quantity", "value"], rows, [False, True]))
    modules = _numbers(_dict(area.get("pe_by_module_um2")))
    if modules:
        ordered = sorted(modules.items(), key=lambda kv: -kv[1])
        total = sum(v for _, v in ordered)
        mods = [k for k, _ in ordered]
        sec.blocks.append(Figure(plots.bar_chart([components.human_name(k) for k in mods], [v for _, v in ordered],
                                                 horizontal=True, title="PE area by module", ylabel="area (µm²)",
                                                 colors=[components.colour_of(k) for k in mods],
                                                 legend=_part_legend(mods)),
                                 "Horizontal bar chart of PE area by module",
                                 "Area of one PE by module; the colour gives the part of the chip: "
                                 + components.colour_legend(mods) + "."))
        sec.blocks.append(Table(["module", "area (µm²)", "share of PE (%)"],
                                [[components.human_name(k), fmt_num(v), fmt_pct(v / total if total else math.nan)]
                                 for k, v in ordered],
                                [False, True, True], caption="Area of one PE by module"))
    pmod = _numbers(_dict(power.get("per_pe_by_module_mw")))
    if pmod:
        total = sum(pmod.values())
        sec.blocks.append(Table(["module", "average power per PE (mW)", "share (%)"],
                                [[components.human_name(k), fmt_num(v), fmt_pct(v / total if total else math.nan)]
                                 for k, v in sorted(pmod.items(), key=lambda kv: -kv[1])],
                                [False, True, True], caption="Average power of one PE by module over the run"))
    types = _numbers(_dict(area.get("pe_by_type_um2")))
    if types:
        total = sum(types.values())
        sec.blocks.append(Table(["cell type", "area (µm²)", "share of PE (%)"],
                                [[k, fmt_num(v), fmt_pct(v / total if total else math.nan)]
                                 for k, v in sorted(types.items(), key=lambda kv: -kv[1])],
                                [False, True, True], caption="Area of one PE by cell type"))
    return sec


def _warnings_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section | None:
    """Every warning of the run (e.g. SRAM sizes outside the CACTI grid, priced by extrapolation)."""
    warnings = [str(w) for w in _list(report.get("warnings")) if w]
    if not warnings:
        return None
    sec = Section("Warnings", "warnings")
    sec.blocks.append(Para(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}: the numbers they concern "
                           "are estimates outside the range the model was built on.", "fail"))
    for text in warnings:
        sec.blocks.append(Para(text, "note"))
    return sec


def _sources_section(report: Mapping[str, Any], layers: list[Mapping[str, Any]]) -> Section:
    sec = Section("Where the numbers come from", "sources")
    engine = report.get("engine", "fast")
    sec.blocks.append(Para(
        f"Cycles and every per-layer statistic come from eiesim's `{engine}` engine, which applies the timing "
        "rules written down in `docs/timing-model.md` (broadcast of one non-zero activation per cycle, "
        "per-PE FIFOs, one entry per cycle per PE, padding entries, rounds and I/O mode). The `fast` and `event` "
        "engines are tested to give identical numbers."))
    sec.blocks.append(Para(
        "The field names and their exact definitions (load-balance efficiency, time efficiency, real-work "
        "fraction, the PE states) are in `docs/report-schema.md`; this page is rendered from the run's "
        "`report.json` and shows nothing that is not in it."))
    if any(k in report for k in ("energy", "power", "area")):
        origin = report.get("cost_model_provenance") or "see docs/cost-model.md"
        sec.blocks.append(Para(
            f"Energy, power and area price the engine's action counts with the `{report.get('cost_model', '?')}` "
            f"cost model in `eiesim/costs/`: {origin}. Every constant, its unit and its source are documented with "
            "the cost model."))
    sec.blocks.append(Para("The architecture parameters and their units are listed in `docs/arch-parameters.md` "
                           "(`eiesim params` prints the same table)."))
    return sec
