"""Event (SimPy) and fast (Numba) engines agree exactly on randomized layers.

Every case runs the full ``simulate`` path with both engines and compares the whole
report (cycles, every statistic, every per-PE array, every action count); both
engines' outputs must also equal the functional fixed-point reference.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eiesim.config.arch import load_arch
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.run.simulate import simulate
from eiesim.timing import fast as fast_engine

CASES = {"count": 0}


@st.composite
def cases(draw):
    n = draw(st.sampled_from([1, 2, 3, 4]))
    regs = draw(st.integers(1, 4))
    arch_over = {
        "num_pes": n, "act_regs_per_pe": regs, "fifo_depth": draw(st.sampled_from([1, 2, 3, 7, 8])),
        "rel_index_bits": draw(st.sampled_from([1, 2, 4])),
        "spmat_sram.width_bits": draw(st.sampled_from([8, 16, 32, 64])),
        "timing.broadcast_latency_cycles": draw(st.integers(0, 3)),
        "timing.pipeline_depth": draw(st.integers(1, 4)),
        "timing.writeback_cycles": draw(st.integers(0, 2)),
        "timing.empty_column_cycles": draw(st.integers(0, 3)),
        "ccu.nonzero_finder": draw(st.sampled_from(["register_row", "skip_zeros"])),
        "ccu.bias": draw(st.sampled_from(["column", "output_path"])),
        "act_sram.size_bytes": draw(st.sampled_from([0, 64, 4096])),
        "dram.sram_overflow": "stream",
        # pixel groups: any divisor of N (G = N included: one PE per group) or auto
        "mapping.pixel_groups": draw(st.sampled_from([g for g in (1, 2, 3, 4) if n % g == 0] + ["auto"])),
    }
    cap = n * regs
    kind = draw(st.sampled_from(["fc", "conv"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    wd = draw(st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]))
    ad = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    if kind == "fc":
        m = draw(st.integers(1, 3 * cap + 2))             # M > N*regs -> several row blocks
        v = draw(st.integers(1, 2 * cap + 3))             # V > N*regs -> several input batches
        shape = (m, v)
        in_shape = (v,)
        kw = {"kind": "fc"}
    else:
        c, k = draw(st.integers(1, 3)), draw(st.sampled_from([1, 2, 3]))
        m = draw(st.integers(1, 2 * cap + 1))
        h, w = draw(st.integers(k, 5)), draw(st.integers(k, 5))
        shape = (m, c, k, k)
        in_shape = (c, h, w)
        kw = {"kind": "conv", "stride": (draw(st.integers(1, 2)),) * 2, "padding": (draw(st.integers(0, 1)),) * 2}
    codebook = np.array([-1.5, -0.5, 0.25, 1.0, 2.0], np.float32)
    codes = rng.integers(0, len(codebook), size=shape)
    weights = np.where(rng.random(shape) < wd, codebook[codes], 0.0).astype(np.float32)
    if draw(st.booleans()) and kind == "fc" and shape[1] > 2:
        weights[:, 1] = 0.0                               # an empty column
    if draw(st.booleans()) and kind == "fc" and shape[0] > 20:
        weights[1:, 0] = 0.0                              # one long zero run (> 15 rows) below row 0
        weights[0, 0] = 1.0
    bias_density = draw(st.sampled_from([0.0, 0.1, 1.0]))   # runs of zero bias exercise the bias column's padding
    bias = np.where(rng.random(m) < bias_density, rng.normal(size=m), 0.0)
    layer = layer_from_dense("L", weights, codes_dense=codes, codebook=codebook, bias=bias,
                             relu=draw(st.booleans()), **kw)
    x = np.where(rng.random(in_shape) < ad, rng.integers(-3, 4, size=in_shape), 0).astype(np.float32)
    return arch_over, Workload("rand", "hypothesis", in_shape, None, [layer], x)


def _comparable(result):
    return result.to_dict()  # the whole report body: it names no engine, so it must match exactly


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_event_and_fast_engines_are_identical(case):
    arch_over, workload = case
    arch = load_arch(None, {"codebook_bits": 4, **arch_over})
    fast = simulate(arch, workload, engine="fast")
    event = simulate(arch, workload, engine="event")
    with mock.patch.object(fast_engine, "round_lane_dtype", lambda *_: np.int64):
        wide = simulate(arch, workload, engine="fast")  # the rounds kernel's 64-bit lanes, used for huge layers
    assert fast.check["functional"] == "pass", fast.check
    assert event.check["functional"] == "pass", event.check
    assert _comparable(fast) == _comparable(event) == _comparable(wide)
    for name in fast.outputs:
        assert np.array_equal(fast.outputs[name], event.outputs[name])
    for stats in fast.layers:  # the cycle breakdown adds up to N x the layer's cycles
        assert sum(stats.breakdown_pe_cycles.values()) == arch.num_pes * stats.cycles
        assert min(stats.breakdown_pe_cycles.values()) >= 0
    CASES["count"] += 1


def test_two_layer_network_with_concat_is_identical():
    rng = np.random.default_rng(7)
    cb = np.array([-1.0, 0.5, 1.0], np.float32)

    def conv(name, out_c, in_c, k, inputs, pad=0):
        codes = rng.integers(0, 3, size=(out_c, in_c, k, k))
        w = np.where(rng.random(codes.shape) < 0.5, cb[codes], 0).astype(np.float32)
        return layer_from_dense(name, w, codes_dense=codes, codebook=cb, inputs=inputs, padding=(pad, pad))

    layers = [conv("a", 5, 2, 1, ("input",)), conv("b", 3, 5, 1, ("a",)), conv("c", 4, 5, 3, ("a",), 1),
              conv("d", 6, 7, 1, ("b", "c"))]
    x = rng.integers(0, 3, size=(2, 4, 4)).astype(np.float32)
    wl = Workload("net", "test", (2, 4, 4), None, layers, x)
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 3, "act_regs_per_pe": 2, "fifo_depth": 2, "act_sram.size_bytes": 16})
    fast, event = simulate(arch, wl, engine="fast"), simulate(arch, wl, engine="event")
    assert fast.check["functional"] == "pass" and event.check["functional"] == "pass"
    assert _comparable(fast) == _comparable(event)
    assert [s["start_cycle"] for s in fast.to_dict()["layers"]] == [
        sum(s.cycles for s in fast.layers[:i]) for i in range(4)]


def _fc_case(m, v, wd, ad, seed=1, **over):
    rng = np.random.default_rng(seed)
    cb = np.array([-1.0, 0.5, 2.0], np.float32)
    codes = rng.integers(0, 3, size=(m, v))
    w = np.where(rng.random((m, v)) < wd, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("fc", w, codes_dense=codes, codebook=cb, kind="fc", relu=False)
    x = np.where(rng.random(v) < ad, rng.integers(1, 5, size=v), 0).astype(np.float32)
    return load_arch(None, {"codebook_bits": 4, **over}), Workload("fc", "test", (v,), None, [layer], x)


@pytest.mark.parametrize("label,case,feature", [
    ("all-zero input", _fc_case(12, 9, 0.5, 0.0, num_pes=4), lambda s: s.nonzero_activations == 0),
    ("one PE", _fc_case(12, 9, 0.5, 0.7, num_pes=1), lambda s: len(s.busy_cycles) == 1),
    ("FIFO depth 1", _fc_case(12, 9, 0.5, 0.7, num_pes=4, fifo_depth=1), lambda s: s.broadcast_stall_cycles > 0),
    ("long zero runs", _fc_case(80, 6, 0.03, 1.0, num_pes=1, act_regs_per_pe=128),
     lambda s: s.padding_entries > 0),
    ("M > N*regs", _fc_case(40, 5, 0.4, 1.0, num_pes=2, act_regs_per_pe=4), lambda s: s.row_blocks == 5),
    ("V > N*regs", _fc_case(5, 30, 0.4, 0.5, num_pes=2, act_regs_per_pe=4), lambda s: s.input_batches == 4),
    ("empty columns", _fc_case(8, 12, 0.05, 1.0, num_pes=4), lambda s: int(s.empty_cycles.sum()) > 0),
    ("a single column, one entry per word", _fc_case(3, 1, 1.0, 1.0, num_pes=1, act_regs_per_pe=3,
                                                     **{"spmat_sram.width_bits": 8}),
     lambda s: s.actions["spmat_word_reads"] == 3),
    ("long zero runs, 64-row blocks, 1-bit indices", _fc_case(256, 7, 0.05, 1.0, num_pes=2, rel_index_bits=1),
     lambda s: s.padding_entries > s.entries_processed // 2),
    # the fast kernel keeps the PEs that hold no entry of a block as one shared state
    ("fewer rows than PEs", _fc_case(3, 9, 0.6, 0.8, num_pes=8, fifo_depth=1),
     lambda s: not s.busy_cycles[3:].any() and s.busy_cycles[:3].all()),
    ("a last row block of fewer rows than PEs", _fc_case(10, 7, 0.5, 0.9, num_pes=4, act_regs_per_pe=2),
     lambda s: s.row_blocks == 2),
    ("PEs without entries drop the tail of a round", _fc_case(2, 12, 0.5, 1.0, num_pes=4, fifo_depth=2,
                                                              **{"timing.empty_column_cycles": 3}),
     lambda s: s.actions["fifo_pops"] < s.actions["fifo_pushes"]),
])
def test_edge_cases_are_identical(label, case, feature):
    arch, workload = case
    fast, event = simulate(arch, workload, engine="fast"), simulate(arch, workload, engine="event")
    assert feature(fast.layers[0]), label
    assert fast.check["functional"] == "pass" and event.check["functional"] == "pass"
    assert _comparable(fast) == _comparable(event)


def test_the_rounds_kernel_uses_32_bit_lanes_only_where_no_timestamp_can_overflow():
    from eiesim.encoding import layout_layer
    from eiesim.timing.contract import TimingParams

    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 4})
    small = layer_from_dense("s", np.ones((8, 8), np.float32), codebook=np.array([1.0]), kind="fc")
    assert fast_engine.round_lane_dtype(layout_layer(small, arch), TimingParams.from_arch(arch)) is np.int32
    slow = load_arch(None, {"codebook_bits": 4, "num_pes": 4096, "act_regs_per_pe": 65536, "timing.empty_column_cycles": 8})
    # A batch of 2**28 activations, each of which may move a round on by L + 2 + Z = 12 cycles: beyond 2**30.
    assert fast_engine.round_lane_dtype(layout_layer(small, slow), TimingParams.from_arch(slow)) is np.int64
