"""Command lines that used to be accepted silently (issue 12, bug 6): each is an error that says why,
or has a documented meaning.

The error cases run the CLI in this process (its exit code and stderr are what is checked); ``--debug``,
whose traceback goes through the interpreter's own handler, runs in a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _support import run_cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _eiesim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eiesim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess | tuple[int, str, str]) -> str:
    """The one ``eiesim: error:`` line of a run that exited with 2 (a process, or ``run_cli``'s (code, out, err))."""
    code, stderr = (proc.returncode, proc.stderr) if isinstance(proc, subprocess.CompletedProcess) else proc[::2]
    assert code == 2, (code, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eiesim: error: "), stderr
    return lines[0]


def test_set_boolean_for_a_number_is_an_error(capsys):
    """Before: ``run --set num_pes=true`` simulated 1 PE."""
    line = _one_error_line(run_cli(["run", "--set", "num_pes=true"], capsys))
    assert "num_pes must be a number, got true" in line


def test_run_with_a_list_value_points_to_sweep(capsys):
    line = _one_error_line(run_cli(["run", "--set", "num_pes=4,4"], capsys))
    assert "one value per key" in line and "eiesim sweep" in line


def test_sweep_with_a_repeated_value_is_an_error(tmp_path, capsys):
    """Before: ``sweep --set num_pes=4,4`` computed (and listed) the same point twice."""
    wl = tmp_path / "fc.npz"
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.network.workload_file import save_workload

    save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0), wl)
    line = _one_error_line(run_cli(["sweep", str(TINY), str(wl), "--set", "num_pes=4,4", "--out", str(tmp_path / "s")],
                                   capsys))
    assert "the value 4 is given twice" in line
    line = _one_error_line(run_cli(["sweep", str(TINY), str(wl), "--set", "num_pes=2,4,2.0",
                                    "--out", str(tmp_path / "s")], capsys))
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
