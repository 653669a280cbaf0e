"""The layers of an inference on one timeline (docs/timing-model.md section 2: phases never overlap).

Both engines hand the cycles of each layer's phases to ``sequence_layers``, a SimPy
process that places the layers one after another, so that both use one clock and a
richer model (e.g. I/O overlapping compute) has one place to go.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy


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
