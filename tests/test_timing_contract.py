"""The timing contract: the worked 4-PE example of docs/timing-model.md, phases, I/O mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _support import DOC_INPUT as DOC_INPUT_LIST
from _support import doc_example_layer

from eiesim.config.arch import load_arch
from eiesim.encoding import encode_layer, layout_layer
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.timing.contract import (
    LayerGeometry,
    PhaseCycles,
    TimingParams,
    layer_actions,
    layer_geometry,
    layer_io,
    phase_totals,
    round_schedule,
    round_timeline,
    sequence_layers,
)
from eiesim.timing.event import run_layer_event
from eiesim.timing.fast import run_layer_fast

ROOT = Path(__file__).resolve().parents[1]
#: docs/timing-model.md section 4: local rows holding non-zeros, per PE and column.
DOC_INPUT = np.array(DOC_INPUT_LIST, dtype=np.int64)

#: The doc's cycle-by-cycle table as events: finder broadcasts at B_k, PE pops at S_{p,k}, done at F_{p,k}.
DOC_TRACE = [
    (0, "ccu", "broadcast 0"), (1, "ccu", "broadcast 2"), (2, "ccu", "broadcast 3"),
    (2, 0, "pop 0"), (2, 1, "pop 0"), (2, 2, "pop 0"), (2, 3, "pop 0"),
    (3, 1, "done 0"), (3, 1, "pop 2"), (3, 2, "done 0"), (3, 2, "pop 2"), (3, 3, "done 0"), (3, 3, "pop 2"),
    (4, 1, "done 2"), (4, 1, "pop 3"), (4, 3, "done 2"), (4, 3, "pop 3"),
    (5, 3, "done 3"),
    (6, "ccu", "broadcast 5"), (6, 0, "done 0"), (6, 0, "pop 2"), (6, 1, "done 3"), (6, 2, "done 2"),
    (6, 2, "pop 3"),
    (7, 0, "done 2"), (7, 0, "pop 3"), (7, 2, "done 3"),
    (8, "ccu", "broadcast bias"), (8, 0, "done 3"), (8, 0, "pop 5"), (8, 1, "pop 5"), (8, 2, "pop 5"),
    (8, 3, "pop 5"),
    (9, 0, "done 5"), (9, 1, "done 5"), (9, 2, "done 5"),
    (10, 0, "pop bias"), (10, 1, "pop bias"), (10, 2, "pop bias"), (10, 3, "done 5"), (10, 3, "pop bias"),
    (11, 0, "done bias"), (11, 1, "done bias"), (11, 2, "done bias"), (11, 3, "done bias"),
]
#: docs/timing-model.md section 4, the per-PE work n_{p,k} of the broadcast columns 0, 2, 3, 5 and the bias.
DOC_WORK = np.array([[4, 1, 0, 1], [1, 0, 3, 1], [0, 2, 1, 1], [1, 1, 0, 2], [1, 0, 1, 0]])


def _doc_setup(overrides=()):
    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml", list(overrides))
    layer = doc_example_layer(relu=False)
    params = TimingParams.from_arch(arch)
    return arch, layer, layer.dense_weights()[:, :, 0, 0], encode_layer(layer, arch), layer_geometry(layer, (6,), params), params


def test_doc_example_event_trace_cycle_by_cycle():
    _, _, w, enc, geom, params = _doc_setup()
    trace: list = []
    acc, comp, phases = run_layer_event(enc, geom, DOC_INPUT, np.array([7]), params, trace=trace)
    assert trace == DOC_TRACE
    # The bias entries do no arithmetic in the engine (the output path adds the bias).
    assert acc.tolist() == (7 * (w.astype(np.int64) @ DOC_INPUT)).tolist()


def _run(engine, arch, layer, enc, geom, params):
    if engine == "event":
        _, comp, phases = run_layer_event(enc, geom, DOC_INPUT, np.array([1]), params)
    else:
        _, comp = run_layer_fast(layout_layer(layer, arch), layer, geom, DOC_INPUT, np.array([1]), params)
        phases = phase_totals(geom)
    return comp, phases


@pytest.mark.parametrize("engine", ["event", "fast"])
def test_doc_example_statistics(engine):
    arch, layer, _, enc, geom, params = _doc_setup()
    comp, phases = _run(engine, arch, layer, enc, geom, params)
    assert comp.compute_cycles == 17
    assert comp.busy.tolist() == [7, 4, 5, 5]
    assert comp.empty.tolist() == [1, 2, 2, 1]
    assert comp.starved.tolist() == [3, 5, 4, 5]
    assert comp.stalled.tolist() == [0, 0, 0, 0]
    assert comp.drain.tolist() == [6, 6, 6, 6]
    assert comp.broadcast_stall_cycles == 3
    assert comp.spmat_word_reads == 9
    assert (comp.entries, comp.padding, comp.nonzero_activations, comp.broadcasts, comp.pops) == (21, 0, 4, 5, 20)
    assert (phases.load_cycles, phases.store_cycles, phases.rounds) == (0, 0, 1)


def test_doc_example_full_action_list():
    """Every action count of the worked example, as docs/timing-model.md section 4 lists them."""
    arch, layer, _, enc, geom, params = _doc_setup()
    comp, phases = _run("fast", arch, layer, enc, geom, params)
    io = layer_io(_one_layer_workload(layer, (6,)), layer, arch, weight_bytes=0)
    acts = layer_actions(comp, phases, io)
    assert {k: v for k, v in acts.items() if not k.startswith("dram")} == {
        "lnzd_ops": 5, "fifo_pushes": 20, "fifo_pops": 20, "ptr_reads": 20, "src_reg_reads": 4,
        "spmat_word_reads": 9, "codebook_lookups": 21, "macs": 21, "real_macs": 21, "dst_reg_reads": 21,
        "dst_reg_writes": 21, "entries_processed": 21, "padding_entries": 0, "act_sram_reads": 0,
        "act_sram_writes": 0, "src_reg_writes": 0}


@pytest.mark.parametrize("engine", ["event", "fast"])
@pytest.mark.parametrize("overrides,cycles,ptr_reads,entries", [
    # docs/timing-model.md section 4, the alternatives: no bias column; an ideal finder.
    (["ccu.bias=output_path"], 16, 16, 19),
    (["ccu.nonzero_finder=skip_zeros"], 16, 20, 21),
])
def test_doc_example_alternatives(engine, overrides, cycles, ptr_reads, entries):
    arch, layer, _, enc, geom, params = _doc_setup(overrides)
    comp, _ = _run(engine, arch, layer, enc, geom, params)
    assert (comp.compute_cycles, comp.pops, comp.entries) == (cycles, ptr_reads, entries)


def test_round_statement_matches_the_doc_example():
    """contract.round_timeline, the rules' statement, gives the doc's table of section 4."""
    _, _, _, _, _, params = _doc_setup()
    tl = round_timeline(DOC_WORK, np.array([0, 2, 3, 5]), 2, True, params)
    assert tl.ready.tolist() == [0, 1, 2, 3, 8]
    assert tl.broadcast.tolist() == [0, 1, 2, 6, 8]
    assert tl.pop.tolist() == [[2, 2, 2, 2], [6, 3, 3, 3], [7, 4, 6, 4], [8, 8, 8, 8], [10, 10, 10, 10]]
    assert tl.done.tolist() == [[6, 3, 3, 3], [7, 4, 6, 4], [8, 6, 7, 5], [9, 9, 9, 10], [11, 11, 11, 11]]
    assert (tl.finder_done, tl.last_real, tl.cycles) == (8, 11, 17)
    assert tl.handled.all() and tl.pushed.all()


def _geom(kind, rows, cols, cap=16, n=4, pixels=(1, 1)):
    return LayerGeometry(kind, rows, cols, (cols, 1, 1), (1, 1), (1, 1), (0, 0), pixels, cap, n)


@pytest.mark.parametrize("geom,load_cycles,load_values,store_cycles,store_rows,rounds", [
    # fc, V <= cap, one block: no load, no store.
    (_geom("fc", 16, 16), 0, 0, 0, 0, 1),
    # fc, V = 40 > cap = 16: 3 batches (16, 16, 8) loaded: 4 + 4 + 2 cycles; one block -> no store.
    (_geom("fc", 10, 40), 10, 40, 0, 0, 3),
    # fc, 2 blocks (rows 16 + 4) x 3 batches: every round loads; stores 16 and 4 rows: 4 + 1 cycles.
    (_geom("fc", 20, 40), 20, 80, 5, 20, 6),
    # fc, 2 blocks, one batch: input stays in the registers; outputs stored (4 + 1 cycles).
    (_geom("fc", 20, 10), 0, 0, 5, 20, 2),
    # conv, 6 pixels, one block, one batch of 9: load ceil(9/4)=3 cycles per pixel; store 2 rows = 1 cycle.
    (_geom("conv", 2, 9, pixels=(2, 3)), 18, 54, 6, 12, 6),
    # conv, 2 pixels, 2 blocks, one batch: the patch is loaded once per pixel.
    (_geom("conv", 20, 9, pixels=(1, 2)), 6, 18, 10, 40, 4),
    # conv, 2 pixels, 2 blocks, 2 batches (16 + 4): every round loads (4 or 1 cycles).
    (_geom("conv", 20, 20, pixels=(1, 2)), 20, 80, 10, 40, 8),
])
def test_phase_totals_and_schedule(geom, load_cycles, load_values, store_cycles, store_rows, rounds):
    totals = phase_totals(geom)
    assert (totals.load_cycles, totals.load_values, totals.store_cycles, totals.store_rows, totals.rounds) == (
        load_cycles, load_values, store_cycles, store_rows, rounds)
    specs = list(round_schedule(geom))
    assert len(specs) == rounds
    assert sum(s.load_cycles(geom.num_pes) for s in specs) == load_cycles
    assert sum(s.store_cycles(geom.num_pes) for s in specs) == store_cycles
    assert [(s.pixel, s.block, s.batch) for s in specs] == sorted((s.pixel, s.block, s.batch) for s in specs)


def _one_layer_workload(layer, shape, x=None):
    return Workload("w", "test", shape, None, [layer], x)


def test_io_mode_counts_network_input_output_and_streamed_weights():
    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")  # 4 PEs x 256 B act SRAM = 1 KB on chip
    fc = layer_from_dense("fc", np.ones((8, 12), np.float32), codebook=np.array([1.0]), kind="fc")
    io = layer_io(_one_layer_workload(fc, (12,)), fc, arch, weight_bytes=100)
    # Network input 12 x 2 B always read; final output 8 x 2 B always written; 16 B/cycle.
    assert (io.bytes_read, io.bytes_written, io.cycles) == (24 + 100, 16, 9)
    conv = layer_from_dense("c", np.ones((4, 3, 3, 3), np.float32), codebook=np.array([1.0]), padding=(1, 1))
    wl = Workload("w", "t", (3, 20, 20), None,
                  [conv, layer_from_dense("c2", np.ones((2, 4, 1, 1), np.float32), codebook=np.array([1.0]),
                                          inputs=("c",))])
    io1 = layer_io(wl, wl.layers[0], arch, 0)
    # Input 3x20x20x2 = 2400 B read (network input); output 4x20x20x2 = 3200 B > 1 KB: written.
    assert (io1.bytes_read, io1.bytes_written) == (2400, 3200)
    io2 = layer_io(wl, wl.layers[1], arch, 0)
    # Input does not fit: read back; final output 2x20x20x2 = 1600 B written.
    assert (io2.bytes_read, io2.bytes_written, io2.cycles) == (3200, 1600, 300)


def test_layer_sequence_places_layers_back_to_back():
    spans = sequence_layers([PhaseCycles("a", 5, 2, 10, 1), PhaseCycles("b", 0, 0, 7, 0), PhaseCycles("c", 0, 0, 0, 0)])
    assert [(s.name, s.start_cycle, s.end_cycle) for s in spans] == [("a", 0, 18), ("b", 18, 25), ("c", 25, 25)]


def test_fifo_depth_one_serialises_broadcasts():
    # With D = 1 the finder must wait until every PE has popped the previous activation.
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 2, "fifo_depth": 1, "act_regs_per_pe": 4})
    w = np.zeros((2, 3), np.float32)
    w[0, :] = 1.0  # PE 0: one entry in each column; PE 1: none (Z = 1 cycle each); no bias entries
    layer = layer_from_dense("d1", w, codebook=np.array([1.0]), kind="fc")
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, (3,), params)
    trace: list = []
    _, comp, _ = run_layer_event(encode_layer(layer, arch), geom, np.array([1, 1, 1]), np.array([1]), params, trace)
    # Register rows (a0, a1) and (a2). a0: B = 0, popped in 2. a1 (position N - 1): reached in 1, waits for the
    # pops of a0 (cycle 2): B = 2, popped 4. a2: row 1 reached in 3, waits for a1's pops: B = 4, popped 6, done 7.
    # The finder is done in 4 + 1 + 1 = 6 (a2 is not at position N - 1): the bias is broadcast in 6 (a2 was
    # popped in 6), popped in 8 (an empty column everywhere). C = max(6 + 1, 7 + P + W = 13, 9) = 13.
    assert [t for t in trace if t[1] == "ccu"] == [(0, "ccu", "broadcast 0"), (2, "ccu", "broadcast 1"),
                                                  (4, "ccu", "broadcast 2"), (6, "ccu", "broadcast bias")]
    assert comp.broadcast_stall_cycles == (2 - 1) + (4 - 3) + (6 - 6)
    assert comp.compute_cycles == 13


def _one_pe_layer(weights, **over):
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 1, "act_regs_per_pe": 4, **over})
    layer = layer_from_dense("one", np.asarray(weights, np.float32), codebook=np.array([1.0]), kind="fc")
    params = TimingParams.from_arch(arch)
    return arch, layer, params, layer_geometry(layer, (layer.cols,), params)


@pytest.mark.parametrize("engine", ["event", "fast"])
@pytest.mark.parametrize("key,value", [
    ("timing.broadcast_latency_cycles", 2), ("timing.broadcast_latency_cycles", 5),
    ("timing.pipeline_depth", 4), ("timing.pipeline_depth", 7),
    ("timing.writeback_cycles", 2), ("timing.writeback_cycles", 0),
])
def test_each_latency_adds_its_cycles(engine, key, value):
    """One PE, one column of 3 entries: the round lasts L + 3 + P + W (hand-derived).

    The finder broadcasts a0 in cycle 0 (row 0, position 0 = N - 1); it is popped in L and its
    entries issued in L .. L + 2, so E = L + 3; the bias row (an empty column) is reached in 1,
    popped in L + 3, done by L + 4 <= C. C = max(1 + 1, E + P + W, L + 1 + P + W) = L + 3 + P + W.
    """
    arch, layer, params, geom = _one_pe_layer([[1.0], [1.0], [1.0]], **{key: value})
    lat, pipe, wb = params.latency, params.pipe_depth, params.writeback
    comp, _ = _engine_run(engine, arch, layer, geom, params, np.array([1]))
    assert comp.compute_cycles == lat + 3 + pipe + wb
    assert comp.busy.tolist() == [3] and comp.empty.tolist() == [params.empty_cycles]


@pytest.mark.parametrize("engine", ["event", "fast"])
@pytest.mark.parametrize("empty_cycles", [0, 1, 3])
def test_empty_column_cost(engine, empty_cycles):
    """One PE, column 0 empty, column 1 with 2 entries, input (1, 1), no bias entries (hand-derived).

    a0 (row 0): B = 0, popped in L, done L + Z. a1 (row 1, reached in 1): B = 1, popped in
    max(1 + L, L + Z), done 2 later = E. C = E + P + W (the finder is done in 2).
    """
    arch, layer, params, geom = _one_pe_layer([[0.0, 1.0], [0.0, 1.0]], **{"timing.empty_column_cycles": empty_cycles})
    lat, z = params.latency, empty_cycles
    comp, _ = _engine_run(engine, arch, layer, geom, params, np.array([1, 1]))
    assert comp.compute_cycles == max(1 + lat, lat + z) + 2 + params.pipe_depth + params.writeback
    assert comp.empty.tolist() == [2 * z]  # column 0 and the (empty) bias column


@pytest.mark.parametrize("engine", ["event", "fast"])
def test_zero_rows_cost_a_cycle_each_and_a_round_lasts_at_least_its_fill_latency(engine):
    """The finder per register row (hand-derived). An all-zero input of 3 rows: the bias row is reached in
    cycle 3, so the round lasts max(3 + 1, L + 1 + P + W = 9) = 9, and the bias (broadcast in 3, popped in
    5) is handled. With 20 rows the bias row is reached in 20 and the round lasts 21: the bias is found in
    the last cycle and never pushed, nothing is popped (the authors' all-zero case: 65 cycles, 0 reads)."""
    for v, cycles, pushed in ((3, 9, 1), (20, 21, 0)):
        arch, layer, params, geom = _one_pe_layer(np.ones((2, v)), **{"act_regs_per_pe": 32})
        comp, _ = _engine_run(engine, arch, layer, geom, params, np.zeros(v, np.int64))
        assert (comp.compute_cycles, comp.broadcasts, comp.pops) == (cycles, pushed, pushed)
    arch, layer, params, geom = _one_pe_layer(np.ones((2, 3)), **{"ccu.nonzero_finder": "skip_zeros",
                                                                   "ccu.bias": "output_path"})
    comp, _ = _engine_run(engine, arch, layer, geom, params, np.zeros(3, np.int64))
    assert comp.compute_cycles == 0 and comp.rounds_run == 0  # an ideal finder with nothing to broadcast


def test_idle_pes_drop_what_is_left_when_the_finder_ends():
    """edge-single-nz in miniature: the last real entry is long written back when the finder reaches the
    bias row, so the bias (an empty column everywhere) is found but never pushed: no pointer reads."""
    arch, layer, params, geom = _one_pe_layer(np.ones((1, 24)), **{"act_regs_per_pe": 32})
    x = np.zeros(24, np.int64)
    x[0] = 1  # a0 at row 0: B = 0, popped in 2, done 3, E = 3, drained by 9; the bias row is reached in 24
    for engine in ("event", "fast"):
        comp, _ = _engine_run(engine, arch, layer, geom, params, x)
        assert (comp.compute_cycles, comp.broadcasts, comp.pops) == (25, 1, 1)


def _engine_run(engine, arch, layer, geom, params, x):
    if engine == "event":
        _, comp, phases = run_layer_event(encode_layer(layer, arch), geom, x, np.array([1]), params)
    else:
        _, comp = run_layer_fast(layout_layer(layer, arch), layer, geom, x, np.array([1]), params)
        phases = phase_totals(geom)
    return comp, phases


@pytest.mark.parametrize("entries_per_word", [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 21, 32, 64, 1000, 65536])
def test_word_divider_is_exact_division(entries_per_word):
    from eiesim.timing.fast import word_divider

    mul, shift = word_divider(entries_per_word)
    rng = np.random.default_rng(entries_per_word)
    s = np.concatenate([np.arange(5000), rng.integers(0, 1 << 30, 20000), (1 << 30) - np.arange(1, 5000),
                        entries_per_word * np.arange(1, 2000), entries_per_word * np.arange(1, 2000) - 1])
    s = s[(s >= 0) & (s < 1 << 30)].astype(np.int64)
    assert np.array_equal((s * mul) >> shift, s // entries_per_word)


def test_fast_engine_refuses_codes_outside_the_codebook():
    import dataclasses

    from eiesim.errors import WorkloadError
    from eiesim.timing.fast import run_layer_fast

    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")
    layer = doc_example_layer(relu=False)
    bad = dataclasses.replace(layer, codes=np.full(layer.nnz, -1, dtype=np.int64))
    params = TimingParams.from_arch(arch)
    with pytest.raises(WorkloadError, match="codebook"):
        run_layer_fast(layout_layer(bad, arch), bad, layer_geometry(bad, (6,), params), DOC_INPUT, np.array([1]),
                       params)


def test_fast_engine_follows_the_rules_statement_on_random_rounds():
    """The fast kernel against ``contract.round_timeline`` (the plain statement of section 3), round by
    round, on random one-round fc layers and timing parameters; some of them must drop activations."""
    rng = np.random.default_rng(2024)
    dropped_rounds = 0
    for _ in range(300):
        n = int(rng.choice([1, 2, 3, 4, 8, 16]))
        over = {"num_pes": n, "act_regs_per_pe": int(rng.integers(1, 9)), "fifo_depth": int(rng.integers(1, 9)),
                "timing.broadcast_latency_cycles": int(rng.integers(0, 4)),
                "timing.pipeline_depth": int(rng.integers(1, 6)), "timing.writeback_cycles": int(rng.integers(0, 3)),
                "timing.empty_column_cycles": int(rng.integers(0, 4)),
                "ccu.nonzero_finder": str(rng.choice(["register_row", "skip_zeros"])),
                "ccu.bias": str(rng.choice(["column", "output_path"])), "spmat_sram.width_bits": 32}
        arch = load_arch(None, {"codebook_bits": 4, **over})
        cap = arch.act_capacity
        m, v = int(rng.integers(1, cap + 1)), int(rng.integers(1, cap + 1))
        w = np.where(rng.random((m, v)) < rng.choice([0.02, 0.2, 0.6]), 1.0, 0.0).astype(np.float32)
        bias = np.where(rng.random(m) < rng.choice([0.0, 0.3]), 1.0, 0.0)
        layer = layer_from_dense("r", w, codebook=np.array([1.0]), bias=bias, kind="fc")
        x = np.where(rng.random(v) < rng.choice([0.0, 0.1, 0.5, 1.0]), 1, 0).astype(np.int64)
        params = TimingParams.from_arch(arch)
        lay = layout_layer(layer, arch)
        _, comp = run_layer_fast(lay, layer, layer_geometry(layer, (v,), params), x, np.array([1]), params)
        nz = np.flatnonzero(x)
        columns = np.append(nz, v) if params.bias_column else nz
        tl = round_timeline(lay.column_counts(0, columns), nz, -(-v // n), params.bias_column, params)
        dropped_rounds += int(not tl.handled.all())
        assert comp.compute_cycles == tl.cycles
        assert (comp.busy.tolist(), comp.empty.tolist(), comp.starved.tolist(), comp.stalled.tolist(),
                comp.drain.tolist()) == (tl.busy.tolist(), tl.empty.tolist(), tl.starved.tolist(),
                                         tl.stalled.tolist(), tl.drain.tolist())
        assert (comp.pops, comp.broadcasts, comp.broadcast_stall_cycles) == (
            int(tl.handled.sum()), int(tl.pushed.sum()), tl.broadcast_stall_cycles)
    assert dropped_rounds >= 10  # the drop rule (and the kernel's replay) was exercised


def _conv_case():
    """A 1x1 conv, 3 -> 3 channels, on a 1 x 2 image, 2 PEs x 2 registers (cap 4), 8-bit entries in 32-bit words.

    Rows 0 and 2 live on PE 0 (local rows 0, 1), row 1 on PE 1. Weights (all 1.0):
    row 0 = (1, 0, 1), row 1 = (0, 1, 1), row 2 = (1, 1, 0); only row 2 has a bias (PE 0, local row 1).
    Pixel 0 sees (1, 0, 1), pixel 1 sees (0, 2, 3). Register rows: (c0, c1), (c2).
    """
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 2, "act_regs_per_pe": 2, "spmat_sram.width_bits": 32,
                            "spmat_sram.size_bytes": 1024, "ptr_sram.size_bytes": 1024, "act_sram.size_bytes": 1024})
    w = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], np.float32)[:, :, None, None]
    layer = layer_from_dense("c", w, codebook=np.array([1.0]), bias=np.array([0.0, 0.0, 0.5]), relu=False)
    x = np.array([[[1, 0]], [[0, 2]], [[1, 3]]], np.float32)  # (C=3, H=1, W=2)
    return arch, Workload("conv", "hand-derived", (3, 1, 2), None, [layer], x)


