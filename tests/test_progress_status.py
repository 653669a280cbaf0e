"""Long commands (``trace``, ``report``, ``compress``) show what they are doing on a terminal, and nothing when piped.

Each command runs in a subprocess twice: once with stderr on a pseudo-terminal (the status line
must be drawn there) and once with stderr on a pipe (stderr must stay empty).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _support import small_workload

from eiesim.network.workload_file import save_workload

pty = pytest.importorskip("pty")  # POSIX only
ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE",
                                                            "TTY_INTERACTIVE", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "200", "EIESIM_THREADS": "1"}


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """(exit code, everything written to stderr) of ``eiesim ARGS`` with stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "eiesim", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave, cwd=cwd, env=_env())
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command closed its end
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def _piped(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "eiesim", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("progress")
    save_workload(small_workload(), base / "small.npz")
    assert _piped(["run", str(TINY), "small.npz", "--json", "r.json"], base).returncode == 0
    assert _piped(["export-dense", "small.npz", "-o", "dense.npz"], base).returncode == 0
    return base


CASES = {
    "trace": (["trace", str(TINY), "small.npz", "--layer", "c1", "-o", "t.json"], "tracing layer c1"),
    "report": (["report", "r.json", "-o", "r.html"], "rendering the report of r.json"),
    "compress": (["compress", "dense.npz", "-o", "c.npz", "--agreement"], "comparing the compressed model"),
}


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_long_command_shows_its_step_on_a_terminal(files, command):
    args, status = CASES[command]
    code, err = _on_a_terminal(args, files)
    assert code == 0, err
    assert status in err


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_long_command_writes_nothing_to_a_piped_stderr(files, command):
    args, status = CASES[command]
    proc = _piped(args, files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and status not in proc.stdout
