"""What the output fault tests share: a tiny workload, a fault-injecting ``eiesim`` process, checks of what is left.

The faults themselves are in ``tests/fault_runner.py`` (a real signal at a chosen point of a commit, or a real
RLIMIT_FSIZE); the tests are split over test_output_faults.py (disks, permissions, paths),
test_output_signals.py (kills, SIGTERM, concurrent runs) and test_output_full_disk.py (every writing command).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload
from eiesim.outputs.temporaries import TEMP_MARK

from _support import run_cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
RUNNER = ROOT / "tests" / "fault_runner.py"
RUN_FILES = ["layers.csv", "report.html", "report.json", "report.run.json"]
WAIT_S = 120.0


@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.3, 0.5, bits=4, seed=2), path)
    return path


def _lines(err: str) -> list[str]:
    """stderr without warnings (tiny-4pe's 256-B activation SRAM is outside the CACTI grid: every run warns)."""
    return [line for line in err.strip().splitlines() if not line.startswith("eiesim: warning: ")]


def run_args(fc_npz: Path, out: Path, num_pes: int, *extra: str) -> list[str]:
    return ["run", str(TINY), str(fc_npz), "--set", f"num_pes={num_pes}", "--out", str(out), *extra]


def first_run(fc_npz: Path, out: Path, capsys) -> dict[str, bytes]:  # noqa: ANN001 - pytest's capsys
    """A successful ``eiesim run`` (2 PEs) into ``out``, in this process; returns its files' bytes, the
    run a faulty second one must leave untouched."""
    code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
    assert code == 0, err
    return {name: (out / name).read_bytes() for name in RUN_FILES}


def start(spec: dict, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(RUNNER), json.dumps(spec), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended before reaching the fault point: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.005)


def one_run(directory: Path) -> int:
    """The PE count of the single run ``directory`` holds; fails if its files come from different runs."""
    assert sorted(os.listdir(directory)) == RUN_FILES, os.listdir(directory)
    report = json.loads((directory / "report.json").read_text())
    meta = json.loads((directory / "report.run.json").read_text())
    html = (directory / "report.html").read_text()
    with open(directory / "layers.csv") as fh:
        csv_cycles = [int(r["cycles"]) for r in csv.DictReader(fh)]
    pes = {report["arch"]["num_pes"],
           int(next(a for a in meta["command"] if a.startswith("num_pes=")).split("=")[1]),
           *map(int, re.findall(r"num_pes&quot;: (\d+)", html))}
    assert len(pes) == 1, f"{directory} mixes runs: {pes}"
    assert csv_cycles == [layer["cycles"] for layer in report["layers"]], "layers.csv is from another run"
    return pes.pop()


def no_litter(directory: Path) -> None:
    assert not [p for p in directory.rglob("*") if TEMP_MARK in p.name], list(directory.rglob("*"))


def pair_pes(json_path: Path) -> int:
    """The PE count of the ``run --json`` pair at ``json_path``; fails if report and run record differ."""
    report = json.loads(json_path.read_text())
    meta = json.loads(json_path.with_name(json_path.stem + ".run.json").read_text())
    recorded = int(next(a for a in meta["command"] if a.startswith("num_pes=")).split("=")[1])
    assert report["arch"]["num_pes"] == recorded, f"{json_path} pairs a report of {report['arch']['num_pes']} PEs " \
                                                  f"with the run record of {recorded}"
    return recorded


def json_args(fc_npz: Path, json_path: Path, num_pes: int) -> list[str]:
    return ["run", str(TINY), str(fc_npz), "--set", f"num_pes={num_pes}", "--json", str(json_path)]


