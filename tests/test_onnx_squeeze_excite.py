"""Squeeze-excite (MobileNetV3, EfficientNet): x * gate(fc2(act(fc1(pool(x))))) with the two fc layers on EIE.

The mapping (docs/onnx.md, "Squeeze-excite"): the squeeze's global average pool of x and the per-channel
multiply run on the host (counted: the adds and divides of the mean, one multiply per value, the bytes of
x leaving the chip and of the scaled map coming back); the two fc layers are EIE layers (1 x 1 convs on a
1 x 1 map) with their ReLU / SiLU and the gate's HardSigmoid / Sigmoid on the write-back path.
Independent check: onnxruntime on the same file; both engines equal the fixed-point reference bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from _onnx_support import (
    assert_engines_bit_exact, assert_float_output_matches_onnxruntime, initializer, needs_onnx, onnx, save_model,
)
from eiesim.errors import ModelFileError
from eiesim.network.dense import to_workload
from eiesim.network.host_ops import host_work

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.walker import import_onnx

pytestmark = needs_onnx
C, SQ, HW = 8, 4, 5  # channels of x, squeezed channels, map size


def _se_graph(flavour: str) -> tuple[list, list]:
    """conv -> act -> SE (pool, fc1, act, fc2, gate, Mul) -> conv -> global pool -> fc.

    ``mobilenet_v3``: HardSwish, ReLU in the squeeze, HardSigmoid gate; ``efficientnet``: SiLU as
    ``x * Sigmoid(x)`` everywhere, Sigmoid gate. The fc layers are 1 x 1 convs with a bias, as torchvision's.
    """
    rng = np.random.default_rng(31)
    inits = [initializer("w0", rng.normal(size=(C, 3, 3, 3)).astype(np.float32) * 0.5),
             initializer("w1", rng.normal(size=(SQ, C, 1, 1)).astype(np.float32)),
             initializer("b1", rng.normal(size=(SQ,)).astype(np.float32)),
             initializer("w2", rng.normal(size=(C, SQ, 1, 1)).astype(np.float32)),
             initializer("b2", rng.normal(size=(C,)).astype(np.float32)),
             initializer("w3", rng.normal(size=(6, C, 1, 1)).astype(np.float32)),
             initializer("fc", rng.normal(size=(3, 6)).astype(np.float32))]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], name="conv0", pads=[1, 1, 1, 1])]
    if flavour == "mobilenet_v3":
        nodes += [helper.make_node("HardSwish", ["c0"], ["a0"], name="hswish")]
    else:
        nodes += [helper.make_node("Sigmoid", ["c0"], ["s0"], name="sig0"),
                  helper.make_node("Mul", ["c0", "s0"], ["a0"], name="silu0")]
    nodes += [helper.make_node("GlobalAveragePool", ["a0"], ["p"], name="squeeze"),
              helper.make_node("Conv", ["p", "w1", "b1"], ["f1"], name="fc1")]
    if flavour == "mobilenet_v3":
        nodes += [helper.make_node("Relu", ["f1"], ["r1"], name="relu1"),
                  helper.make_node("Conv", ["r1", "w2", "b2"], ["f2"], name="fc2"),
                  helper.make_node("HardSigmoid", ["f2"], ["g"], name="gate", alpha=1 / 6, beta=0.5)]
    else:
        nodes += [helper.make_node("Sigmoid", ["f1"], ["s1"], name="sig1"),
                  helper.make_node("Mul", ["f1", "s1"], ["r1"], name="silu1"),
                  helper.make_node("Conv", ["r1", "w2", "b2"], ["f2"], name="fc2"),
                  helper.make_node("Sigmoid", ["f2"], ["g"], name="gate")]
    nodes += [helper.make_node("Mul", ["a0", "g"], ["e"], name="excite"),
              helper.make_node("Conv", ["e", "w3"], ["c3"], name="proj"),
              helper.make_node("GlobalAveragePool", ["c3"], ["gp"], name="gap"),
              helper.make_node("Flatten", ["gp"], ["fl"], name="flat"),
              helper.make_node("Gemm", ["fl", "fc"], ["y"], name="head", transB=1)]
    return nodes, inits


@pytest.mark.parametrize("flavour", ["mobilenet_v3", "efficientnet"])
def test_squeeze_excite_matches_onnxruntime_and_passes_the_functional_check(tmp_path, flavour):
    nodes, inits = _se_graph(flavour)
    path = save_model(tmp_path, nodes, inits, [1, 3, HW, HW], opset=17)
    model = import_onnx(path)
    where = {r["node"]: r["where"] for r in model.extra["onnx_coverage"]}
    assert where["squeeze"] == "host" and where["excite"] == "host"
    assert {where[n] for n in ("conv0", "fc1", "fc2", "proj", "head")} == {"EIE layer"}
    assert [dl.spec.name for dl in model.layers] == ["conv0", "fc1", "fc2", "proj", "head"]
    gate = model.layers[2].extra["activation"]["kind"]
    assert gate == ("hard_sigmoid" if flavour == "mobilenet_v3" else "sigmoid")
    wl = to_workload(model)
    x = np.random.default_rng(32).normal(size=(3, HW, HW)).astype(np.float32)
    assert_float_output_matches_onnxruntime(wl, path, x)
    assert_engines_bit_exact(wl, x)


def test_squeeze_excite_host_work_is_counted(tmp_path):
    """Counted by hand: the mean of C x HW x HW values per channel, one multiply per value of x, 2 bytes a value."""
    nodes, inits = _se_graph("mobilenet_v3")
    model = import_onnx(save_model(tmp_path, nodes, inits, [1, 3, HW, HW], opset=17))
    why = {r["node"]: r["why"] for r in model.extra["onnx_coverage"]}
    assert why["squeeze"].endswith(f"{C * (HW * HW - 1) + C:,} operations") and "squeeze-excite" in why["squeeze"]
    wl = to_workload(model)
    rows = {r.op: r for r in host_work(wl)}
    assert set(rows) == {"ReduceMean", "Mul"}
    pool, mul = rows["ReduceMean"], rows["Mul"]
    assert (pool.adds, pool.divides, pool.multiplies) == (C * (HW * HW - 1), C, 0)
    assert (mul.multiplies, mul.adds) == (C * HW * HW, 0)
    # x leaves the chip once (at the pool, its first reader); the pooled vector and the scaled map come back;
    # the gate (fc2's output, C values) leaves the chip for the Mul.
    assert (pool.bytes_from_chip, pool.bytes_to_chip) == (2 * C * HW * HW, 2 * C)
    assert (mul.bytes_from_chip, mul.bytes_to_chip) == (2 * C, 2 * C * HW * HW)


def test_silu_with_its_input_used_elsewhere_is_still_refused(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
             helper.make_node("Mul", ["c", "s"], ["m"], name="mul"),
             helper.make_node("Concat", ["m", "c"], ["y"], name="cat", axis=1)]
    path = save_model(tmp_path, nodes, [initializer("w", np.ones((3, 3, 1, 1), np.float32))], [1, 3, 4, 4], opset=14)
    with pytest.raises(ModelFileError, match=r"x \* Sigmoid\(x\) where x or Sigmoid\(x\) is also used elsewhere"):
        import_onnx(path)


def test_constant_mul_after_a_residual_is_still_refused(tmp_path):
    """Only a product of two computed tensors moves to the host; a constant scale the layer cannot take stays
    refused (it would scale the skip operand too), with the EIE mapping's reason."""
    rng = np.random.default_rng(33)
    nodes = [helper.make_node("Conv", ["x", "wa"], ["a"], name="a"),
             helper.make_node("Conv", ["a", "wb"], ["b"], name="b"),
             helper.make_node("Add", ["b", "a"], ["r"], name="residual"),
             helper.make_node("Mul", ["r", "k"], ["m"], name="scale"),
             helper.make_node("Conv", ["m", "wc"], ["y"], name="c")]
    inits = [initializer("wa", rng.normal(size=(3, 3, 1, 1)).astype(np.float32)),
             initializer("wb", rng.normal(size=(3, 3, 1, 1)).astype(np.float32)),
             initializer("wc", rng.normal(size=(2, 3, 1, 1)).astype(np.float32)),
             initializer("k", rng.normal(size=(1, 3, 1, 1)).astype(np.float32))]
    path = save_model(tmp_path, nodes, inits, [1, 3, 4, 4], opset=14)
    with pytest.raises(ModelFileError, match=r"node 'scale' \(Mul\): a constant Mul after layer 'b''s residual Add"):
        import_onnx(path)
