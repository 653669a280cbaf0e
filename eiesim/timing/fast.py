"""The fast engine: validate and coerce, then one Numba kernel for the rounds and one for the arithmetic.

``run_layer_fast`` executes every round of a layer (all pixels, row blocks and input
batches) inside ``kernels.run_layer_rounds``, which applies the recurrence of
docs/timing-model.md section 3 directly (O(K x N) per round, no cycle stepping) to
the layer's ``ColumnLayout``: the per-PE column pointers are all the timing needs.
The exact arithmetic comes straight from the CSR (``kernels.accumulate_fc`` /
``accumulate_conv``); the PEs' entry order does not change integer sums, and the
equivalence tests hold it to the event engine, which walks the encoded entries.
A conv layer's input patches come from ``fixed_point.im2col`` (the one definition of
which input feeds which patch row), a bounded chunk of output pixels at a time, and
feed both kernels. A caller that already has a layer's accumulators for this input
(another pixel grouping, or kept by content from an earlier simulation) passes them in
and only the rounds run.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from eiesim.encoding import ColumnLayout, csr_arrays
from eiesim.errors import InputDataError, WorkloadError
from eiesim.jit.cache_guard import call
from eiesim.jit.threads import run_ranges
from eiesim.network.fixed_point import im2col
from eiesim.network.workload import Layer
from eiesim.timing import kernels
from eiesim.timing.contract import ComputeTotals, LayerGeometry, TimingParams

#: Output pixels the conv arithmetic kernel processes together: each row's entry loop is amortized over a tile
#: (on SqueezeNet's layers, one thread, 512 was the fastest of 32 .. 4096: 76 ms against 139 ms for 64).
ARITH_TILE_PIXELS = 512
#: Pixel ranges (threads, im2col chunks) start at multiples of this: whole cache lines of patches and accumulators.
PIXEL_ALIGN = 64
#: Rounds work (pixels x columns x PEs) below which splitting them over threads does not pay.
_ROUNDS_MIN_WORK = 2_000_000
#: Patch values (columns x output pixels) one im2col chunk may hold: bounds each thread's buffer (16 MB).
_PATCH_CHUNK_VALUES = 1 << 21
#: Stream positions the word arithmetic is exact for (the encoding keeps PEs below this).
_POSITION_BITS = 30


def word_divider(entries_per_word: int) -> tuple[int, int]:
    """(mul, shift) with ``(s * mul) >> shift == s // entries_per_word`` for 0 <= s < 2**30.

    Division by a constant as a multiply and a shift (Granlund and Montgomery, PLDI
    1994, theorem 4.2): shift = 30 + ceil(log2 d), mul = ceil(2**shift / d) < 2**32,
    so the product is one 32 x 32 -> 64-bit multiplication.
    """
    d = int(entries_per_word)
    if d < 1:
        raise ValueError(f"entries_per_word must be >= 1, got {d}")
    shift = _POSITION_BITS + (d - 1).bit_length()
    return -(-(1 << shift) // d), shift


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


def _full_codebook(codebook_q: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The quantized codebook padded with zeros to every value ``codes``' dtype can hold.

    The kernels then never read outside it, whatever a malformed code says (the
    workload loader rejects such codes; layers built in code are not re-checked).
    """
    cb = np.asarray(codebook_q, dtype=np.int64)
    if codes.dtype.itemsize <= 2:
        size = 1 << (8 * codes.dtype.itemsize)
    else:  # wide (unsigned view of) integer codes: every one must index the codebook
        if codes.size and int(codes.max()) >= cb.shape[0]:
            raise WorkloadError(f"codebook indices must be below the codebook size {cb.shape[0]}")
        size = cb.shape[0]
    full = np.zeros(max(size, cb.shape[0]), dtype=np.int64)
    full[:cb.shape[0]] = cb
    return full


