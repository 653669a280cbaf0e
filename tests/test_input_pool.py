"""A pool of a tensor that is also read unpooled (GoogLeNet's inception branch 4) or already pooled: the
consumer conv applies it as its load phase gathers the input (``input_pool``; docs/timing-model.md,
"Input pool"). Checked against onnxruntime, both engines against the functional reference, and the
load phase's cycles and reads derived by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _onnx_support import initializer, needs_onnx, onnx, onnxruntime_output, save_model
from eiesim.config.arch import load_arch
from eiesim.errors import WorkloadError
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.run.simulate import simulate

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.export import export_onnx
    from eiesim.importers.onnx.walker import import_onnx

TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"


def _inception(rng):
    """conv1 -> ReLU -> (conv 1x1 | MaxPool 3x3 s1 p1 -> conv 1x1) -> Concat -> GAP -> Gemm."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "wa"], ["a"], name="branch1"),
             helper.make_node("MaxPool", ["r1"], ["p"], name="pool", kernel_shape=[3, 3], strides=[1, 1],
                              pads=[1, 1, 1, 1], ceil_mode=1),
             helper.make_node("Conv", ["p", "wb"], ["b"], name="branch4"),
             helper.make_node("Concat", ["a", "b"], ["cat"], name="cat", axis=1),
             helper.make_node("MaxPool", ["cat"], ["q"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("AveragePool", ["q"], ["q2"], name="pool3", kernel_shape=[2, 2], strides=[1, 1]),
             helper.make_node("Conv", ["q2", "wc"], ["d"], name="after_two_pools"),
             helper.make_node("GlobalAveragePool", ["d"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1)]
    inits = [initializer("w1", rng.normal(size=(4, 3, 3, 3)).astype(np.float32)),
             initializer("wa", rng.normal(size=(3, 4, 1, 1)).astype(np.float32)),
             initializer("wb", rng.normal(size=(2, 4, 1, 1)).astype(np.float32)),
             initializer("wc", rng.normal(size=(4, 5, 1, 1)).astype(np.float32)),
             initializer("fw", rng.normal(size=(3, 4)).astype(np.float32))]
    return nodes, inits


@needs_onnx
def test_inception_branch_pool_and_two_pools_in_a_row_match_onnxruntime_and_engines_agree(tmp_path):
    rng = np.random.default_rng(0)
    path = save_model(tmp_path, *_inception(rng), [1, 3, 6, 6])
    model = import_onnx(path)
    specs = {dl.spec.name: dl for dl in model.layers}
    assert specs["branch4"].extra["input_pool"] == {"kind": "max", "kernel": 3, "stride": 1, "ceil_mode": True,
                                                     "pad": 1}
    assert specs["branch1"].spec.pool is not None  # pool2 attaches to the concatenated branches as before
    assert specs["after_two_pools"].extra["input_pool"]["kind"] == "avg"
    assert "input_pool" not in specs["conv1"].extra and specs["conv1"].spec.pool is None
    x = rng.normal(size=(3, 6, 6)).astype(np.float32)
    wl = to_workload(model)
    ours, ref = forward(wl, x).logits, onnxruntime_output(path, x)
    assert np.max(np.abs(ours - ref)) <= 1e-5 * np.max(np.abs(ref))
    arch = load_arch(TINY_ARCH).derive({"codebook_bits": 8})
    fast, event = simulate(arch, wl, input=x, engine="fast"), simulate(arch, wl, input=x, engine="event")
    assert fast.check["functional"] == "pass" and event.check["functional"] == "pass"
    assert [s.to_dict() for s in fast.layers] == [s.to_dict() for s in event.layers]
    back = export_onnx(wl, tmp_path / "back.onnx")  # the input pools are written back as pools
    assert np.max(np.abs(onnxruntime_output(back, x) - ours)) <= 1e-5 * np.max(np.abs(ref))


def _pair(input_pool: dict | None) -> Workload:
    rng = np.random.default_rng(3)
    wa = np.where(rng.random((2, 2, 1, 1)) < 0.5, 0.5, 1.0).astype(np.float32)
    wb = np.where(rng.random((3, 2, 1, 1)) < 0.5, -0.5, 1.0).astype(np.float32)
    a = layer_from_dense("a", wa, codebook=[0.5, 1.0])
    b = layer_from_dense("b", wb, codebook=[-0.5, 1.0], inputs=("a",),
                         extra={"input_pool": input_pool} if input_pool else None)
    return Workload("pair", "hand-written", (2, 3, 3), None, [a, b], rng.normal(size=(2, 3, 3)).astype(np.float32))


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_input_pool_load_phase_reads_the_window(engine):
    """b: 1x1 conv, V = 2, on a 3x3 map; 4 PEs. Without an input pool each pixel loads 2 values in ceil(2 / 4) = 1
    cycle (9 in all, 18 reads); a 3x3 max input pool (stride 1, pad 1) reads 9 values per loaded value:
    ceil(18 / 4) = 5 cycles per pixel, 45 in all, 162 activation-SRAM reads."""
    arch = load_arch(TINY_ARCH)
    plain = simulate(arch, _pair(None), engine=engine).layers[1]
    pooled = simulate(arch, _pair({"kind": "max", "kernel": 3, "stride": 1, "pad": 1, "ceil_mode": False}),
                      engine=engine)
    b = pooled.layers[1]
    assert (plain.load_cycles, b.load_cycles) == (9, 45)
    assert (plain.actions["act_sram_reads"], b.actions["act_sram_reads"]) == (18, 162)
    assert b.actions["src_reg_writes"] == plain.actions["src_reg_writes"] == 18
    assert pooled.check["functional"] == "pass"


def test_input_pool_key_round_trip_and_validation(tmp_path):
    wl = _pair({"kind": "avg", "kernel": 2, "stride": 1, "ceil_mode": False})
    assert wl.output_shapes()["b"] == (3, 2, 2)
    path = save_workload(wl, tmp_path / "p.npz")
    assert load_workload(path).layers[1].input_pool.kernel == 2
    meta = json.loads(str(np.load(path)["meta"]))
    meta["layers"][1]["input_pool"] = {"kind": "global_avg"}
    arrays = dict(np.load(path))
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(WorkloadError, match=r"'input_pool' must be a max or avg pool object, on a conv layer"):
        load_workload(tmp_path / "bad.npz")
