"""Same inputs, same bytes; interrupted runs leave nothing behind; a broken Numba cache is harmless."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eiesim.config.arch import load_arch
from eiesim.render.run_files import report_json
from eiesim.run.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "corpus"))
from _support import default_signal_dispositions  # noqa: E402
from make_corpus import base_workload  # noqa: E402

TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def test_report_bytes_identical_across_runs_and_engines():
    arch = load_arch(TINY)
    first = report_json(simulate(arch, base_workload(), engine="fast"))
    again = report_json(simulate(arch, base_workload(), engine="fast"))
    event = report_json(simulate(arch, base_workload(), engine="event"))
    assert first == again == event
    assert "hostname" not in first and "utc" not in first


def test_cli_reports_identical_metadata_separate(tmp_path):
    from eiesim.network.workload_file import save_workload

    wl = save_workload(base_workload(), tmp_path / "wl.npz")
    outs = []
    for i, engine in enumerate(("fast", "event")):
        out = tmp_path / f"r{i}"
        subprocess.run([sys.executable, "-m", "eiesim", "run", str(TINY), str(wl), "--engine", engine,
                        "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
        outs.append(out)
    for name in ("report.json", "layers.csv", "report.html"):
        assert (outs[0] / name).read_bytes() != b""
    assert (outs[0] / "report.json").read_bytes() == (outs[1] / "report.json").read_bytes()
    assert (outs[0] / "layers.csv").read_bytes() == (outs[1] / "layers.csv").read_bytes()
    assert b'"engine": "event"' in (outs[1] / "report.run.json").read_bytes()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_leaves_no_report(tmp_path, signum):
    out = tmp_path / "out"
    # The event engine on the default SqueezeNet takes far longer than the signal delay.
    proc = subprocess.Popen([sys.executable, "-m", "eiesim", "run", "--engine", "event", "--allow-slow", "--out", str(out),
                             "--json", str(tmp_path / "r.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=default_signal_dispositions)
    time.sleep(3.0)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "eiesim: interrupted; no output was written"
    assert "Traceback" not in err
    assert not (tmp_path / "r.json").exists() and not out.exists()


def test_corrupt_numba_cache_is_recovered(tmp_path):
    """``trace`` compiles only the encoding kernels (one calling another), so the cold cache costs seconds; the
    guard that recovers is the same for every kernel (eiesim.jit.cache_guard)."""
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "eiesim", "trace", str(TINY), str(tmp_path / "wl.npz"), "--layer", "fc", "-o"]
    from eiesim.network.workload_file import save_workload

    save_workload(base_workload(), tmp_path / "wl.npz")
    subprocess.run([*cmd, str(tmp_path / "a.json")], check=True, capture_output=True, env=env, cwd=ROOT)
    index_files = list(cache.rglob("*.nbi")) + list(cache.rglob("*.nbc"))
    assert index_files, "the first run should have filled the cache"
    for f in index_files:
        f.write_bytes(os.urandom(64))
    res = subprocess.run([*cmd, str(tmp_path / "b.json")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_unwritable_numba_cache_is_harmless(tmp_path):
    from eiesim.network.workload_file import save_workload

    save_workload(base_workload(), tmp_path / "wl.npz")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "cache"))
    res = subprocess.run([sys.executable, "-m", "eiesim", "run", str(TINY), str(tmp_path / "wl.npz")],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr


def test_a_kernel_compiled_but_not_saved_still_runs(capfd):
    """A full disk fails Numba's save of a kernel it has just compiled (the error reaches the caller): the cache
    guard runs the compiled kernel without the cache, silently, instead of failing the command."""
    import errno

    import numba
    from numba.core.caching import NullCache

    from eiesim.jit.cache_guard import call

    class FullDisk(NullCache):
        def save_overload(self, sig, data):
            raise OSError(errno.EFBIG, "File too large")

    @numba.njit
    def triple(x):
        return 3 * x

    triple._cache = FullDisk()
    assert call(triple, 14) == 42
    assert type(triple._cache) is NullCache and len(triple.overloads) == 1
    assert call(triple, 5) == 15
    assert capfd.readouterr() == ("", "")


def test_a_genuine_error_in_a_compiled_kernel_still_surfaces():
    import numba

    from eiesim.jit.cache_guard import call

    @numba.njit
    def checked(x):
        if x < 0:
            raise ValueError("negative")
        return x

    assert call(checked, 1) == 1
    with pytest.raises(ValueError):
        call(checked, -1)
