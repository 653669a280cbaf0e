"""One sweep point: its simulation(s) and the row they make (metrics, cycle breakdown, details).

``evaluate_point`` runs in a worker (or in the sweep's own process); ``point_metrics`` turns
the JSON reports of a point's runs (one per image) into its row: the ``METRIC_COLUMNS`` and
``BREAKDOWN_COLUMNS``, means with ``_min`` / ``_max`` columns over several images, and the
details a point file keeps but the tables leave out (``DETAIL_KEYS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eiesim.config.arch import ArchConfig
from eiesim.errors import EiesimError
from eiesim.timing.contract import BREAKDOWN_PARTS, TimingParams, layer_geometry

#: Metrics every row carries (after the swept keys), in this order.
METRIC_COLUMNS = (
    "cycles", "time_us", "frames_per_s", "energy_uj", "chip_power_mw", "pe_area_um2", "chip_area_mm2",
    "load_balance_efficiency", "padding_entries", "dram_bytes", "functional",
)
#: The network's cycle breakdown in cycles (report ``totals.cycle_breakdown.cycles``), after the metrics;
#: they add up to ``cycles`` (docs/timing-model.md, "Where the cycles go").
BREAKDOWN_COLUMNS = tuple(f"cycle_breakdown.{name}" for name in BREAKDOWN_PARTS)


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The sweep row's metrics from one run's JSON report."""
    totals = report["totals"]
    layers = report["layers"]
    compute = sum(layer.get("compute_cycles", 0) for layer in layers)
    lbe = (sum(layer["load_balance_efficiency"] * layer.get("compute_cycles", 0) for layer in layers) / compute
           if compute else 0.0)
    energy = report.get("energy", {})
    power = report.get("power", {})
    area = report.get("area", {})
    breakdown = totals.get("cycle_breakdown", {}).get("cycles", {})
    return {
        "cycles": totals["cycles"],
        "time_us": totals["time_us"],
        "frames_per_s": totals["frames_per_s"],
        "energy_uj": energy.get("total_pj", float("nan")) / 1e6,
        "chip_power_mw": power.get("chip_mw", float("nan")),
        "pe_area_um2": area.get("pe_um2", float("nan")),
        "chip_area_mm2": area.get("chip_mm2", float("nan")),
        "load_balance_efficiency": lbe,
        "padding_entries": sum(layer["padding_entries"] for layer in layers),
        "dram_bytes": sum(layer["actions"].get("dram_bytes_read", 0) + layer["actions"].get("dram_bytes_written", 0)
                          for layer in layers),
        "functional": report.get("check", {}).get("functional", "n/a"),
        **{f"cycle_breakdown.{name}": breakdown.get(name, float("nan")) for name in BREAKDOWN_PARTS},
    }


#: Keys of a stored point that are details, not table columns (results.csv / results.jsonl leave them out).
DETAIL_KEYS = ("resolved_arch", "layers", "layer_stats", "per_image")
#: Per-layer fields a point stores (compact: no per-PE lists).
POINT_LAYER_FIELDS = ("name", "kind", "cycles", "time_us", "io_cycles", "load_cycles", "compute_cycles",
                      "store_cycles", "nonzero_activations", "input_density", "entries_processed", "padding_entries",
                      "broadcast_stall_cycles", "load_balance_efficiency", "energy_pj")
#: Metrics that get _min / _max columns when a point runs several images (the main column is the mean).
SPREAD_METRICS = ("cycles", "time_us", "energy_uj")
#: Between two warnings in a row's ``warnings`` cell.
WARNING_SEPARATOR = " | "


def share_before_fork(workload: Any, network_input: Any) -> None:
    """Import the engines and compute the work every point shares (validation, fixed-point plan and
    reference: ``eiesim.run.simulate.share_network_work``) in this process, before it forks its
    local workers, so that they inherit both instead of each importing and computing them."""
    from eiesim.run.simulate import share_network_work

    for x in (list(network_input) if isinstance(network_input, list) else [network_input]):
        try:
            share_network_work(workload, x)
        except EiesimError:  # the points meet the same error and report it as a point's failure
            return


#: The fast engine's time, as ``estimated_point_work`` models it for ordering points (measured on the real
#: Deep-Compression SqueezeNet at 1 to 256 PEs, one thread): about 17 ns per activation a round broadcasts,
#: plus about 0.2 ns per PE that holds entries of the round's row block.
NS_PER_ACTIVATION = 17.0
NS_PER_ACTIVE_PE = 0.2


