"""The report of ``eiesim reproduce squeezenet-winograd``: one Document (Markdown and HTML) and the files of --out.

Built from the dict ``eiesim.reproduce.squeezenet_winograd.winograd_study`` returns, so the
terminal, the JSON and the report show the same numbers. ``--out DIR`` holds report.md,
report.html and results.json (``OUT_FILES``); the directory is replaced as a whole.
"""

from __future__ import annotations

import json
from typing import Any

from eiesim.render.document import Document, Para, Section, Table, fmt_int, fmt_num, render

#: Every file --out writes.
OUT_FILES = ("report.md", "report.html", "results.json")


def tag(study: dict[str, Any]) -> str:
    return "SYNTHETIC SqueezeNet" if study["workload"]["kind"] == "synthetic" else str(study["workload"]["name"])


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}x"


def run_table(study: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The whole network, one row per run."""
    head = ["run", "cycles", "compute", "energy (mJ)", "chip mm²", "Spmat B/PE", "ptr B/PE", "fits published",
            "3x3 cycles", "3x3 real MACs", "transform adds", "functional", "top-1"]
    rows = [[r["label"], fmt_int(r["cycles"]), fmt_int(r["compute_cycles"]), f"{r['energy_pj'] / 1e9:.3f}",
             fmt_num(r["chip_mm2"]), fmt_int(r["spmat_bytes_per_pe"]), fmt_int(r["ptr_bytes_per_pe"]),
             "yes" if r["fits_published_srams"] else "no", fmt_int(r["layers3x3_total"]["cycles"]),
             fmt_int(r["layers3x3_total"]["real_macs"]), fmt_int(r["layers3x3_total"]["transform_adds"]),
             str(r["functional"] or "not checked"), str(r["top1"])] for r in study["runs"]]
    return head, rows


def layer_table(run: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One run's 3 x 3 layers: multiplies, densities, storage, cycles and their breakdown, energy."""
    parts = ("ideal", "idle_pes", "imbalance", "finder", "drain", "load", "store", "io")
    head = ["layer", "G", "dense mults", "real MACs", "padding", "weight dens.", "act. dens.", "Spmat B/PE", "ptr B/PE",
            "cycles", *parts, "energy (uJ)"]
    rows = []
    for r in [*run["layers3x3"], {**run["layers3x3_total"], "name": "all 3x3", "pixel_groups": "",
                                  "weight_density": None, "activation_density": None}]:
        rows.append([r["name"], str(r["pixel_groups"]), fmt_int(r["dense_multiplies"]), fmt_int(r["real_macs"]),
                     fmt_int(r["padding_entries"]),
                     "-" if r["weight_density"] is None else f"{r['weight_density']:.3f}",
                     "-" if r["activation_density"] is None else f"{r['activation_density']:.3f}",
                     fmt_int(r["spmat_bytes_per_pe"]), fmt_int(r["ptr_bytes_per_pe"]), fmt_int(r["cycles"]),
                     *(fmt_int(r["cycle_breakdown"].get(p, 0.0)) for p in parts),
                     f"{(r['energy_pj'] or 0) / 1e6:.1f}"])
    return head, rows


def comparison_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    head = ["layer", "dense bound", "real MACs", "compute cycles", "cycles", "energy", "storage x",
            "weight dens. im2col -> W", "act. dens. im2col -> W"]
    out = []
    for r in rows:
        dens = ("-", "-") if "weight_density_im2col" not in r else (
            f"{r['weight_density_im2col']:.3f} -> {r['weight_density_winograd']:.3f}",
            f"{r['act_density_im2col']:.3f} -> {r['act_density_winograd']:.3f}")
        out.append([r["name"], _ratio(r["dense_ratio"]), _ratio(r["mac_ratio"]), _ratio(r["compute_ratio"]),
                    _ratio(r["cycle_ratio"]), _ratio(r["energy_ratio"]), f"{r['storage_ratio']:.2f}", *dens])
    return head, out


def functional_table(study: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["layer", "float max |err|", "float max |y|", "fixed max |diff|", "fixed bound (LSB)",
            "fixed diff (LSB)", "within bound"]
    rows = [[r["name"], fmt_num(r["float_max_abs_error"]), fmt_num(r["float_max_abs_output"]),
             fmt_num(r["fixed_max_abs_diff"]), fmt_int(r["fixed_bound_max_lsb"]), fmt_int(r["fixed_max_abs_diff_lsb"]),
             "yes" if r["fixed_within_bound"] else "NO"] for r in study["functional"]["layers"]]
    return head, rows


def repruned_table(study: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["layer", "weight dens.", "unpruned dens.", "real mults", "unpruned real mults", "float max |err|",
            "float max |y|"]
    rows = [[r["name"], f"{r['weight_density']:.3f}", f"{r['weight_density_unpruned']:.3f}",
             fmt_int(r["real_multiplies"]), fmt_int(r["real_multiplies_unpruned"]), fmt_num(r["float_max_abs_error"]),
             fmt_num(r["float_max_abs_output"])] for r in study["functional"].get("repruned", [])]
    return head, rows


def summary(study: dict[str, Any]) -> str:
    """The paragraph a paper could quote, every number from the study."""
    by = {r["label"]: r for r in study["runs"]}
    base, wino = by["im2col"], by["winograd"]
    base_g, wino_g = by["im2col, G auto"], by["winograd, G auto"]
    c1, cg = study["comparison"]["G = 1"][-1], study["comparison"]["G auto"][-1]
    layers = study["comparison"]["G = 1"][:-1]
    wd = [r["weight_density_winograd"] / r["weight_density_im2col"] for r in layers]
    ad = [r["act_density_winograd"] / r["act_density_im2col"] for r in layers]
    f = study["functional"]
    wins = [r["name"] for r in layers if (r["cycle_ratio"] or 0) > 1]
    losses = [r["name"] for r in layers if (r["cycle_ratio"] or 0) <= 1]
    return (
        f"On {tag(study)} ({study['arch']['num_pes']} PEs, photo {study['image']}), Winograd F(2x2, 3x3) cuts the "
        f"dense multiplies of the eight 3x3 expand layers by {c1['dense_ratio']:.2f}x (2.25x less the odd map "
        f"edges), but the real multiplies EIE does go from {fmt_int(base['layers3x3_total']['real_macs'])} to "
        f"{fmt_int(wino['layers3x3_total']['real_macs'])} ({_more_or_fewer(c1['mac_ratio'])}): the transformed weights are "
        f"{min(wd):.2f}-{max(wd):.2f}x denser than the pruned kernels and the transformed inputs "
        f"{min(ad):.2f}-{max(ad):.2f}x denser than the ReLU outputs. With one pixel group the 3x3 layers take "
        f"{fmt_int(base['layers3x3_total']['cycles'])} cycles with im2col and "
        f"{fmt_int(wino['layers3x3_total']['cycles'])} with Winograd ({c1['cycle_ratio']:.2f}x; the whole network "
        f"{fmt_int(base['cycles'])} vs {fmt_int(wino['cycles'])}); Winograd is faster on {_names(wins)} and "
        f"slower on {_names(losses)}; energy {base['energy_pj'] / 1e9:.2f} vs "
        f"{wino['energy_pj'] / 1e9:.2f} mJ. Cycles are not multiplies: an im2col round is one output pixel "
        f"(C_out rows, 9 C_in columns), and {100 * _waiting(base):.0f} % of the 3x3 layers' PE cycles go to "
        f"waiting for the finder and draining the pipeline, against {100 * _waiting(wino):.0f} % for Winograd's "
        f"16x taller and wider rounds. But those rounds carry padding: a column of tile position xn holds entries only "
        f"in the rows of position xn, which lie past the other positions' rows in each PE, and a relative index "
        f"spans at most 15 rows, so {fmt_int(wino['layers3x3_total']['padding_entries'])} padding entries "
        f"({100 * _share(wino, 'padding_entries', 'entries_processed'):.0f} % of the Winograd layers' entries, "
        f"against {100 * _share(base, 'padding_entries', 'entries_processed'):.0f} % with im2col) are issued. "
        f"The weights need {c1['storage_ratio']:.2f}x the SRAM of the 3x3 "
        f"layers' im2col encoding ({fmt_int(wino['spmat_bytes_per_pe'])} vs {fmt_int(base['spmat_bytes_per_pe'])} "
        f"Spmat bytes per PE for the network). With pixel groups (auto) both speed up, im2col more, and "
        f"Winograd is slower: {fmt_int(base_g['cycles'])} vs {fmt_int(wino_g['cycles'])} cycles "
        f"({cg['cycle_ratio']:.2f}x on the 3x3 layers). One shared 256-entry codebook for the transformed weights "
        f"keeps the top-1 class of {f['top1_agree']} of {f['photos']} bundled photos; the Winograd layers' float "
        f"error against the direct convolution is up to {100 * _worst_error(f):.1f} % of their largest output, "
        "all of it from that sharing (with the exact G g Gᵀ the error is at float rounding). Accuracy with "
        "Winograd-domain weights would need retraining: pruning the transformed weights back to the kernels' "
        f"density without it keeps the top-1 class of {f.get('repruned_top1_agree', 0)} of {f['photos']} photos."
        + _repruned_sentence(study))


def _repruned_sentence(study: dict[str, Any]) -> str:
    """The re-pruned runs' timing, when the study has them (issue 25 item 4)."""
    by = {r["label"]: r for r in study["runs"]}
    if "winograd re-pruned" not in by or "G = 1, re-pruned" not in study["comparison"]:
        return ""
    base, pruned = by["im2col"], by["winograd re-pruned"]
    c = study["comparison"]["G = 1, re-pruned"][-1]
    text = (f" Timed, the re-pruned 3x3 layers do {fmt_int(pruned['layers3x3_total']['real_macs'])} real multiplies "
            f"({_more_or_fewer(c['mac_ratio'])} than im2col) in {fmt_int(pruned['layers3x3_total']['cycles'])} cycles "
            f"({_faster_or_slower(c['cycle_ratio'])} than im2col; the whole network {fmt_int(pruned['cycles'])} cycles, "
            f"{pruned['energy_pj'] / 1e9:.2f} mJ, {fmt_int(pruned['spmat_bytes_per_pe'])} Spmat bytes per PE against "
            f"{fmt_int(base['spmat_bytes_per_pe'])})")
    pruned_g, cg = by.get("winograd re-pruned, G auto"), study["comparison"].get("G auto, re-pruned")
    if pruned_g is not None and cg is not None:
        text += (f", and with pixel groups (auto) {fmt_int(pruned_g['cycles'])} cycles against im2col's "
                 f"{fmt_int(by['im2col, G auto']['cycles'])} ({_faster_or_slower(cg[-1]['cycle_ratio'])} on the 3x3 "
                 "layers)")
    return text + ": the speed a retrained Winograd-domain model of that density could have, not an accuracy."


def _more_or_fewer(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x fewer" if ratio >= 1 else f"{1 / ratio:.2f}x more"


def _faster_or_slower(ratio: float | None) -> str:
    """``ratio``: im2col's cycles over Winograd's."""
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"


def _worst_error(functional: dict[str, Any]) -> float:
    return max((r["float_max_abs_error"] / r["float_max_abs_output"] for r in functional["layers"]
                if r["float_max_abs_output"]), default=0.0)


def _share(run: dict[str, Any], part: str, whole: str) -> float:
    t = run["layers3x3_total"]
    return t[part] / t[whole] if t[whole] else 0.0


def _waiting(run: dict[str, Any]) -> float:
    """Share of the 3x3 layers' cycles spent on the finder and the drain (the cycle breakdown)."""
    b = run["layers3x3_total"]["cycle_breakdown"]
    total = sum(b.values())
    return (b.get("finder", 0.0) + b.get("drain", 0.0)) / total if total else 0.0


def _names(names: list[str]) -> str:
    return ", ".join(n.split("/")[0] for n in names) or "none"


def build_document(study: dict[str, Any]) -> Document:
    doc = Document(
        title=f"Winograd F(2x2, 3x3) convolution on EIE ({tag(study)})",
        subtitle=f"Workload: {study['workload']['label']}. Chip: {study['arch']['name']}, SRAM sizes auto (fits "
                 f"published = within {fmt_int(study['arch']['published_spmat_bytes_per_pe'])} B Spmat and "
                 f"{fmt_int(study['arch']['published_ptr_bytes_per_pe'])} B pointers per PE). Image "
                 f"`{study['image']}`. Generated by `eiesim reproduce squeezenet-winograd`; every number is measured.",
        summary=[(r["label"], f"{fmt_int(r['cycles'])} cycles") for r in study["runs"]])
    s = Section("What Winograd does to EIE", "summary")
    s.blocks.append(Para(summary(study)))
    doc.sections.append(s)
    runs = Section("The runs", "runs")
    head, rows = run_table(study)
    runs.blocks.append(Table(head, rows, numeric=[False] + [True] * 6 + [False] + [True] * 3 + [False, True]))
    doc.sections.append(runs)
    comp = Section("The 2.25x bound against what EIE achieves (im2col / Winograd)", "bound")
    for key, rows_ in study["comparison"].items():
        head, rows = comparison_table(rows_)
        comp.blocks.append(Table(head, rows, numeric=[False] + [True] * 6 + [False, False], caption=key))
    comp.blocks.append(Para(
        "dense bound: 9 OH OW / (16 TH TW) multiplies of a dense layer (2.25x for even maps); real MACs, cycles, "
        "energy: im2col over Winograd (> 1: Winograd better); storage x: Winograd's Spmat + pointer bytes per PE "
        "over im2col's; densities: stored weights over the (transformed) matrix, non-zero (transformed) inputs."))
    doc.sections.append(comp)
    per = Section("Per 3x3 layer", "layers")
    for r in study["runs"]:
        head, rows = layer_table(r)
        per.blocks.append(Table(head, rows, numeric=[False] + [True] * (len(head) - 1), caption=r["label"]))
    doc.sections.append(per)
    fun = Section("Accuracy", "accuracy")
    head, rows = functional_table(study)
    fun.blocks.append(Table(head, rows, numeric=[False] + [True] * 5 + [False],
                            caption="float: Winograd with the shared transformed weights vs the direct convolution "
                                    "(bias included) on the layer's float input; fixed: accumulator difference vs "
                                    "the bound of docs/fixed-point.md"))
    fun.blocks.append(Table(["photo", "direct top-1", "Winograd top-1", "Winograd re-pruned top-1"],
                            [[t["photo"], str(t["direct"]), str(t["winograd"]), str(t["winograd_repruned"])]
                             for t in study["functional"]["top1"]],
                            numeric=[False, True, True, True]))
    head, rows = repruned_table(study)
    fun.blocks.append(Table(head, rows, numeric=[False] + [True] * (len(head) - 1),
                            caption="Winograd-domain pruning: the transformed weights pruned back to the "
                                    "kernel's density, largest |U| kept, no retraining (timed in the runs "
                                    "'winograd re-pruned'); real multiplies on the photo, counted without the "
                                    "engines. Accuracy would need retraining."))
    doc.sections.append(fun)
    return doc


def results_json(study: dict[str, Any]) -> str:
    return json.dumps(study, indent=2) + "\n"


def out_files(study: dict[str, Any]) -> dict[str, str | bytes]:
    doc = build_document(study)
    return {"report.md": render(doc, "md"), "report.html": render(doc, "html"), "results.json": results_json(study)}
