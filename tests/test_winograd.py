"""Winograd F(2x2, 3x3) layers (``mapping.conv3x3: winograd``; docs/timing-model.md, "Winograd convolution").

Expected values come from the hand-worked example of docs/timing-model.md (section 4.2),
from slow obvious loops written here (direct convolution, the transform matrices applied
tile by tile), or from the direct fixed-point convolution with the documented error bound.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from eiesim.config.arch import load_arch
from eiesim.network.fixed_point import LayerFormat, quantize
from eiesim.network.winograd import (accumulate_winograd, fixed_point_error_bound, is_winograd_conv, transform_input,
                                     winograd_conv_float, winograd_layer)
from eiesim.network.workload import Layer, Workload, layer_from_dense
from eiesim.run.simulate import simulate

from _support import ROOT

TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
# The transform matrices, written out again (Lavin & Gray 2016), for the slow references below.
B_T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
G_M = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
A_T = [[1, 1, 1, 0], [0, 1, -1, -1]]


def slow_direct_conv(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """Cross-correlation, stride 1, zero padding: y[o, i, j] = sum w[o, c, k, l] x[c, i + k - pad, j + l - pad]."""
    c_out, c_in, kh, kw = w.shape
    _, h, wd = x.shape
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((c_out, oh, ow), dtype=np.result_type(x, w, np.float64) if x.dtype.kind == "f" else object)
    for o in range(c_out):
        for i in range(oh):
            for j in range(ow):
                s = 0
                for c in range(c_in):
                    for k in range(kh):
                        for m in range(kw):
                            yy, xx = i + k - pad, j + m - pad
                            if 0 <= yy < h and 0 <= xx < wd:
                                s += w[o, c, k, m] * x[c, yy, xx]
                y[o, i, j] = s
    return y


def slow_tile_transform(d: np.ndarray) -> np.ndarray:
    """B^T d B of one 4 x 4 tile with explicit loops."""
    t = [[sum(B_T[i][k] * d[k][m] for k in range(4)) for m in range(4)] for i in range(4)]
    return np.array([[sum(t[i][m] * B_T[j][m] for m in range(4)) for j in range(4)] for i in range(4)])


def random_layer(rng: np.random.Generator, c_in: int, c_out: int, pad: int, density: float = 0.4,
                 bits: int = 4) -> Layer:
    cb = np.round(np.linspace(-1.0, 1.0, 1 << bits), 3).astype(np.float32)
    cb[cb == 0] = 0.125
    w = cb[rng.integers(0, 1 << bits, (c_out, c_in, 3, 3))] * (rng.random((c_out, c_in, 3, 3)) < density)
    return layer_from_dense("w3", w, codebook=cb, padding=(pad, pad), bias=rng.normal(0, 0.2, c_out))


@pytest.mark.parametrize("h,w,pad", [(4, 4, 0), (5, 5, 1), (6, 7, 0), (7, 6, 2), (3, 3, 1)])
def test_winograd_equals_the_direct_convolution_in_float(h: int, w: int, pad: int) -> None:
    """With the exact transformed weights G g G^T, F(2x2, 3x3) is the convolution (odd sizes: edge tiles cropped)."""
    rng = np.random.default_rng(h * 100 + w * 10 + pad)
    layer = random_layer(rng, 3, 5, pad)
    x = rng.random((3, h, w))
    got = winograd_conv_float(x, layer)
    want = slow_direct_conv(x, layer.dense_weights().astype(np.float64), pad)
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) < 1e-12


def test_input_transform_of_one_tile_matches_the_matrices() -> None:
    rng = np.random.default_rng(3)
    layer = random_layer(rng, 2, 2, 0)
    x = rng.integers(-50, 50, (2, 4, 4))
    v = transform_input(x, layer)  # (16, C, 1, 1)
    for c in range(2):
        assert np.array_equal(v[:, c, 0, 0].reshape(4, 4), slow_tile_transform(x[c]))


def test_the_transformed_input_keeps_16_bits() -> None:
    """|B^T d B| <= 4 max |d|: shifted right by 2 (rounding half up) a non-negative input never saturates;
    only -32768 in a tile of +-full-scale values reaches 4 x 32768 = 2^17, saturated to 32767."""
    layer = random_layer(np.random.default_rng(0), 1, 1, 0)
    wl = winograd_layer(layer, 4)
    fmt = LayerFormat(weight_frac=14, in_frac=10, out_frac=10)
    full = np.full((1, 4, 4), 32767)
    # Column/row pattern (0, 1, 1, 0) reaches the largest |V|: V(1, 1) = d11 + d12 + d21 + d22.
    assert wl.input_q(full, fmt).max() == (4 * 32767 + 2) >> 2 == 32767
    checker = np.array([[[0, 32767, -32768, 0], [0, -32768, 32767, 0]] * 2])
    v = wl.input_q(checker, fmt)
    assert v.max() <= 32767 and v.min() >= -32768


def tile_workload() -> tuple[Workload, object]:
    """The hand-worked example of docs/timing-model.md section 4.2: one 4 x 4 tile on 4 PEs."""
    w = np.zeros((4, 1, 3, 3), np.float32)
    w[0, 0, 1, 1] = 1.0  # centre tap
    w[1, 0, 0, 0] = 1.0  # top-left tap
    w[2, 0, 2, 2] = 1.0  # bottom-right tap; output channel 3 is pruned away
    layer = layer_from_dense("wino", w, codebook=np.array([-1, -0.5, 0.5, 1], np.float32), padding=(1, 1))
    x = np.zeros((1, 2, 2), np.float32)
    x[0, 0, 0] = 1.0
    arch = load_arch(TINY).derive({"act_regs_per_pe": 16, "ccu.bias": "output_path", "mapping.conv3x3": "winograd"})
    return Workload("tile", "hand-worked example", (1, 2, 2), None, [layer], input=x), arch


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_one_tile_by_hand(engine: str) -> None:
    """docs/timing-model.md 4.2: V has 9 non-zeros (columns 5 6 7, 9 10 11, 13 14 15); every PE spends one
    cycle per column (one entry or Z = 1); broadcasts in cycles 1..9, pops 3..11, E = 12, C = 18;
    load 16 / 4 = 4, store 64 / 4 = 16, I/O (8 + 32) / 16 -> 3: 41 cycles."""
    wl, arch = tile_workload()
    result = simulate(arch, wl, engine=engine)
    layer = result.to_dict()["layers"][0]
    assert (layer["cycles"], layer["io_cycles"], layer["load_cycles"], layer["compute_cycles"],
            layer["store_cycles"]) == (41, 3, 4, 18, 16)
    assert (layer["rows"], layer["cols"], layer["pixels"]) == (64, 16, 1)
    assert layer["pe_cycles"] == {"busy": [4, 4, 9, 0], "empty": [5, 5, 0, 9], "starved": [3, 3, 3, 3],
                                  "stalled": [0, 0, 0, 0], "drain": [6, 6, 6, 6]}
    assert layer["actions"] == {
        "lnzd_ops": 9, "fifo_pushes": 36, "fifo_pops": 36, "ptr_reads": 36, "src_reg_reads": 9,
        "spmat_word_reads": 6, "codebook_lookups": 17, "macs": 17, "real_macs": 17, "dst_reg_reads": 17 + 64,
        "dst_reg_writes": 17, "entries_processed": 17, "padding_entries": 0, "act_sram_reads": 16,
        "act_sram_writes": 16, "src_reg_writes": 16, "dram_bytes_read": 8, "dram_bytes_written": 32,
        "transform_adds": 32 * 1 + 24 * 4}
    assert layer["mapping"]["winograd"] == {"tiles": 1, "rows_per_position": 4, "weight_density": 22 / 64,
                                            "transformed_input_density": 9 / 16}
    # The outputs are the convolution's: the centre tap copies x(0, 0) to y0(0, 0), the top-left tap to y1(1, 1).
    frac = result.plan.format("wino").out_frac
    want = np.zeros((4, 2, 2), np.int64)
    want[0, 0, 0] = want[1, 1, 1] = 1 << frac
    assert np.array_equal(result.outputs["wino"], want)
    assert result.check["functional"] == "pass"


def small_network(rng: np.random.Generator) -> Workload:
    """A 1 x 1 squeeze layer feeding a padded 3 x 3 layer and a stride-2 3 x 3 layer (which keeps im2col)."""
    cb = np.linspace(-1.0, 1.0, 16).astype(np.float32)
    cb[cb == 0] = 0.1
    squeeze = layer_from_dense("sq", cb[rng.integers(0, 16, (4, 3, 1, 1))] * (rng.random((4, 3, 1, 1)) < 0.7),
                               codebook=cb, bias=rng.normal(0, 0.1, 4))
    expand = random_layer(rng, 4, 8, 1)
    expand = layer_from_dense("ex3", expand.dense_weights(), codebook=expand.codebook, padding=(1, 1),
                              bias=expand.bias, inputs=("sq",))
    strided = layer_from_dense("st3", random_layer(rng, 8, 4, 1).dense_weights(), codebook=expand.codebook,
                               padding=(1, 1),
                               stride=(2, 2), inputs=("ex3",), bias=np.zeros(4))
    return Workload("small", "test", (3, 7, 6), None, [squeeze, expand, strided],
                    input=rng.random((3, 7, 6)).astype(np.float32))


@pytest.mark.parametrize("groups", [1, 2])
def test_both_engines_agree_and_match_the_winograd_reference(groups: int) -> None:
    rng = np.random.default_rng(11 + groups)
    wl = small_network(rng)
    arch = load_arch(TINY).derive({"mapping.conv3x3": "winograd", "mapping.pixel_groups": groups,
                                   "act_regs_per_pe": 32})
    fast, event = (simulate(arch, wl, engine=e) for e in ("fast", "event"))
    assert json.dumps(fast.to_dict()["layers"], sort_keys=True) == json.dumps(event.to_dict()["layers"], sort_keys=True)
    assert fast.check["functional"] == event.check["functional"] == "pass"
    modes = [layer.get("mapping", {}).get("conv3x3", "im2col") for layer in fast.to_dict()["layers"]]
    assert modes == ["im2col", "winograd", "im2col"]
    # The layers that keep im2col time exactly as in an im2col run.
    plain = simulate(load_arch(TINY).derive({"mapping.pixel_groups": groups, "act_regs_per_pe": 32}), wl)
    assert fast.layers[0].cycles == plain.layers[0].cycles


def test_im2col_is_the_default_and_leaves_the_architecture_dump_unchanged() -> None:
    arch = load_arch(TINY)
    assert arch.mapping.conv3x3 == "im2col"
    assert "conv3x3" not in arch.to_dict()["mapping"]
    wino = arch.derive({"mapping.conv3x3": "winograd"})
    assert wino.to_dict()["mapping"]["conv3x3"] == "winograd"
    assert wino.derive({"num_pes": 2}).mapping.conv3x3 == "winograd"


def test_which_layers_run_winograd() -> None:
    rng = np.random.default_rng(0)
    assert is_winograd_conv(random_layer(rng, 2, 2, 1))
    one = layer_from_dense("one", np.ones((2, 2, 1, 1), np.float32), codebook=np.array([1.0], np.float32))
    strided = layer_from_dense("s", np.ones((2, 2, 3, 3), np.float32), codebook=np.array([1.0], np.float32),
                               stride=(2, 2))
    fc = layer_from_dense("fc", np.ones((2, 4), np.float32), codebook=np.array([1.0], np.float32), kind="fc")
    assert not any(is_winograd_conv(layer) for layer in (one, strided, fc))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fixed_point_winograd_is_within_the_documented_bound_of_the_direct_convolution(seed: int) -> None:
    """docs/fixed-point.md, "Winograd layers": |acc_W - acc_direct| <= sum over the tile positions an output
    adds (|A| weights) of sum_c (|U_s - U| |V| + |U_s| |V_q 4 - V|), plus half an accumulator LSB.

    The direct accumulator and the bound are computed here with loops, from the stored (shared)
    transformed weights and the integer input."""
    rng = np.random.default_rng(seed)
    c_in, c_out, h, w, pad = 3, 4, 5 + seed, 6, 1
    layer = random_layer(rng, c_in, c_out, pad, bits=3)
    wl = winograd_layer(layer, 4)
    fmt = LayerFormat(weight_frac=14, in_frac=12, out_frac=12)
    x_q = rng.integers(0, 1 << 13, (c_in, h, w)) * (rng.random((c_in, h, w)) < 0.6)
    got = accumulate_winograd(wl, x_q, fmt)
    g_q = quantize(layer.dense_weights(), fmt.weight_frac)[0]
    direct = slow_direct_conv(x_q.astype(object), g_q.astype(object), pad).astype(np.int64)
    assert got.shape == direct.shape
    # The bound, tile by tile.
    wf_u = wl.matrix_format(fmt).weight_frac
    u_s = quantize(wl.u_shared, wf_u)[0] / 2.0 ** wf_u  # (16, C_out, C_in), as the PEs multiply
    g_real = g_q / 2.0 ** fmt.weight_frac
    u = np.array([[[np.array(G_M) @ g_real[o, c] @ np.array(G_M).T for c in range(c_in)] for o in range(c_out)]])
    u = u[0].transpose(2, 3, 0, 1).reshape(16, c_out, c_in)
    xp = np.zeros((c_in, h + 2 * pad + 4, w + 2 * pad + 4))
    xp[:, pad:pad + h, pad:pad + w] = x_q / 2.0 ** fmt.in_frac
    oh, ow = h + 2 * pad - 2, w + 2 * pad - 2
    bound = np.zeros((c_out, oh, ow))
    for ty in range(-(-oh // 2)):
        for tx in range(-(-ow // 2)):
            v = np.array([slow_tile_transform(xp[c, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]).reshape(16)
                          for c in range(c_in)]).T  # (16, C_in), real values
            v_err = np.abs(np.floor(v * 2.0 ** (fmt.in_frac - 2) + 0.5) / 2.0 ** (fmt.in_frac - 2) - v)
            per_pos = np.abs(u_s - u) @ np.abs(v)[:, :, None] + np.abs(u_s) @ v_err[:, :, None]  # (16, C_out, 1)
            per_pos = per_pos[:, :, 0].reshape(4, 4, c_out)
            for i in range(2):
                for j in range(2):
                    if 2 * ty + i < oh and 2 * tx + j < ow:
                        bound[:, 2 * ty + i, 2 * tx + j] = sum(
                            abs(A_T[i][k]) * abs(A_T[j][m]) * per_pos[k, m] for k in range(4) for m in range(4))
    bound_lsb = bound * 2.0 ** fmt.acc_frac + 0.5
    assert np.all(np.abs(got - direct) <= bound_lsb + 1e-6)
    assert np.allclose(fixed_point_error_bound(wl, x_q, fmt), bound_lsb)  # the library's bound is this one
    assert np.any(got != direct)  # the transforms do round: the bound is not vacuous


def slow_repruned_positions(w: np.ndarray, density: float) -> set[tuple[int, int, int]]:
    """(position, o, c) of the transformed weights kept when G g G^T is pruned to ``density`` of its 16 C_out C_in
    entries: the largest |U|, ties to the earlier (position, o, c), written with loops over the kernels."""
    c_out, c_in = w.shape[:2]
    g_m = np.array(G_M)
    u = np.zeros((16, c_out, c_in))
    for o in range(c_out):
        for c in range(c_in):
            u[:, o, c] = (g_m @ w[o, c].astype(np.float64) @ g_m.T).reshape(16)
    keep = int(round(density * u.size))
    order = sorted(range(u.size), key=lambda i: (-abs(u.reshape(-1)[i]), i))[:keep]
    return {tuple(int(k) for k in np.unravel_index(i, u.shape)) for i in order if u.reshape(-1)[i] != 0}


@pytest.mark.parametrize("groups", [1, 2])
def test_repruned_winograd_layers_are_timed_on_both_engines(groups: int) -> None:
    """mapping.winograd_weights: repruned stores only the largest |G g G^T| down to the kernel's density; both
    engines run that layer alike, bit-exact with the Winograd reference of the re-pruned weights, and its real
    MACs are the stored entries of each column times the tiles whose rounded transformed input is non-zero."""
    rng = np.random.default_rng(31 + groups)
    wl = small_network(rng)
    base = {"mapping.conv3x3": "winograd", "mapping.pixel_groups": groups, "act_regs_per_pe": 32,
            "ccu.bias": "output_path"}
    arch = load_arch(TINY).derive({**base, "mapping.winograd_weights": "repruned"})
    assert arch.to_dict()["mapping"]["winograd_weights"] == "repruned"
    fast, event = (simulate(arch, wl, engine=e) for e in ("fast", "event"))
    assert json.dumps(fast.to_dict()["layers"], sort_keys=True) == json.dumps(event.to_dict()["layers"], sort_keys=True)
    assert fast.check["functional"] == event.check["functional"] == "pass"
    ex3 = wl.layers[1]
    c_out, c_in = ex3.out_channels, ex3.in_channels
    kept = slow_repruned_positions(ex3.dense_weights(), ex3.density)
    stats = fast.to_dict()["layers"][1]
    assert stats["mapping"]["winograd"]["weights"] == "repruned"
    assert stats["mapping"]["winograd"]["weight_density"] == len(kept) / (16 * c_out * c_in)
    # The stored entries: row xn C_pad + o, column xn C_in + c (C_pad = 8 on 4 PEs).
    matrix = winograd_layer(ex3, 4, density=ex3.density).matrix.weights_csr().tocoo()
    assert {(int(r) // 8, int(r) % 8, int(k) % c_in) for r, k in zip(matrix.row, matrix.col)} == kept
    assert all(int(k) // c_in == int(r) // 8 for r, k in zip(matrix.row, matrix.col))
    # Real MACs counted tile by tile from the squeeze layer's fixed-point output.
    x = fast.outputs["sq"]
    xp = np.zeros((c_in, 7 + 2 + 1, 6 + 2 + 2), np.int64)  # 7 x 6 map, padding 1, up to 2 TH + 2 by 2 TW + 2
    xp[:, 1:8, 1:7] = x
    per_column = {}
    for (pos, _o, c) in kept:
        per_column[pos, c] = per_column.get((pos, c), 0) + 1
    macs = 0
    for ty in range(4):
        for tx in range(3):
            for c in range(c_in):
                v = slow_tile_transform(xp[c, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]).reshape(16)
                v_q = np.floor_divide(v + 2, 4)  # >> 2, rounding half up
                macs += sum(per_column.get((pos, c), 0) for pos in range(16) if v_q[pos] != 0)
    assert stats["actions"]["real_macs"] == macs
    # Fewer stored weights than the unpruned Winograd layer, and fewer multiplies.
    unpruned = simulate(load_arch(TINY).derive(base), wl).to_dict()["layers"][1]
    assert "weights" not in unpruned["mapping"]["winograd"]
    assert stats["actions"]["real_macs"] < unpruned["actions"]["real_macs"]
    assert stats["mapping"]["winograd"]["weight_density"] < unpruned["mapping"]["winograd"]["weight_density"]


def test_repruned_weights_change_nothing_under_im2col() -> None:
    wl = small_network(np.random.default_rng(5))
    arch = load_arch(TINY).derive({"act_regs_per_pe": 32})
    plain, repruned = (simulate(a, wl).to_dict()["layers"]
                       for a in (arch, arch.derive({"mapping.winograd_weights": "repruned"})))
    assert json.dumps(plain, sort_keys=True) == json.dumps(repruned, sort_keys=True)
    assert "winograd_weights" not in arch.to_dict()["mapping"]


def test_the_event_time_budget_counts_what_a_winograd_layer_runs() -> None:
    """The hand-worked tile (docs/timing-model.md 4.2): the event engine broadcasts the 9 non-zeros of V once
    (one row block: 64 rows on 4 PEs x 16 registers) and walks 17 entries, where im2col broadcasts the one
    non-zero input once in each of the 4 output pixels' patches and walks the 2 stored taps that reach it."""
    from eiesim.run.simulate import estimate_event_layer_seconds
    from eiesim.timing.event_budget import SECONDS_PER_ENTRY, SECONDS_PER_PE_BROADCAST

    wl, arch = tile_workload()
    (seconds,) = estimate_event_layer_seconds(arch, wl)
    assert seconds == pytest.approx(SECONDS_PER_PE_BROADCAST * 9 * 4 + SECONDS_PER_ENTRY * 17)
    # im2col: x(0, 0) is in the patch of every output pixel (padding 1), at tap (1 - i, 1 - j) of pixel (i, j):
    # the centre tap (channel 0) reaches it from pixel (0, 0), the top-left tap (channel 1) from pixel (1, 1).
    (im2col,) = estimate_event_layer_seconds(arch.derive({"mapping.conv3x3": "im2col"}), wl)
    assert im2col == pytest.approx(SECONDS_PER_PE_BROADCAST * 4 * 4 + SECONDS_PER_ENTRY * 2)


