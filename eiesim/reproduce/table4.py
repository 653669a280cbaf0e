"""The rows behind ``eiesim reproduce eie-table4``: simulated vs published EIE time per layer (Table IV, batch 1).

The six AlexNet/VGG fc layers of the EIE paper (Han et al., ISCA 2016, Tables III
and IV) are rebuilt as synthetic layers with the published sizes and weight and
activation densities (``models.synthetic.eie_fc_layer``, fixed seed) and run on
the published 64-PE design (arch_configs/eie-64pe.yaml). Table IV assumes the
weights are resident on chip and the input vector is already in the activation
registers, so the comparison uses the time of the layer's rounds (load, compute
and store phases) and leaves out DRAM I/O (reported separately).

When the reference data of the EIE authors' simulator is available
(``../shared/reference/eie-authors-sim/alex8-real.npz`` beside the checkout, or
``--real-alex8 PATH``), a seventh row runs the **real** Alex-8: AlexNet fc8 as the
authors pruned and quantized it, with the real input activations they dumped. Its
simulated time (the compute phase) is a prediction: nothing in eiesim was fitted to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eiesim.config.arch import load_arch

#: (layer, in, out, weight density, activation density, published theoretical us, published actual us).
#: Densities: Table III; times: Table IV of Han et al., ISCA 2016.
TABLE4_LAYERS = (
    ("Alex-6", 9216, 4096, 0.09, 0.351, 28.1, 30.3),
    ("Alex-7", 4096, 4096, 0.09, 0.353, 11.7, 12.2),
    ("Alex-8", 4096, 1000, 0.25, 0.375, 8.9, 9.9),
    ("VGG-6", 25088, 4096, 0.04, 0.183, 28.1, 34.4),
    ("VGG-7", 4096, 4096, 0.04, 0.375, 7.9, 8.7),
    ("VGG-8", 4096, 1000, 0.23, 0.411, 7.3, 8.4),
)
#: Allowed |simulated / published actual - 1|.
TOLERANCE = 0.10
SEED = 0


#: The EIE authors' cycle-accurate simulator on the real Alex-8 (../shared/reference/eie-authors-sim/
#: README.md and cases.csv, case alex8-real|N64|B8|W64): 7,926 cycles = 9.91 us at 800 MHz.
AUTHORS_ALEX8_CYCLES = 7926
#: Table IV's actual time of Alex-8 (us).
PAPER_ALEX8_ACTUAL_US = 9.9


def _arch_path() -> Path:
    from eiesim.config.defaults import packaged  # package data: also there in a non-editable install

    return packaged("eie-64pe.yaml")


def default_real_alex8() -> Path | None:
    """The real Alex-8 of the authors'-simulator reference data beside the checkout, if it is there."""
    path = Path(__file__).resolve().parents[3] / "shared" / "reference" / "eie-authors-sim" / "alex8-real.npz"
    return path if path.is_file() else None


def real_alex8_row(path: Path, engine: str = "fast") -> dict[str, Any]:
    """The real Alex-8 (authors' pruned fc8, real activations) on the published design, against the paper."""
    from eiesim.network.workload_file import load_workload
    from eiesim.run.simulate import simulate

    arch = load_arch(_arch_path())
    s = simulate(arch, load_workload(path), engine=engine, check=True)
    layer = s.layers[0]
    sim_us = layer.compute_cycles / arch.clock_mhz
    err = sim_us / PAPER_ALEX8_ACTUAL_US - 1.0
    return {
        "layer": "Alex-8", "source": "real", "workload": str(path), "simulated_us": sim_us,
        "published_actual_us": PAPER_ALEX8_ACTUAL_US, "paper_actual_us": PAPER_ALEX8_ACTUAL_US,
        "error": err, "error_pct": 100 * err, "pass": abs(err) <= TOLERANCE,
        "compute_cycles": layer.compute_cycles, "authors_sim_cycles": AUTHORS_ALEX8_CYCLES,
        "authors_sim_us": AUTHORS_ALEX8_CYCLES / arch.clock_mhz,
        "entries_processed": layer.entries_processed, "padding_entries": layer.padding_entries,
        "nonzero_activations": layer.nonzero_activations, "load_balance_efficiency": layer.load_balance_efficiency,
        "functional": s.check.get("functional"),
    }


