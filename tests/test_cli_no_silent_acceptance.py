"""Command lines that used to be accepted silently (issue 12, bug 6): each is an error that says why,
or has a documented meaning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _eiesim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eiesim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eiesim: error: "), proc.stderr
    return lines[0]


def test_set_boolean_for_a_number_is_an_error():
    """Before: ``run --set num_pes=true`` simulated 1 PE."""
    line = _one_error_line(_eiesim("run", "--set", "num_pes=true"))
    assert "num_pes must be a number, got true" in line


def test_run_with_a_list_value_points_to_sweep():
    line = _one_error_line(_eiesim("run", "--set", "num_pes=4,4"))
    assert "one value per key" in line and "eiesim sweep" in line


def test_sweep_with_a_repeated_value_is_an_error(tmp_path):
    """Before: ``sweep --set num_pes=4,4`` computed (and listed) the same point twice."""
    wl = tmp_path / "fc.npz"
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.network.workload_file import save_workload

    save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0), wl)
    line = _one_error_line(_eiesim("sweep", str(TINY), str(wl), "--set", "num_pes=4,4", "--out", str(tmp_path / "s")))
    assert "the value 4 is given twice" in line
    line = _one_error_line(_eiesim("sweep", str(TINY), str(wl), "--set", "num_pes=2,4,2.0",
                                   "--out", str(tmp_path / "s")))
    assert "given twice" in line
    assert not (tmp_path / "s" / "results.csv").exists()


def test_debug_after_the_subcommand_works(tmp_path):
    """Before: ``eiesim info X --debug`` printed a click NoSuchOption traceback."""
    ok = _eiesim("info", str(ROOT / "workloads" / "squeezenet-1.0-synthetic.npz"), "--json", "--debug")
    assert ok.returncode == 0, ok.stderr
    assert '"name": "squeezenet-1.0-synthetic"' in ok.stdout
    missing = tmp_path / "missing.npz"
    loud = _eiesim("info", str(missing), "--debug")
    assert loud.returncode != 0
    assert "Traceback" in loud.stderr and "WorkloadError" in loud.stderr and "NoSuchOption" not in loud.stderr
    quiet = _eiesim("info", str(missing))
    assert _one_error_line(quiet).endswith("missing.npz: no such file")
