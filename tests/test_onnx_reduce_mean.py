"""ReduceMean over H and W of a layer output: a global average pool on the producing layer (docs/onnx.md).

ShuffleNetV2 ends with ``x.mean([2, 3])``, exported as ReduceMean(axes [2, 3], keepdims 0) before
its fc layer. Independent check: onnxruntime on the same file; both engines pass the functional check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _onnx_support import initializer, needs_onnx, onnx, onnxruntime_output, save_model
from eiesim.config.arch import load_arch
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.run.simulate import simulate

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.walker import import_onnx, import_onnx_report

pytestmark = needs_onnx
TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"
REL_TOLERANCE = 1e-5


def _graph(axes: list[int], keepdims: int) -> tuple[list, list]:
    rng = np.random.default_rng(11)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("ReduceMean", ["r"], ["m"], name="mean", axes=axes, keepdims=keepdims)]
    if keepdims:
        nodes.append(helper.make_node("Flatten", ["m"], ["f"], name="flat"))
    nodes.append(helper.make_node("Gemm", ["f" if keepdims else "m", "fc"], ["y"], name="fc", transB=1))
    inits = [initializer("w", rng.normal(size=(6, 3, 3, 3)).astype(np.float32)),
             initializer("fc", rng.normal(size=(4, 6)).astype(np.float32))]
    return nodes, inits


@pytest.mark.parametrize("axes, keepdims", [([2, 3], 0), ([-1, -2], 1)])
def test_reduce_mean_over_hw_is_a_global_average_pool(tmp_path, axes, keepdims):
    nodes, inits = _graph(axes, keepdims)
    path = save_model(tmp_path, nodes, inits, [1, 3, 5, 5], opset=17)
    model = import_onnx(path)
    rows = {r["node"]: r for r in model.extra["onnx_coverage"]}
    assert rows["mean"]["where"] == "folded"
    wl = to_workload(model)
    assert wl.layer("conv").pool.kind == "global_avg" and wl.output_shapes()["conv"] == (6, 1, 1)
    x = np.random.default_rng(12).normal(size=(3, 5, 5)).astype(np.float32)
    ours, ref = forward(wl, x).logits, onnxruntime_output(path, x)
    assert np.max(np.abs(ours - ref)) <= REL_TOLERANCE * np.max(np.abs(ref))
    arch = load_arch(TINY_ARCH).derive({"codebook_bits": 8})
    for engine in ("fast", "event"):
        assert simulate(arch, wl, input=x, engine=engine).check["functional"] == "pass"


def test_reduce_mean_over_channels_runs_on_the_host(tmp_path):
    # A mean over channels is no pool: the EIE mapping refuses it and the host takes it.
    nodes, inits = _graph([1], 1)
    nodes = nodes[:3] + [helper.make_node("Flatten", ["m"], ["f"], name="flat"),
                         helper.make_node("Gemm", ["f", "fc2"], ["y"], name="fc", transB=1)]
    path = save_model(tmp_path, nodes, inits + [initializer("fc2", np.ones((4, 25), np.float32))], [1, 3, 5, 5],
                      opset=17)
    _, rows, error = import_onnx_report(path)
    where = {r.node: r.where for r in rows}
    assert where["mean"] == "host", (where, error)