@pytest.mark.parametrize("engine", ["event", "fast"])
def test_hand_derived_conv_case_with_load_and_store_phases(engine):
    """Every count of a 2-pixel conv layer, derived by hand from docs/timing-model.md sections 2 and 3.

    Pixel 0, non-zeros c0 (row 0, position 0) and c2 (row 1, position 0):
      c0: B 0, popped 2, 2 entries at PE 0 (F 4), empty at PE 1 (F 3);
      c2: reached 0 + 1 + 1 = 2 (c0 was not at position N - 1), popped 4, one entry each (F 5, 5);
      finder done 2 + 1 + 1 + 0 = 4: the bias in 4, popped 6, PE 0's bias entry (F 7), PE 1 empty (F 7);
      C = max(4 + 1, 7 + P + W = 13, 9) = 13.
    Pixel 1, non-zeros c1 (row 0, position 1 = N - 1) and c2 (row 1):
      c1: B 0, popped 2, F 3, 3; c2: reached 0 + 1 (row 1 at once), popped 3, F 4, 4;
      finder done 1 + 1 + 1 = 3: bias in 3, popped 5, F 6, 6; C = max(4, 12, 9) = 12.
    Load: 3 values per pixel, ceil(3 / 2) = 2 cycles; store: 3 rows per pixel, 2 cycles (conv always stores).
    Spmat words (4 entries each; the word buffer is reset every round): 2 + 1 reads per pixel.
    I/O: the network input, 6 values x 2 B, read; the final output, 6 values x 2 B, written: 24 B = 2 cycles.
    """
    result = _simulate_conv_case(engine)
    s = result.layers[0]
    assert (s.compute_cycles, s.load_cycles, s.store_cycles, s.io_cycles) == (13 + 12, 4, 4, 2)
    assert s.busy_cycles.tolist() == [4 + 3, 1 + 2]
    assert s.empty_cycles.tolist() == [0, 2 + 1]
    assert s.starved_cycles.tolist() == [3 + 3, 4 + 3]
    assert s.stalled_cycles.tolist() == [0, 0] and s.drain_cycles.tolist() == [6 + 6, 6 + 6]
    assert s.actions == {
        "lnzd_ops": 3 + 3, "fifo_pushes": 2 * 6, "fifo_pops": 2 * 6, "ptr_reads": 2 * 6, "src_reg_reads": 2 + 2,
        "spmat_word_reads": 3 + 3, "codebook_lookups": 10, "macs": 10, "real_macs": 10,
        "dst_reg_reads": 10 + 6, "dst_reg_writes": 10, "entries_processed": 10, "padding_entries": 0,
        "act_sram_reads": 6, "act_sram_writes": 6, "src_reg_writes": 6, "dram_bytes_read": 12, "dram_bytes_written": 12}
    assert result.check["functional"] == "pass"


