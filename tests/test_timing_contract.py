"""The timing contract: the worked 4-PE example of docs/timing-model.md, phases, I/O mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _support import DOC_INPUT as DOC_INPUT_LIST
from _support import doc_example_layer
import pytest

from eiesim.arch import load_arch
from eiesim.encoding import encode_layer, layout_layer
from eiesim.timing.contract import (
    LayerGeometry,
    PhaseCycles,
    TimingParams,
    layer_geometry,
    layer_io,
    phase_totals,
    round_schedule,
    sequence_layers,
)
from eiesim.timing.event import run_layer_event
from eiesim.timing.fast import run_layer_fast
from eiesim.workload import Workload, layer_from_dense

ROOT = Path(__file__).resolve().parents[1]
#: docs/timing-model.md section 4: local rows holding non-zeros, per PE and column.
DOC_INPUT = np.array(DOC_INPUT_LIST, dtype=np.int64)

#: The doc's cycle-by-cycle table as events: CCU broadcasts at B_k, PE pops at S_{p,k}, done at F_{p,k}.
DOC_TRACE = [
    (0, "ccu", "broadcast 0"),
    (1, "ccu", "broadcast 2"), (1, 0, "pop 0"), (1, 1, "pop 0"), (1, 2, "pop 0"), (1, 3, "pop 0"),
    (2, "ccu", "broadcast 3"), (2, 1, "done 0"), (2, 1, "pop 2"), (2, 2, "done 0"), (2, 2, "pop 2"),
    (2, 3, "done 0"), (2, 3, "pop 2"),
    (3, 1, "done 2"), (3, 1, "pop 3"), (3, 3, "done 2"), (3, 3, "pop 3"),
    (4, 3, "done 3"),
    (5, 0, "done 0"), (5, 0, "pop 2"), (5, 1, "done 3"), (5, 2, "done 2"), (5, 2, "pop 3"),
    (6, "ccu", "broadcast 5"), (6, 0, "done 2"), (6, 0, "pop 3"), (6, 2, "done 3"),
    (7, 0, "done 3"), (7, 0, "pop 5"), (7, 1, "pop 5"), (7, 2, "pop 5"), (7, 3, "pop 5"),
    (8, 0, "done 5"), (8, 1, "done 5"), (8, 2, "done 5"),
    (9, 3, "done 5"),
]


def _doc_setup():
    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")
    layer = doc_example_layer(relu=False)
    params = TimingParams.from_arch(arch)
    return arch, layer, layer.dense_weights()[:, :, 0, 0], encode_layer(layer, arch), layer_geometry(layer, (6,), params), params


def test_doc_example_event_trace_cycle_by_cycle():
    _, _, w, enc, geom, params = _doc_setup()
    trace: list = []
    acc, comp, phases = run_layer_event(enc, geom, DOC_INPUT, np.array([7]), params, trace=trace)
    assert trace == DOC_TRACE
    assert acc.tolist() == (7 * (w.astype(np.int64) @ DOC_INPUT)).tolist()


@pytest.mark.parametrize("engine", ["event", "fast"])
def test_doc_example_statistics(engine):
    _, layer, _, enc, geom, params = _doc_setup()
    if engine == "event":
        _, comp, phases = run_layer_event(enc, geom, DOC_INPUT, np.array([1]), params)
    else:
        _, comp = run_layer_fast(layout_layer(layer, load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")), layer, geom,
                                 DOC_INPUT, np.array([1]), params)
        phases = phase_totals(geom)
    assert comp.compute_cycles == 12
    assert comp.busy.tolist() == [6, 4, 4, 5]
    assert comp.empty.tolist() == [1, 1, 2, 0]
    assert comp.starved.tolist() == [1, 3, 2, 4]
    assert comp.stalled.tolist() == [1, 1, 1, 0]
    assert comp.drain(params.pipe_depth).tolist() == [3, 3, 3, 3]
    assert comp.broadcast_stall_cycles == 3
    assert comp.spmat_word_reads == 8
    assert (comp.entries, comp.padding, comp.nonzero_activations) == (19, 0, 4)
    assert (phases.load_cycles, phases.store_cycles, phases.rounds) == (0, 0, 1)


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
    # With D = 1 the CCU must wait for every PE to pop the previous activation.
    arch = load_arch(None, {"num_pes": 2, "fifo_depth": 1, "act_regs_per_pe": 4})
    w = np.zeros((2, 3), np.float32)
    w[0, :] = 1.0  # PE 0: one entry in each column; PE 1: none (Z = 1 cycle each)
    layer = layer_from_dense("d1", w, codebook=np.array([1.0]), kind="fc")
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, (3,), params)
    trace: list = []
    _, comp, _ = run_layer_event(encode_layer(layer, arch), geom, np.array([1, 1, 1]), np.array([1]), params, trace)
    # B = 0, 2, 4: a0 arrives 1, popped 1 -> a1 broadcast 2, arrives 3, popped 3 -> a2 broadcast 4.
    assert [t for t in trace if t[1] == "ccu"] == [(0, "ccu", "broadcast 0"), (2, "ccu", "broadcast 1"),
                                                  (4, "ccu", "broadcast 2")]
    assert comp.broadcast_stall_cycles == 2
    assert comp.compute_cycles == 6 + 3  # last pop at 5, done at 6, drain P - 1 = 3


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