def round_lane_dtype(layout: ColumnLayout, params: TimingParams) -> type:
    """The dtype of the rounds kernel's per-PE state: int32 when no timestamp of a round can reach 2**30.

    Every timestamp of a round is at most C, and C <= 2 (R + 2) + K' (L + 2 + Z) + (the
    layer's entries, all PEs) + P + W + L + 3, where R = cap / N register rows and K' <=
    cap + 1 activations (each activation moves the finder, the credits and the slowest
    PE on by at most L + 2 + Z + its largest column, and the finder's row gaps add up
    to at most R). With int32 lanes a vector instruction updates twice the PEs.
    """
    acts = params.cap + 1
    bound = (2 * (params.cap // params.num_pes + 2) + acts * (params.latency + 2 + params.empty_cycles)
             + int(layout.pe_ptr[:, -1].sum(dtype=np.int64)) + params.pipe_depth + params.writeback
             + params.latency + 3)
    return np.int32 if bound < (1 << 30) else np.int64


#: Tables derived from one read-only layout, by the layout's id: (weak reference to it, {name: table}).
_DERIVED: dict[int, tuple[weakref.ref, dict[str, Any]]] = {}
_DERIVED_LOCK = threading.Lock()


def _derived_tables(layout: ColumnLayout) -> dict[str, Any]:
    """A dict to keep what the engine derives from ``layout`` alone (transposed pointers, word tables).

    A repeated simulation or another sweep point gets the same layout object from the
    content cache (``eiesim.run.content_cache``), whose arrays are read-only: its derived
    tables are kept while the layout lives. A layout with writeable pointers could be
    changed in place between calls, so it gets a fresh dict each time (nothing kept).
    """
    if layout.pe_ptr.flags.writeable or layout.pe_ptr.base is not None:
        return {}
    key = id(layout)
    with _DERIVED_LOCK:
        hit = _DERIVED.get(key)
        if hit is not None and hit[0]() is layout:
            return hit[1]
        tables: dict[str, Any] = {}

        def forget(_ref: weakref.ref, key: int = key) -> None:
            with _DERIVED_LOCK:
                if key in _DERIVED and _DERIVED[key][0]() is None:
                    del _DERIVED[key]

        _DERIVED[key] = (weakref.ref(layout, forget), tables)
        return tables


def _pointer_tables(layout: ColumnLayout, mul: int, shift: int,
                    with_words: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ptr_cols, first_word, last_word) for ``run_layer_rounds``, kept with a read-only layout.

    The rounds read one row of (B*V + 1, N) per broadcast column: the pointers are
    transposed once (a strided view costs more than the copy, even for an fc layer's
    single pass). An fc layer touches each column at most once per round: its words are
    computed on the fly (``with_words`` False: tables of 0 rows). A conv layer revisits
    every column per pixel: its words are tabulated once.
    """
    kept = _derived_tables(layout)
    if "ptr_cols" not in kept:
        ptr_cols = np.empty(layout.pe_ptr.shape[::-1], dtype=layout.pe_ptr.dtype)
        call(kernels.transpose_pointers, layout.pe_ptr, ptr_cols)
        ptr_cols.flags.writeable = False
        kept["ptr_cols"] = ptr_cols
    ptr_cols = kept["ptr_cols"]
    if not with_words:
        none = np.zeros((0, layout.num_pes), dtype=np.int32)
        return ptr_cols, none, none
    if "words" not in kept:
        pos = ptr_cols.astype(np.int64)
        first_word = ((pos[:-1] * mul) >> shift).astype(np.int32)
        last_word = ((np.maximum(pos[1:] - 1, 0) * mul) >> shift).astype(np.int32)
        first_word.flags.writeable = last_word.flags.writeable = False
        kept["words"] = (first_word, last_word)
    return (ptr_cols, *kept["words"])


def _patch_chunks(x: np.ndarray, geom: LayerGeometry, lo: int, hi: int):  # noqa: ANN202 - a generator
    """(first pixel, patches) for output pixels lo .. hi - 1, in chunks of at most ``_PATCH_CHUNK_VALUES`` values.

    ``patches`` (cols, pixels) is C-contiguous, as ``fixed_point.im2col`` defines it; an
    fc layer's input is one column. Chunks start at multiples of ``PIXEL_ALIGN``.
    """
    if geom.kind == "fc":
        yield 0, x.reshape(geom.cols, 1)
        return
    step = max(PIXEL_ALIGN, _PATCH_CHUNK_VALUES // max(1, geom.cols) // PIXEL_ALIGN * PIXEL_ALIGN)
    for first in range(lo, hi, step):
        last = min(hi, first + step)
        yield first, np.ascontiguousarray(im2col(x, geom.kernel, geom.stride, geom.padding, (first, last),
                                                                dilation=geom.dilation))


def run_layer_fast(layout: ColumnLayout, layer: Layer, geom: LayerGeometry, x_q: np.ndarray,
                   codebook_q: np.ndarray, params: TimingParams) -> tuple[np.ndarray, ComputeTotals]:
    """All rounds of one layer on one group of PEs. Returns (exact accumulators (M, OH, OW) or (M,), totals).

    ``layout`` is ``encoding.layout_layer(layer, arch)`` (or an ``EncodedLayer``) for the
    same architecture as ``params``.
    """
    out, totals = run_layer_fast_groups(layout, layer, geom, x_q, codebook_q, params, 1)
    return out, totals[0]


def run_layer_fast_groups(layout: ColumnLayout, layer: Layer, geom: LayerGeometry, x_q: np.ndarray,
                          codebook_q: np.ndarray, params: TimingParams,
                          pixel_groups: int, accumulators: np.ndarray | None = None,
                          ) -> tuple[np.ndarray, list[ComputeTotals]]:
    """All rounds of one layer on ``pixel_groups`` groups of PEs (docs/timing-model.md, "Pixel groups").

    ``params``, ``geom`` and ``layout`` are one group's: N' = N / G PEs (``layout_layer`` for
    the derived architecture). Group g runs the rounds of output pixels g, g + G, ...;
    returns (exact accumulators, one ``ComputeTotals`` per group). The arithmetic does not
    depend on the grouping and is done once. ``accumulators``: this layer's exact
    accumulators for this very input, if the caller has them (returned as they are, and the
    arithmetic is skipped); the rounds never read them.
    """
    if layout.num_pes != params.num_pes or layout.cols != geom.cols or layout.rows != geom.rows:
        raise ValueError("encoded layer does not match the geometry/architecture")
    if layout.entries_per_word != params.entries_per_word:
        raise ValueError("encoded layer was laid out for another Spmat word size")
    if layout.has_bias_column != params.bias_column:
        raise ValueError("encoded layer was laid out for another bias path (ccu.bias)")
    groups = int(pixel_groups)
    if groups < 1 or (groups > 1 and geom.kind == "fc"):
        raise ValueError(f"pixel groups must be >= 1 (1 for an fc layer), got {groups}")
    x = _as_pe_input(x_q, geom)
    n = params.num_pes
    mul, shift = word_divider(params.entries_per_word)
    ptr_cols, first_word, last_word = _pointer_tables(layout, mul, shift, with_words=geom.pixels > 1)
    lane: np.ndarray = np.zeros(0, dtype=round_lane_dtype(layout, params))
    indptr, indices, codes = csr_arrays(layer)
    cb = _full_codebook(codebook_q, codes)
    out_shape = (geom.rows, *geom.out_hw) if geom.kind == "conv" else (geom.rows,)
    if accumulators is not None and (accumulators.shape != out_shape or accumulators.dtype != np.int64):
        raise ValueError(f"accumulators must be int64 of shape {out_shape}")
    acc = (np.zeros((geom.rows, geom.pixels), dtype=np.int64)
           if geom.kind == "conv" and accumulators is None else None)

    def rounds(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:  # output pixels lo..hi-1: own partial statistics
        per_pe = np.zeros((groups, 5, n), dtype=np.int64)
        counters = np.zeros((groups, kernels.N_COUNTERS), dtype=np.int64)
        for first, patches in _patch_chunks(x, geom, lo, hi):
            for g in range(groups):  # pixel q is group q mod G's
                mine = patches if groups == 1 else np.ascontiguousarray(patches[:, (g - first) % groups::groups])
                call(kernels.run_layer_rounds, mine, geom.rows, geom.cols, layout.stored_cols, n, params.cap,
                     layout.num_blocks, params.fifo_depth, params.latency, params.pipe_depth, params.writeback,
                     params.empty_cycles, params.finder_rows, ptr_cols, mul, shift, first_word, last_word,
                     layout.col_pad, lane, *per_pe[g], counters[g])
            if acc is not None:  # the same patches feed the arithmetic
                call(kernels.accumulate_conv, patches, geom.rows, ARITH_TILE_PIXELS, indptr, indices, codes, cb,
                     acc[:, first:first + patches.shape[1]])
        return per_pe, counters

    work = geom.pixels * (geom.cols * n * groups + (indices.shape[0] if acc is not None else 0))
    parts = run_ranges(rounds, geom.pixels, work=work, min_work=_ROUNDS_MIN_WORK, align=PIXEL_ALIGN)
    # The parts' sums; one part is taken as it is (the sums start from the first part, no copy).
    per_pe = sum((part[0] for part in parts[1:]), parts[0][0])
    counters = sum((part[1] for part in parts[1:]), parts[0][1])
    out: np.ndarray
    if accumulators is not None:
        out = accumulators
    elif acc is None:
        out = np.zeros(geom.rows, dtype=np.int64)
        x_flat = x.reshape(-1)
        if x_flat.size and -(1 << 31) <= x_flat.min() and x_flat.max() < (1 << 31):
            x_flat = x_flat.astype(np.int32)  # half the bytes in the gather; products stay int64
        run_ranges(lambda lo, hi: call(kernels.accumulate_fc, x_flat, indptr, indices, codes, cb, lo, hi, out),
                   geom.rows, work=indices.shape[0])
    else:
        out = acc.reshape(geom.rows, *geom.out_hw)
    return out, [_totals(n, per_pe[g], counters[g]) for g in range(groups)]


def _totals(n: int, per_pe: np.ndarray, counters: np.ndarray) -> ComputeTotals:
    """One group's ``ComputeTotals`` from the kernel's per-PE arrays (busy, empty, starved, stalled, drain) and counters."""
    busy, empty, starved, stalled, drain = (per_pe[k].copy() for k in range(5))
    c = counters.tolist()  # Python ints
    return ComputeTotals(
        num_pes=n, compute_cycles=c[kernels.C_COMPUTE_CYCLES], rounds_run=c[kernels.C_ROUNDS_RUN],
        nonzero_activations=c[kernels.C_NONZERO_ACTS], broadcasts=c[kernels.C_BROADCASTS],
        pops=c[kernels.C_POPS], entries=c[kernels.C_ENTRIES],
        padding=c[kernels.C_PADDING], spmat_word_reads=c[kernels.C_SPMAT_READS],
        broadcast_stall_cycles=c[kernels.C_BCAST_STALL],
        busy=busy, empty=empty, starved=starved, stalled=stalled, drain=drain,
        idle_starved_empty=c[kernels.C_IDLE_STARVED_EMPTY],
        idle_stalled=c[kernels.C_IDLE_STALLED], idle_drain=c[kernels.C_IDLE_DRAIN])
