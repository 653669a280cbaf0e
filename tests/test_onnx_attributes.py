"""ONNX import with non-default attributes, checked against onnxruntime running the same file.

Each graph is built with ``onnx.helper``; eiesim imports it, runs its float forward pass on the
dense weights (``to_workload(model, strict=False)``) and must match onnxruntime on the same random
input: same shape, and max |eiesim - onnxruntime| <= 1e-5 x max |onnxruntime| (float32 rounding
of sums of at most a few hundred products). What eiesim cannot represent is refused with a
ModelFileError naming the node.
"""

from __future__ import annotations

import numpy as np
import pytest

from _onnx_support import initializer, needs_onnx, onnx, onnxruntime_output, save_model
from eiesim.errors import ModelFileError
from eiesim.network.functional import forward
from eiesim.importers.onnx.walker import import_onnx
from eiesim.network.dense import to_workload

if onnx is not None:
    from onnx import helper, numpy_helper

pytestmark = needs_onnx

#: Allowed max |eiesim - onnxruntime|, relative to the largest |onnxruntime| output.
REL_TOLERANCE = 1e-5


def assert_matches_onnxruntime(path, x: np.ndarray):
    """Import ``path``, run eiesim's float pass and onnxruntime on ``x``; return the imported model."""
    model = import_onnx(path)
    ours = forward(to_workload(model, strict=False), x).logits
    ref = onnxruntime_output(path, x)
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) <= REL_TOLERANCE * np.max(np.abs(ref))
    return model


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=shape).astype(np.float32)


# -- Gemm ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("trans_b, alpha, beta, c_shape", [
    (0, None, None, (4,)),      # defaults
    (1, 0.5, 2.0, (1, 4)),      # row-vector C
    (0, -1.5, 0.25, ()),        # scalar C broadcast to every output
    (1, 2.0, -3.0, (4,)),
    (1, 3.0, 2.0, None),        # beta without C changes nothing
], ids=["defaults", "transB-row-C", "negative-alpha-scalar-C", "transB-negative-beta", "beta-without-C"])
def test_gemm_alpha_beta_trans_b_match_onnxruntime(tmp_path, trans_b, alpha, beta, c_shape):
    rng = np.random.default_rng(20)
    b = _normal(rng, 4, 6) if trans_b else _normal(rng, 6, 4)
    attrs = {"transB": trans_b, **({"alpha": alpha} if alpha is not None else {}),
             **({"beta": beta} if beta is not None else {})}
    inputs = ["x", "fc.weight"] + (["fc.bias"] if c_shape is not None else [])
    inits = [initializer("fc.weight", b)]
    if c_shape is not None:
        inits.append(initializer("fc.bias", rng.normal(size=c_shape).astype(np.float32)))
    path = save_model(tmp_path, [helper.make_node("Gemm", inputs, ["y"], name="fc", **attrs)], inits, [1, 6])
    assert_matches_onnxruntime(path, _normal(rng, 6))