def table4_rows(engine: str = "fast", seed: int = SEED) -> list[dict[str, Any]]:
    """One dict per layer: published and simulated times (us), % error, pass/fail, and why."""
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.run.simulate import simulate

    # VGG-6 puts 101,002 entries on one PE: more than the published 16-bit pointers address. The simulation
    # widens its pointers to what it needs (17 bits; the row and the output say so); the others fit 16 bits.
    arch = load_arch(_arch_path())
    rows = []
    for name, n_in, n_out, wd, ad, pub_theory, pub_actual in TABLE4_LAYERS:
        workload = eie_fc_layer(name, n_in, n_out, wd, ad, arch.codebook_bits, seed)
        s = simulate(arch, workload, engine=engine, check=True)
        layer = s.layers[0]
        rounds_cycles = layer.load_cycles + layer.compute_cycles + layer.store_cycles
        sim_us = rounds_cycles / arch.clock_mhz
        err = sim_us / pub_actual - 1.0
        rows.append({
            "layer": name, "source": "synthetic", "in": n_in, "out": n_out, "weight_density": wd, "act_density": ad,
            "published_theoretical_us": pub_theory, "published_actual_us": pub_actual, "paper_actual_us": pub_actual,
            "error_pct": 100 * err,
            "naive_theoretical_us": n_in * n_out * wd * ad / arch.num_pes / arch.clock_mhz,
            "model_theoretical_us": layer.entries_processed / arch.num_pes / arch.clock_mhz,
            "simulated_us": sim_us, "error": err, "pass": abs(err) <= TOLERANCE,
            # The two factors of simulated / published actual: the work (entries incl. padding) our
            # synthetic layer gives vs the paper's theoretical time, and the timing overhead
            # (actual / theoretical: load imbalance, drain, load/store) ours vs the paper's.
            "workload_ratio": layer.entries_processed / arch.num_pes / arch.clock_mhz / pub_theory,
            "model_overhead": sim_us / (layer.entries_processed / arch.num_pes / arch.clock_mhz),
            "published_overhead": pub_actual / pub_theory,
            "compute_cycles": layer.compute_cycles, "load_cycles": layer.load_cycles,
            "store_cycles": layer.store_cycles, "io_cycles_excluded": layer.io_cycles,
            "entries_processed": layer.entries_processed, "padding_entries": layer.padding_entries,
            "load_balance_efficiency": layer.load_balance_efficiency,
            "broadcast_stall_cycles": layer.broadcast_stall_cycles,
            "weights_resident": s.storage.resident, "functional": s.check.get("functional"),
            "pointer_bits": s.arch.ptr_sram.pointer_bits,
        })
    return rows


#: Layers and column skews of the structure study: the two misses and VGG-8, their control.
STRUCTURE_LAYERS = ("Alex-8", "VGG-6", "VGG-8")
STRUCTURE_SKEWS = (0.0, 0.5, 1.0)


def structure_rows(engine: str = "fast", seed: int = SEED) -> list[dict[str, Any]]:
    """How the simulated time moves when the synthetic layers' sparsity is structured.

    For each layer of ``STRUCTURE_LAYERS`` and each column skew (the coefficient of
    variation of the per-column weight density), the input non-zeros fall on columns
    with probability proportional to their density (``eie_fc_layer(...,
    act_follows_weights=True)``); skew 0 is the uniform layer of the main table. This
    is a sensitivity study, not a fit: the published densities do not say how skewed
    the real layers are.
    """
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.run.simulate import simulate

    arch = load_arch(_arch_path())
    specs = {spec[0]: spec for spec in TABLE4_LAYERS}
    rows = []
    for name in STRUCTURE_LAYERS:
        _, n_in, n_out, wd, ad, pub_theory, pub_actual = specs[name]
        for skew in STRUCTURE_SKEWS:
            workload = eie_fc_layer(name, n_in, n_out, wd, ad, arch.codebook_bits, seed, column_skew=skew,
                                    act_follows_weights=skew > 0)
            layer = simulate(arch, workload, engine=engine, check=False).layers[0]
            sim_us = (layer.load_cycles + layer.compute_cycles + layer.store_cycles) / arch.clock_mhz
            rows.append({
                "layer": name, "column_skew": skew, "act_follows_weights": skew > 0,
                "weight_density": workload.layers[0].nnz / (n_in * n_out),
                "model_theoretical_us": layer.entries_processed / arch.num_pes / arch.clock_mhz,
                "published_theoretical_us": pub_theory, "simulated_us": sim_us, "published_actual_us": pub_actual,
                "error": sim_us / pub_actual - 1.0,
            })
    return rows


def table4_document(rows: list[dict[str, Any]], real: dict[str, Any] | None, structure: list[dict[str, Any]] | None,
                    engine: str) -> dict[str, Any]:
    """The JSON document of ``eiesim reproduce eie-table4 --json``: every row, the real Alex-8, the structure study."""
    doc: dict[str, Any] = {"tolerance": TOLERANCE, "engine": engine, "seed": SEED, "rows": rows + ([real] if real else [])}
    if structure is not None:
        doc["structure_rows"] = structure
    return doc
