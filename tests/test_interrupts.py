"""Ctrl-C (SIGINT) or SIGTERM at chosen points of the start-up: one line, exit 130, never a traceback.

The first 0.6 s of a command are imports (click, numpy, scipy, numba, rich, ...). A real
signal is sent to a real ``python -m eiesim`` process at the moment it starts importing
a chosen module (an import hook sends it), so each point is hit exactly, not by timing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _support import default_signal_dispositions

ROOT = Path(__file__).resolve().parents[1]

#: Run ``python -m eiesim ARGS``, sending ourselves SIGNAL when MODULE is first imported.
TRIP = """
import importlib.abc, os, runpy, signal, sys
module, signum, fired = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Trip(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == module:
            sys.meta_path.remove(self)
            open(fired, "w").close()
            os.kill(os.getpid(), signum)
        return None
sys.meta_path.insert(0, Trip())
sys.argv = ["-m", *sys.argv[4:]]
runpy.run_module("eiesim", run_name="__main__", alter_sys=True)
"""

#: Modules imported while a command starts, in about the order they are first imported.
#: (``python -X importtime -m eiesim run``; each command imports only what it uses, so e.g. networkx and the
#: sweep command are not among them any more.)
START_UP = ["click", "eiesim.errors", "eiesim.cli.outputs", "rich.table", "yaml", "pydantic", "numpy", "scipy.sparse",
            "numba", "eiesim.run.simulate"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("module", START_UP)
def test_signal_while_importing_is_one_line(module, signum, tmp_path):
    out, fired = tmp_path / "r.json", tmp_path / "fired"
    res = subprocess.run([sys.executable, "-c", TRIP, module, str(int(signum)), str(fired), "run", "--no-check",
                          "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         preexec_fn=default_signal_dispositions)
    if not fired.exists():
        pytest.skip(f"{module} is no longer imported while a command starts")
    assert res.returncode == 130, res.stderr
    assert res.stderr == "eiesim: interrupted; no output was written\n", res.stderr
    assert not out.exists()


def test_the_trip_hook_really_fires(tmp_path):
    """Control: a module that is never imported lets the command finish; click's import trips it."""
    fired = tmp_path / "fired"
    res = subprocess.run([sys.executable, "-c", TRIP, "no.such.module", str(int(signal.SIGINT)), str(fired), "params"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         preexec_fn=default_signal_dispositions)
    assert res.returncode == 0 and not fired.exists(), res.stderr
    res = subprocess.run([sys.executable, "-c", TRIP, "click", str(int(signal.SIGINT)), str(fired), "params"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         preexec_fn=default_signal_dispositions)
    assert fired.exists() and res.returncode == 130, res.stderr
