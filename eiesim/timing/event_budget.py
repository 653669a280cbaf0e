"""How long the event engine will take, estimated from the work before it starts.

The SimPy engine runs one process step per PE per broadcast activation and one Python
loop iteration per entry, so its time is close to

    t = SECONDS_PER_PE_BROADCAST x (broadcasts x PEs) + SECONDS_PER_ENTRY x entries

where the broadcasts (non-zero activations, once per row block) and the entries of the
broadcast columns come from one pass of the functional fixed-point reference (seconds,
even for SqueezeNet); a layer run as F(2x2, 3x3) counts its Winograd layer on the transformed
input, as the engine runs it. The two constants were measured on the project's reference
machine (2 cores, Python 3.11; ``benchmarks/bench_event_estimate.py`` prints estimated /
measured time for a few layers); treat the estimate as good to a factor of about two.
``simulate(engine="event")`` refuses a run estimated above ``DEFAULT_EVENT_LIMIT_S``
unless told otherwise (``event_limit_s=None``; ``eiesim run --allow-slow``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eiesim.network.fixed_point import im2col

#: Event-engine seconds per (broadcast activation x PE) and per entry processed.
SECONDS_PER_PE_BROADCAST = 2.5e-5
SECONDS_PER_ENTRY = 1.5e-6
#: Longest estimated event-engine run accepted without confirmation (seconds).
DEFAULT_EVENT_LIMIT_S = 300.0


@dataclass(frozen=True)
class EventWork:
    """The event engine's work for one layer."""

    name: str
    broadcasts: int   # non-zero activations broadcast, summed over row blocks
    entries: int      # entries (real non-zeros) in the broadcast columns, all PEs
    num_pes: int

    @property
    def seconds(self) -> float:
        return SECONDS_PER_PE_BROADCAST * self.broadcasts * self.num_pes + SECONDS_PER_ENTRY * self.entries


def layer_work(name: str, x_q: np.ndarray, layer, geom) -> EventWork:  # noqa: ANN001 - Layer, LayerGeometry
    """Broadcasts and entries of one layer on its (fixed-point) input ``x_q``."""
    col_nnz = np.bincount(np.asarray(layer.indices, dtype=np.int64), minlength=layer.cols).astype(np.int64)
    if geom.kind == "fc":
        nonzero = np.asarray(x_q).reshape(-1) != 0
        broadcasts = int(nonzero.sum())
        entries = int(col_nnz[nonzero].sum())
    else:
        patches = im2col(np.asarray(x_q).reshape(geom.in_shape), geom.kernel, geom.stride, geom.padding,
                         dilation=geom.dilation) != 0
        broadcasts = int(patches.sum())
        entries = int(col_nnz @ patches.sum(axis=1))
    return EventWork(name, broadcasts * geom.num_blocks, entries, geom.num_pes)


def event_work(workload, x_q: np.ndarray, plan, params, winograd=None) -> list[EventWork]:  # noqa: ANN001
    """Per-layer event-engine work for ``workload`` on the fixed-point input ``x_q`` (one reference pass).

    ``winograd``: the layers that run as F(2x2, 3x3), by name (``WinogradLayer``, as ``simulate``
    builds them): their work is their Winograd layer's on the transformed input, which is what the
    engine runs, and the layers after them see the Winograd reference's outputs.
    """
    from eiesim.network.functional import accumulate_reference, run_fixed
    from eiesim.network.winograd import accumulate_winograd
    from eiesim.timing.contract import layer_geometry

    work: list[EventWork] = []
    winograd = winograd or {}

    def counting(layer, x_layer, fmt):  # noqa: ANN001, ANN202
        wl = winograd.get(layer.name)
        run_layer, run_x = (layer, x_layer) if wl is None else (wl.matrix, wl.input_q(x_layer, fmt))
        geom = layer_geometry(run_layer, tuple(run_x.shape), params)
        work.append(layer_work(layer.name, run_x, run_layer, geom))
        return accumulate_reference(layer, x_layer, fmt) if wl is None else accumulate_winograd(wl, x_layer, fmt)

    run_fixed(workload, x_q, plan, counting)
    return work


def total_seconds(work: list[EventWork]) -> float:
    return sum(w.seconds for w in work)


def describe(seconds: float) -> str:
    """``"about 12 s"``, ``"about 8 min"``, ``"about 1.6 h"``."""
    if seconds < 90:
        return f"about {seconds:.0f} s"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"
