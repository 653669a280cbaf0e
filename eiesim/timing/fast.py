"""The fast engine: validate and coerce, then run one Numba kernel per layer.

``run_layer_fast`` executes every round of a layer (all pixels, row blocks and input
batches) inside ``kernels.run_layer_rounds``, which applies the recurrence of
docs/timing-model.md section 3 directly (O(K x N) per round, no cycle stepping).
"""

from __future__ import annotations

import numpy as np

from eiesim.encoding import EncodedLayer
from eiesim.errors import InputDataError
from eiesim.timing import kernels
from eiesim.timing.cache_guard import call
from eiesim.timing.contract import ComputeTotals, LayerGeometry, TimingParams


#: Output pixels the arithmetic kernel processes together (vector width x unrolling; cache-sized).
ARITH_TILE_PIXELS = 64


def _as_pe_input(x_q: np.ndarray, geom: LayerGeometry) -> np.ndarray:
    x = np.asarray(x_q)
    if x.dtype.kind not in "iu":
        raise InputDataError(f"layer input must be fixed-point integers, got {x.dtype}")
    if geom.kind == "fc":
        if x.size != geom.cols:
            raise InputDataError(f"fc input has {x.size} values, the layer has {geom.cols} columns")
        return np.ascontiguousarray(x.reshape(geom.cols, 1, 1), dtype=np.int64)
    if tuple(x.shape) != geom.in_shape:
        raise InputDataError(f"conv input has shape {tuple(x.shape)}, expected {geom.in_shape}")
    return np.ascontiguousarray(x, dtype=np.int64)


def run_layer_fast(enc: EncodedLayer, geom: LayerGeometry, x_q: np.ndarray, codebook_q: np.ndarray,
                   params: TimingParams) -> tuple[np.ndarray, ComputeTotals]:
    """All rounds of one layer. Returns (exact accumulators (M, OH, OW) or (M,), compute totals)."""
    if enc.num_pes != params.num_pes or enc.cols != geom.cols or enc.rows != geom.rows:
        raise ValueError("encoded layer does not match the geometry/architecture")
    x = _as_pe_input(x_q, geom)
    n = params.num_pes
    cb = np.ascontiguousarray(codebook_q, dtype=np.int64)
    acc = np.zeros((geom.pixels, geom.rows), dtype=np.int64)
    busy, empty, starved, stalled = (np.zeros(n, dtype=np.int64) for _ in range(4))
    counters = np.zeros(kernels.N_COUNTERS, dtype=np.int64)
    (kh, kw), (sh, sw), (ph, pw) = geom.kernel, geom.stride, geom.padding
    call(
        kernels.run_layer_rounds, x, kh, kw, sh, sw, ph, pw, geom.out_hw[0], geom.out_hw[1], geom.rows, geom.cols, n,
        params.cap, enc.num_blocks, params.fifo_depth, params.latency, params.pipe_depth, params.empty_cycles,
        enc.ncount, enc.first_word, enc.last_word, enc.col_entries, enc.col_pad,
        busy, empty, starved, stalled, counters)
    call(
        kernels.accumulate_layer, x, kh, kw, sh, sw, ph, pw, geom.out_hw[0], geom.out_hw[1], geom.rows, geom.cols, n,
        enc.num_blocks, ARITH_TILE_PIXELS, enc.pe_base, enc.ptr, enc.row, enc.code, cb, acc)
    totals = ComputeTotals(
        num_pes=n, compute_cycles=int(counters[kernels.C_COMPUTE_CYCLES]),
        nonempty_rounds=int(counters[kernels.C_ROUNDS_NONEMPTY]),
        nonzero_activations=int(counters[kernels.C_NONZERO_ACTS]), entries=int(counters[kernels.C_ENTRIES]),
        padding=int(counters[kernels.C_PADDING]), spmat_word_reads=int(counters[kernels.C_SPMAT_READS]),
        broadcast_stall_cycles=int(counters[kernels.C_BCAST_STALL]),
        busy=busy, empty=empty, starved=starved, stalled=stalled)
    out = acc.T.reshape(geom.rows) if geom.kind == "fc" else acc.T.reshape(geom.rows, *geom.out_hw)
    return np.ascontiguousarray(out), totals