def test_gemm_trans_a_of_a_row_is_refused(tmp_path):
    """A (1, 6) row transposed is 6 rows of one value (an outer product); (K, 1) columns and tokens:
    tests/test_onnx_gemm_trans_a.py."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transA=1)]
    path = save_model(tmp_path, nodes, [initializer("w", np.ones((1, 4), np.float32))], [1, 6])
    with pytest.raises(ModelFileError, match=r"node 'fc' \(Gemm\): transA=1 of a \(1, 6\) row gives 6 rows"):
        import_onnx(path)


# -- grouped, strided convolutions -------------------------------------------------------------------

@pytest.mark.parametrize("group, in_c, out_c, kernel, strides, pads, hw", [
    (2, 4, 6, 3, [2, 2], [1, 1, 1, 1], (9, 9)),
    (4, 4, 8, 3, [1, 2], [0, 0, 0, 0], (7, 8)),   # depthwise, two filters per channel, unequal strides
    (3, 6, 3, 1, [3, 3], [0, 0, 0, 0], (7, 7)),   # one filter per group of two channels
    (2, 4, 4, 2, [2, 1], [1, 0, 1, 0], (6, 5)),   # padding on one axis only
], ids=["group2-stride2-pad1", "depthwise-stride1x2", "group3-1x1-stride3", "group2-stride2x1-pad-h"])
def test_grouped_strided_conv_matches_onnxruntime(tmp_path, group, in_c, out_c, kernel, strides, pads, hw):
    rng = np.random.default_rng(21)
    w = _normal(rng, out_c, in_c // group, kernel, kernel)
    nodes = [helper.make_node("Conv", ["x", "g.weight", "g.bias"], ["c"], name="g", group=group, strides=strides,
                              pads=pads, dilations=[1, 1], kernel_shape=[kernel, kernel]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "mix.weight"], ["y"], name="mix")]  # 1x1: mixes every group's channels
    inits = [initializer("g.weight", w), initializer("g.bias", _normal(rng, out_c)),
             initializer("mix.weight", _normal(rng, 2, out_c, 1, 1))]
    path = save_model(tmp_path, nodes, inits, [1, in_c, *hw])
    model = assert_matches_onnxruntime(path, _normal(rng, in_c, *hw))
    assert model.layers[0].weight.shape == (out_c, in_c, kernel, kernel)  # block-diagonal dense conv


def test_non_positive_dilations_are_refused(tmp_path):
    # Dilated convs import (tests/test_conv_padding_dilation.py); a dilation of 0 is no convolution.
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[0, 2])]
    path = save_model(tmp_path, nodes, [initializer("w", np.ones((2, 3, 3, 3), np.float32))], [1, 3, 9, 9])
    with pytest.raises(ModelFileError, match=r"node 'dil' \(Conv\): dilations \[0, 2\] must be two positive integers"):
        import_onnx(path)


# -- pools: ceil_mode on and off ------------------------------------------------------------------------

@pytest.mark.parametrize("op, kernel, stride, ceil_mode, hw, extra, opset", [
    ("MaxPool", 3, 2, 0, 6, {}, 13),          # floor: 2 x 2
    ("MaxPool", 3, 2, 1, 6, {}, 13),          # ceil: 3 x 3, the last window clipped
    ("MaxPool", 1, 3, 1, 5, {}, 19),          # ceil would start a window at 6 >= 5: dropped (2 x 2)
    ("AveragePool", 2, 2, 0, 7, {}, 13),      # floor: 3 x 3
    ("AveragePool", 2, 2, 1, 7, {}, 13),      # ceil: 4 x 4, edge windows average 2 or 1 values
    ("AveragePool", 3, 2, 1, 6, {"count_include_pad": 1}, 13),  # no pads: the clipped count all the same
    ("AveragePool", 3, 3, 0, 8, {"count_include_pad": 1}, 19),
], ids=["max-floor", "max-ceil", "max-ceil-dropped-window", "avg-floor", "avg-ceil", "avg-ceil-count-pad",
        "avg-floor-count-pad"])
def test_pool_ceil_mode_matches_onnxruntime(tmp_path, op, kernel, stride, ceil_mode, hw, extra, opset):
    rng = np.random.default_rng(22)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node(op, ["r"], ["y"], name="pool", kernel_shape=[kernel, kernel], strides=[stride, stride],
                              ceil_mode=ceil_mode, **extra)]
    path = save_model(tmp_path, nodes, [initializer("w", _normal(rng, 3, 2, 1, 1))], [1, 2, hw, hw], opset=opset)
    model = assert_matches_onnxruntime(path, _normal(rng, 2, hw, hw))
    assert model.layers[0].spec.pool.ceil_mode is bool(ceil_mode)


# -- ReLU around pools -------------------------------------------------------------------------------------

@pytest.mark.parametrize("pool", [
    lambda: helper.make_node("AveragePool", ["c"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    lambda: helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool"),
], ids=["AveragePool", "GlobalAveragePool"])
def test_relu_after_an_average_pool_is_refused(tmp_path, pool):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), pool(),
             helper.make_node("Relu", ["p"], ["y"], name="late_relu")]
    path = save_model(tmp_path, nodes, [initializer("w", np.ones((2, 3, 1, 1), np.float32))], [1, 3, 4, 4])
    with pytest.raises(ModelFileError, match=r"node 'late_relu' \(Relu\): ReLU after average pooling"):
        import_onnx(path)


@pytest.mark.parametrize("ops", [
    ["MaxPool", "Relu"],                  # max pooling commutes with ReLU: folded before the pool
    ["Relu", "AveragePool", "Relu"],      # the second ReLU changes nothing (averages of values >= 0)
])
def test_relu_around_pools_that_eiesim_can_fold_matches_onnxruntime(tmp_path, ops):
    rng = np.random.default_rng(23)
    nodes, prev = [helper.make_node("Conv", ["x", "w"], ["t0"], name="conv")], "t0"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i + 1}"
        attrs = {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1} if op != "Relu" else {}
        nodes.append(helper.make_node(op, [prev], [out], name=f"n{i}", **attrs))
        prev = out
    path = save_model(tmp_path, nodes, [initializer("w", _normal(rng, 3, 2, 3, 3))], [1, 2, 7, 7])
    model = assert_matches_onnxruntime(path, _normal(rng, 2, 7, 7))
    assert model.layers[0].spec.relu is True


# -- Add after a layer that already has a bias -----------------------------------------------------------

def test_add_after_a_biased_conv_adds_to_its_bias(tmp_path):
    rng = np.random.default_rng(24)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "cb"], ["c2"], name="add1"),
             helper.make_node("Add", ["cb2", "c2"], ["c3"], name="add2"),  # the constant on the left
             helper.make_node("Relu", ["c3"], ["y"], name="relu")]
    inits = [initializer("w", _normal(rng, 4, 3, 3, 3)), initializer("b", _normal(rng, 4)),
             initializer("cb", _normal(rng, 1, 4, 1, 1)), initializer("cb2", _normal(rng, 4, 1, 1))]
    path = save_model(tmp_path, nodes, inits, [1, 3, 5, 5])
    assert_matches_onnxruntime(path, _normal(rng, 3, 5, 5))


def test_add_after_a_gemm_with_beta_and_c_adds_to_its_bias(tmp_path):
    rng = np.random.default_rng(25)
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["z"], name="fc", transB=1, beta=0.5),
             helper.make_node("Add", ["z", "d"], ["y"], name="add")]
    inits = [initializer("w", _normal(rng, 5, 6)), initializer("c", _normal(rng, 5)), initializer("d", _normal(rng, 1, 5))]
    path = save_model(tmp_path, nodes, inits, [1, 6])
    assert_matches_onnxruntime(path, _normal(rng, 6))


# -- Dropout -----------------------------------------------------------------------------------------------

def _dropout_graph(tmp_path, training_mode, as_constant_node=False):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv")]
    inits = [initializer("w", np.random.default_rng(26).normal(size=(2, 3, 1, 1)).astype(np.float32)),
             initializer("ratio", np.array(0.5, np.float32))]
    if as_constant_node:
        nodes.append(helper.make_node("Constant", [], ["train"], name="train_c",
                                      value=numpy_helper.from_array(np.array(training_mode))))
    else:
        inits.append(initializer("train", np.array(training_mode)))
    nodes += [helper.make_node("Dropout", ["c", "ratio", "train"], ["d"], name="drop"),
              helper.make_node("Relu", ["d"], ["y"], name="relu")]
    return save_model(tmp_path, nodes, inits, [1, 3, 4, 4])


def test_dropout_in_inference_mode_is_the_identity(tmp_path):
    assert_matches_onnxruntime(_dropout_graph(tmp_path, False), np.random.default_rng(27).normal(
        size=(3, 4, 4)).astype(np.float32))


@pytest.mark.parametrize("as_constant_node", [False, True])
def test_dropout_in_training_mode_is_refused(tmp_path, as_constant_node):
    with pytest.raises(ModelFileError, match=r"node 'drop' \(Dropout\): Dropout in training mode is not supported"):
        import_onnx(_dropout_graph(tmp_path, True, as_constant_node))


def test_dropout_in_training_mode_on_a_constant_weight_is_refused(tmp_path):
    """Folding it would zero weights at random: the import would change from run to run."""
    nodes = [helper.make_node("Dropout", ["w_raw", "ratio", "train"], ["w"], name="wdrop"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    inits = [initializer("w_raw", np.ones((4, 3, 1, 1), np.float32)), initializer("ratio", np.array(0.5, np.float32)),
             initializer("train", np.array(True))]
    path = save_model(tmp_path, nodes, inits, [1, 3, 4, 4])
    with pytest.raises(ModelFileError, match=r"node 'wdrop' \(Dropout\): Dropout in training mode is not supported"):
        import_onnx(path)
