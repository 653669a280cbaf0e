"""Design-space sweeps: a grid of architecture overrides, each point a full simulation.

* Grid: every ``--set KEY=V1,V2,...`` expression is one axis (any architecture key,
  dotted for nested sections); the sweep is their Cartesian product, in the order given.
* Store: each finished point is written at once to ``DIR/points/<key>.json``
  (atomically), keyed by a hash of everything that can change its result: the point's
  architecture, the workload file's content, the content of every network input (the
  preprocessed image arrays, so a new photo at the same path counts), the eiesim version
  and a digest of the simulator's own model sources (``eiesim.run.provenance.model_digest``).
  A restarted sweep recomputes only missing points; a changed input or model never reuses
  stale results. A point file holds the table row plus the resolved architecture ('auto'
  sizes replaced by bytes), per-layer results, per-image results when there are several
  images, and the run's warnings. ``results.csv`` and ``results.jsonl`` (the rows) are
  regenerated (atomically) from the stored points, in grid order; ``manifest.json``
  records what the sweep was run on (command, version, model digest, architecture and
  workload paths with content digests, images), so the directory stands alone. A stored
  point is reused only after verification (format, key, checksum, metrics); sweeps into
  one directory claim points so that each is computed once (``eiesim.sweeps.store``).
* Execution (``eiesim.sweeps.executors``): in this process, on local worker processes (the
  workload is loaded once per worker, not per point; workers exit when the sweep dies)
  or on a Dask cluster (the workload is scattered to the workers, again after workers
  are lost). Each result is stored at once; a point whose worker was lost is retried
  (bounded); a point that fails is raised only after every other point has been stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eiesim.config.arch import ArchConfig, apply_overrides, arch_from_dict, read_arch_file
from eiesim.errors import EiesimError, UsageError
from eiesim.outputs.commit import write_text
from eiesim.run.provenance import array_digest, file_digest, model_digest
from eiesim.sweeps.executors import (
    DaskRunner,
    PoolRunner,
    RunStats,
    SerialRunner,
    check_dask_address,
    quiet_dask_logs,
    raise_failures,
    run_points,
)
from eiesim.sweeps.store import Rejected, ResultStore
from eiesim.timing.contract import BREAKDOWN_PARTS
from eiesim.version import __version__

#: Metrics every row carries (after the swept keys), in this order.
METRIC_COLUMNS = (
    "cycles", "time_us", "frames_per_s", "energy_uj", "chip_power_mw", "pe_area_um2", "chip_area_mm2",
    "load_balance_efficiency", "padding_entries", "dram_bytes", "functional",
)
#: The network's cycle breakdown in cycles (report ``totals.cycle_breakdown.cycles``), after the metrics;
#: they add up to ``cycles`` (docs/timing-model.md, "Where the cycles go").
BREAKDOWN_COLUMNS = tuple(f"cycle_breakdown.{name}" for name in BREAKDOWN_PARTS)


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: the overrides that define it and the resolved architecture."""

    overrides: dict[str, Any]
    arch: ArchConfig

    def key(self, workload_digest: str) -> str:
        payload = json.dumps({"arch": self.arch.to_dict(), "workload": workload_digest, "version": __version__},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]


