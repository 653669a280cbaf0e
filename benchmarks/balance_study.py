"""ESE load-balance-aware pruning vs plain magnitude pruning, measured (issue 24, item 4).

SqueezeNet: the authors' Deep-Compression SqueezeNet (../shared/models/squeezenet_dc) is
decoded, exported dense, and re-pruned at its own per-layer densities twice (plain magnitude
pruning, and balanced over the chip's 64 PEs), 8-bit k-means both times. Both run on
arch_configs/eie-64pe-8bit.yaml over every bundled photo: cycles, the cycle breakdown's
imbalance, energy; and the balanced model's agreement with the unbalanced one (top-1 and the
max relative error of the logits, float32 functional reference).

Usage: python benchmarks/balance_study.py [--photos N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_models(arch, models: dict, photos: list[str], timed: int, original=None) -> dict:
    from eiesim.network.functional import forward
    from eiesim.network.network_input import prepare_input
    from eiesim.run.simulate import simulate

    rows: dict = {}
    logits: dict = {}
    for name, wl in models.items():
        cyc, imb, energy, comp = [], [], [], []
        logits[name] = []
        for photo in photos[:timed]:
            res = simulate(arch, wl, input=photo, check=False)
            br = res.cycle_breakdown()["cycles"]
            cyc.append(res.cycles)
            imb.append(br["imbalance"])
            comp.append(sum(s.compute_cycles for s in res.layers))
            energy.append(res.costs["energy"]["total_pj"])
        logits[name] = [forward(wl, prepare_input(wl, photo), "float32").logits for photo in photos]
        per_row = [np.diff(layer.indptr) for layer in wl.layers]
        spread = [int(np.ptp([r[p::arch.num_pes].sum() for p in range(arch.num_pes)])) for r in per_row]
        rows[name] = {"nnz": wl.nnz, "per_pe_spread_max": max(spread), "per_pe_spread_sum": sum(spread),
                      "timed_photos": timed, "cycles_mean": float(np.mean(cyc)), "compute_cycles_mean": float(np.mean(comp)),
                      "imbalance_cycles_mean": float(np.mean(imb)),
                      "imbalance_fraction": float(np.sum(imb) / np.sum(cyc)), "energy_uj_mean": float(np.mean(energy)) / 1e6}
    names = list(models)
    for name in names[1:]:
        rows[f"agreement_{name}_vs_{names[0]}"] = _agreement(logits[names[0]], logits[name])
    if original is not None:
        base = [forward(original, prepare_input(original, photo), "float32").logits for photo in photos]
        for name in names:
            rows[name]["agreement_with_dc_model"] = _agreement(base, logits[name])
    return rows


def _agreement(ref: list, other: list) -> dict:
    """Top-1 agreement and max relative error (max |b - a| / max |a| over the logits) of two models' outputs."""
    return {"top1": float(np.mean([int(np.argmax(a)) == int(np.argmax(b)) for a, b in zip(ref, other)])),
            "max_rel_error": float(max(np.max(np.abs(b - a)) / np.max(np.abs(a)) for a, b in zip(ref, other))),
            "photos": len(ref)}


def nt_lstm_study(arch) -> dict:
    """NT-LSTM (2400 x 1200, dense normal weights) pruned to 10 % plain, balanced, balanced per column; 20 steps."""
    from eiesim.network.compress import compress_layer
    from eiesim.network.functional import forward
    from eiesim.network.neuraltalk import nt_lstm_steps
    from eiesim.network.workload import Workload
    from eiesim.run.simulate import simulate

    rng = np.random.default_rng(0)
    dense_w = (rng.standard_normal((2400, 1200)) / np.sqrt(120)).astype(np.float32)
    bias = rng.normal(0, 0.1, 2400).astype(np.float32)
    x = nt_lstm_steps().input
    out: dict = {}
    seqs: dict = {}
    for name, kw in (("unbalanced", {}), ("balanced", {"balance_pes": arch.num_pes}),
                     ("balanced_columns", {"balance_pes": arch.num_pes, "balance_columns": True})):
        layer = compress_layer("NT-LSTM", dense_w, bias, density=0.1, bits=arch.codebook_bits, kind="lstm",
                               relu=False, **kw)
        layer.extra = {"hidden": 600}
        wl = Workload("nt-lstm", "balance study", (x.size,), None, [layer], x)
        res = simulate(arch, wl, check=True)
        s = res.layers[0]
        per_row = np.diff(layer.indptr)
        pe = [int(per_row[p::arch.num_pes].sum()) for p in range(arch.num_pes)]
        out[name] = {"nnz": layer.nnz, "per_pe_min": min(pe), "per_pe_max": max(pe), "cycles": res.cycles,
                     "compute_cycles": s.compute_cycles, "imbalance_cycles": res.cycle_breakdown()["cycles"]["imbalance"],
                     "finder_cycles": res.cycle_breakdown()["cycles"]["finder"],
                     "broadcast_stall_cycles": s.broadcast_stall_cycles,
                     "energy_uj": res.costs["energy"]["total_pj"] / 1e6, "functional": res.check["functional"]}
        seqs[name] = forward(wl, x, "float32").logits
    for name in ("balanced", "balanced_columns"):
        a, b = seqs["unbalanced"], seqs[name]
        out[f"{name}_vs_unbalanced_max_rel_error"] = float(np.max(np.abs(b - a)) / np.max(np.abs(a)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=0, help="first N bundled photos (default: all)")
    ap.add_argument("--timed", type=int, default=3, help="photos simulated for cycles and energy (first N)")
    ap.add_argument("--scales", default="1,0.8,0.5", help="densities as fractions of the DC model's own, comma-separated")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from eiesim.cli.compress_cmd import compress_model
    from eiesim.config.arch import load_arch
    from eiesim.importers.caffe.deep_compression import import_dc
    from eiesim.inputs.images import BUNDLED_PHOTOS
    from eiesim.network.dense import dense_from_workload

    photos = list(BUNDLED_PHOTOS[:args.photos] if args.photos else BUNDLED_PHOTOS)
    arch = load_arch(ROOT / "arch_configs" / "eie-64pe-8bit.yaml")
    dc = import_dc(ROOT.parent / "shared" / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net")
    dense = dense_from_workload(dc)
    densities = {layer.name: layer.density for layer in dc.layers}
    out = {"nt_lstm": nt_lstm_study(arch)}
    print(json.dumps(out, indent=2), flush=True)
    for scale in (float(s) for s in args.scales.split(",")):
        scaled = {name: d * scale for name, d in densities.items()}
        models = {"unbalanced": compress_model(dense, scaled, 8),
                  "balanced": compress_model(dense, scaled, 8, balance_pes=arch.num_pes),
                  "balanced_columns": compress_model(dense, scaled, 8, balance_pes=arch.num_pes,
                                                     balance_columns=True)}
        out[f"squeezenet_dc_x{scale:g}"] = run_models(arch, models, photos, args.timed, dc)
        print(json.dumps(out, indent=2), flush=True)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
