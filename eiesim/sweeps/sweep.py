"""Design-space sweeps: a grid of architecture overrides, each point a full simulation.

* Grid (``eiesim.sweeps.grid``): a mapping ``{"num_pes": [16, 32]}`` or ``--set``-style
  ``KEY=V1,V2,...`` strings; each key is one axis (any architecture key, dotted for nested
  sections); the sweep is their Cartesian product, in the order given. Each point is one row (``eiesim.sweeps.points``).
* Store: each finished point is written at once to ``DIR/points/<key>.json``
  (atomically), keyed by a hash of everything that can change its result
  (``eiesim.sweeps.keys``): the point's architecture, the workload file's content, the
  content of every network input, the eiesim version and a digest of the simulator's own
  model sources. A restarted sweep recomputes only missing points; a changed input or
  model never reuses stale results. A point file holds the table row plus the resolved
  architecture ('auto' sizes replaced by bytes), per-layer results, per-image results when
  there are several images, and the run's warnings. ``results.csv`` and ``results.jsonl``
  (the rows) are regenerated (atomically) from the stored points, in grid order;
  ``manifest.json`` records what the sweep was run on (command, version, model digest,
  architecture and workload paths with content digests, images), so the directory stands
  alone. A stored point is reused only after verification (format, key, checksum,
  metrics); sweeps into one directory claim points so that each is computed once
  (``eiesim.sweeps.store``).
* Execution (``eiesim.sweeps.executors``, ``eiesim.sweeps.dask_runner``): in this process,
  on local worker processes (the workload is loaded once per worker, not per point; workers
  exit when the sweep dies) or on a Dask cluster (the workload is scattered to the workers,
  again after workers are lost). Each result is stored at once; a point whose worker was
  lost is retried (bounded); a point that fails is raised only after every other point has
  been stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eiesim.config.arch import ArchConfig, read_arch_file
from eiesim.errors import EiesimError, SweepError, UsageError
from eiesim.inputs.images import expand_image_specs, image_label
from eiesim.network.network_input import default_input, prepare_input
from eiesim.network.workload import Workload
from eiesim.network.workload_file import load_workload, workload_bytes
from eiesim.outputs.commit import write_text
from eiesim.run.keywords import renamed_input
from eiesim.run.provenance import array_digest, file_digest, model_digest
from eiesim.sweeps import points as point_rows
from eiesim.sweeps.dask_runner import DaskRunner, check_dask_address, quiet_dask_logs
from eiesim.sweeps.executors import ClusterLost, PoolRunner, RunStats, SerialRunner, raise_failures, run_points
from eiesim.sweeps.grid import MAX_GRID_POINTS, SweepPoint, auto_keys, expand_grid, grid_strings, resolved_columns
from eiesim.sweeps.keys import inputs_digest
from eiesim.sweeps.points import BREAKDOWN_COLUMNS, METRIC_COLUMNS, SPREAD_METRICS, WARNING_SEPARATOR, table_row
from eiesim.sweeps.store import Rejected, ResultStore
from eiesim.version import __version__


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
    arch: ArchConfig | dict[str, Any] | str | Path | None,
    workload: Workload | str | Path,
    grid: Mapping[str, Any] | Sequence[str],
    out_dir: str | Path | None = None,
    *,
    input: Any = None,
    workers: int = 1,
    dask_address: str | None = None,
    on_point: Callable[[int, int], None] | None = None,
    command: Sequence[str] | None = None,
    image: Any = None,
    max_points: int = MAX_GRID_POINTS,
) -> SweepResult:
    """Run (or resume) a sweep; returns the table.

    ``arch``: the base architecture, an ``ArchConfig``, a YAML path, a dict of keys or None
    (the defaults). ``workload``: a ``Workload`` or a workload file path. ``grid``: the axes,
    a mapping ``{"num_pes": [16, 32], "fifo_depth": [4, 8]}`` or ``KEY=V1,V2`` strings
    (``eiesim.sweeps.grid``). ``input``: None (the workload's own input, else the bundled
    photo: ``eiesim.network.network_input.default_input``), a path or bundled photo name, or
    a list of them (each point then simulates every image; see ``points.evaluate_point``).
    ``out_dir``: the store of points (a resumed sweep reuses them). ``command``: the command
    line, recorded in ``manifest.json``. ``image``: the old name of ``input`` (deprecated; warns). ``max_points``: the largest grid accepted
    (``grid.MAX_GRID_POINTS`` by default); a larger one is refused before any work.
    """
    input = renamed_input(input, image, "image", "sweep")
    if dask_address is not None:
        check_dask_address(dask_address)  # a malformed address is reported before any work
    arch_path: str | Path | None = None
    if isinstance(arch, ArchConfig):
        base, source = arch.to_dict(), None
    elif isinstance(arch, (str, Path)):
        arch_path = arch
        base, source = read_arch_file(arch), str(arch)
    elif arch is None or isinstance(arch, dict):
        base, source = dict(arch or {}), None
    else:
        raise UsageError(f"sweep: the architecture is an ArchConfig, a YAML path, a dict or None, "
                         f"not {type(arch).__name__}")
    points = expand_grid(base, grid, source, max_points)
    workload_path: Path | None = None
    if isinstance(workload, Workload):
        loaded, data = workload, workload_bytes(workload)
    elif isinstance(workload, (str, Path)):
        workload_path = Path(workload)
        loaded, data = load_workload(workload_path), workload_path.read_bytes()
    else:
        raise UsageError(f"sweep: the workload is a Workload or a workload file path, not {type(workload).__name__}")
    specs = [default_input(loaded, spec) for spec in expand_image_specs(input)]
    inputs = [prepare_input(loaded, spec) for spec in specs]
    network_input: Any = inputs if len(inputs) > 1 else inputs[0]
    wl_digest = hashlib.sha256(data).hexdigest()
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
            arch_path, base, workload_path, wl_digest, loaded.name,
            specs, input_digests, grid_strings(grid), keys, command), indent=2, sort_keys=True) + "\n")
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
        row = {**points[i].overrides, "point": keys[i], **metrics, **resolved}
        stored[i] = row
        done += 1
        if store:
            store.put(keys[i], row)
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
        if dask_address is None:
            # Heaviest first here and on local workers only: on Dask, a point that kills its worker then
            # cancelled a later point's future (tests/test_sweep_cluster.py), so Dask keeps the grid order.
            todo = point_rows.heaviest_first(todo, {i: point_rows.estimated_point_work(points[i].arch, loaded)
                                                    for i in todo})
        if workers > 1 and dask_address is None:  # local workers are forked from this process when they start
            point_rows.share_before_fork(loaded, network_input)
        with quiet_dask_logs() if dask_address is not None else contextlib.nullcontext():
            runner = _runner(points, loaded, data, network_input, workers, dask_address)
            try:
                stats = run_points(todo, runner, keys, store, finish, stored_by_another_sweep)
            except BaseException as exc:  # interrupted: the tables still show every point stored so far
                if store:
                    with contextlib.suppress(EiesimError):
                        store.write_tables([table_row(r) for r in stored if r is not None], columns)
                if isinstance(exc, ClusterLost):
                    kept = sum(r is not None for r in stored)
                    where = (f"the {kept} finished point(s) of {len(points)} are stored in {out_dir} (results.csv "
                             "lists them): rerun the same command to compute only the rest"
                             if store else "nothing was stored (no output directory)")
                    raise SweepError(f"{exc.message}; {where}", exc.source) from None
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


def sweep_manifest(arch_path: str | Path | None, base: dict[str, Any], workload_path: Path | None, workload_digest: str,
                   workload_name: str, image_specs: Sequence[Any], input_digests: Sequence[str],
                   sets: Sequence[str], keys: Sequence[str], command: Sequence[str] | None) -> dict[str, Any]:
    """``manifest.json``: what this sweep ran on, so that its directory stands alone.

    ``workload_path`` is None for a sweep given a loaded ``Workload``: the manifest then
    records its name and the digest of its file form (``workload_bytes``), not a path.
    """
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
        "workload": {"path": str(workload_path.resolve()) if workload_path is not None else None,
                     "sha256": workload_digest, "name": workload_name},
        "images": images,
        "sets": list(sets),
        "points": list(keys),
    }


def _runner(points: list[SweepPoint], workload: Workload, workload_data: bytes, network_input: Any, workers: int,
            dask_address: str | None) -> Any:
    """The runner for this sweep: Dask, local worker processes, or this process."""
    def arch_dict(i: int) -> dict[str, Any]:
        return points[i].arch.to_dict()

    if dask_address is not None:
        return DaskRunner(dask_address, workers, workload_data, network_input, arch_dict)
    if workers > 1:
        return PoolRunner(workers, workload, network_input, arch_dict)  # the loaded workload, as SerialRunner
    # evaluate_point is looked up on its module at call time, as in the workers (tests replace it there).
    return SerialRunner(lambda i: point_rows.evaluate_point(points[i].arch, workload, network_input))
