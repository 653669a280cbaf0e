"""The timing contract: every rule both engines share, stated once (docs/timing-model.md in code).

Start reading here. Each rule of docs/timing-model.md lives in one module of this
package; the engines (``eiesim.timing.event``, SimPy; ``eiesim.timing.fast``, Numba)
differ only in how they execute the compute phase of the rounds, and both return a
``ComputeTotals``. ``eiesim.simulate`` orchestrates: it calls these rules in order and
defines none.

========================================  =====================================================  ====================
Rule (docs/timing-model.md)               Where                                                  Module
========================================  =====================================================  ====================
Parameters: the symbols N, D, L, P, W...  ``TimingParams``, ``ACT_BYTES``                        ``params``
1. Per-PE encoding (interleaving, CSC,    ``eiesim.encoding.layout_layer`` / ``encode_layer``    ``eiesim.encoding``
   padding, pointers, storage per PE)     (the encoding's own package, kernels included)
1. Codebook width, pointer width, SRAM    ``check_codebook_bits``, ``resolve_storage``,          ``storage``
   sizes, residency, streaming            ``StorageSummary``
2. Rounds, load and store phases          ``layer_geometry``, ``round_schedule`` (round by       ``rounds``
                                          round), ``phase_totals`` (closed form)
2. I/O mode                               ``layer_io``, ``LayerIo``                              ``io``
2. Pixel groups; 3. where the cycles go   ``group_options``, ``choose_pixel_groups`` (auto),     ``groups``
                                          ``layer_pixel_groups``, ``auto_candidates``,
                                          ``group_pixels``, ``GroupRun``, ``combine_groups``,
                                          ``cycle_breakdown``, ``BREAKDOWN_PARTS``
3. The compute phase of one round: the    ``round_timeline`` (the statement, plain numpy; the    ``recurrence``
   recurrence, its end, the drop rule,    engines are held to it, the trace draws from it)
   per-PE statistics
3. What a layer's rounds add up to; the   ``ComputeTotals``, ``PE_CYCLE_CLASSES``,               ``statistics``
   layer statistics                       ``layer_cycles``, ``compute_phase_pe_cycles``,
                                          ``load_balance_efficiency``, ``time_efficiency``,
                                          ``real_work_fraction``, ``stall_breakdown``
3. Action counts (what the cost models    ``ACTIONS`` / ``ACTION_NAMES``, ``CLOCK_ACTIONS``,     ``actions``
   price)                                 ``layer_actions``
2. Layers on one timeline                 ``sequence_layers``                                    ``sequence``
2. Winograd convolution: which layers,    ``runs_winograd``, ``winograd_actions``,               ``winograd``
   the transforms' actions                ``WINOGRAD_ACTIONS``
8. Recurrent layers: steps as rounds,     ``recurrent_steps``, ``RecurrentSteps``,               ``recurrent``
   the element-wise phase, the step       ``RECURRENT_ACTIONS``, ``ELEMENTWISE_LANES_PER_PE``,
   dependency                             ``ELEMENTWISE_LATENCY_CYCLES``
========================================  =====================================================  ====================

A new rule goes where its section goes: a new way of cutting a layer into rounds in
``rounds``, a new per-round rule in ``recurrence`` (then in both engines), a new
statistic in ``statistics``. The tests hold the engines to ``round_timeline`` and the
closed-form ``phase_totals`` to ``round_schedule``.
"""

from eiesim.timing.contract.actions import (
    ACTION_NAMES,
    ACTIONS,
    CHIP_CYCLES,
    CLOCK_ACTIONS,
    PE_CYCLES,
    WRITEBACK_ACTION_NAMES,
    WRITEBACK_ACTIONS,
    layer_actions,
    writeback_actions_needed,
)
from eiesim.timing.contract.groups import (
    BREAKDOWN_PARTS,
    GroupRun,
    LayerTiming,
    auto_candidates,
    choose_pixel_groups,
    combine_groups,
    cycle_breakdown,
    group_options,
    group_pixels,
    layer_pixel_groups,
)
from eiesim.timing.contract.io import LayerIo, layer_io
from eiesim.timing.contract.params import ACT_BYTES, TimingParams
from eiesim.timing.contract.recurrence import RoundTimeline, round_timeline
from eiesim.timing.contract.recurrent import (
    ELEMENTWISE_LANES_PER_PE,
    ELEMENTWISE_LATENCY_CYCLES,
    RECURRENT_ACTIONS,
    RecurrentSteps,
    recurrent_steps,
)
from eiesim.timing.contract.rounds import (
    LayerGeometry,
    PhaseTotals,
    RoundSpec,
    layer_geometry,
    phase_totals,
    round_schedule,
)
from eiesim.timing.contract.sequence import LayerSpan, PhaseCycles, sequence_layers
from eiesim.timing.contract.statistics import (
    PE_CYCLE_CLASSES,
    ComputeTotals,
    compute_phase_pe_cycles,
    layer_cycles,
    load_balance_efficiency,
    real_work_fraction,
    stall_breakdown,
    time_efficiency,
)
from eiesim.timing.contract.storage import StorageSummary, check_codebook_bits, resolve_storage

__all__ = [
    "ELEMENTWISE_LANES_PER_PE", "ELEMENTWISE_LATENCY_CYCLES", "RECURRENT_ACTIONS", "RecurrentSteps", "recurrent_steps",
    "BREAKDOWN_PARTS", "GroupRun", "LayerTiming", "auto_candidates", "choose_pixel_groups", "combine_groups",
    "cycle_breakdown", "group_options", "group_pixels", "layer_pixel_groups",
    "ACTIONS", "ACTION_NAMES", "WRITEBACK_ACTIONS", "WRITEBACK_ACTION_NAMES", "writeback_actions_needed",
    "ACT_BYTES", "CHIP_CYCLES", "CLOCK_ACTIONS", "PE_CYCLES", "PE_CYCLE_CLASSES",
    "ComputeTotals", "LayerGeometry", "LayerIo", "LayerSpan", "PhaseCycles", "PhaseTotals", "RoundSpec",
    "RoundTimeline", "StorageSummary", "TimingParams", "check_codebook_bits", "layer_actions", "layer_cycles",
    "layer_geometry", "layer_io", "compute_phase_pe_cycles", "load_balance_efficiency", "phase_totals",
    "real_work_fraction", "resolve_storage", "round_schedule", "round_timeline", "sequence_layers", "stall_breakdown",
    "time_efficiency",
]
