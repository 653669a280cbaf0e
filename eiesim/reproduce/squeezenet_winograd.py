"""The study behind ``eiesim reproduce squeezenet-winograd``: Winograd F(2x2, 3x3) on EIE, on the real SqueezeNet.

The EIE paper (Sec. VII-C) proposes running 3 x 3 convolutions as Winograd F(2x2, 3x3):
"2.25x fewer multiplications", the 16 M x V of a tile scheduled on EIE. The catch: the
transformed kernel G g Gᵀ of a pruned kernel is denser than the kernel, and the transformed
input tile Bᵀ d B loses ReLU's zeros, so both of EIE's sparsities shrink.

The study runs the network (the real Deep-Compression SqueezeNet v1.0 when it is beside the
checkout, else the bundled synthetic one, labelled so) on the published 64-PE chip with
8-bit codebook indices and the photo ``chelsea``, four times: ``mapping.conv3x3`` = im2col
and winograd, each with one pixel group and with ``mapping.pixel_groups: auto``; SRAM sizes
``auto`` in every run (so every mapping fits and the area follows its storage; whether it
fits the published 128 KB / 32 KB per PE is reported). Per 3 x 3 layer and in total: dense
multiplies (the 2.25x is a ratio of these), the multiplies EIE does (real MACs), weight and
activation densities (after the transforms for Winograd), stored bytes per PE, cycles with
their breakdown, energy; per run the chip area. Then the functional side: the float error
of the Winograd layers (shared transformed weights) against the direct convolution on the
layers' real inputs, the fixed-point difference against the documented bound
(docs/fixed-point.md, "Winograd layers"), and the top-1 class of every bundled photo with
direct and Winograd 16-bit arithmetic. Issue item 4: the transformed weights pruned back to
each kernel's density (largest |U| kept, no retraining; ``mapping.winograd_weights:
repruned``) are timed like the other runs (two more runs, with one pixel group and with
``auto``, compared with im2col as the unpruned Winograd runs are), and the functional side
reports their real multiplies on the photo (counted without the engines: entries per column
times the tiles whose input is non-zero), the float error against the direct convolution and
the top-1 classes. Every number is measured; none is fitted.
``winograd_study`` returns the data; the command renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from eiesim.network.winograd import POSITIONS, is_winograd_conv, tile_grid, winograd_layer
from eiesim.reproduce.squeezenet_mapping import AUTO_SRAMS, IMAGE, StudyWorkload, published_arch, study_workload
from eiesim.timing.contract import BREAKDOWN_PARTS

#: The runs: (label, mapping.conv3x3, mapping.pixel_groups, mapping.winograd_weights).
RUNS: tuple[tuple[str, str, int | str, str], ...] = (
    ("im2col", "im2col", 1, "transformed"), ("winograd", "winograd", 1, "transformed"),
    ("im2col, G auto", "im2col", "auto", "transformed"), ("winograd, G auto", "winograd", "auto", "transformed"),
    ("winograd re-pruned", "winograd", 1, "repruned"),
    ("winograd re-pruned, G auto", "winograd", "auto", "repruned"),
)
#: The comparisons: key -> (im2col run, Winograd run), each present when both runs are.
PAIRS: dict[str, tuple[str, str]] = {
    "G = 1": ("im2col", "winograd"), "G auto": ("im2col, G auto", "winograd, G auto"),
    "G = 1, re-pruned": ("im2col", "winograd re-pruned"),
    "G auto, re-pruned": ("im2col, G auto", "winograd re-pruned, G auto"),
}
#: The bound the paper quotes: 9 multiplies per output for a dense 3 x 3 kernel, 16 per 4 outputs with F(2x2, 3x3).
DENSE_BOUND = 9 * 4 / 16


def _layer_row(stats: Any, priced: dict[str, Any], layer: Any, in_shape: tuple[int, ...]) -> dict[str, Any]:
    a = stats.actions
    _, h, w = in_shape
    oh, ow, th, tw = tile_grid(in_shape, layer)
    wino = stats.mapping.get("conv3x3") == "winograd"
    dense = (POSITIONS * th * tw if wino else 9 * oh * ow) * layer.in_channels * layer.out_channels
    storage = stats.storage
    return {
        "name": stats.name, "mode": "winograd" if wino else "im2col", "pixel_groups": stats.mapping["pixel_groups"],
        "rounds_per_group_pixels": stats.pixels, "dense_multiplies": dense, "real_macs": a["real_macs"],
        "entries_processed": stats.entries_processed, "padding_entries": stats.padding_entries,
        "weight_density": stats.mapping["winograd"]["weight_density"] if wino else layer.density,
        "activation_density": (stats.mapping["winograd"]["transformed_input_density"] if wino
                               else stats.input_density),
        "spmat_bytes_per_pe": storage["spmat_bytes_max"], "ptr_bytes_per_pe": storage["ptr_bytes_max"],
        "cycles": stats.cycles, "compute_cycles": stats.compute_cycles, "load_cycles": stats.load_cycles,
        "store_cycles": stats.store_cycles, "io_cycles": stats.io_cycles,
        "cycle_breakdown": dict(stats.cycle_breakdown), "energy_pj": priced.get("energy_pj"),
        "transform_adds": a.get("transform_adds", 0),
    }


def _run_row(label: str, conv: str, groups: int | str, weights: str, result: Any, published: Any,
             shapes: dict[str, tuple[int, ...]], layers3: list[Any]) -> dict[str, Any]:
    totals = result.totals()
    costs = result.costs
    storage = result.storage
    priced = {p["name"]: p for p in costs.get("layers", [])}
    stats = {s.name: s for s in result.layers}
    rows = [_layer_row(stats[layer.name], priced.get(layer.name, {}), layer, shapes[layer.name]) for layer in layers3]
    return {
        "label": label, "conv3x3": conv, "pixel_groups": groups, "winograd_weights": weights,
        "cycles": result.cycles, "compute_cycles": totals["compute_cycles"], "time_us": result.time_us,
        "cycle_breakdown": dict(totals["cycle_breakdown"]["cycles"]),
        "energy_pj": costs["energy"]["total_pj"], "on_chip_pj": costs["energy"]["on_chip_pj"],
        "chip_mm2": costs["area"]["chip_mm2"],
        "spmat_bytes_per_pe": storage.spmat_bytes_max, "ptr_bytes_per_pe": storage.ptr_bytes_max,
        "fits_published_srams": (storage.spmat_bytes_max <= published.spmat_sram.size_bytes
                                 and storage.ptr_bytes_max <= published.ptr_sram.size_bytes),
        "functional": result.check.get("functional"), "top1": result.check.get("top1"),
        "real_macs": totals["actions"]["real_macs"],
        "layers3x3": rows,
        "layers3x3_total": _sum_rows(rows),
        "warnings": list(result.warnings),
    }


def _sum_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("dense_multiplies", "real_macs", "entries_processed", "padding_entries", "spmat_bytes_per_pe", "ptr_bytes_per_pe",
            "cycles", "compute_cycles", "load_cycles", "store_cycles", "io_cycles", "energy_pj", "transform_adds")
    out: dict[str, Any] = {k: sum(r[k] or 0 for r in rows) for k in keys}
    out["cycle_breakdown"] = {p: sum(r["cycle_breakdown"].get(p, 0.0) for r in rows) for p in BREAKDOWN_PARTS}
    return out


def _comparison(base: dict[str, Any], wino: dict[str, Any]) -> list[dict[str, Any]]:
    """Per 3 x 3 layer (and the total): the dense bound against what EIE achieves, and the densities behind it."""
    out = []
    pairs = list(zip(base["layers3x3"], wino["layers3x3"], strict=True))
    for b, w in [*pairs, (base["layers3x3_total"] | {"name": "all 3x3"}, wino["layers3x3_total"] | {"name": "all 3x3"})]:
        row = {"name": b["name"],
               "dense_ratio": b["dense_multiplies"] / w["dense_multiplies"],
               "mac_ratio": b["real_macs"] / w["real_macs"] if w["real_macs"] else None,
               "compute_ratio": b["compute_cycles"] / w["compute_cycles"] if w["compute_cycles"] else None,
               "cycle_ratio": b["cycles"] / w["cycles"] if w["cycles"] else None,
               "energy_ratio": (b["energy_pj"] / w["energy_pj"]) if w.get("energy_pj") else None,
               "storage_ratio": ((w["spmat_bytes_per_pe"] + w["ptr_bytes_per_pe"])
                                 / (b["spmat_bytes_per_pe"] + b["ptr_bytes_per_pe"]))}
        if "weight_density" in b:
            row.update(weight_density_im2col=b["weight_density"], weight_density_winograd=w["weight_density"],
                       act_density_im2col=b["activation_density"], act_density_winograd=w["activation_density"])
        out.append(row)
    return out


def functional_side(source: StudyWorkload, photos: tuple[str, ...] | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Float error per 3 x 3 layer, fixed-point difference against the bound, top-1 per bundled photo."""
    from eiesim.inputs.images import BUNDLED_PHOTOS
    from eiesim.network.fixed_point import accumulate_reference, quantize
    from eiesim.network.functional import _layer_float, forward, gather_input, plan_fixed_point, run_fixed
    from eiesim.network.network_input import prepare_input
    from eiesim.network.winograd import (accumulate_winograd, fixed_point_error_bound, real_multiplies,
                                         winograd_conv_float, winograd_reference)

    wl = source.workload
    arch = published_arch()
    winos = {layer.name: winograd_layer(layer, arch.num_pes) for layer in wl.layers if is_winograd_conv(layer)}
    # Item 4: the transformed weights pruned back to the kernel's density (no retraining).
    pruned = {name: winograd_layer(w.layer, arch.num_pes, density=w.layer.density) for name, w in winos.items()}
    x = prepare_input(wl, IMAGE)
    fwd = forward(wl, x)
    layers: list[dict[str, Any]] = []
    repruned: list[dict[str, Any]] = []
    plan = plan_fixed_point(wl, x)
    x_q, _ = quantize(x, plan.input_frac, plan.bits)
    ref = run_fixed(wl, x_q, plan)
    # Each network's own layer inputs, for the multiply counts (a layer after a Winograd layer sees its outputs).
    ref_w = run_fixed(wl, x_q, plan, winograd_reference(winos))
    ref_p = run_fixed(wl, x_q, plan, winograd_reference(pruned))
    for name, wino in winos.items():
        layer = wino.layer
        xin = gather_input(wl, layer, fwd.outputs, x)
        direct = _layer_float(xin, layer)
        shared = winograd_conv_float(xin, layer, wino.u_shared) + layer.bias[:, None, None]
        fmt = plan.format(name)
        xin_q = gather_input(wl, layer, ref, x_q)
        acc_w = accumulate_winograd(wino, xin_q, fmt)
        acc_d = accumulate_reference(layer, xin_q, fmt)
        bound = fixed_point_error_bound(wino, xin_q, fmt)
        diff = np.abs(acc_w - acc_d)
        shared_p = winograd_conv_float(xin, layer, pruned[name].u_shared) + layer.bias[:, None, None]
        repruned.append({
            "name": name, "weight_density": pruned[name].weight_density(),
            "weight_density_unpruned": wino.weight_density(),
            "real_multiplies": real_multiplies(pruned[name], pruned[name].input_q(
                gather_input(wl, layer, ref_p, x_q), fmt)),
            "real_multiplies_unpruned": real_multiplies(wino, wino.input_q(gather_input(wl, layer, ref_w, x_q), fmt)),
            "float_max_abs_error": float(np.max(np.abs(shared_p - direct))),
            "float_max_abs_output": float(np.max(np.abs(direct)))})
        layers.append({"name": name, "float_max_abs_error": float(np.max(np.abs(shared - direct))),
                       "float_max_abs_output": float(np.max(np.abs(direct))),
                       "fixed_max_abs_diff_lsb": int(diff.max()), "fixed_bound_max_lsb": float(bound.max()),
                       "fixed_within_bound": bool(np.all(diff <= bound)),
                       "fixed_max_abs_diff": float(diff.max()) / 2.0 ** fmt.acc_frac})
    top1 = []
    for photo in photos or BUNDLED_PHOTOS:
        if progress is not None:
            progress(f"top-1 of {photo}")
        xp = prepare_input(wl, photo)
        plan_p = plan_fixed_point(wl, xp)
        xq, _ = quantize(xp, plan_p.input_frac, plan_p.bits)
        last = wl.output_layer.name
        direct_out = run_fixed(wl, xq, plan_p)[last].reshape(-1)
        wino_out = run_fixed(wl, xq, plan_p, winograd_reference(winos))[last].reshape(-1)
        pruned_out = run_fixed(wl, xq, plan_p, winograd_reference(pruned))[last].reshape(-1)
        top1.append({"photo": photo, "direct": int(np.argmax(direct_out)), "winograd": int(np.argmax(wino_out)),
                     "winograd_repruned": int(np.argmax(pruned_out))})
    return {"layers": layers, "top1": top1, "top1_agree": sum(t["direct"] == t["winograd"] for t in top1),
            "photos": len(top1), "repruned": repruned,
            "repruned_top1_agree": sum(t["direct"] == t["winograd_repruned"] for t in top1)}


