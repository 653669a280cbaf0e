"""Sweeps survive a real Dask cluster: ``dask scheduler`` and two ``dask worker --nthreads 1``
processes on 127.0.0.1, started and stopped by this module.

* Both worker processes are killed with SIGKILL mid-sweep (their nannies restart them, empty):
  every point still finishes, with the workload re-sent, and the rows equal a serial sweep's.
* A point that kills its worker every time is retried a bounded number of times, then is one
  clean error; the other points are stored.
* Each worker runs the kernels on one thread; ``--dask local`` starts ``--workers`` workers.
* A malformed or unreachable scheduler address is one line; Dask's own log tracebacks never
  reach the user.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

from _support import run_cli  # noqa: E402

from eiesim.network.synthetic import eie_fc_layer  # noqa: E402
from eiesim.network.workload_file import save_workload  # noqa: E402
from eiesim.sweeps.sweep import sweep  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
PRELOAD = ROOT / "tests" / "dask_preload.py"
WAIT_S = 120.0
VALUES = "num_pes=1,2,3,4,5,6,7,8"


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    nannies: list[subprocess.Popen]
    config: Path
    log: Path

    def configure(self, **cfg) -> None:
        self.config.write_text(json.dumps(cfg))

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the nannies), not the nannies."""
        out = []
        for nanny in self.nannies:
            for child in psutil.Process(nanny.pid).children():
                if "multiprocessing.resource_tracker" not in " ".join(child.cmdline()):
                    out.append(child.pid)
        return out

    def entries(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.split() for line in self.log.read_text().split("\n")[:-1]]

    def wait_for_workers(self, n: int) -> None:
        with distributed.Client(self.address, timeout=WAIT_S) as client:
            client.wait_for_workers(n, timeout=WAIT_S)


def _wait(condition, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def _start_cluster(d: Path, workers: int = 2):
    """A scheduler on 127.0.0.1 and ``workers`` nannies (with the counting preload), all real processes."""
    config, log, sched_file = d / "config.json", d / "evaluations.log", d / "scheduler.json"
    config.write_text("{}")
    env = dict(os.environ, EIESIM_TEST_DASK_CONFIG=str(config), EIESIM_TEST_DASK_LOG=str(log),
               DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0", PYTHONPATH=os.pathsep.join(
                   [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(sched_file)], env=env, **quiet)
    nannies: list[subprocess.Popen] = []
    try:
        _wait(lambda: sched_file.exists() and sched_file.read_text().strip(), "the scheduler")
        address = json.loads(sched_file.read_text())["address"]
        nannies = [subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                                     "--no-dashboard", "--name", f"w{i}", "--preload", str(PRELOAD)], env=env,
                                    start_new_session=True, **quiet) for i in range(workers)]
        c = Cluster(address, scheduler, nannies, config, log)
        c.wait_for_workers(workers)
        yield c
    finally:
        for proc in nannies:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        if scheduler.poll() is None:
            scheduler.terminate()
        for proc in [*nannies, scheduler]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with _start_cluster(tmp_path_factory.mktemp("dask")) as c:
        yield c


@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    # Large enough that the kernels would split the work over threads if they were allowed to.
    save_workload(eie_fc_layer("fc", 4096, 2048, 0.1, 0.5, bits=4, seed=1), path)
    return path


@pytest.fixture(scope="module")
def serial_rows(fc_npz, tmp_path_factory):
    return sweep(TINY, fc_npz, [VALUES], tmp_path_factory.mktemp("serial") / "s").rows


def _sweep_cli(cluster: Cluster, fc_npz: Path, out: Path, values: str = VALUES) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "eiesim", "sweep", str(TINY), str(fc_npz), "--set", values,
                             "--out", str(out), "--dask", cluster.address], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_killing_both_workers_loses_no_point(cluster, fc_npz, serial_rows, tmp_path):
    cluster.configure(slow_s=0.5)
    cluster.log.unlink(missing_ok=True)
    out = tmp_path / "sweep"
    proc = _sweep_cli(cluster, fc_npz, out)
    _wait(lambda: list((out / "points").glob("*.json")) if (out / "points").exists() else None, "a stored point")
    victims = cluster.worker_pids()
    assert len(victims) == 2
    for pid in victims:
        os.kill(pid, signal.SIGKILL)  # every copy of the scattered workload dies with them
    stdout, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert rows == serial_rows
    ends = Counter(int(e[1]) for e in cluster.entries() if e[0] == "end")
    assert set(ends) == set(range(1, 9))
    # Only eiesim's own report on stderr: no Dask log lines, no tracebacks.
    lines = err.strip().splitlines()
    assert all(line.startswith("eiesim: ") for line in lines) and "Traceback" not in err, err
    assert any("repeated because their worker was lost" in line for line in lines), err
    cluster.wait_for_workers(2)


