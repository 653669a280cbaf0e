"""ShuffleNetV2's channel shuffle and chunk: data movement on the host, between EIE layers (docs/onnx.md).

The pattern: Concat of two branches -> Reshape [1, g, C/g, H, W] -> Transpose [0, 2, 1, 3, 4] ->
Reshape [1, C, H, W] -> Slice of each channel half (``x.chunk(2, dim=1)``). The host receives the
concatenated layer outputs (a Concat host op), permutes and splits them and sends the halves back
to the chip, counted as bytes to and from the chip. Independent check: onnxruntime on the same file;
both engines equal the fixed-point reference bit for bit.
"""

from __future__ import annotations

import numpy as np

from _onnx_support import (
    assert_engines_bit_exact, assert_float_output_matches_onnxruntime, initializer, needs_onnx, onnx, save_model,
)
from eiesim.network.dense import to_workload

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.walker import import_onnx

pytestmark = needs_onnx
C, HW = 8, 5  # channels after the concat, map size


def _shuffle_graph() -> tuple[list, list]:
    rng = np.random.default_rng(21)

    def conv(name: str, x: str, out: str, c_in: int, c_out: int, k: int = 1) -> tuple[object, object]:
        w = initializer(f"{name}.w", rng.normal(size=(c_out, c_in, k, k)).astype(np.float32))
        return helper.make_node("Conv", [x, f"{name}.w"], [out], name=name, pads=[k // 2] * 4), w

    pairs = [conv("a", "x", "ca", 3, C // 2, 3), conv("b", "x", "cb", 3, C // 2, 3),
             conv("left", "s0", "cl", C // 2, 4), conv("right", "s1", "cr", C // 2, 4),
             conv("mix", "cat2", "cm", 8, 6)]
    convs = {n.name: n for n, _ in pairs}
    inits = [w for _, w in pairs] + [
        initializer("shape5", np.array([1, 2, C // 2, HW, HW], np.int64)),
        initializer("shape4", np.array([1, C, HW, HW], np.int64)),
        initializer("zero", np.array([0], np.int64)), initializer("half", np.array([C // 2], np.int64)),
        initializer("full", np.array([C], np.int64)), initializer("axis1", np.array([1], np.int64)),
        initializer("fc", rng.normal(size=(3, 6)).astype(np.float32))]
    nodes = [convs["a"], helper.make_node("Relu", ["ca"], ["ra"], name="relu_a"),
             convs["b"], helper.make_node("Relu", ["cb"], ["rb"], name="relu_b"),
             helper.make_node("Concat", ["ra", "rb"], ["cat"], name="cat", axis=1),
             helper.make_node("Reshape", ["cat", "shape5"], ["g5"], name="split_groups"),
             helper.make_node("Transpose", ["g5"], ["t5"], name="shuffle", perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t5", "shape4"], ["shuf"], name="merge_groups"),
             helper.make_node("Slice", ["shuf", "zero", "half", "axis1"], ["s0"], name="chunk0"),
             helper.make_node("Slice", ["shuf", "half", "full", "axis1"], ["s1"], name="chunk1"),
             convs["left"], convs["right"],
             helper.make_node("Concat", ["cl", "cr"], ["cat2"], name="cat2", axis=1),
             convs["mix"],
             helper.make_node("GlobalAveragePool", ["cm"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)]
    return nodes, inits


def test_channel_shuffle_and_chunk_run_on_the_host_and_match_onnxruntime(tmp_path):
    nodes, inits = _shuffle_graph()
    path = save_model(tmp_path, nodes, inits, [1, 3, HW, HW], opset=17)
    model = import_onnx(path)
    where = {r["node"]: r["where"] for r in model.extra["onnx_coverage"]}
    assert {where[n] for n in ("split_groups", "shuffle", "merge_groups", "chunk0", "chunk1")} == {"host"}
    wl = to_workload(model)
    x = np.random.default_rng(22).normal(size=(3, HW, HW)).astype(np.float32)
    assert_float_output_matches_onnxruntime(wl, path, x)
    assert_engines_bit_exact(wl, x)
