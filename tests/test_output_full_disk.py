"""Every command that writes a file fails cleanly on a full disk: one line, exit 2, nothing left behind.

RLIMIT_FSIZE of 1 byte (``tests/fault_runner.py``) makes the kernel refuse the first byte of every output
file with EFBIG, as a full disk refuses it with ENOSPC, in a real ``eiesim`` process.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
from _output_fault_support import (
    TINY, WAIT_S, fc_npz, _lines, start,
)
from _support import run_exit_code


#: Every writing command, with the output it writes ({out}) and what it reads.
WRITERS = {
    "run --json": ["run", str(TINY), "{wl}", "--json", "{out}/r.json"],
    "run --out": ["run", str(TINY), "{wl}", "--out", "{out}/d"],
    "sweep": ["sweep", str(TINY), "{wl}", "--set", "num_pes=1,2", "--out", "{out}/s", "--workers", "1"],
    "report": ["report", "{run}", "-o", "{out}/r.html"],
    "trace": ["trace", str(TINY), "{wl}", "--layer", "fc", "-o", "{out}/t.json"],
    "workload": ["workload", "eie-fc", "--set", "in=8", "--set", "out=8", "--set", "weight_density=0.5", "--set",
                 "act_density=0.5", "-o", "{out}/w.npz"],
    "export-dense": ["export-dense", "{wl}", "-o", "{out}/d.npz"],
    "compress": ["compress", "{dense}", "-o", "{out}/c.npz"],
    "infer": ["infer", "{wl}", "--json", "{out}/i.json"],
    "export-onnx": ["export-onnx", "{wl}", "-o", "{out}/m.onnx", "--no-check"],
    "import-onnx": ["import-onnx", "{onnx}", "-o", "{out}/d.npz"],
    "reproduce eie-table2": ["reproduce", "eie-table2", "--json", "{out}/t2.json"],
    "reproduce eie-figures": ["reproduce", "eie-figures", "--out", "{out}/f", "--layers", "Alex-7"],
}


@pytest.fixture(scope="module")
def writer_inputs(fc_npz, tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    run_json = d / "r.json"
    dense = d / "dense.npz"
    for args in (["run", str(TINY), str(fc_npz), "--json", str(run_json)], ["export-dense", str(fc_npz), "-o", str(dense)]):
        assert run_exit_code(args) == 0
    onnx_path = None
    if importlib.util.find_spec("onnx") is not None:
        onnx_path = d / "m.onnx"
        assert run_exit_code(["export-onnx", str(fc_npz), "-o", str(onnx_path), "--no-check"]) == 0
    return {"wl": fc_npz, "run": run_json, "dense": dense, "onnx": onnx_path}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writing_command_on_a_full_disk(name, writer_inputs, tmp_path):
    """RLIMIT_FSIZE of 1 byte: the kernel refuses the first byte of every output file (EFBIG)."""
    if "onnx" in name and writer_inputs["onnx"] is None:
        pytest.skip("needs the onnx extra")
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(out=out, **{k: v for k, v in writer_inputs.items() if v is not None}) for a in WRITERS[name]]
    proc = start({"fsize": 1}, args)
    _, err = proc.communicate(timeout=WAIT_S)
    lines = _lines(err)
    if name == "reproduce eie-figures":  # it logs its progress on stderr
        lines = lines[-1:] if "Traceback" not in err else lines
    assert proc.returncode == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"eiesim: error: {out}/") and "file too large" in lines[0], err
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left in ([], ["s", "s/points"]), left  # a sweep directory is created before its first point


def test_a_cold_numba_cache_on_a_full_disk_adds_no_line(fc_npz, tmp_path):
    """A new install on a full disk: Numba compiles the kernels and cannot save them. The one line is still the
    output's (before, the cache guard's log record reached stderr through Python's last-resort handler)."""
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))  # empty: nothing compiled before
    proc = start({"fsize": 1}, ["trace", str(TINY), str(fc_npz), "--layer", "fc", "-o", f"{out}/t.json"], env)
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 2, err
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"eiesim: error: {out}/t.json: ") and "file too large" in lines[0], err
    assert not list(out.iterdir())