def winograd_study(source: StudyWorkload | None = None, engine: str = "fast", check: bool = True,
                   photos: tuple[str, ...] | None = None, runs: Sequence[tuple[str, str, int | str, str]] = RUNS,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the configurations (``RUNS``) and the functional side; one JSON-able dict (see the module docstring).

    ``photos``: the bundled photos of the top-1 comparison (default all); ``runs``: a subset of
    ``RUNS`` (the comparison covers the im2col / Winograd pairs present)."""
    from eiesim.run.simulate import simulate

    source = source or study_workload()
    wl = source.workload
    published = published_arch()
    layers3 = [layer for layer in wl.layers if is_winograd_conv(layer)]
    shapes = {layer.name: wl.input_shape_of(layer) for layer in layers3}
    rows = []
    for label, conv, groups, weights in runs:
        if progress is not None:
            progress(f"simulating {label}")
        arch = published.derive({"mapping.conv3x3": conv, "mapping.pixel_groups": groups,
                                 "mapping.winograd_weights": weights, **AUTO_SRAMS})
        result = simulate(arch, wl, input=IMAGE, engine=engine, check=check)
        rows.append(_run_row(label, conv, groups, weights, result, published, shapes, layers3))
    by = {r["label"]: r for r in rows}
    return {
        "study": "squeezenet-winograd",
        "workload": source.to_dict(),
        "arch": {"name": published.name, "num_pes": published.num_pes, "clock_mhz": published.clock_mhz,
                 "published_spmat_bytes_per_pe": published.spmat_sram.size_bytes,
                 "published_ptr_bytes_per_pe": published.ptr_sram.size_bytes, "srams": "auto"},
        "image": IMAGE, "engine": engine, "dense_bound": DENSE_BOUND,
        "breakdown_parts": dict(BREAKDOWN_PARTS),
        "runs": rows,
        "comparison": {key: _comparison(by[a], by[b]) for key, (a, b) in PAIRS.items() if a in by and b in by},
        "functional": functional_side(source, photos, progress),
    }
