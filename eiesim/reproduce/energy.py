"""The energy study behind ``eiesim reproduce eie-energy``: the Table IV layers, two ways, and the SRAM-width study.

For each AlexNet/VGG reference layer (EIE Table III, synthetic, seed 0) on the
published 64-PE design: the activity-based energy (engine counts x cost model,
split on-chip / DRAM) beside the EIE paper's method (time x the model's chip power
at Alex-7 activity). Then the Spmat SRAM width study: widths 32..512 bits at
128 KB, Spmat read energy per layer (word reads x read energy per word); the
paper chose 64 bits. ``energy_study`` returns the data; the command
(``eiesim.cli.reproduce.energy``) renders it.
"""

from __future__ import annotations

from typing import Any

from eiesim.config.defaults import paper_arch
from eiesim.costs import evaluate

#: The Table IV layers (EIE Table III shapes and densities).
REFERENCE_LAYERS = ("Alex-6", "Alex-7", "Alex-8", "VGG-6", "VGG-7", "VGG-8")
#: Spmat SRAM widths of the study (bits).
WIDTHS_BITS = (32, 64, 128, 256, 512)


def _layer_run(name: str, overrides: dict[str, Any], workloads: dict[str, Any]) -> dict[str, Any]:
    from eiesim.run.simulate import simulate
    arch = paper_arch({"dram.sram_overflow": "stream", **overrides})
    result = simulate(arch, workloads[name], check=False)
    return {"arch": result.arch, "layers": [s.to_dict() for s in result.layers], "storage": result.storage}


def energy_study(layers: tuple[str, ...] = REFERENCE_LAYERS, widths: tuple[int, ...] = WIDTHS_BITS) -> dict[str, Any]:
    """Per-layer energy (both methods) and the Spmat width study, as one JSON-able dict."""
    from eiesim.network.synthetic import BENCHMARK_LAYERS, eie_fc_layer
    spec = {entry[0]: entry for entry in BENCHMARK_LAYERS}
    workloads = {name: eie_fc_layer(*spec[name]) for name in layers}
    per_layer = []
    for name in layers:
        run = _layer_run(name, {}, workloads)
        rep = evaluate(run["arch"], run["layers"]).to_dict()
        per_layer.append({
            "layer": name, "time_us": rep["figures_of_merit"]["time_us"],
            "activity_energy_pj": rep["energy"]["total_pj"], "on_chip_pj": rep["energy"]["on_chip_pj"],
            "dram_pj": rep["energy"]["dram_pj"], "paper_method_energy_pj": rep["paper_method"]["energy_pj"],
            "chip_mw": rep["power"]["chip_mw"], "by_component_pj": rep["energy"]["by_component_pj"],
            "weights_resident": run["storage"].resident,
            "ptr_bytes_needed_per_pe": run["storage"].ptr_bytes_max,
            "spmat_bytes_needed_per_pe": run["storage"].spmat_bytes_max,
            "ptr_capacity_bytes": run["storage"].ptr_capacity_bytes,
            "spmat_capacity_bytes": run["storage"].spmat_capacity_bytes,
        })
    study: dict[str, dict[int, float]] = {name: {} for name in layers}
    for width in widths:
        for name in layers:
            run = _layer_run(name, {"spmat_sram.width_bits": width}, workloads)
            rep = evaluate(run["arch"], run["layers"]).to_dict()
            study[name][width] = rep["energy"]["by_component_pj"]["spmat_sram"]
    minima = {name: min(by_w, key=lambda width: by_w[width]) for name, by_w in study.items()}
    return {"layers": per_layer, "width_study_spmat_read_pj": study, "width_minimum_bits": minima,
            "paper_choice_bits": 64}