def estimated_point_work(arch: ArchConfig, workload: Any) -> float:
    """The rounds kernel's time (ns) for ``workload`` on ``arch`` if every input were non-zero: for each
    layer, pixel and row block, every column is broadcast and costs ``NS_PER_ACTIVATION`` plus
    ``NS_PER_ACTIVE_PE`` per PE holding rows of the block (``timing.contract.layer_geometry``). Only the
    order of points follows from it (``heaviest_first``): results never do. Few PEs cost many row blocks
    (every column broadcast once per block), many PEs cost wide rounds; a sweep over PE counts is heavy
    at both ends. A layer whose geometry cannot be read this way counts as an fc layer."""
    params = TimingParams.from_arch(arch)
    n, cap = params.num_pes, params.cap
    total = 0.0
    for layer in workload.layers:
        rows, cols, pixels = layer.rows, layer.cols, 1
        if layer.kind == "conv":
            geom = layer_geometry(layer, tuple(workload.input_shape_of(layer)), params)
            pixels = geom.pixels
        for first_row in range(0, max(rows, 1), cap):  # row blocks
            active = min(n, rows - first_row)
            total += pixels * cols * (NS_PER_ACTIVATION + NS_PER_ACTIVE_PE * active)
    return total


def heaviest_first(todo: Sequence[int], work: Sequence[float] | Mapping[int, float]) -> list[int]:
    """``todo`` ordered by the points' expected work (``work[i]``, e.g. ``estimated_point_work``), largest
    first (ties keep the grid order). Two workers that take the long points first end together instead
    of one finishing the last long point alone; the results do not depend on the order (each is stored
    under its own key, the tables in grid order)."""
    return sorted(todo, key=lambda i: -work[i])


def evaluate_point(arch: ArchConfig, workload: Any, network_input: Any) -> dict[str, Any]:
    """Simulate one point and return its metrics and details (runs in a worker).

    ``network_input``: one input (array, or None = the workload's own), or a list of
    inputs (several images): then the metrics are means over the images, with _min /
    _max columns for ``SPREAD_METRICS``, and ``images`` holds each image's metrics.
    """
    from eiesim.run.simulate import simulate  # here: the store and the renderers read this module without the engines

    inputs = list(network_input) if isinstance(network_input, list) else [network_input]
    reports = [simulate(arch, workload, input=x).to_dict() for x in inputs]
    return point_metrics(reports)


def _point_layers(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: layer.get(k) for k in POINT_LAYER_FIELDS if k in layer} for layer in report["layers"]]


def point_metrics(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A point's row metrics and details from the JSON reports of its runs (one per image)."""
    first = reports[0]
    warnings = sorted({str(w) for r in reports for w in r.get("warnings", [])})
    if len(reports) == 1:
        out = summarize(first)
        out["warnings"] = WARNING_SEPARATOR.join(warnings)
        out["resolved_arch"] = first["arch"]
        out["layers"] = _point_layers(first)
        return out
    per_image = [summarize(r) for r in reports]
    out = {}
    for key in (*METRIC_COLUMNS, *BREAKDOWN_COLUMNS):
        values = [m[key] for m in per_image]
        if key == "functional":
            out[key] = "pass" if all(v == "pass" for v in values) else "fail"
        else:
            out[key] = sum(values) / len(values)
    for key in SPREAD_METRICS:
        out[f"{key}_min"] = min(m[key] for m in per_image)
        out[f"{key}_max"] = max(m[key] for m in per_image)
    out["images"] = len(reports)
    out["warnings"] = WARNING_SEPARATOR.join(warnings)
    out["resolved_arch"] = first["arch"]
    layers = [_point_layers(r) for r in reports]
    out["layers"] = layers[0]
    out["layer_stats"] = [
        {"name": group[0]["name"], **{f"{k}_{stat}": fn(g[k] for g in group)
                                      for k in ("cycles", "nonzero_activations", "input_density")
                                      for stat, fn in (("min", min), ("max", max))},
         **{f"{k}_mean": sum(g[k] for g in group) / len(group) for k in ("cycles", "nonzero_activations",
                                                                           "input_density")}}
        for group in zip(*layers)]
    out["per_image"] = [{"input": r["workload"]["input"], **m} for r, m in zip(reports, per_image)]
    return out


def table_row(point: dict[str, Any]) -> dict[str, Any]:
    """A stored point without its details: one row of results.csv / results.jsonl."""
    return {k: v for k, v in point.items() if k not in DETAIL_KEYS}