def test_the_trace_draws_a_winograd_layer_as_it_runs() -> None:
    """The hand-worked tile (docs/timing-model.md 4.2) traced: one round (one tile) of 41 cycles with the PE
    states of the worked example; the trace computes its spans from the rules, without the engines."""
    from eiesim.timing.trace import layer_trace

    wl, arch = tile_workload()
    meta = layer_trace(arch, wl, "wino")["metadata"]
    assert (meta["layer_cycles"], meta["rounds_total"], meta["io_cycles"]) == (41, 1, 3)
    assert (meta["conv3x3"], meta["tiles"]) == ("winograd", 1)
    assert meta["pe_state_cycles"] == {"busy": [4, 4, 9, 0], "empty": [5, 5, 0, 9], "starved": [3, 3, 3, 3],
                                       "stalled": [0, 0, 0, 0], "drain": [6, 6, 6, 6]}


@pytest.mark.parametrize("weights", ["transformed", "repruned"])
def test_the_trace_of_a_winograd_layer_agrees_with_the_engine(weights: str) -> None:
    """Trace and fast engine, two methods: the same cycles and PE states for the Winograd layer of a small
    network (its input computed through the squeeze layer), and for the im2col layer after it."""
    from eiesim.timing.trace import layer_trace

    wl = small_network(np.random.default_rng(7))
    arch = load_arch(TINY).derive({"mapping.conv3x3": "winograd", "mapping.winograd_weights": weights,
                                   "act_regs_per_pe": 32})
    stats = {s["name"]: s for s in simulate(arch, wl).to_dict()["layers"]}
    for name in ("ex3", "st3"):
        meta = layer_trace(arch, wl, name)["metadata"]
        assert meta["layer_cycles"] == stats[name]["cycles"]
        assert meta["pe_state_cycles"] == stats[name]["pe_cycles"]
    assert meta.get("conv3x3") is None  # st3 (stride 2) keeps im2col
