"""How a layer is cut into rounds, and the load and store phases around them (docs/timing-model.md section 2).

``layer_geometry`` says what a layer is to the PEs (pixels, row blocks, input batches);
``round_schedule`` walks every round in execution order with its load and store
decisions (the event engine follows it round by round); ``phase_totals`` is its closed
form (the fast engine uses it). The tests hold the two to each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from eiesim.network.workload import Layer, layer_output_hw
from eiesim.timing.contract.params import TimingParams


@dataclass(frozen=True)
class LayerGeometry:
    """How one layer is cut into rounds: pixels x row blocks x input batches."""

    kind: str
    rows: int       # M
    cols: int       # V
    in_shape: tuple[int, int, int]   # (C, H, W) as the PEs see it; fc: (V, 1, 1)
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, ...]  # (pad_h, pad_w) both sides, or (top, left, bottom, right)
    out_hw: tuple[int, int]
    cap: int
    num_pes: int
    #: The layer adds a residual on its write-back path (section 2, "Residual"): the store phase reads it first.
    residual: bool = False
    #: The layer's outputs pass an activation unit other than ReLU (section 2, "Activations").
    activation_unit: bool = False
    #: Activation-SRAM reads per value the load phase writes: k^2 with an input pool (its window), else 1.
    load_reads_per_value: int = 1
    #: The kernel dilation (dh, dw): tap (dy, dx) reads input offset (dy * dh, dx * dw).
    dilation: tuple[int, int] = (1, 1)

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
                             params.cap, params.num_pes, layer.residual is not None, layer.activation is not None)
    pool = layer.input_pool
    c, h, w = in_shape
    out_hw = layer_output_hw(layer, h, w)
    return LayerGeometry("conv", layer.rows, layer.cols, (c, h, w), layer.kernel, layer.stride, layer.conv_padding,
                         out_hw, params.cap, params.num_pes, layer.residual is not None, layer.activation is not None,
                         pool.kernel * pool.kernel if pool is not None else 1, layer.dilation)


@dataclass(frozen=True)
class RoundSpec:
    """One round: which pixel, row block and input batch; its load and store phases.

    ``residual_rows``: skip operands the store phase reads from the activation SRAM and adds
    before it stores (a layer with a residual, after the block's last batch; 0 otherwise).
    ``activation_rows``: outputs that pass an activation unit (other than ReLU) then: on their way
    to the activation SRAM when the round stores them (no extra cycle), else back into the
    destination registers, one per PE per cycle.
    """

    pixel: int
    block: int
    batch: int
    col_lo: int
    col_hi: int
    load_values: int    # activations written to the source registers before the round (0 = no load)
    store_rows: int     # outputs moved out of the destination registers after it (0 = no store)
    residual_rows: int = 0  # skip operands read and added before the store (0 = no residual)
    activation_rows: int = 0  # outputs through the activation unit (0 = none, or ReLU)
    load_reads_per_value: int = 1  # k^2 with an input pool: each value is pooled from its window as it is read

    def load_cycles(self, num_pes: int) -> int:
        """The load phase: one activation-SRAM read per PE per cycle (an input pool reads a window per value)."""
        return -(-self.load_values * self.load_reads_per_value // num_pes)

    def store_cycles(self, num_pes: int) -> int:
        """The store phase: the residual reads (one per PE per cycle), then the output writes (or, without
        a store, the pass through the activation unit)."""
        unit = 0 if self.store_rows else -(-self.activation_rows // num_pes)
        return -(-self.residual_rows // num_pes) + -(-self.store_rows // num_pes) + unit

    @property
    def has_store_phase(self) -> bool:
        return bool(self.store_rows or self.residual_rows or self.activation_rows)


def _needs_store(geom: LayerGeometry) -> bool:
    return geom.kind == "conv" or geom.num_blocks > 1


def round_schedule(geom: LayerGeometry, pixels: range | None = None) -> Iterator[RoundSpec]:
    """Every round of the layer (or of its output ``pixels``, one pixel group's) in execution order.

    The source registers hold the last (pixel, batch) loaded; a round loads when its
    activations are not there. An fc layer with V <= cap starts with its input already
    in the registers (the previous layer's destination file). A pixel group (section 2,
    "Pixel groups") walks its own pixels with its own registers: ``pixels`` =
    ``range(g, P, G)``.
    """
    held: tuple[int, int] | None = (0, 0) if geom.kind == "fc" and geom.num_batches == 1 else None
    store = _needs_store(geom)
    for pixel in (range(geom.pixels) if pixels is None else pixels):
        for b in range(geom.num_blocks):
            for t in range(geom.num_batches):
                lo, hi = geom.batch_cols(t)
                load = 0
                if held != (pixel, t):
                    load = hi - lo
                    held = (pixel, t)
                last = t == geom.num_batches - 1
                yield RoundSpec(pixel, b, t, lo, hi, load, geom.block_rows(b) if store and last else 0,
                                geom.block_rows(b) if geom.residual and last else 0,
                                geom.block_rows(b) if geom.activation_unit and last else 0, geom.load_reads_per_value)


@dataclass(frozen=True)
class PhaseTotals:
    """Load and store phases of a layer, summed (closed form of ``round_schedule``)."""

    rounds: int
    load_cycles: int
    load_values: int
    store_cycles: int   # residual reads included
    store_rows: int
    residual_rows: int = 0
    activation_rows: int = 0
    input_pool_reads: int = 0  # activation-SRAM reads of an input pool beyond one per loaded value


def phase_totals(geom: LayerGeometry, pixels: int | None = None) -> PhaseTotals:
    """Closed-form totals of the load and store phases of every round of the layer (or of ``pixels`` of its
    output pixels: a pixel group's share, ``round_schedule(geom, range(g, P, G))``)."""
    n = geom.num_pes
    if pixels is not None and geom.out_hw != (pixels, 1):  # (an equal geometry is not copied)
        geom = replace(geom, out_hw=(pixels, 1))
    batches = [geom.batch_cols(t) for t in range(geom.num_batches)]
    batch_vals = [hi - lo for lo, hi in batches]
    if geom.kind == "fc" and geom.num_batches == 1:
        loads_per_batch_set = 0
    elif geom.num_batches == 1:
        loads_per_batch_set = geom.pixels            # conv: once per pixel, blocks reuse it
    else:
        loads_per_batch_set = geom.pixels * geom.num_blocks
    r = geom.load_reads_per_value
    load_cycles = loads_per_batch_set * sum(-(-v * r // n) for v in batch_vals)
    load_values = loads_per_batch_set * sum(batch_vals)
    if _needs_store(geom):
        block_rows = [geom.block_rows(b) for b in range(geom.num_blocks)]
        store_cycles = geom.pixels * sum(-(-r // n) for r in block_rows)
        store_rows = geom.pixels * sum(block_rows)
    else:
        store_cycles = store_rows = 0
    block_rows = [geom.block_rows(b) for b in range(geom.num_blocks)]
    per_pixel_cycles = sum(-(-r // n) for r in block_rows)
    residual_rows = activation_rows = 0
    if geom.residual:  # one read of the skip operand per output, each PE one per cycle (section 2, "Residual")
        store_cycles += geom.pixels * per_pixel_cycles
        residual_rows = geom.pixels * sum(block_rows)
    if geom.activation_unit:  # pipelined with the stores; a layer that stores nothing passes once (section 2)
        if not _needs_store(geom):
            store_cycles += geom.pixels * per_pixel_cycles
        activation_rows = geom.pixels * sum(block_rows)
    return PhaseTotals(geom.rounds, load_cycles, load_values, store_cycles, store_rows, residual_rows,
                       activation_rows, load_values * (r - 1))
