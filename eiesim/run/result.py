"""What a simulation returns: per-layer statistics and the whole inference (docs/report-schema.md).

``LayerStats`` holds everything measured for one layer; its derived statistics use the
definitions of the timing contract (``eiesim.timing.contract.statistics``).
``SimulationResult`` holds a whole inference and builds the deterministic report body
(``to_dict``), the flat per-layer records and, with pandas, a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eiesim.config.arch import ArchConfig
from eiesim.network.functional import FixedPointPlan
from eiesim.network.host_ops import host_work_summary
from eiesim.network.workload import Workload
from eiesim.timing.contract.winograd import WINOGRAD_ACTIONS
from eiesim.timing.contract import (
    ACTION_NAMES,
    BREAKDOWN_PARTS,
    RECURRENT_ACTIONS,
    WRITEBACK_ACTION_NAMES,
    StorageSummary,
    compute_phase_pe_cycles,
    load_balance_efficiency,
    real_work_fraction,
    stall_breakdown,
    time_efficiency,
)


@dataclass
class LayerStats:
    """Everything measured for one layer (docs/report-schema.md)."""

    name: str
    kind: str
    rows: int
    cols: int
    pixels: int
    row_blocks: int
    input_batches: int
    start_cycle: int
    cycles: int
    compute_cycles: int
    load_cycles: int
    store_cycles: int
    io_cycles: int
    time_us: float
    rounds: int
    nonzero_activations: int
    input_density: float
    entries_processed: int
    padding_entries: int
    broadcast_stall_cycles: int
    busy_cycles: np.ndarray
    empty_cycles: np.ndarray
    starved_cycles: np.ndarray
    stalled_cycles: np.ndarray
    drain_cycles: np.ndarray
    actions: dict[str, int]
    storage: dict[str, float]
    saturations: int
    #: The layer's PE cycles by part (timing.contract.BREAKDOWN_PARTS); they add up to N x cycles.
    breakdown_pe_cycles: dict[str, int] = field(default_factory=dict)
    #: How the layer was mapped: pixel_groups, group_pes, slowest_group, group_cycles (, auto_cycles).
    mapping: dict[str, Any] = field(default_factory=dict)

    @property
    def cycle_breakdown(self) -> dict[str, float]:
        """``breakdown_pe_cycles`` / N: the layer's cycles by part (they add up to ``cycles``)."""
        n = len(self.busy_cycles)
        return {name: value / n for name, value in self.breakdown_pe_cycles.items()}

    @property
    def load_balance_efficiency(self) -> float:
        """ALU utilisation during compute: busy PE cycles / the PE cycles of the compute phases
        (N x compute_cycles with one pixel group; timing.contract.statistics)."""
        per_pe = {"busy": self.busy_cycles, "empty": self.empty_cycles, "starved": self.starved_cycles,
                  "stalled": self.stalled_cycles, "drain": self.drain_cycles}
        return load_balance_efficiency(self.busy_cycles, compute_phase_pe_cycles(per_pe))

    @property
    def time_efficiency(self) -> float:
        """Theoretical over actual time: (entries / N) / total layer cycles (timing.contract.statistics)."""
        return time_efficiency(self.entries_processed, len(self.busy_cycles), self.cycles)

    @property
    def real_work_fraction(self) -> float:
        """Real entries over all entries processed (timing.contract.statistics)."""
        return real_work_fraction(self.entries_processed, self.padding_entries)

    def to_dict(self) -> dict[str, Any]:
        pe = {"busy": self.busy_cycles, "empty": self.empty_cycles, "starved": self.starved_cycles,
              "stalled": self.stalled_cycles, "drain": self.drain_cycles}
        return {
            "name": self.name, "kind": self.kind, "rows": self.rows, "cols": self.cols, "pixels": self.pixels,
            "row_blocks": self.row_blocks, "input_batches": self.input_batches, "start_cycle": self.start_cycle,
            "cycles": self.cycles, "compute_cycles": self.compute_cycles, "load_cycles": self.load_cycles,
            "store_cycles": self.store_cycles, "io_cycles": self.io_cycles, "time_us": self.time_us,
            "rounds": self.rounds, "nonzero_activations": self.nonzero_activations,
            "input_density": self.input_density, "entries_processed": self.entries_processed,
            "padding_entries": self.padding_entries, "broadcast_stall_cycles": self.broadcast_stall_cycles,
            "load_balance_efficiency": self.load_balance_efficiency, "time_efficiency": self.time_efficiency,
            "real_work_fraction": self.real_work_fraction,
            "stall_breakdown": stall_breakdown(pe),
            "pe_cycles": {k: [int(x) for x in v] for k, v in pe.items()},
            "actions": dict(self.actions), "storage": dict(self.storage), "saturations": self.saturations,
            "mapping": dict(self.mapping),
            "cycle_breakdown": {"pe_cycles": dict(self.breakdown_pe_cycles), "cycles": self.cycle_breakdown},
        }