def _simulate_conv_case(engine):
    from eiesim.run.simulate import simulate

    arch, wl = _conv_case()
    return simulate(arch, wl, engine=engine)


def test_layer_statistics_are_defined_once_in_the_contract():
    """The definitions of docs/timing-model.md ("Layer statistics"), on the worked example's layer and edge cases."""
    from eiesim.timing.contract import (
        PE_CYCLE_CLASSES,
        layer_cycles,
        load_balance_efficiency,
        real_work_fraction,
        stall_breakdown,
        time_efficiency,
    )

    busy = np.array([7, 4, 5, 5])  # section 4: busy cycles of PEs 0..3 in the 17-cycle round
    assert load_balance_efficiency(busy, 4 * 17) == pytest.approx(21 / (4 * 17))
    assert load_balance_efficiency(busy, 0) == 1.0
    assert layer_cycles(3, 0, 17, 0) == 20
    assert time_efficiency(21, 4, 20) == pytest.approx(21 / 4 / 20) and time_efficiency(0, 4, 0) == 1.0
    assert real_work_fraction(21, 0) == 1.0 and real_work_fraction(20, 5) == 0.75 and real_work_fraction(0, 0) == 1.0
    per_pe = {"busy": busy, "empty": np.array([1, 2, 2, 1]), "starved": np.array([3, 5, 4, 5]),
              "stalled": np.zeros(4, int), "drain": np.full(4, 6)}
    assert PE_CYCLE_CLASSES == ("busy", "empty", "starved", "stalled", "drain")
    assert stall_breakdown(per_pe) == {"busy": 21, "empty": 6, "starved": 17, "stalled": 0, "drain": 24}
    assert sum(stall_breakdown(per_pe).values()) == 4 * 17


