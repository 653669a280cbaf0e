"""Recurrent layers (LSTM, GRU): the time steps as rounds, the element-wise phase, the step dependency
(docs/timing-model.md section 8).

A recurrent layer of H hidden units over I inputs per step runs one round per time step t:
the M x V matrix (M = 4H, V = I + H) on [x_t; h_{t-1}], bias column included, exactly as
section 3 times any round. Around it, per step, phases that never overlap:

1. **load** x_t: ``ceil(I / N)`` cycles (I values from the activation SRAM into the source
   registers). h_{t-1} is already there: the previous step's element-wise phase wrote it
   (EIE swaps source and destination register files; h_0 = 0 is never broadcast).
2. **compute**: the round (section 3).
3. **element-wise** (reported as the layer's store phase):
   ``ceil(4H / N)`` (each PE reads its gate accumulators out of its destination registers,
   one per cycle, as a store phase does) + ``ceil(H / (N x LANES))`` (the element-wise unit
   takes one hidden unit per lane per cycle, fully pipelined) + ``LATENCY`` (its pipeline) +
   ``ceil(H / N)`` (h_t written into the source registers that step t+1 broadcasts from).

Step t+1's load starts after step t's h_t is written (the dependency): the layer's cycles
are the sum over steps. The element-wise unit is an assumption anchored on ESE (Han et al.,
FPGA 2017), whose element-wise units follow the sparse M x V and compute sigmoid / tanh by
lookup table / piecewise-linear approximation: here one lane per PE, five pipeline stages.
"""

from __future__ import annotations

from dataclasses import dataclass

from eiesim.timing.contract.params import TimingParams
from eiesim.timing.contract.rounds import PhaseTotals

#: Element-wise lanes per PE (each takes one hidden unit per cycle).
ELEMENTWISE_LANES_PER_PE = 1
#: Pipeline stages of the element-wise unit: non-linearities of the gates; the products; the sum and
#: saturation; tanh(c) (LSTM) or the reset product (GRU); the output product and saturation.
ELEMENTWISE_LATENCY_CYCLES = 5
#: The element-wise actions a recurrent layer adds to its action counts (priced by the cost model).
RECURRENT_ACTIONS: dict[str, str] = {
    "elementwise_lookups": "a piecewise-linear sigmoid / tanh evaluation (a table-pair read) in the element-wise unit",
    "elementwise_mults": "a 16-bit multiply in the element-wise unit (interpolations included)",
}
#: Per hidden unit and step: (lookups, multiplies). LSTM: 3 sigmoids + 2 tanh (one interpolating multiply
#: each) + f c, i g, o tanh(c). GRU: 2 sigmoids + 1 tanh + r a_nh, (1 - z) n, z h.
_PER_UNIT = {"lstm": (5, 5 + 3), "gru": (3, 3 + 3)}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class RecurrentSteps:
    """What a recurrent layer is to the chip: T steps of I inputs and H hidden units."""

    kind: str
    steps: int
    inputs: int
    hidden: int

    def load_cycles_per_step(self, params: TimingParams) -> int:
        return _ceil(self.inputs, params.num_pes)

    def elementwise_cycles_per_step(self, params: TimingParams) -> int:
        n = params.num_pes
        return (_ceil(4 * self.hidden, n) + _ceil(self.hidden, n * ELEMENTWISE_LANES_PER_PE)
                + ELEMENTWISE_LATENCY_CYCLES + _ceil(self.hidden, n))

    def phase_totals(self, params: TimingParams) -> PhaseTotals:
        """Load (x_t) and element-wise (as the store phase) cycles over all steps; values moved."""
        return PhaseTotals(rounds=self.steps,
                           load_cycles=self.steps * self.load_cycles_per_step(params),
                           load_values=self.steps * self.inputs,
                           store_cycles=self.steps * self.elementwise_cycles_per_step(params),
                           store_rows=self.steps * 4 * self.hidden)

    def adjust_actions(self, actions: dict[str, int]) -> dict[str, int]:
        """The layer's action counts with the recurrent rules: h_t written to the source registers (and, as
        the layer's output, to the activation SRAM) instead of the 4H gate values; the element-wise actions."""
        out = dict(actions)
        out["act_sram_writes"] = self.steps * self.hidden
        out["src_reg_writes"] = self.steps * (self.inputs + self.hidden)
        lookups, mults = _PER_UNIT[self.kind]
        out["elementwise_lookups"] = self.steps * self.hidden * lookups
        out["elementwise_mults"] = self.steps * self.hidden * mults
        return out


def recurrent_steps(kind: str, rows: int, cols: int, hidden: int, input_values: int) -> RecurrentSteps:
    """The steps of a recurrent layer (M = ``rows`` = 4H, V = ``cols`` = I + H) reading ``input_values`` = T x I."""
    inputs = cols - hidden
    return RecurrentSteps(kind, input_values // inputs, inputs, hidden)
