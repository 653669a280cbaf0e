"""Design-space sweeps: a grid of architecture overrides, each point a full simulation.

* Grid: every ``--set KEY=V1,V2,...`` expression is one axis (any architecture key,
  dotted for nested sections); the sweep is their Cartesian product, in the order given.
* Store: each finished point is written at once to ``DIR/points/<key>.json``
  (atomically), keyed by a hash of the resolved architecture, the workload file's
  content and the eiesim version; a restarted sweep recomputes only missing points and a
  changed workload or version never reuses stale results. ``results.csv`` and
  ``results.jsonl`` are regenerated (atomically) from the stored points, in grid order.
  A stored point is reused only after verification (format, key, checksum, metrics);
  sweeps into one directory claim points so that each is computed once
  (``eiesim.sweep_store``).
* Execution (``eiesim.sweep_exec``): in this process, on local worker processes (the
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

from eiesim import __version__
from eiesim.arch import ArchConfig, apply_overrides, arch_from_dict, read_arch_file
from eiesim.errors import EiesimError, UsageError
from eiesim.sweep_exec import (
    DaskRunner, PoolRunner, RunStats, SerialRunner, check_dask_address, quiet_dask_logs, raise_failures, run_points,
)
from eiesim.sweep_store import Rejected, ResultStore

#: Metrics every row carries (after the swept keys), in this order.
METRIC_COLUMNS = (
    "cycles", "time_us", "frames_per_s", "energy_uj", "chip_power_mw", "pe_area_um2", "chip_area_mm2",
    "load_balance_efficiency", "padding_entries", "dram_bytes", "functional",
)


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
    points = []
    for combo in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
        overrides = dict(zip(keys, combo))
        data = apply_overrides(base, overrides)
        points.append(SweepPoint(overrides, arch_from_dict(data, source)))
    return points


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    }


def evaluate_point(arch: ArchConfig, workload: Any, network_input: Any) -> dict[str, Any]:
    """Simulate one point and return its metrics (runs in a worker)."""
    from eiesim.simulate import simulate

    result = simulate(arch, workload, input=network_input)
    return summarize(result.to_dict())


# -- the result store (eiesim.sweep_store) and the runners (eiesim.sweep_exec) -------------

# -- running a sweep -------------------------------------------------------------------

@dataclass
class SweepResult:
    """Rows in grid order plus how many points were computed now vs reused.

    ``rejected``: stored points that failed verification and were recomputed (file and
    reason); ``retried``: point attempts repeated because their worker was lost.
    """

    rows: list[dict[str, Any]]
    columns: list[str]
    computed: int
    reused: int
    rejected: list[Rejected] = field(default_factory=list)
    retried: int = 0

    def to_dataframe(self):
        """The rows as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise UsageError("to_dataframe() needs pandas: pip install pandas") from exc
        return pd.DataFrame(self.rows, columns=self.columns)


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
) -> SweepResult:
    """Run (or resume) a sweep; returns the table. ``arch_base`` is a YAML path, a dict or None."""
    from eiesim.images import prepare_input
    from eiesim.workload import load_workload

    if dask_address is not None:
        check_dask_address(dask_address)  # a malformed address is reported before any work
    if isinstance(arch_base, (str, Path)):
        base = read_arch_file(arch_base)
        source = str(arch_base)
    else:
        base, source = dict(arch_base or {}), None
    points = expand_grid(base, sets, source)
    workload_path = Path(workload_path)
    if image is not None and not isinstance(image, str):
        raise UsageError("sweep: image must be a path or a bundled photo name")
    workload = load_workload(workload_path)
    network_input = prepare_input(workload, image)
    digest = file_digest(workload_path)
    if image is not None:
        digest = hashlib.sha256((digest + "|image=" + image).encode()).hexdigest()
    store = ResultStore(out_dir) if out_dir is not None else None
    swept = list(points[0].overrides) if points else []
    columns = swept + ["point"] + list(METRIC_COLUMNS)
    keys = [p.key(digest) for p in points]
    rows: list[dict[str, Any] | None] = [store.get(k) if store else None for k in keys]
    todo = [i for i, r in enumerate(rows) if r is None]
    reused = len(points) - len(todo)
    done = reused

    def progress() -> None:
        if on_point:
            on_point(done, len(points))

    def finish(i: int, metrics: dict[str, Any]) -> None:
        nonlocal done
        row = {**points[i].overrides, "point": keys[i], **metrics}
        rows[i] = row
        done += 1
        if store:
            store.put(keys[i], row)
            if store.tables_due():
                store.write_tables([r for r in rows if r is not None], columns)
        progress()

    def stored_by_another_sweep(i: int) -> dict[str, Any] | None:
        nonlocal done
        row = store.get(keys[i]) if store else None
        if row is not None:
            rows[i] = row
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
                        store.write_tables([r for r in rows if r is not None], columns)
                raise
            finally:
                runner.close()
    final = [r for r in rows if r is not None]
    if store:
        store.write_tables(final, columns)
    raise_failures(stats.failures, out_dir, lambda i: ", ".join(f"{k}={v}" for k, v in points[i].overrides.items()))
    return SweepResult(final, columns, computed=stats.computed, reused=reused + stats.reused_from_others,
                       rejected=list(store.rejected) if store else [], retried=stats.retried)


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