@dataclass
class SimulationResult:
    """A whole inference: resolved architecture, per-layer statistics, totals, functional check."""

    arch: ArchConfig
    workload: Workload
    engine: str
    input_description: str
    layers: list[LayerStats]
    storage: StorageSummary
    plan: FixedPointPlan
    outputs: dict[str, np.ndarray] = field(repr=False)
    check: dict[str, Any] = field(default_factory=dict)
    #: The cost model's pricing of this run (eiesim.costs.CostReport.to_dict()).
    costs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Values clipped converting each host op's output that an EIE layer reads back to fixed point (the chip
    #: boundary, docs/fixed-point.md); empty for a network without host ops.
    host_saturations: dict[str, int] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.layers)

    @property
    def time_us(self) -> float:
        return self.cycles / self.arch.clock_mhz

    @property
    def frames_per_s(self) -> float:
        return 1e6 / self.time_us if self.cycles else float("inf")

    @property
    def warnings(self) -> list[str]:
        """Everything the user should know about this result's accuracy (widened pointers, cost-model extrapolation)."""
        return list(self.storage.warnings) + [str(w) for w in self.costs.get("warnings", [])]

    def totals(self) -> dict[str, Any]:
        acts = {name: sum(s.actions[name] for s in self.layers) for name in ACTION_NAMES}
        # Only in runs with write-back work, Winograd or recurrent layers (the other reports are unchanged).
        for name in (*WRITEBACK_ACTION_NAMES, *WINOGRAD_ACTIONS, *RECURRENT_ACTIONS):
            if any(name in s.actions for s in self.layers):
                acts[name] = sum(s.actions.get(name, 0) for s in self.layers)
        return {
            "cycles": self.cycles, "time_us": self.time_us, "frames_per_s": self.frames_per_s,
            "compute_cycles": sum(s.compute_cycles for s in self.layers),
            "load_cycles": sum(s.load_cycles for s in self.layers),
            "store_cycles": sum(s.store_cycles for s in self.layers),
            "io_cycles": sum(s.io_cycles for s in self.layers),
            "macs": acts["macs"], "real_macs": acts["real_macs"], "actions": acts,
            "cycle_breakdown": self.cycle_breakdown(),
        }

    def cycle_breakdown(self) -> dict[str, dict[str, float]]:
        """The network's cycles by part: the layers' PE cycles summed, and / N (they add up to ``cycles``)."""
        parts: dict[str, float] = {name: sum(s.breakdown_pe_cycles.get(name, 0) for s in self.layers)
                                   for name in BREAKDOWN_PARTS}
        n = self.arch.num_pes
        return {"pe_cycles": parts, "cycles": {name: value / n for name, value in parts.items()}}

    def to_dict(self) -> dict[str, Any]:
        """The JSON report body (docs/report-schema.md): deterministic, so identical inputs give identical bytes.

        How the run was made (engine, wall time, date, host) is not part of the result;
        it lives in ``eiesim.render.run_files.run_metadata`` (written beside the report).
        """
        wl = self.workload
        return {
            "eiesim_version": _version(),
            "arch": self.arch.to_dict(),
            "workload": {"name": wl.name, "source": wl.source, "layers": len(wl.layers), "nnz": wl.nnz,
                         "input_shape": list(wl.input_shape), "input": self.input_description},
            "storage": self.storage.to_dict(),
            "fixed_point": self.plan.to_dict(),
            "totals": self.totals(),
            **({"host_work": host} if (host := self.host_work) is not None else {}),
            "layers": [self._layer_dict(i, s) for i, s in enumerate(self.layers)],
            "check": dict(self.check),
            **{key: self.costs[key] for key in COST_SECTIONS if key in self.costs},
            "warnings": self.warnings,
        }

    @property
    def host_work(self) -> dict[str, Any] | None:
        """The host ops' work beside the EIE cycles (``eiesim.network.host_ops.host_work_summary``): operations and
        bytes to and from the chip, counted, not timed; with ``saturations``, the values clipped converting the host's
        results back to the chip's fixed point (in total and per op); None for a network that runs entirely on EIE."""
        summary = host_work_summary(self.workload)
        if summary is not None:
            for row in summary["per_op"]:
                row["saturations"] = int(self.host_saturations.get(row["name"], 0))
            summary["saturations"] = int(sum(self.host_saturations.values()))
        return summary

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per layer (statistics, energy, dotted action/stall/storage columns); see eiesim.run.records."""
        from eiesim.run.records import records

        return records({"layers": [self._layer_dict(i, s) for i, s in enumerate(self.layers)]})

    def to_dataframe(self):  # noqa: ANN201 - pandas.DataFrame; pandas is optional
        """``to_records()`` as a pandas DataFrame (needs pandas, which eiesim does not install)."""
        from eiesim.run.records import dataframe

        return dataframe(self.to_records())

    def _layer_dict(self, index: int, stats: LayerStats) -> dict[str, Any]:
        out = stats.to_dict()
        if self.costs:
            priced = self.costs["layers"][index]
            out.update({key: priced[key] for key in ("energy_pj", "energy_by_component_pj", "paper_method_energy_pj")})
        return out


#: Report sections contributed by the cost model (docs/report-schema.md, docs/cost-model.md).
COST_SECTIONS = ("cost_model", "cost_model_provenance", "energy", "power", "area", "figures_of_merit", "paper_method")


def _version() -> str:
    """The version of the eiesim package that ran (not of whichever eiesim pip has installed)."""
    from eiesim.version import __version__
    return __version__