def test_each_worker_uses_one_kernel_thread(cluster, fc_npz, serial_rows, tmp_path):
    cluster.configure(slow_s=0)
    cluster.log.unlink(missing_ok=True)
    result = sweep(TINY, fc_npz, ["num_pes=1,2,3,4"], tmp_path / "sweep", dask_address=cluster.address)
    assert result.rows == serial_rows[:4]
    ends = [e for e in cluster.entries() if e[0] == "end"]
    assert len(ends) == 4
    assert all(e[3] == "1" and e[4] == "-" for e in ends), ends  # thread_count() == 1, no pool threads


def test_a_point_that_always_kills_its_worker_fails_cleanly_after_bounded_retries(cluster, fc_npz, serial_rows,
                                                                                  tmp_path, capsys):
    from eiesim.sweeps.executors import MAX_ATTEMPTS

    cluster.configure(crash_on=[3])
    cluster.log.unlink(missing_ok=True)
    out = tmp_path / "sweep"
    try:
        code, _, err = run_cli(["sweep", str(TINY), str(fc_npz), "--set", "num_pes=1,2,3,4", "--out", str(out),
                                "--dask", cluster.address], capsys)
    finally:
        cluster.configure()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "1 point(s) failed (first: num_pes=3) (KilledWorker" in lines[0], err
    starts = Counter(int(e[1]) for e in cluster.entries() if e[0] == "start")
    assert starts[3] == MAX_ATTEMPTS
    stored = sorted(json.loads(p.read_text())["row"]["num_pes"] for p in (out / "points").glob("*.json"))
    assert stored == [1, 2, 4]
    cluster.wait_for_workers(2)


def test_dask_local_starts_the_requested_number_of_workers(fc_npz):
    from eiesim.sweeps.dask_runner import DaskRunner

    runner = DaskRunner("local", 3, fc_npz.read_bytes(), None, lambda i: {})
    try:
        info = runner.client.scheduler_info()["workers"]
        assert len(info) == 3 and all(w["nthreads"] == 1 for w in info.values())
    finally:
        runner.close()


@pytest.mark.parametrize("address, expected", [
    ("not a url::", "not a Dask scheduler address"),
    ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler"),
    ("tcp://127.0.0.1:notaport", "not a Dask scheduler address"),
])
def test_bad_dask_address_is_one_line(address, expected, fc_npz, tmp_path, capsys):
    code, _, err = run_cli(["sweep", str(TINY), str(fc_npz), "--set", "num_pes=1", "--out", str(tmp_path / "s"),
                            "--dask", address], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in err, err


def test_losing_the_scheduler_says_what_was_kept_and_the_same_command_resumes(fc_npz, serial_rows, tmp_path):
    """Issue 22: a scheduler killed mid-sweep read "an operating-system call failed (OSError ...)"."""
    (tmp_path / "dask").mkdir()
    with _start_cluster(tmp_path / "dask", workers=1) as own:
        own.configure(slow_s=1.0)
        out = tmp_path / "sweep"
        proc = _sweep_cli(own, fc_npz, out)
        _wait(lambda: list((out / "points").glob("*.json")) if (out / "points").exists() else None, "a stored point")
        own.scheduler.send_signal(signal.SIGKILL)
        own.scheduler.wait(WAIT_S)
        _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    kept = sorted((out / "points").glob("*.json"))
    assert 1 <= len(kept) < 8
    assert lines[0].startswith(f"eiesim: error: --dask {own.address}: lost the Dask scheduler")
    assert f"the {len(kept)} finished point(s) of 8 are stored in {out}" in lines[0]
    assert "rerun the same command" in lines[0]
    # What was kept verifies, and the rerun (here on this machine) computes only the rest.
    again = sweep(TINY, fc_npz, [VALUES], out)
    assert (again.reused, again.computed, again.rejected) == (len(kept), 8 - len(kept), [])
    assert again.rows == serial_rows
