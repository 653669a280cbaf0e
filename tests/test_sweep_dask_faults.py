"""A Dask worker killed mid-sweep: finished points are kept, only its in-flight point re-runs.

The test starts its own ``LocalCluster`` (2 worker processes, 1 thread each) and installs a
worker plugin that wraps ``eiesim.sweeps.points.evaluate_point`` in every worker process (also in
the one the nanny restarts after the kill). The wrapper appends ``start``/``end`` lines to
a log file, so the test counts real evaluations instead of trusting the sweep's own
counters, and it holds each worker process at the start of its second point until the test
opens a gate file. That makes the interleaving deterministic without racing sleeps: when the
victim is killed it has exactly one finished, stored point and exactly one point in flight.
"""

from __future__ import annotations

import csv
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("dask.distributed")
cloudpickle = pytest.importorskip("cloudpickle")

import eiesim.sweeps.sweep as sweep_mod
from eiesim.errors import SweepError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload
from eiesim.outputs.temporaries import TEMP_MARK

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
SETS = ["num_pes=1,2,3,4,5,6,7,8"]
NUM_POINTS = 8
WAIT_S = 120.0  # generous: the machine may be loaded; nothing here normally takes > 10 s

# The plugin below is defined in this test module, which worker processes may not be able
# to import: ship it to them by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class CountingGate(distributed.WorkerPlugin):
    """Wraps ``evaluate_point`` in a worker: logs each evaluation, holds the second one."""

    def __init__(self, log_path: str, gate_path: str) -> None:
        self.log_path = log_path
        self.gate_path = gate_path

    def setup(self, worker) -> None:
        import eiesim.sweeps.points as mod

        real = getattr(mod, "_unwrapped_evaluate_point", mod.evaluate_point)
        mod._unwrapped_evaluate_point = real
        log_path, gate_path = self.log_path, self.gate_path
        finished_here = [0]

        def log(line: str) -> None:
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{line} {os.getpid()}\n".encode())
            finally:
                os.close(fd)

        def counted(arch, workload, network_input):
            log(f"start {arch.num_pes}")
            if finished_here[0] >= 1:  # every worker process finishes one point freely
                deadline = time.monotonic() + WAIT_S
                while not os.path.exists(gate_path) and time.monotonic() < deadline:
                    time.sleep(0.01)
            result = real(arch, workload, network_input)
            finished_here[0] += 1
            log(f"end {arch.num_pes}")
            return result

        mod.evaluate_point = counted