def parse_set(expr: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` -> (key, values); values are parsed as YAML scalars."""
    import yaml

    if "=" not in expr:
        raise UsageError(f"--set {expr!r}: expected KEY=V1,V2,... e.g. num_pes=1,2,4,8")
    key, raw = (s.strip() for s in expr.split("=", 1))
    values = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            raise UsageError(f"--set {expr!r}: empty value in the list")
        try:
            values.append(yaml.safe_load(item))
        except yaml.YAMLError:
            values.append(item)
        except (ValueError, RecursionError):  # e.g. an integer of more than 4300 digits
            raise UsageError(f"--set {key}={item[:24]}{'...' if len(item) > 24 else ''}: the value cannot be "
                             "converted") from None
    return key, values


def expand_grid(base: dict[str, Any], sets: Sequence[str], source: str | None = None) -> list[SweepPoint]:
    """All combinations of the ``--set`` axes applied to ``base`` (validated, in order)."""
    axes = [parse_set(s) for s in sets]
    keys = [k for k, _ in axes]
    if len(set(keys)) != len(keys):
        raise UsageError(f"--set: a key appears twice in {keys}")
    for key, values in axes:
        _check_distinct(key, values)
    points = []
    for combo in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
        overrides = dict(zip(keys, combo))
        data = apply_overrides(base, overrides)
        points.append(SweepPoint(overrides, arch_from_dict(data, source)))
    _check_distinct_points(points)
    return points


def _check_distinct(key: str, values: list[Any]) -> None:
    """``--set num_pes=4,4`` is an error: each value of an axis is one point (it was computed twice)."""
    seen: list[Any] = []
    for value in values:
        if any(value == s and isinstance(value, bool) == isinstance(s, bool) for s in seen):  # 4 and 4.0 too
            raise UsageError(f"--set {key}: the value {value!r} is given twice; each value of an axis is one "
                             "point of the grid, so list each value once")
        seen.append(value)


def _check_distinct_points(points: list[SweepPoint]) -> None:
    """Two grid points that resolve to the same architecture would be one simulation shown twice."""
    first: dict[str, dict[str, Any]] = {}
    for point in points:
        key = json.dumps(point.arch.to_dict(), sort_keys=True)
        if key in first:
            raise UsageError(f"--set: the points {first[key]} and {point.overrides} are the same architecture; "
                             "list each configuration once")
        first[key] = point.overrides


def inputs_digest(workload_digest: str, input_digests: Sequence[str]) -> str:
    """What every point of a sweep shares, as one digest for ``SweepPoint.key``.

    Covers the workload file's content, each network input's content (in order), the eiesim
    version and the model sources' digest: a change to any of them changes every key.
    """
    payload = json.dumps({"workload": workload_digest, "inputs": list(input_digests), "version": __version__,
                          "model": model_digest()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


# -- evaluating one point ---------------------------------------------------------

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


def evaluate_point(arch: ArchConfig, workload: Any, network_input: Any) -> dict[str, Any]:
    """Simulate one point and return its metrics and details (runs in a worker).

    ``network_input``: one input (array, or None = the workload's own), or a list of
    inputs (several images): then the metrics are means over the images, with _min /
    _max columns for ``SPREAD_METRICS``, and ``images`` holds each image's metrics.
    """
    from eiesim.run.simulate import simulate

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


#: 'auto' keys that resolve per layer, not to one value per point (the layers' results say what each chose).
PER_LAYER_AUTO_KEYS = ("mapping.pixel_groups",)


def auto_keys(arch: ArchConfig) -> list[str]:
    """Dotted keys whose value is 'auto' and resolves to one value per point (per workload)."""
    data = arch.to_dict()
    return [f"{section}.{key}" for section, body in data.items() if isinstance(body, dict)
            for key, value in body.items() if value == "auto" and f"{section}.{key}" not in PER_LAYER_AUTO_KEYS]


def resolved_columns(arch: ArchConfig, resolved: dict[str, Any]) -> dict[str, Any]:
    """``{"resolved.spmat_sram.size_bytes": 262144, ...}`` for every 'auto' key of the point."""
    out = {}
    for dotted in auto_keys(arch):
        section, key = dotted.split(".", 1)
        out[f"resolved.{dotted}"] = resolved.get(section, {}).get(key)
    return out


# -- the result store (eiesim.sweeps.store) and the runners (eiesim.sweeps.executors) -------------

# -- running a sweep -------------------------------------------------------------------

@dataclass
class SweepResult:
    """Rows in grid order plus how many points were computed now vs reused.

    ``rows`` are the table (what results.csv holds); ``points`` the full stored points in
    the same order (rows plus ``resolved_arch``, per-layer ``layers`` and, with several
    images, ``per_image`` and ``layer_stats``). ``rejected``: stored points that failed
    verification and were recomputed (file and reason); ``retried``: point attempts
    repeated because their worker was lost.
    """

    rows: list[dict[str, Any]]
    columns: list[str]
    computed: int
    reused: int
    points: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    retried: int = 0

    @property
    def warnings(self) -> list[str]:
        """Every distinct warning of any point."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for text in str(row.get("warnings") or "").split(WARNING_SEPARATOR):
                if text:
                    seen[text] = None
        return list(seen)

    def to_records(self) -> list[dict[str, Any]]:
        """The rows (one per point), as plain dicts."""
        return [dict(r) for r in self.rows]

    def to_dataframe(self):  # noqa: ANN201 - pandas.DataFrame; pandas is optional
        """The rows as a pandas DataFrame (needs pandas, which eiesim does not install)."""
        from eiesim.run.records import dataframe

        return dataframe(self.rows).reindex(columns=self.columns)


def sweep(
    arch_base: dict[str, Any] | str | Path | None,
    workload_path: str | Path,
    sets: Sequence[str],
    out_dir: str | Path | None = None,
    *,
    image: Any = None,
    workers: int = 1,
    dask_address: str | None = None,
    on_point: Callable[[int, int], None] | None = None,
    command: Sequence[str] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep; returns the table. ``arch_base`` is a YAML path, a dict or None.

    ``image``: None (the workload's own input), a path or bundled photo name, or a list of
    them (each point then simulates every image; see ``evaluate_point``). ``command``: the
    command line, recorded in ``manifest.json``.
    """
    from eiesim.inputs.images import expand_image_specs
    from eiesim.network.network_input import prepare_input
    from eiesim.network.workload import load_workload

    if dask_address is not None:
        check_dask_address(dask_address)  # a malformed address is reported before any work
    if isinstance(arch_base, (str, Path)):
        base = read_arch_file(arch_base)
        source = str(arch_base)
    else:
        base, source = dict(arch_base or {}), None
    points = expand_grid(base, sets, source)
    workload_path = Path(workload_path)
    specs = expand_image_specs(image)
    workload = load_workload(workload_path)
    inputs = [prepare_input(workload, spec) for spec in specs]
    network_input: Any = inputs if len(inputs) > 1 else inputs[0]
    wl_digest = file_digest(workload_path)
    input_digests = [array_digest(x) for x in inputs]
    digest = inputs_digest(wl_digest, input_digests)
    store = ResultStore(out_dir) if out_dir is not None else None
    swept = list(points[0].overrides) if points else []
    auto = sorted({k for p in points for k in auto_keys(p.arch)})
    columns = (swept + ["point"] + list(METRIC_COLUMNS) + list(BREAKDOWN_COLUMNS)
               + ([f"{k}_{s}" for k in SPREAD_METRICS for s in ("min", "max")] + ["images"] if len(inputs) > 1 else [])
               + [f"resolved.{k}" for k in auto] + ["warnings"])
    keys = [p.key(digest) for p in points]
    if store:
        write_text(store.dir / "manifest.json", json.dumps(sweep_manifest(
            arch_base if isinstance(arch_base, (str, Path)) else None, base, workload_path, wl_digest, workload.name,
            specs, input_digests, sets, keys, command), indent=2, sort_keys=True) + "\n")
    stored: list[dict[str, Any] | None] = [store.get(k) if store else None for k in keys]
    todo = [i for i, r in enumerate(stored) if r is None]
    reused = len(points) - len(todo)
    done = reused

    def progress() -> None:
        if on_point:
            on_point(done, len(points))

    def finish(i: int, metrics: dict[str, Any]) -> None:
        nonlocal done
        resolved = resolved_columns(points[i].arch, metrics.get("resolved_arch", {}))
        stored[i] = {**points[i].overrides, "point": keys[i], **metrics, **resolved}
        done += 1
        if store:
            store.put(keys[i], stored[i])
            if store.tables_due():
                store.write_tables([table_row(r) for r in stored if r is not None], columns)
        progress()

    def stored_by_another_sweep(i: int) -> dict[str, Any] | None:
        nonlocal done
        row = store.get(keys[i]) if store else None
        if row is not None:
            stored[i] = row
            done += 1
            progress()
        return row

    progress()
    stats = RunStats()
    if todo:
        with quiet_dask_logs() if dask_address is not None else contextlib.nullcontext():
            runner = _runner(points, workload, workload_path, network_input, workers, dask_address)
            try:
                stats = run_points(todo, runner, keys, store, finish, stored_by_another_sweep)
            except BaseException:  # interrupted: the tables still show every point stored so far
                if store:
                    with contextlib.suppress(EiesimError):
                        store.write_tables([table_row(r) for r in stored if r is not None], columns)
                raise
            finally:
                runner.close()
    final = [r for r in stored if r is not None]
    rows = [table_row(r) for r in final]
    if store:
        store.write_tables(rows, columns)
    raise_failures(stats.failures, out_dir, lambda i: ", ".join(f"{k}={v}" for k, v in points[i].overrides.items()))
    return SweepResult(rows, columns, computed=stats.computed, reused=reused + stats.reused_from_others,
                       points=final, rejected=list(store.rejected) if store else [], retried=stats.retried)


def table_row(point: dict[str, Any]) -> dict[str, Any]:
    """A stored point without its details: one row of results.csv / results.jsonl."""
    return {k: v for k, v in point.items() if k not in DETAIL_KEYS}


def sweep_manifest(arch_path: str | Path | None, base: dict[str, Any], workload_path: Path, workload_digest: str,
                   workload_name: str, image_specs: Sequence[Any], input_digests: Sequence[str],
                   sets: Sequence[str], keys: Sequence[str], command: Sequence[str] | None) -> dict[str, Any]:
    """``manifest.json``: what this sweep ran on, so that its directory stands alone."""
    from eiesim.inputs.images import image_label

    images = []
    for spec, digest in zip(image_specs, input_digests):
        entry: dict[str, Any] = {"image": image_label(spec), "input_sha256": digest}
        if isinstance(spec, (str, Path)) and Path(spec).is_file():
            entry["path"] = str(Path(spec).resolve())
            entry["file_sha256"] = file_digest(spec)
        images.append(entry)
    arch: dict[str, Any] = {"base": base}
    if arch_path is not None:
        arch.update(path=str(Path(arch_path).resolve()), sha256=file_digest(arch_path), name=Path(arch_path).name)
    return {
        "kind": "eiesim-sweep",
        "eiesim_version": __version__,
        "model_digest": model_digest(),
        "command": list(command) if command is not None else None,
        "arch": arch,
        "workload": {"path": str(workload_path.resolve()), "sha256": workload_digest, "name": workload_name},
        "images": images,
        "sets": list(sets),
        "points": list(keys),
    }


def _runner(points: list[SweepPoint], workload: Any, workload_path: Path, network_input: Any, workers: int,
            dask_address: str | None) -> Any:
    """The runner for this sweep: Dask, local worker processes, or this process."""
    def arch_dict(i: int) -> dict[str, Any]:
        return points[i].arch.to_dict()

    if dask_address is not None:
        return DaskRunner(dask_address, workers, workload_path.read_bytes(), network_input, arch_dict)
    if workers > 1:
        return PoolRunner(workers, workload_path.read_bytes(), network_input, arch_dict)
    return SerialRunner(lambda i: evaluate_point(points[i].arch, workload, network_input))
