"""The timing contract as code: parameters, round sequencing, phases, I/O mode, layer sequence.

Everything here is shared by both engines; docs/timing-model.md states the same rules
in words. The engines differ only in how they execute the compute phase of the rounds
(SimPy processes vs one Numba kernel per layer); both return a ``ComputeTotals``.
The closed-form ``phase_totals`` (used by the fast engine) and the explicit
``round_schedule`` generator (walked round by round by the event engine) must agree;
the equivalence tests check that they do.
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
    """The symbols of docs/timing-model.md, read from an ArchConfig."""

    num_pes: int          # N
    fifo_depth: int       # D
    latency: int          # L
    pipe_depth: int       # P
    empty_cycles: int     # Z
    regs_per_pe: int      # R
    entries_per_word: int  # e

    @property
    def cap(self) -> int:
        """Activations the register files of all PEs hold: N x R."""
        return self.num_pes * self.regs_per_pe

    @classmethod
    def from_arch(cls, arch: ArchConfig) -> TimingParams:
        t = arch.timing
        return cls(arch.num_pes, arch.fifo_depth, t.broadcast_latency_cycles, t.pipeline_depth,
                   t.empty_column_cycles, arch.act_regs_per_pe, arch.entries_per_word)


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
    """What an engine measured over the compute phases of a layer's rounds."""

    num_pes: int
    compute_cycles: int = 0
    nonempty_rounds: int = 0       # rounds with K > 0 (they drain the pipeline)
    nonzero_activations: int = 0
    entries: int = 0
    padding: int = 0
    spmat_word_reads: int = 0
    broadcast_stall_cycles: int = 0
    busy: np.ndarray = field(default=None)     # type: ignore[assignment]
    empty: np.ndarray = field(default=None)    # type: ignore[assignment]
    starved: np.ndarray = field(default=None)  # type: ignore[assignment]
    stalled: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        for name in ("busy", "empty", "starved", "stalled"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.num_pes, dtype=np.int64))

    def drain(self, pipe_depth: int) -> np.ndarray:
        """Per-PE pipeline-drain cycles: P - 1 per round with K > 0."""
        return np.full(self.num_pes, (pipe_depth - 1) * self.nonempty_rounds, dtype=np.int64)


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
    """Every action count of a layer, named as in ``ACTION_NAMES``."""
    n, k, ent = compute.num_pes, compute.nonzero_activations, compute.entries
    acts = {
        "lnzd_ops": k, "fifo_pushes": k * n, "fifo_pops": k * n, "ptr_reads": k * n, "src_reg_reads": k,
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