def _read_log(path: Path) -> list[tuple[str, int, int]]:
    """(event, num_pes, pid) for every complete line of the evaluation log."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().split("\n")[:-1]:  # the last piece is empty or still being written
        event, num_pes, pid = line.split()
        entries.append((event, int(num_pes), int(pid)))
    return entries


def _wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def workload_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 2048, 1024, 0.1, 0.5, bits=4, seed=1), path)
    return path


def test_killed_dask_worker_reruns_only_its_point(workload_path, tmp_path, monkeypatch):
    serial = sweep_mod.sweep(TINY, workload_path, SETS, tmp_path / "serial", workers=1)
    assert [r["num_pes"] for r in serial.rows] == list(range(1, NUM_POINTS + 1))
    key_of = {r["num_pes"]: r["point"] for r in serial.rows}

    out = tmp_path / "dask"
    points_dir = out / "points"
    log_path = tmp_path / "evaluations.log"
    gate_path = tmp_path / "gate"

    stored: Counter[str] = Counter()
    real_put = sweep_mod.ResultStore.put

    def counting_put(self, key: str, row: dict[str, Any]) -> None:
        stored[key] += 1
        real_put(self, key, row)

    monkeypatch.setattr(sweep_mod.ResultStore, "put", counting_put)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=WAIT_S)
        client.register_plugin(CountingGate(str(log_path), str(gate_path)), name="counting-gate")

        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = sweep_mod.sweep(TINY, workload_path, SETS, out,
                                                    dask_address=cluster.scheduler_address)
            except BaseException as exc:  # noqa: BLE001 -- re-raised by the main thread
                outcome["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            def victim_ready():
                """A worker that finished (and the sweep stored) one point and holds a second."""
                by_pid: dict[int, list[tuple[str, int]]] = {}
                for event, num_pes, pid in _read_log(log_path):
                    by_pid.setdefault(pid, []).append((event, num_pes))
                for pid, events in by_pid.items():
                    if len(events) >= 3 and events[1][0] == "end" and events[2][0] == "start":
                        finished = events[1][1]
                        if (points_dir / f"{key_of[finished]}.json").is_file():
                            return pid, finished, events[2][1]
                return None

            victim_pid, victim_done, victim_in_flight = _wait_for(victim_ready, "a stored point")
            # the points committed so far (not a temporary another point is being written through)
            stored_before = {p.name: p.stat().st_mtime_ns for p in points_dir.glob("*.json")
                             if TEMP_MARK not in p.name}
            assert f"{key_of[victim_done]}.json" in stored_before
            os.kill(victim_pid, signal.SIGKILL)
        finally:
            gate_path.touch()  # release the surviving worker (and never leave the sweep stuck)
            thread.join(WAIT_S)
        assert not thread.is_alive(), "the sweep did not finish after the worker was killed"

    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]

    # Every row, identical to an uninterrupted serial sweep.
    assert result.rows == serial.rows
    assert (result.computed, result.reused) == (NUM_POINTS, 0)
    with open(out / "results.csv") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [int(r["num_pes"]) for r in csv_rows] == list(range(1, NUM_POINTS + 1))
    assert (out / "results.csv").read_bytes() == (tmp_path / "serial" / "results.csv").read_bytes()
    assert (out / "results.jsonl").read_bytes() == (tmp_path / "serial" / "results.jsonl").read_bytes()

    # Each point stored exactly once.
    assert stored == Counter({key: 1 for key in key_of.values()})
    assert sorted(p.name for p in points_dir.glob("*.json")) == sorted(f"{k}.json" for k in key_of.values())

    # Real evaluations: each point completed once; the only re-run is the victim's in-flight point.
    log = _read_log(log_path)
    ends = Counter(n for event, n, _ in log if event == "end")
    starts = Counter(n for event, n, _ in log if event == "start")
    assert ends == Counter(range(1, NUM_POINTS + 1))
    assert starts == ends + Counter([victim_in_flight])
    assert all(pid != victim_pid for event, n, pid in log if event == "end" and n == victim_in_flight)

    # Points stored before the kill were neither recomputed nor rewritten.
    stored_nums = {n for n, k in key_of.items() if f"{k}.json" in stored_before}
    assert victim_done in stored_nums and victim_in_flight not in stored_nums
    assert all(starts[n] == 1 for n in stored_nums)
    assert {name: (points_dir / name).stat().st_mtime_ns for name in stored_before} == stored_before


class PoisonPoint(distributed.WorkerPlugin):
    """Makes one grid point fail (raise) in whichever worker evaluates it."""

    def __init__(self, num_pes: int) -> None:
        self.num_pes = num_pes

    def setup(self, worker) -> None:
        import eiesim.sweeps.points as mod

        real = getattr(mod, "_unwrapped_evaluate_point", mod.evaluate_point)
        mod._unwrapped_evaluate_point = real
        poison = self.num_pes

        def poisoned(arch, workload, network_input):
            if arch.num_pes == poison:
                raise RuntimeError(f"poisoned point num_pes={poison}")
            return real(arch, workload, network_input)

        mod.evaluate_point = poisoned


def test_failed_point_does_not_lose_the_others(workload_path, tmp_path):
    """A point that fails on Dask (error, or KilledWorker after repeated worker deaths) is
    reported only after every other point has been stored; a rerun computes just that point."""
    serial = sweep_mod.sweep(TINY, workload_path, SETS, tmp_path / "serial", workers=1)
    out = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=WAIT_S)
        client.register_plugin(PoisonPoint(1), name="poison-point")
        # num_pes=1 is submitted first and fails at once, before the other points finish.
        with pytest.raises(SweepError, match="poisoned point num_pes=1"):
            sweep_mod.sweep(TINY, workload_path, SETS, out, dask_address=cluster.scheduler_address)

    good = [r for r in serial.rows if r["num_pes"] != 1]
    assert sorted(p.name for p in (out / "points").glob("*.json")) == sorted(f"{r['point']}.json" for r in good)
    with open(out / "results.csv") as fh:
        assert [int(r["num_pes"]) for r in csv.DictReader(fh)] == [r["num_pes"] for r in good]
    rerun = sweep_mod.sweep(TINY, workload_path, SETS, out, workers=1)
    assert (rerun.computed, rerun.reused) == (1, NUM_POINTS - 1)
    assert rerun.rows == serial.rows
