"""The report of ``eiesim reproduce squeezenet-mapping``: one Document (Markdown and HTML), its figures, the files of --out.

Built from the dict ``eiesim.reproduce.squeezenet_mapping.mapping_study`` returns, so the
terminal, the JSON and the report show the same numbers. ``--out DIR`` holds report.md,
report.html (both self-contained), results.json and every figure as SVG, PDF and PNG
(``OUT_FILES``); the directory is replaced as a whole.
"""

from __future__ import annotations

import json
from typing import Any, cast

from eiesim.render.document import Document, Figure, Para, Section, Table, fmt_int, fmt_num, render
from eiesim.render.plots import PALETTE, PlotImage, line_plot, stacked_bar_panels

#: Figure file stems of --out, in report order.
FIGURE_STEMS = ("fig01-cycle-breakdown-per-layer", "fig02-speedup-vs-g", "fig03-sram-per-pe-vs-g", "fig04-area-vs-g")
FIGURE_FORMATS = ("svg", "pdf", "png")
#: Every file --out writes: an existing directory holding anything else is not replaced.
OUT_FILES = ("report.md", "report.html", "results.json",
             *(f"{stem}.{fmt}" for stem in FIGURE_STEMS for fmt in FIGURE_FORMATS))

#: Short names of the breakdown parts (tables and figures); the parts are timing.contract.BREAKDOWN_PARTS.
PART_LABELS = {"ideal": "ideal", "idle_pes": "idle PEs", "imbalance": "imbalance", "finder": "finder",
               "drain": "drain", "load": "load", "store": "store", "io": "I/O"}
PART_COLORS = {"ideal": PALETTE[2], "idle_pes": PALETTE[7], "imbalance": PALETTE[1], "finder": PALETTE[3],
               "drain": PALETTE[4], "load": PALETTE[0], "store": PALETTE[5], "io": PALETTE[6]}


def workload_tag(study: dict[str, Any]) -> str:
    """'real DC SqueezeNet', 'SYNTHETIC SqueezeNet' or the workload's name: the label every title and caption carries."""
    kind = study["workload"]["kind"]
    if kind == "real":
        return "real DC SqueezeNet"
    return "SYNTHETIC SqueezeNet" if kind == "synthetic" else str(study["workload"]["name"])


def row_by_label(study: dict[str, Any], label: str) -> dict[str, Any]:
    return next(r for r in study["rows"] if r["label"] == label)


