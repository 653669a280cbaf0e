"""What a layer's rounds measure, and the definitions of the layer statistics (docs/timing-model.md section 3).

* ``ComputeTotals``: what an engine measured over the compute phases of a layer's
  rounds (both engines return one; ``add_round`` is what one round contributes).
* ``PE_CYCLE_CLASSES``: the five classes a PE's cycles of a round fall in; they add up
  to the round's length C ("Per-PE statistics of a round").
* The layer statistics of the report, defined once ("Layer statistics"):
  ``layer_cycles``, ``compute_phase_pe_cycles``, ``load_balance_efficiency``,
  ``time_efficiency``, ``real_work_fraction`` and ``stall_breakdown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from eiesim.timing.contract.recurrence import RoundTimeline

#: The classes of a PE's cycles in a round, in report order; per PE they add up to the round's C.
PE_CYCLE_CLASSES = ("busy", "empty", "starved", "stalled", "drain")


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
    busy: np.ndarray = field(default=None)     # type: ignore[arg-type]  # set in __post_init__
    empty: np.ndarray = field(default=None)    # type: ignore[arg-type]  # set in __post_init__
    starved: np.ndarray = field(default=None)  # type: ignore[arg-type]  # set in __post_init__
    stalled: np.ndarray = field(default=None)  # type: ignore[arg-type]  # set in __post_init__
    drain: np.ndarray = field(default=None)    # type: ignore[arg-type]  # set in __post_init__
    # PE cycles of PEs that hold no rows of the round's row block (p >= rows in the block), by class:
    # starved + empty (such a PE's F), stalled, drain. Their busy is 0, so the three add up to C per idle PE
    # ("Where the cycles go": the idle-PE part of the cycle breakdown).
    idle_starved_empty: int = 0
    idle_stalled: int = 0
    idle_drain: int = 0
    #: PEs each broadcast reaches (one pixel group's; 0 = all ``num_pes``): FIFO pushes = broadcasts x fanout.
    group_pes: int = 0

    @property
    def fanout(self) -> int:
        """PEs each broadcast is pushed to: the PEs of one pixel group (all N with one group)."""
        return self.group_pes or self.num_pes

    @property
    def idle_pe_cycles(self) -> int:
        """PE cycles of PEs that held no rows of their round's row block."""
        return self.idle_starved_empty + self.idle_stalled + self.idle_drain

    def __post_init__(self) -> None:
        for name in PE_CYCLE_CLASSES:
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.num_pes, dtype=np.int64))

    def add_round(self, tl: RoundTimeline, nonzero_activations: int, padding: int, spmat_word_reads: int,
                  working_pes: int | None = None) -> None:
        """Accumulate one round's ``RoundTimeline`` (what a round contributes, section 3).

        ``working_pes``: the PEs that hold rows of the round's block (PEs 0 .. rows_in_block - 1 when the
        block has fewer rows than PEs); the others' cycles are also counted as idle-PE cycles.
        """
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
        for name in PE_CYCLE_CLASSES:
            getattr(self, name)[:] += getattr(tl, name)
        if working_pes is not None and working_pes < self.num_pes:
            idle = slice(working_pes, None)
            self.idle_starved_empty += int((tl.starved[idle] + tl.empty[idle]).sum())
            self.idle_stalled += int(tl.stalled[idle].sum())
            self.idle_drain += int(tl.drain[idle].sum())


def layer_cycles(io_cycles: int, load_cycles: int, compute_cycles: int, store_cycles: int) -> int:
    """A layer's cycles: its phases never overlap (section 2), so I/O + load + compute + store."""
    return io_cycles + load_cycles + compute_cycles + store_cycles


def compute_phase_pe_cycles(per_pe: Mapping[str, np.ndarray]) -> int:
    """The PE cycles of the compute phases the PEs worked in: every class of ``PE_CYCLE_CLASSES`` summed.

    Each PE's classes add up to its group's compute cycles, so this is N x compute_cycles
    with one pixel group and sum_g N' x C_g with several.
    """
    return sum(int(per_pe[name].sum()) for name in PE_CYCLE_CLASSES)


def load_balance_efficiency(busy: np.ndarray, compute_pe_cycles: int) -> float:
    """ALU utilisation during the compute phases: sum_p busy_p / the PE cycles of those phases (1.0 with none).

    ``compute_pe_cycles`` is the sum over PEs of the compute-phase cycles each PE's busy
    cycles lie in: N x compute_cycles with one pixel group; with G groups, sum_g N' x C_g,
    each group's own compute phases (the PE-cycle classes of a PE add up to its group's
    C_g). Dividing by N x the slowest group's C instead exceeded 1 when the slowest group
    (by load + compute + store) was not the one with the longest compute phase.
    """
    return float(busy.sum()) / compute_pe_cycles if compute_pe_cycles else 1.0


def time_efficiency(entries_processed: int, num_pes: int, cycles: int) -> float:
    """The paper's theoretical over actual time: (entries / N) / the layer's total cycles (1.0 with no cycles)."""
    return (entries_processed / num_pes) / cycles if cycles else 1.0


def real_work_fraction(entries_processed: int, padding_entries: int) -> float:
    """Real entries over all entries processed: padding costs cycles but does no work (1.0 with no entries)."""
    if not entries_processed:
        return 1.0
    return (entries_processed - padding_entries) / entries_processed


def stall_breakdown(per_pe: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Each class of ``PE_CYCLE_CLASSES`` summed over the PEs (chip-wide PE cycles of the layer)."""
    return {name: int(per_pe[name].sum()) for name in PE_CYCLE_CLASSES}
