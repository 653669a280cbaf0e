"""The timing contract as code: parameters, the round recurrence, round sequencing, phases, I/O mode.

Everything here is shared by both engines; docs/timing-model.md states the same rules
in words. The engines differ only in how they execute the compute phase of the rounds
(SimPy processes vs one Numba kernel per layer); both return a ``ComputeTotals``.
``round_timeline`` is the recurrence of docs/timing-model.md section 3 for one round,
transcribed line by line in plain numpy: the statement both engines implement (the
tests hold them to it, and the trace draws its spans from it). The closed-form
``phase_totals`` (used by the fast engine) and the explicit ``round_schedule``
generator (walked round by round by the event engine) must agree; the tests check that.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import simpy

from eiesim.arch import ArchConfig
from eiesim.workload import Layer, Workload

#: Every action count an engine reports, in report order (docs/timing-model.md, section 3).
ACTION_NAMES = (
    "lnzd_ops", "fifo_pushes", "fifo_pops", "ptr_reads", "src_reg_reads", "spmat_word_reads",
    "codebook_lookups", "macs", "real_macs", "dst_reg_reads", "dst_reg_writes",
    "entries_processed", "padding_entries", "act_sram_reads", "act_sram_writes", "src_reg_writes",
    "dram_bytes_read", "dram_bytes_written",
)
#: Bytes per activation value in SRAM and DRAM (16-bit fixed point).
ACT_BYTES = 2


@dataclass(frozen=True)
class TimingParams:
    """The symbols of docs/timing-model.md ("Parameters"), read from an ArchConfig."""

    num_pes: int          # N
    fifo_depth: int       # D
    latency: int          # L
    pipe_depth: int       # P
    empty_cycles: int     # Z
    regs_per_pe: int      # R
    entries_per_word: int  # e
    writeback: int = 2    # W
    finder_rows: bool = True    # ccu.nonzero_finder == "register_row"
    bias_column: bool = True    # ccu.bias == "column"

    @property
    def cap(self) -> int:
        """Activations the register files of all PEs hold: N x R."""
        return self.num_pes * self.regs_per_pe

    @property
    def min_round_cycles(self) -> int:
        """The shortest round: a one-entry column broadcast in cycle 0 (L + 1 + P + W; section 3.3)."""
        return self.latency + 1 + self.pipe_depth + self.writeback

    @property
    def replay_window(self) -> int:
        """Activations at the end of a round that can be dropped: at most D + Z + 1 (section 5)."""
        return self.fifo_depth + self.empty_cycles + 2

    @classmethod
    def from_arch(cls, arch: ArchConfig) -> TimingParams:
        t = arch.timing
        return cls(arch.num_pes, arch.fifo_depth, t.broadcast_latency_cycles, t.pipeline_depth,
                   t.empty_column_cycles, arch.act_regs_per_pe, arch.entries_per_word, t.writeback_cycles,
                   arch.ccu.nonzero_finder == "register_row", arch.ccu.bias == "column")


@dataclass
class RoundTimeline:
    """One round's compute phase, as docs/timing-model.md section 3 defines it.

    Activations k = 0 .. K'-1 in broadcast order (the bias last, when there is one).
    ``ready`` = R_k, ``broadcast`` = B_k; ``pop``/``done`` = S_{p,k}/F_{p,k} (K', N);
    ``handled[k, p]``: PE p handles activation k (else it is dropped, section 3.3);
    ``pushed[k]``: the activation reaches the FIFOs before the round ends.
    """

    ready: np.ndarray
    broadcast: np.ndarray
    pop: np.ndarray
    done: np.ndarray
    handled: np.ndarray
    pushed: np.ndarray
    finder_done: int      # c_done
    last_real: int        # E
    cycles: int           # C
    busy: np.ndarray
    empty: np.ndarray
    starved: np.ndarray
    stalled: np.ndarray
    drain: np.ndarray
    pe_end: np.ndarray    # F_p: end of the last activation PE p handles

    @property
    def broadcast_stall_cycles(self) -> int:
        return int((self.broadcast - self.ready).sum())


def round_timeline(entries: np.ndarray, positions: np.ndarray, register_rows: int, bias: bool,
                   params: TimingParams) -> RoundTimeline:
    """The recurrence of docs/timing-model.md section 3 for one round, in plain numpy.

    ``entries[k, p]`` = n_{p,k} (real + padding) for the round's K' broadcast
    activations in order, the bias last when ``bias``; ``positions[k]`` = the input
    activation's index within the round's batch (its register row is ``// N``, its
    position ``% N``), for the K input activations; ``register_rows`` =
    ceil(V_batch / N). Slow and obvious on purpose: the engines are checked against it.
    """
    n, d, lat, z = params.num_pes, params.fifo_depth, params.latency, params.empty_cycles
    entries = np.asarray(entries, dtype=np.int64).reshape(-1, n)
    kt = entries.shape[0]
    k_in = kt - int(bias)
    assert len(positions) == k_in
    ready = np.zeros(kt, np.int64)
    bcast = np.zeros(kt, np.int64)
    pop = np.zeros((kt, n), np.int64)
    done = np.zeros((kt, n), np.int64)
    fin = np.zeros(n, np.int64)
    cost = np.where(entries > 0, entries, z)
    for k in range(kt):
        if k < k_in:                                       # section 3.1: the finder reaches it
            r, q = divmod(int(positions[k]), n)
            if not params.finder_rows:
                ready[k] = 0 if k == 0 else bcast[k - 1] + 1
            elif k == 0:
                ready[k] = r
            else:
                r0, q0 = divmod(int(positions[k - 1]), n)
                ready[k] = bcast[k - 1] + 1 if r == r0 else bcast[k - 1] + 1 + (q0 != n - 1) + (r - r0 - 1)
        else:                                              # the bias row: reached when the finder is done
            ready[k] = _finder_done(positions, bcast, k_in, register_rows, params)
        bcast[k] = ready[k] if k < d else max(int(ready[k]), int(pop[k - d].max()))   # section 3.2: credits
        pop[k] = np.maximum(bcast[k] + lat, fin)
        done[k] = pop[k] + cost[k]
        fin = done[k]
    finder_done = _finder_done(positions, bcast, k_in, register_rows, params)
    real = entries > 0
    last_real = int(done[real].max()) if real.any() else 0
    if kt == 0 and not params.finder_rows:
        cycles = 0                                          # skip_zeros: nothing to broadcast, no round
    else:
        drained = last_real + params.pipe_depth + params.writeback if real.any() else 0
        cycles = max(finder_done + 1, drained, params.min_round_cycles)
    # section 3.3: each PE handles its activations in order while they fit before the end
    handled = np.zeros((kt, n), bool)
    alive = np.ones(n, bool)
    for k in range(kt):
        alive &= (pop[k] < cycles) & (done[k] <= cycles)
        handled[k] = alive
    assert handled[real].all(), "a real entry would be dropped"
    pushed = bcast + 1 < cycles
    prev = np.vstack([np.zeros((1, n), np.int64), done[:-1]]) if kt else np.zeros((0, n), np.int64)
    busy = np.where(handled, entries, 0).sum(axis=0)
    empty = z * (handled & ~real).sum(axis=0)
    starved = np.where(handled, pop - prev, 0).sum(axis=0)
    pe_end = np.zeros(n, np.int64)
    for p in range(n):
        idx = np.flatnonzero(handled[:, p])
        pe_end[p] = done[idx[-1], p] if idx.size else 0
    e_all = int(pe_end.max()) if n else 0
    return RoundTimeline(ready, bcast, pop, done, handled, pushed, finder_done, last_real, cycles,
                         busy, empty, starved, e_all - pe_end, np.full(n, cycles - e_all, np.int64), pe_end)


def _finder_done(positions: np.ndarray, bcast: np.ndarray, k_in: int, register_rows: int,
                 params: TimingParams) -> int:
    """c_done: the cycle in which the finder has passed the round's last input row (section 3.1)."""
    n = params.num_pes
    if k_in == 0:
        return register_rows if params.finder_rows else 0
    last = int(bcast[k_in - 1])
    if not params.finder_rows:
        return last + 1
    r, q = divmod(int(positions[k_in - 1]), n)
    return last + 1 + (q != n - 1) + (register_rows - 1 - r)


@dataclass(frozen=True)
class LayerGeometry:
    """How one layer is cut into rounds: pixels x row blocks x input batches."""

    kind: str
    rows: int       # M
    cols: int       # V
    in_shape: tuple[int, int, int]   # (C, H, W) as the PEs see it; fc: (V, 1, 1)
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_hw: tuple[int, int]
    cap: int
    num_pes: int

    @property
    def pixels(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    @property
    def num_blocks(self) -> int:
        return max(1, -(-self.rows // self.cap))

    @property
    def num_batches(self) -> int:
        return max(1, -(-self.cols // self.cap))

    @property
    def rounds(self) -> int:
        return self.pixels * self.num_blocks * self.num_batches

    def block_rows(self, b: int) -> int:
        return min(self.cap, self.rows - b * self.cap)

    def batch_cols(self, t: int) -> tuple[int, int]:
        return t * self.cap, min(self.cols, (t + 1) * self.cap)


def layer_geometry(layer: Layer, in_shape: tuple[int, ...], params: TimingParams) -> LayerGeometry:
    """Geometry of ``layer`` consuming a tensor of ``in_shape`` ((C, H, W) or (K,))."""
    if layer.kind == "fc":
        return LayerGeometry("fc", layer.rows, layer.cols, (layer.cols, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1),
                             params.cap, params.num_pes)
    c, h, w = in_shape
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
    out_hw = ((h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
    return LayerGeometry("conv", layer.rows, layer.cols, (c, h, w), layer.kernel, layer.stride, layer.padding,
                         out_hw, params.cap, params.num_pes)


@dataclass(frozen=True)
class RoundSpec:
    """One round: which pixel, row block and input batch; its load and store phases."""

    pixel: int
    block: int
    batch: int
    col_lo: int
    col_hi: int
    load_values: int    # activations written to the source registers before the round (0 = no load)
    store_rows: int     # outputs moved out of the destination registers after it (0 = no store)

    def load_cycles(self, num_pes: int) -> int:
        return -(-self.load_values // num_pes)

    def store_cycles(self, num_pes: int) -> int:
        return -(-self.store_rows // num_pes)


def _needs_store(geom: LayerGeometry) -> bool:
    return geom.kind == "conv" or geom.num_blocks > 1


def round_schedule(geom: LayerGeometry) -> Iterator[RoundSpec]:
    """Every round of the layer in execution order, with its load/store decisions.

    The source registers hold the last (pixel, batch) loaded; a round loads when its
    activations are not there. An fc layer with V <= cap starts with its input already
    in the registers (the previous layer's destination file).
    """
    held: tuple[int, int] | None = (0, 0) if geom.kind == "fc" and geom.num_batches == 1 else None
    store = _needs_store(geom)
    for pixel in range(geom.pixels):
        for b in range(geom.num_blocks):
            for t in range(geom.num_batches):
                lo, hi = geom.batch_cols(t)
                load = 0
                if held != (pixel, t):
                    load = hi - lo
                    held = (pixel, t)
                last = t == geom.num_batches - 1
                yield RoundSpec(pixel, b, t, lo, hi, load, geom.block_rows(b) if store and last else 0)


@dataclass(frozen=True)
class PhaseTotals:
    """Load and store phases of a layer, summed (closed form of ``round_schedule``)."""

    rounds: int
    load_cycles: int
    load_values: int
    store_cycles: int
    store_rows: int


def phase_totals(geom: LayerGeometry) -> PhaseTotals:
    """Closed-form totals of the load and store phases of every round of the layer."""
    n = geom.num_pes
    batches = [geom.batch_cols(t) for t in range(geom.num_batches)]
    batch_vals = [hi - lo for lo, hi in batches]
    if geom.kind == "fc" and geom.num_batches == 1:
        loads_per_batch_set = 0
    elif geom.num_batches == 1:
        loads_per_batch_set = geom.pixels            # conv: once per pixel, blocks reuse it
    else:
        loads_per_batch_set = geom.pixels * geom.num_blocks
    load_cycles = loads_per_batch_set * sum(-(-v // n) for v in batch_vals)
    load_values = loads_per_batch_set * sum(batch_vals)
    if _needs_store(geom):
        block_rows = [geom.block_rows(b) for b in range(geom.num_blocks)]
        store_cycles = geom.pixels * sum(-(-r // n) for r in block_rows)
        store_rows = geom.pixels * sum(block_rows)
    else:
        store_cycles = store_rows = 0
    return PhaseTotals(geom.rounds, load_cycles, load_values, store_cycles, store_rows)


@dataclass
class ComputeTotals:
    """What an engine measured over the compute phases of a layer's rounds (section 3)."""

    num_pes: int
    compute_cycles: int = 0
    rounds_run: int = 0            # rounds with C > 0
    nonzero_activations: int = 0   # input non-zeros (K, summed over rounds)
    broadcasts: int = 0            # activations pushed into the FIFOs, the bias included
    pops: int = 0                  # activations popped (pointer-pair reads), summed over PEs
    entries: int = 0
    padding: int = 0
    spmat_word_reads: int = 0
    broadcast_stall_cycles: int = 0
    busy: np.ndarray = field(default=None)     # type: ignore[assignment]
    empty: np.ndarray = field(default=None)    # type: ignore[assignment]
    starved: np.ndarray = field(default=None)  # type: ignore[assignment]
    stalled: np.ndarray = field(default=None)  # type: ignore[assignment]
    drain: np.ndarray = field(default=None)    # type: ignore[assignment]

    def __post_init__(self) -> None:
        for name in ("busy", "empty", "starved", "stalled", "drain"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.num_pes, dtype=np.int64))

    def add_round(self, tl: RoundTimeline, nonzero_activations: int, padding: int, spmat_word_reads: int) -> None:
        """Accumulate one round's ``RoundTimeline`` (what a round contributes, section 3)."""
        if tl.cycles == 0:
            self.nonzero_activations += nonzero_activations
            return
        self.compute_cycles += tl.cycles
        self.rounds_run += 1
        self.nonzero_activations += nonzero_activations
        self.broadcasts += int(tl.pushed.sum())
        self.pops += int(tl.handled.sum())
        self.entries += int(tl.busy.sum())
        self.padding += padding
        self.spmat_word_reads += spmat_word_reads
        self.broadcast_stall_cycles += tl.broadcast_stall_cycles
        for name in ("busy", "empty", "starved", "stalled", "drain"):
            getattr(self, name)[:] += getattr(tl, name)


@dataclass(frozen=True)
class LayerIo:
    """I/O-mode traffic of one layer (docs/timing-model.md, section 2)."""

    bytes_read: int
    bytes_written: int
    weight_bytes: int
    cycles: int


def layer_io(workload: Workload, layer: Layer, arch: ArchConfig, weight_bytes: int) -> LayerIo:
    """DRAM traffic of ``layer``: input/output tensors that do not fit on chip, streamed weights."""
    cap = arch.act_capacity
    on_chip_bytes = arch.num_pes * arch.act_sram.size_bytes
    in_vals = int(np.prod(workload.input_shape_of(layer)))
    out_vals = int(np.prod(workload.output_shapes()[layer.name]))
    from_network = any(src == "input" for src in layer.inputs)
    in_fits = (layer.kind == "fc" and layer.cols <= cap) or ACT_BYTES * in_vals <= on_chip_bytes
    out_fits = (layer.kind == "fc" and layer.rows <= cap) or ACT_BYTES * out_vals <= on_chip_bytes
    is_last = layer is workload.output_layer
    read = (ACT_BYTES * in_vals if (from_network or not in_fits) else 0) + weight_bytes
    written = ACT_BYTES * out_vals if (is_last or not out_fits) else 0
    cycles = math.ceil((read + written) / arch.dram_bytes_per_cycle) if read + written else 0
    return LayerIo(read, written, weight_bytes, cycles)


def layer_actions(compute: ComputeTotals, phases: PhaseTotals, io: LayerIo) -> dict[str, int]:
    """Every action count of a layer, named as in ``ACTION_NAMES`` (section 3, "Action counts")."""
    n, ent = compute.num_pes, compute.entries
    acts = {
        "lnzd_ops": compute.broadcasts, "fifo_pushes": compute.broadcasts * n, "fifo_pops": compute.pops,
        "ptr_reads": compute.pops, "src_reg_reads": compute.nonzero_activations,
        "spmat_word_reads": compute.spmat_word_reads, "codebook_lookups": ent, "macs": ent,
        "real_macs": ent - compute.padding, "dst_reg_reads": ent + phases.store_rows, "dst_reg_writes": ent,
        "entries_processed": ent, "padding_entries": compute.padding,
        "act_sram_reads": phases.load_values, "act_sram_writes": phases.store_rows,
        "src_reg_writes": phases.load_values,
        "dram_bytes_read": io.bytes_read, "dram_bytes_written": io.bytes_written,
    }
    return {name: int(acts[name]) for name in ACTION_NAMES}


@dataclass(frozen=True)
class PhaseCycles:
    """Cycles of one layer's phases, in the order they run."""

    name: str
    io: int
    load: int
    compute: int
    store: int


@dataclass(frozen=True)
class LayerSpan:
    """When a layer ran on the chip's timeline (cycles from the start of the inference)."""

    name: str
    start_cycle: int
    end_cycle: int


def sequence_layers(layers: list[PhaseCycles]) -> list[LayerSpan]:
    """Run the layers one after another on a SimPy timeline: I/O mode, then the rounds' phases.

    Layers never overlap and neither do their phases (the PEs are idle in I/O mode),
    so each phase is a plain delay; the process exists so both engines place layers
    on the same clock, and so a richer model (e.g. overlapping I/O) has one place to go.
    """
    env = simpy.Environment()
    spans: list[LayerSpan] = []

    def chip():
        for lay in layers:
            start = env.now
            for cycles in (lay.io, lay.load, lay.compute, lay.store):
                if cycles:
                    yield env.timeout(cycles)
            spans.append(LayerSpan(lay.name, int(start), int(env.now)))

    env.process(chip())
    env.run()
    return spans
