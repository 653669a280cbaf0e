"""The action vocabulary: what the engines count and the cost models price (docs/timing-model.md section 3).

``ACTIONS`` names every action count an engine reports, in report order, with what one
action is; ``ACTION_NAMES`` is its key tuple. ``layer_actions`` derives a layer's counts
from what its rounds measured. Besides these counts, a layer's cycles imply two
clock-driven counts a cost model may price (clocked logic, leakage-like costs):
``PE_CYCLES`` (one per PE per cycle) and ``CHIP_CYCLES`` (one per cycle), together
``CLOCK_ACTIONS``. A cost model prices nothing else (``eiesim.costs`` checks it).
"""

from __future__ import annotations

from eiesim.network.activations import unit_ops
from eiesim.network.workload import Workload
from eiesim.timing.contract.io import LayerIo
from eiesim.timing.contract.rounds import PhaseTotals
from eiesim.timing.contract.statistics import ComputeTotals

#: Every action count an engine reports, in report order, and what one action is (section 3, "Action counts").
ACTIONS: dict[str, str] = {
    "lnzd_ops": "an activation broadcast by the leading-non-zero finder (the bias included)",
    "fifo_pushes": "an activation written into one PE's FIFO (N per broadcast; N / G with pixel groups)",
    "fifo_pops": "an activation popped by one PE",
    "ptr_reads": "one PE reading the pointer pair (p_j, p_j+1) of a column it handles",
    "src_reg_reads": "an input activation read from the source registers for broadcast (the bias is a constant)",
    "spmat_word_reads": "a Spmat SRAM word read by one PE",
    "codebook_lookups": "an entry's codebook index decoded (real, padding and bias entries)",
    "macs": "an entry's multiply-accumulate (real, padding and bias entries)",
    "real_macs": "a multiply-accumulate of a real weight",
    "dst_reg_reads": "a destination-register read: one per entry processed, one per output stored",
    "dst_reg_writes": "a destination-register write: one per entry processed",
    "entries_processed": "an entry issued by a PE (real + padding, bias entries included)",
    "padding_entries": "a padding entry issued by a PE",
    "act_sram_reads": "an activation read from the activation SRAM (load phase; a residual's skip operand, "
                      "store phase)",
    "act_sram_writes": "an output written to the activation SRAM (store phase)",
    "src_reg_writes": "an activation written into the source registers (load phase)",
    "dram_bytes_read": "a byte read from DRAM in I/O mode (inputs, streamed weights)",
    "dram_bytes_written": "a byte written to DRAM in I/O mode (outputs)",
}
#: The action names, in report order.
ACTION_NAMES = tuple(ACTIONS)

#: Work on the PEs' write-back path beyond ReLU and pooling (docs/timing-model.md section 2, "Residual").
#: A run reports these counts (after ``ACTION_NAMES``, for every layer) only when its workload has such
#: work, so that the reports of plain networks keep their columns.
WRITEBACK_ACTIONS: dict[str, str] = {
    "residual_adds": "a skip operand added to an output on the write-back path (read from the activation SRAM)",
    "activation_compares": "a comparison of the activation unit (clip bounds, the sign of leaky ReLU / PReLU)",
    "activation_mults": "a multiply of the activation unit (a slope, a hard sigmoid's alpha, a gate times x)",
    "activation_lut_reads": "a read of the activation unit's 256-entry table (sigmoid, tanh)",
}
WRITEBACK_ACTION_NAMES = tuple(WRITEBACK_ACTIONS)

#: Clock-driven counts implied by a layer's cycles: one per PE per cycle, one per chip cycle.
PE_CYCLES = "pe_cycles"
CHIP_CYCLES = "chip_cycles"
CLOCK_ACTIONS = (PE_CYCLES, CHIP_CYCLES)


def layer_actions(compute: ComputeTotals, phases: PhaseTotals, io: LayerIo, writeback: bool = False,
                  activation: str | None = None) -> dict[str, int]:
    """Every action count of a layer, named as in ``ACTION_NAMES`` (section 3, "Action counts").

    A residual's skip operands are activation-SRAM reads, and each sum is one destination-register
    read and write; an input pool reads its window (k^2 activation-SRAM reads) per loaded value;
    every output of a layer with an ``activation`` other than ReLU costs that
    activation's unit operations (``eiesim.network.activations.UNIT_OPS``). ``writeback``: also report
    ``WRITEBACK_ACTION_NAMES`` (a workload with write-back work).
    """
    ent = compute.entries
    res = phases.residual_rows
    acts = {
        "lnzd_ops": compute.broadcasts, "fifo_pushes": compute.broadcasts * compute.fanout, "fifo_pops": compute.pops,
        "ptr_reads": compute.pops, "src_reg_reads": compute.nonzero_activations,
        "spmat_word_reads": compute.spmat_word_reads, "codebook_lookups": ent, "macs": ent,
        "real_macs": ent - compute.padding, "dst_reg_reads": ent + phases.store_rows + res, "dst_reg_writes": ent + res,
        "entries_processed": ent, "padding_entries": compute.padding,
        "act_sram_reads": phases.load_values + phases.input_pool_reads + res, "act_sram_writes": phases.store_rows,
        "src_reg_writes": phases.load_values,
        "dram_bytes_read": io.bytes_read, "dram_bytes_written": io.bytes_written,
    }
    acts["residual_adds"] = res
    acts.update({name: 0 for name in WRITEBACK_ACTION_NAMES[1:]})
    acts.update(unit_ops(activation, phases.activation_rows))
    names = (*ACTION_NAMES, *WRITEBACK_ACTION_NAMES) if writeback else ACTION_NAMES
    return {name: int(acts[name]) for name in names}


def writeback_actions_needed(workload: Workload) -> bool:
    """Whether a run of ``workload`` reports ``WRITEBACK_ACTION_NAMES``: some layer adds a residual or has an
    activation other than ReLU."""
    return any(layer.residual is not None or layer.activation is not None for layer in workload.layers)
