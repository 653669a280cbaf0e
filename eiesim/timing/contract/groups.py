"""Pixel groups, and where a layer's cycles go (docs/timing-model.md section 2, "Pixel groups", and section 3,
"Where the cycles go").

With ``mapping.pixel_groups: G`` the N PEs of the chip form G groups of N' = N / G. Each
group holds every row of a conv layer (encoded for N' PEs, stored G times), has its own
non-zero finder and broadcast, and works on output pixels g, g + G, g + 2G, ... as an
N'-PE chip would: rounds, load and store phases of its own. The groups advance
independently; the layer ends when the slowest group does. fc layers and one-pixel layers
use one group.

* ``layer_pixel_groups``: the G a layer runs with, for a configured integer G.
* ``auto_candidates``: the G ``auto`` chooses among (powers of two dividing N).
* ``group_options`` (the G a layer may run with) and ``choose_pixel_groups`` (``auto``'s
  choice: the fastest G whose replicas fit).
* ``group_pixels``: the output pixels group g works on.
* ``GroupRun`` (what one group measured), ``combine_groups`` (the layer: the slowest group's
  phases, every group's counts) and ``cycle_breakdown`` (the layer's PE cycles split into
  parts that add up to N x the layer's cycles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from eiesim.config.arch import ArchConfig
from eiesim.network.workload import Layer, layer_output_hw
from eiesim.timing.contract.rounds import PhaseTotals
from eiesim.timing.contract.statistics import PE_CYCLE_CLASSES, ComputeTotals
from eiesim.timing.contract.storage import fits, replicated_bytes_per_pe

if TYPE_CHECKING:  # the layouts are the encoding's; the rules here need only their sizes
    from eiesim.encoding import ColumnLayout

#: The parts of a layer's cycle breakdown, in report order (docs/timing-model.md, "Where the cycles go").
BREAKDOWN_PARTS: dict[str, str] = {
    "ideal": "entries (real, padding, bias) issued: the layer's work at perfect balance",
    "idle_pes": "PEs that hold no rows of the round's row block (more PEs than rows)",
    "imbalance": "PEs done, waiting for the slowest PE of their group, or for the slowest group",
    "finder": "PEs waiting for the broadcast (starved) or spending Z cycles on a column they hold nothing for",
    "drain": "every PE of the group done: pipeline drain and write-back, or the finder passing its last rows",
    "load": "load phases (source registers written)",
    "store": "store phases (outputs moved to the activation SRAM)",
    "io": "I/O mode (DRAM transfers; every PE idle)",
}


def layer_pixel_groups(kind: str, pixels: int, groups: int) -> int:
    """The pixel groups a layer runs with when ``groups`` are configured: 1 for fc and one-pixel layers."""
    return 1 if kind == "fc" or pixels <= 1 else groups


def auto_candidates(num_pes: int) -> tuple[int, ...]:
    """The G that ``pixel_groups: auto`` chooses among: 1, 2, 4, ... while G divides N."""
    out = [1]
    while num_pes % (out[-1] * 2) == 0:
        out.append(out[-1] * 2)
    return tuple(out)


def group_options(layer: Layer, in_shape: tuple[int, ...], arch: ArchConfig) -> tuple[int, ...]:
    """The G ``layer`` (reading a tensor of ``in_shape``) may run with: the configured one, or ``auto``'s candidates."""
    if layer.kind != "conv":  # fc, and recurrent layers (each step needs the previous one's h)
        return (1,)
    _, h, w = in_shape
    oh, ow = layer_output_hw(layer, h, w)
    configured = arch.mapping.pixel_groups
    if configured == "auto":
        return tuple(dict.fromkeys(layer_pixel_groups(layer.kind, oh * ow, g) for g in auto_candidates(arch.num_pes)))
    return (layer_pixel_groups(layer.kind, oh * ow, int(configured)),)


def choose_pixel_groups(arch: ArchConfig, options: dict[str, tuple[int, ...]],
                        layouts: dict[tuple[str, int], ColumnLayout],
                        cycles: dict[str, dict[int, int]]) -> dict[str, int]:
    """Each layer's G: its only option, or (``auto``) the fewest cycles whose replicas fit (section 2).

    ``layouts[name, G]``: the layer encoded for one of G groups; ``cycles[name][G]``: its
    time (``LayerTiming.cycles``). ``auto`` starts every layer at its fastest G (ties: the
    smaller G). While the weights do not fit the SRAMs, the layer whose next smaller option
    costs the fewest cycles per byte it frees on the fullest PE takes that option. Sizes
    that are ``auto`` always fit; if not even one copy of every layer fits, no layer is
    replicated.
    """
    chosen = {name: min(opts, key=lambda g: (cycles[name][g], g)) for name, opts in options.items()}
    if arch.mapping.pixel_groups != "auto":
        return chosen

    def per_pe(name: str, g: int) -> np.ndarray:
        spmat, ptr = replicated_bytes_per_pe(layouts[name, g], g)
        return spmat + ptr

    def fit(choice: dict[str, int]) -> bool:
        parts = [replicated_bytes_per_pe(layouts[name, g], g) for name, g in choice.items()]
        return fits(arch, np.sum([p[0] for p in parts], axis=0), np.sum([p[1] for p in parts], axis=0))

    if not fit({name: 1 for name in chosen}):
        return {name: 1 for name in chosen}
    while not fit(chosen):
        best = None
        for name, g in chosen.items():
            smaller = [h for h in options[name] if h < g]
            if not smaller:
                continue
            h = max(smaller)  # the next smaller option
            freed = int(per_pe(name, g).max() - per_pe(name, h).max())
            cost = (cycles[name][h] - cycles[name][g]) / max(freed, 1)
            if best is None or cost < best[0]:
                best = (cost, name, h)
        if best is None:
            break
        chosen[best[1]] = best[2]
    return chosen


