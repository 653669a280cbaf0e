"""``eiesim reproduce squeezenet-winograd``: on the real model, the rows measure what they claim (dense multiplies and
densities recomputed here, functional checks, the error bound). Its paths are checked before any work like the
mapping study's (test_reproduce_squeezenet_mapping.py runs that test for both)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _support import NET

from eiesim.cli.reproduce.squeezenet_winograd_report import OUT_FILES, build_document, out_files, summary

G_M = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


@pytest.mark.slow
@pytest.mark.skipif(not NET.is_file(), reason="the bundled Deep-Compression SqueezeNet is missing")
def test_real_model_one_group_runs_measure_what_they_claim():
    """The real model, im2col and Winograd with one pixel group, one photo (about a minute)."""
    from eiesim.reproduce import squeezenet_winograd as study_mod
    from eiesim.reproduce.squeezenet_mapping import study_workload

    source = study_workload(NET)
    s = study_mod.winograd_study(source, photos=("chelsea",), runs=[*study_mod.RUNS[:2], study_mod.RUNS[4]])
    base, wino, pruned = s["runs"]
    assert (base["label"], wino["label"], pruned["label"]) == ("im2col", "winograd", "winograd re-pruned")
    # Winograd: bit-exact vs the Winograd reference (re-pruned: of the re-pruned weights)
    assert base["functional"] == wino["functional"] == pruned["functional"] == "pass"
    layers = {layer.name: layer for layer in source.workload.layers}
    assert [r["name"] for r in wino["layers3x3"]] == [f"fire{i}/conv3x3_2" for i in range(2, 10)]
    for b, w in zip(base["layers3x3"], wino["layers3x3"], strict=True):
        layer = layers[b["name"]]
        _, h, wd = source.workload.input_shape_of(layer)  # padding 1: output = input size
        th, tw = (h + 1) // 2, (wd + 1) // 2
        assert b["dense_multiplies"] == 9 * h * wd * layer.in_channels * layer.out_channels
        assert w["dense_multiplies"] == 16 * th * tw * layer.in_channels * layer.out_channels
        assert b["weight_density"] == pytest.approx(layer.nnz / (9 * layer.in_channels * layer.out_channels))
        assert w["weight_density"] > b["weight_density"]  # the transformed kernels are denser
        assert w["activation_density"] > b["activation_density"] * 0.99  # and so are the transformed inputs
        assert w["transform_adds"] == th * tw * (32 * layer.in_channels + 24 * layer.out_channels)
    # fire2's transformed-weight density, recomputed with the matrix G written out here.
    fire2 = layers["fire2/conv3x3_2"]
    u = np.einsum("ik,ockl,jl->ijoc", G_M, fire2.dense_weights().astype(np.float64), G_M)
    assert wino["layers3x3"][0]["weight_density"] == pytest.approx(np.count_nonzero(u) / u.size)
    f = s["functional"]
    assert all(r["fixed_within_bound"] for r in f["layers"])
    # The engine's real MACs equal a count made without it: entries per column x tiles with a non-zero input,
    # plus the bias column's entries (one per non-zero bias, every tile: ccu.bias is a column on this chip).
    for r, w in zip(f["repruned"], wino["layers3x3"], strict=True):
        layer = layers[r["name"]]
        _, h, wd = source.workload.input_shape_of(layer)
        bias_macs = ((h + 1) // 2) * ((wd + 1) // 2) * int(np.count_nonzero(layer.bias))
        assert r["real_multiplies_unpruned"] + bias_macs == w["real_macs"]
    for r, p in zip(f["repruned"], pruned["layers3x3"], strict=True):  # the re-pruned layers, timed
        layer = layers[r["name"]]
        _, h, wd = source.workload.input_shape_of(layer)
        bias_macs = ((h + 1) // 2) * ((wd + 1) // 2) * int(np.count_nonzero(layer.bias))
        assert r["real_multiplies"] + bias_macs == p["real_macs"]
        assert p["weight_density"] == r["weight_density"]
    for r, b in zip(f["repruned"], base["layers3x3"], strict=True):  # re-pruned to the kernel's density
        layer = layers[r["name"]]  # the same fraction, to the rounding of one entry
        assert r["weight_density"] == pytest.approx(b["weight_density"], abs=1 / (9 * layer.in_channels
                                                                                  * layer.out_channels))
        assert r["real_multiplies"] < r["real_multiplies_unpruned"]
    assert [(t["photo"], t["direct"], t["winograd"]) for t in f["top1"]] == [("chelsea", 285, 285)]  # fixed-point.md
    assert list(s["comparison"]) == ["G = 1", "G = 1, re-pruned"]
    validation = " ".join((Path(__file__).resolve().parents[1] / "docs" / "validation.md").read_text().split())
    c = s["comparison"]["G = 1"][-1]
    quoted = (f"dense multiplies fall {c['dense_ratio']:.2f}x", f"real multiplies rise {1 / c['mac_ratio']:.2f}x",
              f"takes {wino['cycles']:,} cycles instead of {base['cycles']:,}")
    assert all(q in validation for q in quoted), quoted  # the numbers docs/validation.md quotes
    total = s["comparison"]["G = 1"][-1]
    assert total["dense_ratio"] == pytest.approx(sum(r["dense_multiplies"] for r in base["layers3x3"])
                                                 / sum(r["dense_multiplies"] for r in wino["layers3x3"]))


def test_the_report_files_are_the_ones_announced():
    """out_files on a minimal study dict (the shape winograd_study returns) writes exactly OUT_FILES."""
    layer = {"name": "fire2/conv3x3_2", "mode": "im2col", "pixel_groups": 1, "rounds_per_group_pixels": 1,
             "dense_multiplies": 9, "real_macs": 3, "entries_processed": 3, "padding_entries": 0, "weight_density": 0.5,
             "activation_density": 0.5, "spmat_bytes_per_pe": 8, "ptr_bytes_per_pe": 8, "cycles": 10,
             "compute_cycles": 9, "load_cycles": 1, "store_cycles": 0, "io_cycles": 0,
             "cycle_breakdown": {"ideal": 5.0, "finder": 5.0}, "energy_pj": 1.0, "transform_adds": 0}
    total = {k: layer[k] for k in ("dense_multiplies", "real_macs", "entries_processed", "padding_entries",
                                   "spmat_bytes_per_pe",
                                   "ptr_bytes_per_pe", "cycles", "compute_cycles", "load_cycles", "store_cycles",
                                   "io_cycles", "energy_pj", "transform_adds", "cycle_breakdown")}
    run = {"label": "", "cycles": 10, "compute_cycles": 9, "energy_pj": 1.0, "chip_mm2": 1.0,
           "spmat_bytes_per_pe": 8, "ptr_bytes_per_pe": 8, "fits_published_srams": True, "functional": "pass",
           "top1": 0, "layers3x3": [layer], "layers3x3_total": total, "warnings": []}
    comp = {"name": "all 3x3", "dense_ratio": 2.0, "mac_ratio": 1.0, "compute_ratio": 1.0, "cycle_ratio": 1.0,
            "energy_ratio": 1.0, "storage_ratio": 1.0}
    layer_comp = comp | {"name": "fire2/conv3x3_2", "weight_density_im2col": 0.5, "weight_density_winograd": 0.6,
                         "act_density_im2col": 0.5, "act_density_winograd": 0.6}
    study = {"workload": {"kind": "real", "name": "sq", "label": "sq"},
             "arch": {"name": "a", "num_pes": 64, "published_spmat_bytes_per_pe": 1, "published_ptr_bytes_per_pe": 1},
             "image": "chelsea",
             "runs": [run | {"label": label} for label in ("im2col", "winograd", "im2col, G auto", "winograd, G auto")],
             "comparison": {"G = 1": [layer_comp, comp], "G auto": [layer_comp, comp]},
             "functional": {"layers": [], "top1": [{"photo": "chelsea", "direct": 1, "winograd": 1,
                                                    "winograd_repruned": 2}],
                            "top1_agree": 1, "photos": 1, "repruned": [], "repruned_top1_agree": 0}}
    assert sorted(out_files(study)) == sorted(OUT_FILES)
    assert "1 of 1 bundled photos" in summary(study)
    assert "Timed, the re-pruned" not in summary(study)  # no re-pruned runs, no sentence about them
    pruned = run | {"label": "winograd re-pruned", "cycles": 7, "energy_pj": 2e9, "spmat_bytes_per_pe": 5,
                    "layers3x3_total": total | {"real_macs": 1234, "cycles": 6}}
    study["runs"].append(pruned)
    study["comparison"]["G = 1, re-pruned"] = [layer_comp, comp | {"mac_ratio": 0.5, "cycle_ratio": 1.25}]
    text = summary(study)
    assert ("Timed, the re-pruned 3x3 layers do 1,234 real multiplies (2.00x more than im2col) in 6 cycles "
            "(1.25x faster than im2col; the whole network 7 cycles, 2.00 mJ, 5 Spmat bytes per PE against 8):") in text
    assert "pruning" in build_document(study).sections[-1].blocks[-1].caption
