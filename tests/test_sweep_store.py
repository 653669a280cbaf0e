"""A sweep store trusts nothing it did not write; sweeps share one store; workers die with their sweep.

* Stored points are verified (format, version, key, checksum, the row's point, metrics): damaged
  or hand-edited files are recomputed and named, never reused. Point files written here by hand
  (from the format in eiesim/sweep_store.py's docstring) fail exactly one check each.
* Two real ``eiesim sweep`` processes into one ``--out`` compute every point once between
  them (claims), also when one of them is killed with SIGKILL.
* ``kill -9`` of ``sweep --workers 2`` leaves no worker process behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _output_fault_support import ROOT, RUNNER, TINY, WAIT_S
from _support import run_cli

from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload
from eiesim.sweeps.points import METRIC_COLUMNS
from eiesim.sweeps.store import ResultStore, check_point, envelope
from eiesim.sweeps.sweep import sweep



@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.2, 0.4, bits=4, seed=3), path)
    return path


def _row_of(path: Path) -> dict:
    return json.loads(path.read_text())["row"]


def _sealed(key: str, row: dict, version: int = 1) -> str:
    """A point record written by hand from the documented format: the SHA-256 of the sorted-key JSON of
    everything but the digest (so a check that is meant to fail is not the checksum's)."""
    body = {"format": "eiesim-sweep-point", "version": version, "key": key, "row": row}
    return json.dumps({**body, "sha256": hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()})


#: Ways a stored point can be damaged, and the reason the sweep must give.
DAMAGE = {
    "empty-list": (lambda p, key: p.write_text("[]"), "holds a JSON list"),
    "empty-object": (lambda p, key: p.write_text("{}"), "not a point record"),
    "old-plain-row": (lambda p, key: p.write_text(json.dumps({**_row_of(p), "cycles": -5})), "not a point record"),
    "edited-metric": (lambda p, key: p.write_text(json.dumps({**json.loads(p.read_text()),
                                                              "row": {**_row_of(p), "cycles": 5}})), "checksum"),
    "resealed-negative": (lambda p, key: p.write_text(_sealed(key, {**_row_of(p), "cycles": -5})),
                          "cycles = -5 is not a non-negative integer"),
    "missing-metric": (lambda p, key: p.write_text(_sealed(
        key, {k: v for k, v in _row_of(p).items() if k != "energy_uj"})), "'energy_uj' is missing"),
    # The record's key and its row's point are checked separately: each case spoils one of them.
    "wrong-key": (lambda p, key: p.write_text(_sealed("0" * 24, _row_of(p))), "names the key '000000000000"),
    "wrong-row-point": (lambda p, key: p.write_text(_sealed(key, {**_row_of(p), "point": "0" * 24})),
                        "'row.point' is '000000000000"),
    "truncated": (lambda p, key: p.write_text(p.read_text()[:40]), "not valid JSON"),
    "not-utf8": (lambda p, key: p.write_bytes(b"\xff" * 10), "not a UTF-8"),
}


#: The key a hand-written point is filed under, and another one (any 24 hex digits will do).
KEY, OTHER = "0123456789abcdef01234567", "fedcba9876543210fedcba98"


def _hand_row(**changes) -> dict:
    """A row with every metric of a sweep, valid values chosen by hand."""
    row = {"num_pes": 2, "point": KEY, "cycles": 1234, "time_us": 1.234, "frames_per_s": 810372.8, "energy_uj": 0.5,
           "chip_power_mw": 405.2, "pe_area_um2": 123456.0, "chip_area_mm2": 0.25, "load_balance_efficiency": 0.75,
           "padding_entries": 3, "dram_bytes": 0, "functional": "pass"}
    return {**row, **changes}


@pytest.mark.parametrize("efficiency", [0.0, 0.75, 1.0, 1])
def test_a_hand_written_point_is_reused(efficiency, tmp_path):
    store = ResultStore(tmp_path)
    row = _hand_row(load_balance_efficiency=efficiency)
    (store.points_dir / f"{KEY}.json").write_text(_sealed(KEY, row))
    assert store.get(KEY) == row
    assert store.rejected == []


#: A hand-written point failing exactly one check (filed under KEY), and the reason it must be rejected with.
ONE_CHECK_FAILS = {
    "row-names-another-point": (lambda: _sealed(KEY, _hand_row(point=OTHER)), f"'row.point' is {OTHER!r}, not {KEY}"),
    "record-names-another-key": (lambda: _sealed(OTHER, _hand_row()),
                                 f"is filed under {KEY} but names the key {OTHER!r}"),
    "version-2": (lambda: _sealed(KEY, _hand_row(), version=2), "point record version 2 is not 1"),
    "version-0": (lambda: _sealed(KEY, _hand_row(), version=0), "point record version 0 is not 1"),
    "efficiency-1.5": (lambda: _sealed(KEY, _hand_row(load_balance_efficiency=1.5)),
                       "load_balance_efficiency = 1.5 is not a number in [0, 1]"),
    "efficiency-just-above-1": (lambda: _sealed(KEY, _hand_row(load_balance_efficiency=1.000001)),
                                "load_balance_efficiency = 1.000001 is not a number in [0, 1]"),
    "efficiency-negative": (lambda: _sealed(KEY, _hand_row(load_balance_efficiency=-0.25)),
                            "load_balance_efficiency = -0.25 is not a number in [0, 1]"),
}


@pytest.mark.parametrize("case", sorted(ONE_CHECK_FAILS))
def test_a_hand_written_point_failing_one_check_is_rejected(case, tmp_path):
    store = ResultStore(tmp_path)
    path = store.points_dir / f"{KEY}.json"
    text, reason = ONE_CHECK_FAILS[case]
    path.write_text(text())
    assert store.get(KEY) is None
    assert [(r.path, r.reason) for r in store.rejected] == [(path, reason)]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_point_is_recomputed_and_named(damage, fc_npz, tmp_path, capsys):
    out = tmp_path / "sweep"
    first = sweep(TINY, fc_npz, ["num_pes=1,2"], out)
    key = first.rows[1]["point"]
    path = out / "points" / f"{key}.json"
    spoil, reason = DAMAGE[damage]
    spoil(path, key)
    again = sweep(TINY, fc_npz, ["num_pes=1,2"], out)
    assert (again.computed, again.reused) == (1, 1)
    assert again.rows == first.rows
    assert [r.path for r in again.rejected] == [path] and reason in again.rejected[0].reason
    assert _row_of(path) == first.points[1]  # rewritten, verified (the row plus its details)
    # The command says so, on stderr, after the table.
    spoil(path, key)
    code, stdout, err = run_cli(["sweep", str(TINY), str(fc_npz), "--set", "num_pes=1,2", "--out", str(out),
                                 "--workers", "1"], capsys)
    assert code == 0, err
    assert "1 computed, 1 reused" in stdout
    problems = [line for line in err.strip().splitlines() if not line.startswith("eiesim: warning: ")]  # tiny-4pe warns
    assert problems == [f"eiesim: recomputed a stored point that failed verification: {path}: "
                        f"{again.rejected[0].reason}"]


def test_results_tables_are_regenerated_from_verified_points_only(fc_npz, tmp_path):
    out = tmp_path / "sweep"
    first = sweep(TINY, fc_npz, ["num_pes=1,2,4"], out)
    csv_before = (out / "results.csv").read_bytes()
    for row in first.rows:
        (out / "points" / f"{row['point']}.json").write_text("{}")
    again = sweep(TINY, fc_npz, ["num_pes=1,2,4"], out)
    assert again.computed == 3 and len(again.rejected) == 3
    assert (out / "results.csv").read_bytes() == csv_before


def _evaluations(log: Path) -> Counter:
    return Counter(int(line.split()[0]) for line in log.read_text().splitlines()) if log.exists() else Counter()


def _sweep_proc(spec: dict, fc_npz: Path, out: Path, values: str) -> subprocess.Popen:
    args = ["sweep", str(TINY), str(fc_npz), "--set", values, "--out", str(out), "--workers", "1"]
    return subprocess.Popen([sys.executable, str(RUNNER), json.dumps(spec), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_sweeps_into_one_directory_compute_each_point_once(fc_npz, tmp_path):
    out, log = tmp_path / "shared", tmp_path / "evaluations.log"
    values = "num_pes=1,2,3,4,5,6"
    spec = {"log": str(log), "slow_s": 0.4}
    procs = [_sweep_proc(spec, fc_npz, out, values) for _ in range(2)]
    results = [p.communicate(timeout=WAIT_S) for p in procs]
    for proc, (stdout, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert "6 points:" in stdout
    assert _evaluations(log) == Counter(range(1, 7)), "some point was computed by both sweeps"
    computed = [int(stdout.split("points: ")[1].split(" computed")[0]) for stdout, _ in results]
    assert sum(computed) == 6
    clean = sweep(TINY, fc_npz, [values], tmp_path / "clean")
    assert (out / "results.csv").read_bytes() == (tmp_path / "clean" / "results.csv").read_bytes()
    assert sorted(p.suffix for p in (out / "points").iterdir()) == [".json"] * 6  # no claim files left


def test_a_sweep_waiting_on_a_killed_sweeps_claims_computes_them(fc_npz, tmp_path):
    out, log = tmp_path / "shared", tmp_path / "evaluations.log"
    values = "num_pes=1,2,3,4"
    first = _sweep_proc({"log": str(log), "slow_s": 1.5}, fc_npz, out, values)
    deadline = time.monotonic() + WAIT_S
    while not list((out / "points").glob("*.claim")) and time.monotonic() < deadline:
        time.sleep(0.01)
    second = _sweep_proc({"log": str(log), "slow_s": 0.0}, fc_npz, out, values)
    time.sleep(1.0)
    first.kill()
    first.communicate()
    stdout, err = second.communicate(timeout=WAIT_S)
    assert second.returncode == 0, err
    assert "4 points:" in stdout
    assert set(_evaluations(log)) == {1, 2, 3, 4}
    assert sorted(p.suffix for p in (out / "points").iterdir()) == [".json"] * 4


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_workers_exit_when_the_sweep_is_killed(tmp_path):
    wl = tmp_path / "big.npz"
    save_workload(eie_fc_layer("fc", 2048, 1024, 0.1, 0.5, bits=4, seed=1), wl)
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "eiesim", "sweep", str(TINY), str(wl), "--set",
                             "num_pes=1,2,3,4,5,6,7,8", "--out", str(out), "--workers", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + WAIT_S
    while not list((out / "points").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, "worker processes outlived their sweep"


def test_a_multi_image_sweep_resumes_its_points_whose_means_are_not_integers(fc_npz, tmp_path):
    """Issue 22: each stored point of several images holds *mean* cycles, which the store used to refuse as
    'not a non-negative integer', so every rerun recomputed everything while warning."""
    rng = np.random.default_rng(5)
    images = []
    for i, density in enumerate((0.3, 0.75)):
        x = np.where(rng.random(256) < density, rng.integers(1, 8, 256), 0).astype(np.float32)
        images.append(tmp_path / f"x{i}.npy")
        np.save(images[-1], x)
    out = tmp_path / "sweep"
    first = sweep(TINY, fc_npz, ["num_pes=1,2"], out, input=[str(p) for p in images])
    assert first.computed == 2
    means = [row["cycles"] for row in first.rows]
    assert any(m != int(m) for m in means), means  # the case of the issue: a mean of x.5 cycles
    again = sweep(TINY, fc_npz, ["num_pes=1,2"], out, input=[str(p) for p in images])
    assert (again.computed, again.reused, again.rejected) == (0, 2, [])
    assert again.rows == first.rows


def _stored_row(**metrics):
    return {"point": "k", "cycles": 10, "time_us": 1.0, "frames_per_s": 1.0, "energy_uj": 1.0,
            "chip_power_mw": 1.0, "pe_area_um2": 1.0, "chip_area_mm2": 1.0, "load_balance_efficiency": 0.5,
            "padding_entries": 0, "dram_bytes": 4, "functional": "pass", **metrics}


MEANS = {"images": 2, "cycles_min": 10, "cycles_max": 11, "time_us_min": 1.0, "time_us_max": 1.0,
         "energy_uj_min": 1.0, "energy_uj_max": 1.0}


@pytest.mark.parametrize("row, reason", [
    (_stored_row(), None),
    (_stored_row(cycles=10.5, **MEANS), None),                     # a mean over two images
    (_stored_row(cycles=10.5), "cycles = 10.5 is not a non-negative integer"),  # one image: a count
    (_stored_row(energy_uj=float("nan")), "energy_uj = nan is not a non-negative finite number"),
    (_stored_row(time_us=float("inf")), "time_us = inf is not a non-negative finite number"),
    (_stored_row(load_balance_efficiency=float("nan")), "load_balance_efficiency = nan is not a number in [0, 1]"),
    (_stored_row(load_balance_efficiency=1.78), "load_balance_efficiency = 1.78 is not a number in [0, 1]"),
    (_stored_row(cycles=float("nan"), **MEANS), "cycles = nan is not a non-negative finite number"),
    (_stored_row(cycles=10.5, **{**MEANS, "cycles_min": 9.5}), "cycles_min = 9.5 is not a non-negative integer"),
    (_stored_row(cycles=10.5, **{k: v for k, v in MEANS.items() if k != "energy_uj_max"}),
     "the metric 'energy_uj_max' is missing"),
])
def test_stored_points_validate_by_the_schema_of_what_is_stored(row, reason):
    data = json.loads(json.dumps(envelope("k", row)))  # through JSON as the store writes it (NaN -> NaN)
    if reason is None:
        assert check_point(data, "k", METRIC_COLUMNS) == row
    else:
        with pytest.raises(ValueError) as info:
            check_point(data, "k", METRIC_COLUMNS)
        assert str(info.value).startswith(reason)
