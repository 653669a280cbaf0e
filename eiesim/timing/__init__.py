"""timing: EIE's cycles: the shared contract, the SimPy event engine and the Numba fast engine.

See docs/timing-model.md for the rules. ``contract`` holds what both engines share
(parameters, round sequencing, load/store/I-O phases, pixel groups, action counts, the
layer sequence); ``event`` and ``fast`` execute the compute phases of a layer's rounds
(``kernels``: the fast engine's Numba code). ``event_budget`` estimates the event engine's
run time before it starts; ``trace`` draws one layer's timeline from the contract.
"""

from eiesim.timing.contract import (
    ACTION_NAMES,
    ComputeTotals,
    LayerGeometry,
    PhaseTotals,
    TimingParams,
    layer_geometry,
    phase_totals,
    round_schedule,
)

__all__ = [
    "ACTION_NAMES", "ComputeTotals", "LayerGeometry", "PhaseTotals", "TimingParams", "layer_geometry",
    "phase_totals", "round_schedule",
]
