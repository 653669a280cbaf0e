"""The parameters of the timing model: the symbols of docs/timing-model.md ("Parameters").

Read once from an ``ArchConfig`` (where each is declared with its unit and doc,
``eiesim/config/arch.py``), so that the rules and both engines name them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from eiesim.config.arch import ArchConfig

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