def breakdown_rows(study: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows whose per-layer breakdown the study shows: G = 1 and auto (when it ran)."""
    from eiesim.reproduce.squeezenet_mapping import AUTO_LABEL

    return [r for r in study["rows"] if r["pixel_groups"] == 1 or r["label"] == AUTO_LABEL]


def caption(study: dict[str, Any]) -> str:
    w, a = study["workload"], study["arch"]
    return (f"{w['label']}; {a['file']} ({a['num_pes']} PEs, {a['clock_mhz']:g} MHz), image {study['image']}, "
            f"{study['engine']} engine. eiesim reproduce squeezenet-mapping.")


# -- figures ---------------------------------------------------------------------------------

def figures(study: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """(file stem, alt text, PNG image) of every figure, in ``FIGURE_STEMS`` order."""
    from eiesim.reproduce.squeezenet_mapping import AUTO_LABEL, AUTO_PUBLISHED_LABEL

    tag = workload_tag(study)
    shown = breakdown_rows(study)
    layers = [layer["name"] for layer in shown[0]["layers"]]
    panels = {f"{r['label']}: {fmt_int(r['cycles'])} cycles": {
        PART_LABELS[p]: [layer["cycle_breakdown"].get(p, 0.0) / 1e3 for layer in r["layers"]]
        for p in study["breakdown_parts"]} for r in shown}
    colors = {PART_LABELS[p]: PART_COLORS.get(p, PALETTE[0]) for p in study["breakdown_parts"]}
    breakdown = stacked_bar_panels(layers, panels, title=f"Where the cycles go, per layer ({tag})",
                                   ylabel="thousand cycles", colors=colors)
    fixed = [r for r in study["rows"] if isinstance(r["pixel_groups"], int)]
    gs = [r["pixel_groups"] for r in fixed]
    span = (gs[0], gs[-1])
    autos = [r for r in study["rows"] if r["label"] in (AUTO_LABEL, AUTO_PUBLISHED_LABEL)]
    cap = study["bound"]["speedup_cap"]
    speed_series = {"total cycles, fixed G": (gs, [r["speedup"] for r in fixed]),
                    "compute cycles, fixed G": (gs, [r["compute_speedup"] for r in fixed])}
    for r in autos:
        speed_series[f"{r['label']} (total)"] = (list(span), [r["speedup"]] * 2)
    speed = line_plot(speed_series, title=f"Speedup over G = 1 vs pixel groups ({tag})", xlabel="pixel groups G",
                      ylabel="speedup over G = 1 (x)", logx=True, xticks=gs,
                      reference=(f"cap: G = 1 compute / bound = {cap:.3f}x", list(span), [cap, cap]))
    pub = study["arch"]
    sram_series = {"Spmat, fixed G": (gs, [r["spmat_bytes_per_pe"] / 1024 for r in fixed]),
                   "pointers, fixed G": (gs, [r["ptr_bytes_per_pe"] / 1024 for r in fixed])}
    for r in autos:
        sram_series[f"Spmat, {r['label']}"] = (list(span), [r["spmat_bytes_per_pe"] / 1024] * 2)
    sram = line_plot(sram_series, title=f"Per-PE SRAM the weights need vs G ({tag})", xlabel="pixel groups G",
                     ylabel="KB per PE", logx=True, xticks=gs,
                     reference=(f"published Spmat SRAM ({pub['published_spmat_bytes_per_pe'] // 1024} KB)",
                                list(span), [pub["published_spmat_bytes_per_pe"] / 1024] * 2),
                     annotate=[(span[0], pub["published_ptr_bytes_per_pe"] / 1024,
                                f"published pointer SRAM: {pub['published_ptr_bytes_per_pe'] // 1024} KB")])
    area_series = {"fixed G, SRAMs sized to fit (auto)": (gs, [r["chip_mm2"] for r in fixed])}
    for r in autos:
        area_series[f"{r['label']}" + (" (SRAMs auto)" if r["srams"] == "auto" else "")] = (
            list(span), [r["chip_mm2"]] * 2)
    area = line_plot(area_series, title=f"Chip area vs G ({tag})", xlabel="pixel groups G", ylabel="chip area (mm²)",
                     logx=True, xticks=gs)
    return [(FIGURE_STEMS[0], "Cycle breakdown per layer, G = 1 and auto", breakdown),
            (FIGURE_STEMS[1], "Speedup over G = 1 vs pixel groups", speed),
            (FIGURE_STEMS[2], "Per-PE SRAM needed vs pixel groups", sram),
            (FIGURE_STEMS[3], "Chip area vs pixel groups", area)]


# -- the document ----------------------------------------------------------------------------

def _figure(image: tuple[str, str, bytes], note: str) -> Figure:
    return Figure(image[2], image[1], f"{image[1]}. {note}")


def _mj(pj: float) -> str:
    return f"{pj / 1e9:.3f}"


def build_document(study: dict[str, Any], images: list[tuple[str, str, bytes]] | None = None) -> Document:
    """The study as a Document: the rows, the energy split, each layer's G, the breakdowns, the figures."""
    images = figures(study) if images is None else images
    tag = workload_tag(study)
    bound = study["bound"]
    rows = study["rows"]
    note = caption(study)
    doc = Document(
        title=f"SqueezeNet on EIE: where the cycles go, and pixel groups ({tag})",
        subtitle=f"Workload: {study['workload']['label']}. Architecture: `{study['arch']['file']}`, image "
                 f"`{study['image']}`. Generated by `eiesim reproduce squeezenet-mapping`; every number is measured "
                 "by the simulator (a prediction: no published number exists for this network on EIE).",
        summary=[("workload", tag), ("G = 1 cycles", fmt_int(rows[0]["cycles"])),
                 ("bound (ideal compute)", fmt_int(bound["ideal_compute_cycles"])),
                 ("speedup cap (compute)", f"{bound['speedup_cap']:.3f}x")]
        + [(f"{r['label']} speedup", f"{r['speedup']:.3f}x") for r in rows if not isinstance(r["pixel_groups"], int)])
    main = Section("The mappings", "rows")
    main.blocks.append(Para(
        f"The bound is the work at perfect balance: {fmt_int(bound['entries_processed'])} entries issued at G = 1 "
        f"over {bound['num_pes']} PEs = {fmt_int(bound['ideal_compute_cycles'])} cycles (the `ideal` part of the "
        f"cycle breakdown). G = 1 takes {fmt_int(bound['g1_compute_cycles'])} compute cycles, so no mapping of this "
        f"work can speed the compute phase up by more than {bound['speedup_cap']:.3f}x. 'gap won' is the share of "
        "the G = 1 gap between compute cycles and the bound that the row recovers. The fixed-G rows and `auto` size "
        "their SRAMs to fit (`spmat_sram.size_bytes=auto`, `ptr_sram.size_bytes=auto`), so their area follows "
        "their storage; 'auto, published SRAMs' keeps the chip as built."))
    main.blocks.append(Table(
        ["mapping", "cycles", "compute cycles", "speedup", "compute speedup", "compute / bound", "gap won (%)",
         "ideal (row's own)", "pointer reads", "energy (mJ)", "Spmat per PE (B)", "pointers per PE (B)",
         "fits published SRAMs", "SRAM sizes", "chip area (mm²)", "functional"],
        [[r["label"], fmt_int(r["cycles"]), fmt_int(r["compute_cycles"]), f"{r['speedup']:.3f}",
          f"{r['compute_speedup']:.3f}", f"{r['compute_over_bound']:.3f}", f"{100 * r['gap_recovered']:.1f}",
          fmt_int(r["ideal_cycles"]), fmt_int(r["ptr_reads"]), _mj(r["energy_pj"]), fmt_int(r["spmat_bytes_per_pe"]),
          fmt_int(r["ptr_bytes_per_pe"]), "yes" if r["fits_published_srams"] else "no", r["srams"],
          fmt_num(r["chip_mm2"]), str(r["functional"] or "not checked")] for r in rows],
        numeric=[False] + [True] * 11 + [False, False, True, False],
        caption=f"Published SRAMs per PE: {fmt_int(study['arch']['published_spmat_bytes_per_pe'])} B Spmat, "
                f"{fmt_int(study['arch']['published_ptr_bytes_per_pe'])} B pointers. Energy and area are the cost "
                "model's pricing of each run (docs/cost-model.md)."))
    main.blocks.append(_figure(images[1], note))
    main.blocks.append(_figure(images[2], note))
    main.blocks.append(_figure(images[3], note))
    energy = Section("Energy by component", "energy")
    comps = list(rows[0]["energy_by_component_pj"])
    energy.blocks.append(Table(
        ["component"] + [r["label"] for r in rows],
        [[c] + [_mj(r["energy_by_component_pj"].get(c, 0.0)) for r in rows] for c in comps],
        numeric=[False] + [True] * len(rows), footer=["total"] + [_mj(r["energy_pj"]) for r in rows],
        caption="mJ per inference: the engine's action counts priced by the cost model."))
    groups = Section("G per layer", "groups")
    autos = [r for r in rows if not isinstance(r["pixel_groups"], int)]
    base = rows[0]
    groups.blocks.append(Table(
        ["layer", "pixels", "G = 1 cycles"] + [h for r in autos for h in (f"{r['label']}: G", f"{r['label']}: cycles")],
        [[layer["name"], fmt_int(layer["pixels"]), fmt_int(layer["cycles"])]
         + [v for r in autos for v in (str(r["layers"][i]["pixel_groups"]), fmt_int(r["layers"][i]["cycles"]))]
         for i, layer in enumerate(base["layers"])],
        numeric=[False] + [True] * (2 + 2 * len(autos)),
        caption="The G `auto` chose for each layer: the fastest power of two dividing N whose replicas fit; "
                "under the published SRAMs the greedy reduction lowers G where the replicas would not fit."))
    breakdown = Section("Where the cycles go", "breakdown")
    parts = list(study["breakdown_parts"])
    breakdown.blocks.append(Para("Each layer's cycles split into parts that add up to its cycles "
                                 "(docs/timing-model.md, \"Where the cycles go\"): "
                                 + "; ".join(f"{PART_LABELS.get(p, p)}: {d}" for p, d in study["breakdown_parts"].items())
                                 + "."))
    breakdown.blocks.append(Table(
        ["mapping"] + [PART_LABELS.get(p, p) for p in parts] + ["total"],
        [[r["label"]] + [fmt_int(r["cycle_breakdown"].get(p, 0.0)) for p in parts] + [fmt_int(r["cycles"])]
         for r in rows],
        numeric=[False] + [True] * (len(parts) + 1), caption="The network's cycles by part, every row."))
    for r in breakdown_rows(study):
        breakdown.blocks.append(Table(
            ["layer", "G"] + [PART_LABELS.get(p, p) for p in parts] + ["total"],
            [[layer["name"], str(layer["pixel_groups"])]
             + [fmt_int(layer["cycle_breakdown"].get(p, 0.0)) for p in parts] + [fmt_int(layer["cycles"])]
             for layer in r["layers"]],
            numeric=[False] + [True] * (len(parts) + 2),
            footer=["network", ""] + [fmt_int(r["cycle_breakdown"].get(p, 0.0)) for p in parts]
            + [fmt_int(r["cycles"])],
            caption=f"{r['label']}: cycles per layer by part."))
    breakdown.blocks.append(_figure(images[0], note))
    doc.sections = [main, energy, groups, breakdown]
    warnings = sorted({w for r in rows for w in r["warnings"]})
    if warnings:
        doc.sections.append(Section("Warnings", "warnings", [Para(w) for w in warnings]))
    return doc


def results_json(study: dict[str, Any]) -> str:
    """The JSON of --json and of --out's results.json."""
    return json.dumps(study, indent=2) + "\n"


def out_files(study: dict[str, Any]) -> dict[str, str | bytes]:
    """Every file of --out DIR by name (``OUT_FILES``): the report twice, the JSON, each figure in each format."""
    images = figures(study)
    doc = build_document(study, images)
    files: dict[str, str | bytes] = {"report.md": render(doc, "md"), "report.html": render(doc, "html"),
                                     "results.json": results_json(study)}
    note = caption(study)
    for stem, _alt, image in images:
        for fmt in FIGURE_FORMATS:
            # the plot functions are typed to return bytes; they return a PlotImage, which also saves SVG / PDF
            files[f"{stem}.{fmt}"] = cast(PlotImage, image).save(fmt, note)
    return files
