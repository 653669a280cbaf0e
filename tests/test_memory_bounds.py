"""Memory is bounded by what the input claims, checked before allocating.

Each hostile input is a few hundred bytes that *declares* something huge. It is fed to the
command that reads it in a real subprocess, and the test checks the clean one-line error and
the child's peak resident memory (``os.wait4``): the refusal must come before the allocation.
Before these checks the same files took 4 GB (an ONNX ``Range``), 3.9 GB (an npz of many
members each just under the zip-bomb guard) or died with a MemoryError traceback (a 152-byte
TIFF, a workload declaring a 20000 x 20000 input, an ONNX model with a huge input).
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from _support import replace_simulate, run_cli

from eiesim.config.arch import load_arch
from eiesim.errors import InputDataError, WorkloadError
from eiesim.inputs.memory import check_memory, memory_limit_bytes, parse_bytes
from eiesim.network.functional import forward
from eiesim.network.memory import check_workload_memory, workload_run_bytes
from eiesim.network.workload import Pool, Workload, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.run.content_cache import clear_caches
from eiesim.run.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
#: Peak RSS a refused input may cost (the interpreter, numpy, numba and scipy alone take ~200 MB).
MAX_RSS_BYTES = 700 * 1024**2


#: Runs ``eiesim ARGS`` and prints its exit code and peak RSS (KiB). A child's peak RSS counts the pages of
#: the process that forked it until it executes, so the measuring parent must be this small process, not the
#: test runner, whose own memory grows with every test it has run.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen([sys.executable, "-m", "eiesim", *sys.argv[1:]], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_measured(args: list[str], env: dict | None = None) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in bytes) of ``eiesim ARGS`` in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    code, maxrss_kib = (int(v) for v in proc.stdout.split())
    return code, proc.stderr, maxrss_kib * 1024


def assert_refused(code: int, err: str, rss: int, path: Path, expected: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"eiesim: error: {path}") and expected in lines[0], err
    assert rss < MAX_RSS_BYTES, f"peak RSS {rss / 2**20:.0f} MiB: allocated before refusing"


def _tiff(width: int, height: int) -> bytes:
    """A valid-looking 8-bit RGB TIFF header declaring width x height, with 12 bytes of deflate data."""
    data = zlib.compress(b"\0" * 64)
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, 8 + 2 + 12 * 10 + 4), (259, 3, 1, 8),
               (262, 3, 1, 2), (273, 4, 1, 8 + 2 + 12 * 10 + 4 + 6), (277, 3, 1, 3), (278, 4, 1, height),
               (279, 4, 1, len(data)), (284, 3, 1, 1)]
    out = b"II*\0" + struct.pack("<IH", 8, len(entries))
    out += b"".join(struct.pack("<HHII", *e) for e in entries) + struct.pack("<I", 0)
    return out + struct.pack("<HHH", 8, 8, 8) + data


def test_tiny_tiff_declaring_ten_billion_pixels(tmp_path):
    path = tmp_path / "huge.tiff"
    path.write_bytes(_tiff(100_000, 100_000))
    assert path.stat().st_size < 200
    code, err, rss = run_measured(["run", "--image", str(path), "--no-check"])
    assert_refused(code, err, rss, path, "decoding this 100000x100000 pixels image would need about")


def test_an_ordinary_image_still_works(tmp_path, capsys):
    from skimage.io import imsave

    path = tmp_path / "small.png"
    imsave(path, np.full((40, 50, 3), 128, np.uint8), check_contrast=False)
    wl = tmp_path / "wl.npz"
    save_workload(_workload((3, 16, 16)), wl)
    code, _, err = run_cli(["infer", str(wl), "--image", str(path)], capsys)
    assert code == 0, err


def _workload(shape: tuple[int, ...]) -> Workload:
    """A 1x1 conv 3 -> 4 channels on a (3, H, W) input, or an fc 8 -> 4 on an (8,) input."""
    kind = "conv" if len(shape) == 3 else "fc"
    weights = np.ones((4, shape[0], 1, 1) if kind == "conv" else (4, shape[0]), np.float32)
    layer = layer_from_dense("c1", weights, codebook=np.array([1.0], np.float32), kind=kind)
    return Workload("declared-input", "test", shape, None, [layer],
                    input=None if kind == "conv" else np.ones(shape, np.float32))


def test_small_workload_declaring_a_huge_input(tmp_path, capsys):
    path = tmp_path / "big-input.npz"
    save_workload(_workload((3, 20_000, 20_000)), path)
    assert path.stat().st_size < 4096
    code, err, rss = run_measured(["run", str(TINY), str(path), "--no-check"])
    assert_refused(code, err, rss, path, "one inference of workload 'declared-input' (input 3x20000x20000")
    code, out, err = run_cli(["info", str(path)], capsys)  # describing it needs no activations
    assert code == 0, err


def test_npz_of_many_members_each_under_the_zip_bomb_guard(tmp_path):
    path = tmp_path / "many.npz"
    member = io.BytesIO()
    np.lib.format.write_array(member, np.zeros((1 << 20) - 128, np.uint8))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(48):  # 48 MiB in all, each member 1 MiB: far below the per-member check
            zf.writestr(f"junk{i}.npy", member.getvalue())
    assert path.stat().st_size < 100_000
    code, err, rss = run_measured(["info", str(path)])
    assert_refused(code, err, rss, path, "the archive expands")


def test_total_decompressed_size_is_capped_by_the_memory_limit(tmp_path):
    path = tmp_path / "random.npz"
    rng = np.random.default_rng(0)
    np.savez(path, a=rng.integers(0, 255, 12 << 20, dtype=np.uint8), b=rng.integers(0, 255, 12 << 20, dtype=np.uint8))
    code, err, rss = run_measured(["info", str(path)], env={"EIESIM_MEMORY_LIMIT": "16M"})
    assert_refused(code, err, rss, path, "above the 16.0 MiB limit")


def test_npy_input_declaring_more_than_it_holds(tmp_path):
    wl = tmp_path / "fc.npz"
    save_workload(_workload((8,)), wl)
    arr = tmp_path / "x.npy"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1 << 34,)})
    arr.write_bytes(header.getvalue() + b"\0" * 32)
    code, err, rss = run_measured(["run", str(TINY), str(wl), "--image", str(arr), "--no-check"])
    assert_refused(code, err, rss, arr, "declares shape (17179869184,)")


def test_memory_error_anywhere_is_one_line(tmp_path, monkeypatch, capsys):
    wl = tmp_path / "fc.npz"
    save_workload(_workload((8,)), wl)

    def exhausted(*args, **kwargs):
        raise MemoryError

    replace_simulate(monkeypatch, exhausted)  # also where `run` calls it
    code, _, err = run_cli(["run", str(TINY), str(wl)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("eiesim: error: out of memory")


def test_memory_limit_is_documented_and_overridable(tmp_path, monkeypatch, capsys):
    assert parse_bytes("512M") == 512 << 20 and parse_bytes("8G") == 8 << 30 and parse_bytes("16GiB") == 16 << 30
    monkeypatch.delenv("EIESIM_MEMORY_LIMIT", raising=False)
    assert memory_limit_bytes() == 4 << 30
    wl_path = tmp_path / "wl.npz"
    wl = _workload((3, 128, 128))
    save_workload(wl, wl_path)
    need = workload_run_bytes(load_workload(wl_path))
    assert need > 1 << 20
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "1M")
    code, _, err = run_cli(["run", str(TINY), str(wl_path), "--no-check", "--image", "chelsea"], capsys)
    assert code == 2 and "above the 1.0 MiB limit" in err
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "lots")
    code, _, err = run_cli(["run", str(TINY), str(wl_path), "--no-check", "--image", "chelsea"], capsys)
    assert code == 2 and "EIESIM_MEMORY_LIMIT='lots'" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "64M")
    code, _, err = run_cli(["run", str(TINY), str(wl_path), "--no-check", "--image", "chelsea"], capsys)
    assert code == 0, err


def _peak_traced_bytes(run) -> int:
    """The most memory ``run()`` held at once: numpy's arrays and Python's objects, traced by tracemalloc (which does
    not see the small scratch a Numba kernel allocates inside itself: O(columns x 512) here). ``run`` is called once
    before, so that compiling the Numba kernels (a cold cache) is not measured; eiesim's in-process content caches
    are emptied after it, so that the measured call computes (and holds) what a first call does, as ``eiesim run``."""
    run()
    clear_caches()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _deep_chain() -> Workload:
    """Eight 1x1 convs 8 -> 8 on 64 x 64: the outputs every layer keeps dominate, as in SqueezeNet."""
    rng = np.random.default_rng(2)
    layers, prev = [], "input"
    for k in range(8):
        w = np.where(rng.random((8, 8, 1, 1)) < 0.5, 0.5, 0.0).astype(np.float32)
        layers.append(layer_from_dense(f"l{k}", w, codebook=np.array([0.5], np.float32), inputs=(prev,)))
        prev = f"l{k}"
    return Workload("chain", "test", (8, 64, 64), None, layers, rng.integers(0, 4, (8, 64, 64)).astype(np.float32))


def _pooled_convs() -> Workload:
    """A 3x3 conv 4 -> 32 with 2x2 max pooling on 96 x 96, a 1x1 conv 32 -> 8 with global average pooling, an fc
    8 -> 10: the patches and accumulators of the first conv (before pooling) dominate."""
    rng = np.random.default_rng(1)
    conv = np.where(rng.random((32, 4, 3, 3)) < 0.3, 1.0, 0.0).astype(np.float32)
    squeeze = np.where(rng.random((8, 32, 1, 1)) < 0.5, 0.5, 0.0).astype(np.float32)
    layers = [layer_from_dense("conv", conv, codebook=np.array([1.0], np.float32), padding=(1, 1),
                               pool=Pool("max", 2, 2)),
              layer_from_dense("squeeze", squeeze, codebook=np.array([0.5], np.float32), inputs=("conv",),
                               pool=Pool("global_avg")),
              layer_from_dense("fc", np.full((10, 8), 0.25, np.float32), codebook=np.array([0.25], np.float32),
                               kind="fc", inputs=("squeeze",), relu=False)]
    return Workload("pooled", "test", (4, 96, 96), None, layers, rng.integers(0, 4, (4, 96, 96)).astype(np.float32))


@pytest.mark.parametrize("make", [_deep_chain, _pooled_convs], ids=["deep-chain", "pooled-convs"])
def test_run_memory_estimate_bounds_what_a_conv_layer_really_allocates(make):
    """The estimate bounds the peak of one inference measured three ways (a simulation with its functional check,
    as ``eiesim run`` does; the fixed-point and the float forward passes), and is within 2x of the largest."""
    wl = make()
    estimate = workload_run_bytes(wl)
    x = np.asarray(wl.input)
    simulated = _peak_traced_bytes(lambda: simulate(load_arch(None), wl))
    fixed = _peak_traced_bytes(lambda: forward(wl, x, "fixed16"))
    floating = _peak_traced_bytes(lambda: forward(wl, x))
    assert max(simulated, fixed, floating) <= estimate, (simulated, fixed, floating, estimate)
    # Tight too: within 2x of the largest of the three (on the deep chain the simulation, which holds its
    # outputs and the reference's at once; on the pooled convs the fixed-point pass, whose int64 patches and
    # accumulators the estimate follows).
    assert estimate <= 2 * max(simulated, fixed, floating), (simulated, fixed, floating, estimate)



def test_size_suffixes_are_binary(monkeypatch):
    """K, M, G and T are powers of 1024 (README, eiesim/limits.py), with or without 'iB'/'B', any case."""
    sizes = {"4k": 4096, "4K": 4096, "4KiB": 4096, "4kb": 4096, "1.5k": 1536, "1m": 1048576, "3M": 3145728,
             "2G": 2147483648, "1t": 1099511627776, "4096": 4096}
    assert {text: parse_bytes(text) for text in sizes} == sizes
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "4k")
    assert memory_limit_bytes() == 4096


def test_an_estimate_exactly_at_the_limit_is_allowed(monkeypatch):
    """The budget is what an input may use: needing exactly the limit is fine, one byte more is refused."""
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "4k")
    check_memory(4096, "4 KiB of something")
    with pytest.raises(InputDataError,
                       match=r"^4097 bytes would need about 4\.0 KiB of memory, above the 4\.0 KiB limit"):
        check_memory(4097, "4097 bytes")
    # The 1x1 conv 3 -> 4 on a 3x10x10 input, by the rule in workload_run_bytes' docstring:
    # outputs 4x10x10 int64 kept twice = 2 x 3,200; the layer's step = patches 100 x 3 int64 (2,400)
    # + their float64 chunk (2,400) + dense weights 4 x 3 float64 (96) + accumulators 16 x 100 x 4
    # (6,400) + 12 x the 300 input values (3,600) = 14,896; the float64 input image 24 x 300 = 7,200.
    wl = _workload((3, 10, 10))  # 6,400 + 14,896 + 7,200 = 28,496 bytes
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "28496")
    check_workload_memory(wl)
    monkeypatch.setenv("EIESIM_MEMORY_LIMIT", "28495")
    with pytest.raises(WorkloadError, match=r"above the 27\.8 KiB limit"):
        check_workload_memory(wl)


# -- ONNX ------------------------------------------------------------------------------------------

def _onnx_model(path: Path, nodes, inputs, outputs, initializers=()) -> None:
    onnx = pytest.importorskip("onnx")
    graph = onnx.helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    onnx.save(onnx.helper.make_model(graph), str(path))


def test_onnx_range_is_refused_before_it_is_folded(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    path = tmp_path / "range.onnx"
    consts = [helper.make_node("Constant", [], [n], value=numpy_helper.from_array(np.array(v, np.int64)))
              for n, v in (("s", 0), ("l", 1 << 29), ("d", 1))]
    _onnx_model(path, [*consts, helper.make_node("Range", ["s", "l", "d"], ["r"]), helper.make_node("Relu", ["x"], ["y"])],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    assert path.stat().st_size < 300
    code, err, rss = run_measured(["import-onnx", str(path), "-o", str(tmp_path / "d.npz")])
    assert_refused(code, err, rss, path, "would fold to a constant of 536,870,912 elements")
    assert onnx is not None


def test_onnx_with_a_huge_input_shape(tmp_path):
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    path = tmp_path / "huge-input.onnx"
    w = numpy_helper.from_array(np.ones((1, 3, 1, 1), np.float32), "w")
    _onnx_model(path, [helper.make_node("Conv", ["x", "w"], ["y"])],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 100_000, 100_000])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    assert path.stat().st_size < 200
    code, err, rss = run_measured(["compress", str(path), "-o", str(tmp_path / "c.npz")])
    assert_refused(code, err, rss, path, "(input 3x100000x100000")
    wl = tmp_path / "as-is.npz"
    code, err, _ = run_measured(["import-onnx", str(path), "--workload", "-o", str(wl)])
    assert code == 0, err
    for args in (["run", str(TINY), str(wl)], ["infer", str(wl), "--image", "chelsea"]):
        code, err, rss = run_measured(args)
        assert_refused(code, err, rss, wl, "one inference of workload")


def test_onnx_grouped_conv_that_would_expand_to_a_huge_dense_weight(tmp_path):
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    groups = 1 << 15
    path = tmp_path / "grouped.onnx"
    w = numpy_helper.from_array(np.ones((groups, 1, 3, 3), np.float32), "w")
    _onnx_model(path, [helper.make_node("Conv", ["x", "w"], ["y"], group=groups, pads=[1, 1, 1, 1])],
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, groups, 4, 4])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    code, err, rss = run_measured(["import-onnx", str(path), "-o", str(tmp_path / "d.npz")])
    assert_refused(code, err, rss, path, "the dense weight of grouped conv")