def test_load_balance_of_pixel_groups_divides_by_the_compute_phases_the_busy_cycles_lie_in():
    """Issue 22: the slowest group (by load + compute + store) need not have the longest compute phase; dividing
    every group's busy cycles by N x the slowest group's compute cycles gave values above 1 (1.78 measured)."""
    from eiesim.timing.contract import (
        ComputeTotals,
        GroupRun,
        PhaseTotals,
        combine_groups,
        compute_phase_pe_cycles,
        load_balance_efficiency,
    )

    def group(compute, busy, load, store):  # two PEs; each PE's five classes add up to the compute cycles
        busy = np.array(busy)
        return GroupRun(ComputeTotals(num_pes=2, compute_cycles=compute, busy=busy, stalled=compute - busy),
                        PhaseTotals(1, load, 0, store, 0))

    # group 0: compute 10 (busy 9 + 9), load + store 40 -> 50 cycles, the slowest;
    # group 1: compute 30 (busy 28 + 28), load + store 10 -> 40 cycles.
    timing = combine_groups([group(10, [9, 9], 30, 10), group(30, [28, 28], 5, 5)])
    assert timing.slowest == 0 and timing.compute.compute_cycles == 10
    per_pe = {name: getattr(timing.compute, name) for name in ("busy", "empty", "starved", "stalled", "drain")}
    assert compute_phase_pe_cycles(per_pe) == 2 * 10 + 2 * 30
    assert load_balance_efficiency(timing.compute.busy, compute_phase_pe_cycles(per_pe)) == pytest.approx(74 / 80)
    assert 74 / (4 * 10) > 1  # what the old definition reported
