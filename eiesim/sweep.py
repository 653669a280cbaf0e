"""Design-space sweeps: a grid of architecture overrides, each point a full simulation.

* Grid: every ``--set KEY=V1,V2,...`` expression is one axis (any architecture key,
  dotted for nested sections); the sweep is their Cartesian product, in the order given.
* Store: each finished point is written at once to ``DIR/points/<key>.json``
  (atomically), keyed by a hash of the resolved architecture, the workload file's
  content and the eiesim version; a restarted sweep recomputes only missing points and a
  changed workload or version never reuses stale results. ``results.csv`` and
  ``results.jsonl`` are regenerated (atomically) from the stored points, in grid order.
* Execution: local worker processes (the workload is loaded once per worker, not per
  point) or a Dask distributed cluster (the workload is scattered to the workers once).
  On Dask each result is stored and its future released at once, so a worker lost
  mid-sweep only re-runs the points it was still computing; a point that fails (e.g.
  ``KilledWorker``) is raised only after every other point has been stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eiesim import __version__
from eiesim.arch import ArchConfig, apply_overrides, arch_from_dict, read_arch_file
from eiesim.atomic import write_text
from eiesim.errors import EiesimError, SweepError, UsageError

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


_WORKER_STATE: dict[str, Any] = {}


def _init_worker(workload_bytes: bytes, network_input: Any) -> None:
    from eiesim.timing.threads import set_thread_count

    set_thread_count(1)  # one point per worker process already keeps every CPU busy
    _WORKER_STATE["workload"] = _workload_from_bytes(workload_bytes)
    _WORKER_STATE["input"] = network_input


def _worker_point(arch_dict: dict[str, Any]) -> dict[str, Any]:
    return evaluate_point(arch_from_dict(arch_dict), _WORKER_STATE["workload"], _WORKER_STATE["input"])


def _dask_point(workload_bytes: bytes, network_input: Any, arch_dict: dict[str, Any]) -> dict[str, Any]:
    cache = _WORKER_STATE.setdefault("dask_cache", {})
    digest = hashlib.sha256(workload_bytes).hexdigest()
    if digest not in cache:
        cache.clear()
        cache[digest] = _workload_from_bytes(workload_bytes)
    return evaluate_point(arch_from_dict(arch_dict), cache[digest], network_input)


def _workload_from_bytes(data: bytes):
    import tempfile

    from eiesim.workload import load_workload

    with tempfile.NamedTemporaryFile(suffix=".npz") as fh:
        fh.write(data)
        fh.flush()
        return load_workload(fh.name)


# -- the result store ---------------------------------------------------------------

class ResultStore:
    """One JSON file per finished point under ``DIR/points``; tables regenerated from them."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.points_dir = self.dir / "points"
        self.points_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.points_dir / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # unreadable = not finished; it will be recomputed

    def put(self, key: str, row: dict[str, Any]) -> None:
        write_text(self._path(key), json.dumps(row, sort_keys=True))

    def write_tables(self, rows: list[dict[str, Any]], columns: list[str]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text(self.dir / "results.csv", buf.getvalue())
        write_text(self.dir / "results.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


# -- running a sweep -------------------------------------------------------------------

@dataclass
class SweepResult:
    """Rows in grid order plus how many points were computed now vs reused."""

    rows: list[dict[str, Any]]
    columns: list[str]
    computed: int
    reused: int

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

    def finish(i: int, metrics: dict[str, Any]) -> None:
        nonlocal done
        row = {**points[i].overrides, "point": keys[i], **metrics}
        rows[i] = row
        done += 1
        if store:
            store.put(keys[i], row)
            store.write_tables([r for r in rows if r is not None], columns)
        if on_point:
            on_point(done, len(points))

    if on_point:
        on_point(done, len(points))
    if todo:
        if dask_address is not None:
            _run_dask(dask_address, workload_path.read_bytes(), network_input, points, todo, finish, out_dir)
        elif workers <= 1:
            for i in todo:
                finish(i, evaluate_point(points[i].arch, workload, network_input))
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                     initargs=(workload_path.read_bytes(), network_input)) as pool:
                futures = {pool.submit(_worker_point, points[i].arch.to_dict()): i for i in todo}
                failures: list[BaseException] = []
                for fut in as_completed(futures):
                    try:
                        metrics = fut.result()
                    except Exception as exc:  # a broken point or worker: keep storing the others
                        failures.append(exc)
                        continue
                    finish(futures[fut], metrics)
                raise_failures(failures, out_dir)
    final = [r for r in rows if r is not None]
    if store:
        store.write_tables(final, columns)
    return SweepResult(final, columns, computed=len(todo), reused=reused)


def raise_failures(failures: list[BaseException], out_dir: str | Path | None) -> None:
    """After every other point is stored: re-raise a user error as is, wrap anything else in SweepError."""
    if not failures:
        return
    first = failures[0]
    if isinstance(first, EiesimError):
        raise first
    raise SweepError(f"{len(failures)} point(s) failed ({first.__class__.__name__}: {first}); the other points "
                     "are stored: rerun the same command to retry only the failed ones", out_dir)


def _run_dask(address: str, workload_bytes: bytes, network_input: Any, points: list[SweepPoint],
              todo: Iterable[int], finish: Callable[[int, dict[str, Any]], None],
              out_dir: str | Path | None = None) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError:
        raise UsageError("--dask needs the dask extra: pip install 'eiesim[dask]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        wl_future = client.scatter(workload_bytes, broadcast=True)
        in_future = client.scatter(network_input, broadcast=True)
        pending = {client.submit(_dask_point, wl_future, in_future, points[i].arch.to_dict(), pure=False): i
                   for i in todo}
        failures: list[BaseException] = []
        for fut in dask_completed(list(pending)):
            i = pending.pop(fut)
            try:
                metrics = fut.result()
            except Exception as exc:  # noqa: BLE001 -- e.g. KilledWorker: store the rest, raise at the end
                failures.append(exc)
                continue
            finally:
                # Drop our reference at once: Dask recomputes a lost result while a client holds
                # its future, so a worker dying later would re-run points already stored.
                fut.release()
            finish(i, metrics)
        raise_failures(failures, out_dir)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
