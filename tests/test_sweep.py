"""Sweeps: grid expansion, resumable store, identical rows across worker counts and Dask."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eiesim.errors import ArchError, UsageError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload
from eiesim.sweeps.grid import expand_grid, parse_set
from eiesim.sweeps.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


@pytest.fixture(scope="module")
def fc_workload(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.2, 0.4, bits=4, seed=3), path)
    return path


def test_parse_set_values_are_typed():
    assert parse_set("num_pes=1,2,4") == ("num_pes", [1, 2, 4])
    assert parse_set("spmat_sram.size_bytes=auto,4096") == ("spmat_sram.size_bytes", ["auto", 4096])
    with pytest.raises(UsageError):
        parse_set("num_pes=1,,2")
    with pytest.raises(UsageError):
        parse_set("num_pes")


def test_grid_is_the_cartesian_product_in_order():
    points = expand_grid({}, ["num_pes=1,2", "fifo_depth=4,8,16"])
    assert [(p.arch.num_pes, p.arch.fifo_depth) for p in points] == [
        (1, 4), (1, 8), (1, 16), (2, 4), (2, 8), (2, 16)]
    with pytest.raises(ArchError, match="unknown key"):
        expand_grid({}, ["num_pez=1"])


def test_sweep_rows_and_resume(fc_workload, tmp_path):
    out = tmp_path / "sweep"
    first = sweep(TINY, fc_workload, ["num_pes=1,2,4"], out)
    assert (first.computed, first.reused) == (3, 0)
    assert [r["num_pes"] for r in first.rows] == [1, 2, 4]
    cycles = [r["cycles"] for r in first.rows]
    assert cycles[0] > cycles[1] > cycles[2]  # more PEs, fewer cycles on this layer
    assert all(r["functional"] == "pass" for r in first.rows)
    again = sweep(TINY, fc_workload, ["num_pes=1,2,4"], out)
    assert (again.computed, again.reused) == (0, 3) and again.rows == first.rows
    wider = sweep(TINY, fc_workload, ["num_pes=1,2,4,8"], out)
    assert (wider.computed, wider.reused) == (1, 3)
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["num_pes"]) for r in rows] == [1, 2, 4, 8]
    assert len((out / "results.jsonl").read_text().splitlines()) == 4


def test_changed_workload_is_not_reused(fc_workload, tmp_path):
    out = tmp_path / "sweep"
    sweep(TINY, fc_workload, ["num_pes=2"], out)
    other = tmp_path / "other.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.2, 0.4, bits=4, seed=4), other)
    assert sweep(TINY, other, ["num_pes=2"], out).computed == 1


def test_unreadable_point_file_is_recomputed(fc_workload, tmp_path):
    out = tmp_path / "sweep"
    res = sweep(TINY, fc_workload, ["num_pes=2"], out)
    (out / "points" / f"{res.rows[0]['point']}.json").write_text('{"half": ')
    again = sweep(TINY, fc_workload, ["num_pes=2"], out)
    assert again.computed == 1 and again.rows == res.rows


def test_worker_processes_give_identical_rows(fc_workload, tmp_path):
    serial = sweep(TINY, fc_workload, ["num_pes=1,2,4"], tmp_path / "a", workers=1)
    parallel = sweep(TINY, fc_workload, ["num_pes=1,2,4"], tmp_path / "b", workers=2)
    assert parallel.rows == serial.rows
    assert (tmp_path / "a" / "results.csv").read_bytes() == (tmp_path / "b" / "results.csv").read_bytes()


def test_dask_local_cluster_gives_identical_rows(fc_workload, tmp_path):
    pytest.importorskip("dask.distributed")
    serial = sweep(TINY, fc_workload, ["num_pes=1,4"], tmp_path / "a", workers=1)
    dask = sweep(TINY, fc_workload, ["num_pes=1,4"], tmp_path / "b", dask_address="local")
    assert dask.rows == serial.rows


def test_sigkill_mid_sweep_then_resume(tmp_path):
    """A sweep killed with SIGKILL keeps its finished points; the rerun computes only the rest."""
    wl = tmp_path / "big.npz"
    save_workload(eie_fc_layer("fc", 2048, 1024, 0.1, 0.5, bits=4, seed=1), wl)
    values = "num_pes=1,2,3,4,5,6,7,8"
    cmd = [sys.executable, "-m", "eiesim", "sweep", str(TINY), str(wl), "--set", values, "--workers", "1"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT)
    points = killed / "points"
    deadline = time.monotonic() + 120
    def finished() -> int:  # points written (temporary files of an interrupted write start with ".")
        return len([p for p in points.glob("*.json") if not p.name.startswith(".")])

    while time.monotonic() < deadline and finished() < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = finished()
    assert 2 <= done_before < 8, "the sweep finished before it could be killed"
    rerun = subprocess.run([*cmd, "--out", str(killed)], capture_output=True, text=True, cwd=ROOT)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{8 - done_before} computed, {done_before} reused" in rerun.stdout.replace("\n", " ")
    clean = tmp_path / "clean"
    subprocess.run([*cmd, "--out", str(clean)], check=True, capture_output=True, cwd=ROOT)
    assert (killed / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()
    assert (killed / "results.jsonl").read_bytes() == (clean / "results.jsonl").read_bytes()


def test_failed_point_in_worker_pool_keeps_the_others(fc_workload, tmp_path, monkeypatch):
    """A point that crashes in a worker process: the others are stored, the error is one clean SweepError."""
    import eiesim.sweeps.points as points_mod
    from eiesim.errors import SweepError

    real = points_mod.evaluate_point

    def flaky(arch, workload, network_input):
        if arch.num_pes == 2:
            raise RuntimeError("simulated crash")
        return real(arch, workload, network_input)

    monkeypatch.setattr(points_mod, "evaluate_point", flaky)  # inherited by the forked workers
    out = tmp_path / "sweep"
    with pytest.raises(SweepError, match="1 point\\(s\\) failed .*simulated crash"):
        sweep(TINY, fc_workload, ["num_pes=1,2,4"], out, workers=2)
    stored = [p for p in (out / "points").glob("*.json") if not p.name.startswith(".")]
    assert len(stored) == 2
    monkeypatch.setattr(points_mod, "evaluate_point", real)
    again = sweep(TINY, fc_workload, ["num_pes=1,2,4"], out, workers=2)
    assert (again.computed, again.reused) == (1, 2)


def test_a_grid_above_the_point_limit_is_refused_before_any_work(fc_workload, tmp_path, capsys):
    """Issue 22: a grid of 10^6 points built (and validated) every architecture first -- 1.6 GB, no output."""
    from _support import run_cli

    hundred = ",".join(str(v) for v in range(1, 101))
    out = tmp_path / "sw"
    args = ["sweep", str(TINY), str(fc_workload), "--set", f"act_regs_per_pe={hundred}",
            "--set", f"fifo_depth={hundred}", "--set", f"clock_mhz={hundred}", "--out", str(out)]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "the grid has 1,000,000 points, more than the limit of 10,000" in err and "--max-points" in err
    assert not out.exists()
    with pytest.raises(UsageError, match="the grid has 2 points, more than the limit of 1"):
        sweep(TINY, fc_workload, ["num_pes=1,2"], tmp_path / "sw2", max_points=1)
    assert not (tmp_path / "sw2").exists()
    code, _, err = run_cli(["sweep", str(TINY), str(fc_workload), "--set", "num_pes=1,2", "--out", str(out),
                            "--workers", "1", "--max-points", "2"], capsys)  # the limit is the caller's to raise
    assert code == 0, err
    assert len((out / "results.csv").read_text().splitlines()) == 3