def group_pixels(pixels: int, groups: int, g: int) -> range:
    """The output pixels of group ``g``: pixel q goes to group q mod G (dealt in turn, row-major order)."""
    return range(g, pixels, groups)


@dataclass(frozen=True)
class GroupRun:
    """What one pixel group measured: its compute phases (on its N' PEs) and its load and store phases."""

    compute: ComputeTotals
    phases: PhaseTotals

    @property
    def cycles(self) -> int:
        """The group's time on the layer: its phases never overlap (load + compute + store)."""
        return self.phases.load_cycles + self.compute.compute_cycles + self.phases.store_cycles


@dataclass(frozen=True)
class LayerTiming:
    """A layer's groups and what they add up to.

    ``compute``: every group's counts summed, per-PE arrays side by side (group g's PEs are
    g N' .. (g + 1) N' - 1), ``compute_cycles`` the slowest group's. ``phases``: load and store
    values summed (actions), their cycles the slowest group's. So the layer's cycles =
    I/O + the slowest group's load + compute + store.
    """

    groups: tuple[GroupRun, ...]
    compute: ComputeTotals
    phases: PhaseTotals
    slowest: int

    @property
    def pixel_groups(self) -> int:
        return len(self.groups)

    @property
    def cycles(self) -> int:
        """The layer's time without I/O: the slowest group's load + compute + store."""
        return self.groups[self.slowest].cycles


def combine_groups(runs: list[GroupRun] | tuple[GroupRun, ...]) -> LayerTiming:
    """The layer of ``runs`` (one per group, in group order); the slowest group is the first of the longest."""
    runs = tuple(runs)
    slowest = max(range(len(runs)), key=lambda g: (runs[g].cycles, -g))
    if len(runs) == 1:
        return LayerTiming(runs, runs[0].compute, runs[0].phases, 0)
    first, slow = runs[0].compute, runs[slowest]
    n_group = first.num_pes
    merged = ComputeTotals(
        num_pes=n_group * len(runs), compute_cycles=slow.compute.compute_cycles,
        rounds_run=sum(r.compute.rounds_run for r in runs),
        nonzero_activations=sum(r.compute.nonzero_activations for r in runs),
        broadcasts=sum(r.compute.broadcasts for r in runs), pops=sum(r.compute.pops for r in runs),
        entries=sum(r.compute.entries for r in runs), padding=sum(r.compute.padding for r in runs),
        spmat_word_reads=sum(r.compute.spmat_word_reads for r in runs),
        broadcast_stall_cycles=sum(r.compute.broadcast_stall_cycles for r in runs),
        idle_starved_empty=sum(r.compute.idle_starved_empty for r in runs),
        idle_stalled=sum(r.compute.idle_stalled for r in runs),
        idle_drain=sum(r.compute.idle_drain for r in runs), group_pes=n_group,
        **{name: np.concatenate([getattr(r.compute, name) for r in runs]) for name in PE_CYCLE_CLASSES})
    phases = PhaseTotals(sum(r.phases.rounds for r in runs), slow.phases.load_cycles,
                         sum(r.phases.load_values for r in runs), slow.phases.store_cycles,
                         sum(r.phases.store_rows for r in runs), sum(r.phases.residual_rows for r in runs),
                         sum(r.phases.activation_rows for r in runs), sum(r.phases.input_pool_reads for r in runs))
    return LayerTiming(runs, merged, phases, slowest)


def cycle_breakdown(timing: LayerTiming, io_cycles: int) -> dict[str, int]:
    """The layer's PE cycles by ``BREAKDOWN_PARTS``: they add up to N x (I/O + the slowest group's time).

    Exact integers (PE cycles); divided by N they are cycles. Per group of N' PEs of time
    T_g, with T the slowest group's: its PEs' compute-phase classes (which add up to
    N' x compute_g) are split into ideal (busy), idle PEs (all classes of PEs holding no
    rows of the block), finder (starved + empty), imbalance (stalled) and drain of the
    PEs that hold rows; load and store are N' x the group's phases; a group done before
    the slowest one adds N' x (T - T_g) to imbalance; I/O is N x io_cycles.
    """
    c = timing.compute
    t = timing.cycles
    # np.add.reduce is what ndarray.sum runs, without its Python wrapper (five small arrays per layer)
    busy, empty, starved, stalled, drain = (int(np.add.reduce(getattr(c, name))) for name in PE_CYCLE_CLASSES)
    n_group = timing.groups[0].compute.num_pes
    tails = sum(n_group * (t - run.cycles) for run in timing.groups)
    return {
        "ideal": busy,
        "idle_pes": c.idle_pe_cycles,
        "imbalance": stalled - c.idle_stalled + tails,
        "finder": starved + empty - c.idle_starved_empty,
        "drain": drain - c.idle_drain,
        "load": sum(n_group * run.phases.load_cycles for run in timing.groups),
        "store": sum(n_group * run.phases.store_cycles for run in timing.groups),
        "io": c.num_pes * io_cycles,
    }
