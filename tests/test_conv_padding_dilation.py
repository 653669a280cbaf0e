"""Conv attributes beyond symmetric padding: asymmetric ``pads``, ``auto_pad`` and ``dilations``.

The rule (docs/onnx.md, "What an ONNX graph becomes"; docs/workload-format.md): a conv padded
asymmetrically carries ``pads: [top, left, bottom, right]`` (``padding`` is then [top, left]); a
dilated conv carries ``dilation: [dh, dw]``. The M x V matrix is unchanged (C*kh*kw columns); only
the im2col patches (which input each column reads) and the output size follow.

Independent checks: a brute-force per-pixel loop for im2col kept in this file, hand-worked output
sizes, onnxruntime on the same ONNX file (float), and both engines against the fixed-point
reference (bit-exact).
"""

from __future__ import annotations

import numpy as np
import pytest

from _onnx_support import (
    REL_TOLERANCE, assert_engines_bit_exact, assert_float_output_matches_onnxruntime, initializer, needs_onnx, onnx,
    onnxruntime_output, save_model,
)
from _support import run_cli
from eiesim.errors import ModelFileError, WorkloadError
from eiesim.network.dense import to_workload
from eiesim.network.fixed_point import im2col
from eiesim.network.functional import forward
from eiesim.network.winograd import is_winograd_conv
from eiesim.network.workload import Workload, conv_output_hw, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.export import export_onnx
    from eiesim.importers.onnx.walker import import_onnx


def _im2col_by_loops(x, kernel, stride, pads, dilation):
    """The obvious reference: for each output pixel and tap, read the input or 0 outside it."""
    c, h, w = x.shape
    (kh, kw), (sh, sw), (top, left, bottom, right), (dh, dw) = kernel, stride, pads, dilation
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((c * kh * kw, oh * ow), x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            for ci in range(c):
                for dy in range(kh):
                    for dx in range(kw):
                        iy, ix = oy * sh - top + dy * dh, ox * sw - left + dx * dw
                        if 0 <= iy < h and 0 <= ix < w:
                            out[(ci * kh + dy) * kw + dx, oy * ow + ox] = x[ci, iy, ix]
    return out


@pytest.mark.parametrize("kernel, stride, pads, dilation", [
    ((3, 3), (1, 1), (0, 1, 2, 1), (1, 1)),
    ((3, 3), (2, 2), (0, 0, 1, 1), (1, 1)),
    ((3, 3), (1, 1), (2, 2, 2, 2), (2, 2)),
    ((2, 3), (2, 1), (1, 0, 0, 2), (3, 2)),
    ((1, 1), (1, 1), (1, 0, 0, 0), (1, 1)),
])
def test_im2col_matches_a_per_pixel_loop(kernel, stride, pads, dilation):
    x = np.random.default_rng(0).integers(-9, 10, size=(2, 7, 8))
    want = _im2col_by_loops(x, kernel, stride, pads, dilation)
    assert np.array_equal(im2col(x, kernel, stride, pads, dilation=dilation), want)
    # A range of output pixels (as the fast engine asks for them) is the same columns.
    lo, hi = 3, want.shape[1] - 2
    assert np.array_equal(im2col(x, kernel, stride, pads, (lo, hi), dilation=dilation), want[:, lo:hi])


def test_output_size_by_hand():
    # 5 x 5 input, 3 x 3 kernel dilated by 2 spans 5: no padding gives 1 x 1; pads 2 all round give 5 x 5.
    assert conv_output_hw(5, 5, (3, 3), (1, 1), (0, 0), (2, 2)) == (1, 1)
    assert conv_output_hw(5, 5, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2)) == (5, 5)
    # SAME_UPPER for 6 x 6, 3 x 3, stride 2: out 3, total pad (3-1)*2 + 3 - 6 = 1, all at the end.
    assert conv_output_hw(6, 6, (3, 3), (2, 2), (0, 0, 1, 1)) == (3, 3)
    # A pair pads both sides as before.
    assert conv_output_hw(6, 6, (3, 3), (1, 1), (1, 1)) == conv_output_hw(6, 6, (3, 3), (1, 1), (1, 1, 1, 1)) == (6, 6)


def _conv_graph(rng, conv_attrs: dict, in_shape=(1, 3, 8, 8)):
    """x -> Conv (the attributes under test) -> Relu -> Conv 1x1 -> GlobalAveragePool -> Flatten -> Gemm."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", **conv_attrs),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)]
    kh, kw = conv_attrs.get("kernel_shape", [3, 3])
    inits = [initializer("w1", rng.normal(size=(4, in_shape[1], kh, kw)).astype(np.float32)),
             initializer("b1", rng.normal(size=4).astype(np.float32)),
             initializer("w2", rng.normal(size=(4, 4, 1, 1)).astype(np.float32)),
             initializer("fc", rng.normal(size=(5, 4)).astype(np.float32))]
    return nodes, inits, list(in_shape)


#: name -> (Conv attributes, the conv layer's expected extra keys, its expected output (H, W)).
CASES = {
    "pads-asymmetric": ({"kernel_shape": [3, 3], "pads": [0, 1, 2, 1]}, {"pads": [0, 1, 2, 1]}, (8, 8)),
    "same-upper-stride2": ({"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
                           {"pads": [0, 0, 1, 1]}, (4, 4)),
    "same-lower-stride2": ({"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER"},
                           {"pads": [1, 1, 0, 0]}, (4, 4)),
    "same-upper-symmetric": ({"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}, {}, (8, 8)),
    "valid": ({"kernel_shape": [3, 3], "auto_pad": "VALID"}, {}, (6, 6)),
    "dilation2": ({"kernel_shape": [3, 3], "dilations": [2, 2], "pads": [2, 2, 2, 2]}, {"dilation": [2, 2]}, (8, 8)),
    "dilation-asymmetric-strided": ({"kernel_shape": [2, 3], "dilations": [3, 2], "strides": [2, 1],
                                     "pads": [1, 0, 0, 2]}, {"pads": [1, 0, 0, 2], "dilation": [3, 2]}, (3, 6)),
}


@needs_onnx
@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_attributes_match_onnxruntime_and_both_engines_agree(tmp_path, case):
    attrs, extra, out_hw = CASES[case]
    nodes, inits, shape = _conv_graph(np.random.default_rng(5), attrs)
    path = save_model(tmp_path, nodes, inits, shape)
    model = import_onnx(path)
    conv1 = next(dl for dl in model.layers if dl.spec.name == "conv1")
    assert conv1.extra == extra
    wl = to_workload(model)
    assert wl.output_shapes()["conv1"] == (4, *out_hw)
    x = np.random.default_rng(6).normal(size=shape[1:]).astype(np.float32)
    ours, ref = assert_float_output_matches_onnxruntime(wl, path, x)
    assert_engines_bit_exact(wl, x)
    # The workload file keeps the keys; the workload's ONNX export (its decoded weights) runs in onnxruntime
    # like eiesim's float forward pass of it.
    save_workload(wl, tmp_path / "w.npz")
    back = load_workload(tmp_path / "w.npz")
    assert back.layer("conv1").conv_padding == wl.layer("conv1").conv_padding
    assert back.layer("conv1").dilation == wl.layer("conv1").dilation
    assert np.array_equal(forward(back, x).logits, ours)
    exported = export_onnx(back, tmp_path / "exported.onnx")
    assert np.max(np.abs(onnxruntime_output(exported, x) - ours)) <= REL_TOLERANCE * np.max(np.abs(ref))


@needs_onnx
def test_same_padding_of_a_dilated_conv_is_refused(tmp_path):
    # onnxruntime refuses it too ("Dilation not supported for AutoPadType::SAME_UPPER").
    nodes, inits, shape = _conv_graph(np.random.default_rng(5), {"kernel_shape": [3, 3], "dilations": [2, 2],
                                                                  "auto_pad": "SAME_UPPER"})
    with pytest.raises(ModelFileError, match=r"auto_pad SAME_UPPER with dilations \[2, 2\] is not supported"):
        import_onnx(save_model(tmp_path, nodes, inits, shape))


def _one_conv(extra: dict, padding=(0, 0)) -> Workload:
    w = np.arange(1, 1 + 2 * 1 * 3 * 3, dtype=np.float32).reshape(2, 1, 3, 3)
    layer = layer_from_dense("conv", w, codebook=np.unique(w), padding=padding, relu=False, extra=extra)
    return Workload("one-conv", "hand-written", (1, 6, 6), None, [layer], np.ones((1, 6, 6), np.float32))


def test_dilated_or_asymmetric_3x3_convs_are_not_mapped_to_winograd():
    assert is_winograd_conv(_one_conv({}, (1, 1)).layers[0])
    assert not is_winograd_conv(_one_conv({"dilation": [2, 2]}).layers[0])
    assert not is_winograd_conv(_one_conv({"pads": [1, 1, 0, 0]}, (1, 1)).layers[0])


def test_hand_worked_dilated_conv_output():
    # Input all ones 6 x 6, 3 x 3 kernel (weights 1..9 for channel 0) dilated by 2, no padding:
    # every tap lands inside, so each of the 2 x 2 outputs is 1 + ... + 9 = 45 (channel 1: 10 + ... + 18 = 126).
    wl = _one_conv({"dilation": [2, 2]})
    out = forward(wl, wl.input).outputs["conv"]
    assert out.shape == (2, 2, 2)
    assert out[0].tolist() == [[45, 45], [45, 45]] and out[1].tolist() == [[126, 126], [126, 126]]
    # Pads [top 2, left 0, bottom 0, right 0]: (6 + 2 - 5) // 1 + 1 = 4 output rows. Rows 0 and 1 have their
    # taps dy = 0 on input rows -2 and -1 (padding), so their sums drop the kernel's first row (1 + 2 + 3): 39.
    wl = _one_conv({"dilation": [2, 2], "pads": [2, 0, 0, 0]}, (2, 0))
    out = forward(wl, wl.input).outputs["conv"]
    assert out.shape == (2, 4, 2) and out[0].tolist() == [[39, 39], [39, 39], [45, 45], [45, 45]]


@pytest.mark.parametrize("extra, padding, message", [
    ({"pads": [1, 1, 1, 1]}, (1, 1), r"'pads' is written only for a conv layer padded asymmetrically"),
    ({"pads": [1, 0, 0, 0]}, (0, 0), r"'padding' must be \[top, left\]"),
    ({"pads": [1, -1, 0, 0]}, (1, 0), r"'pads' must be four integers in \[0, "),
    ({"dilation": [1, 1]}, (0, 0), r"'dilation' is written only for a conv layer with a dilation other than"),
    ({"dilation": [0, 2]}, (0, 0), r"'dilation' values must be in \[1, "),
], ids=["symmetric", "padding-mismatch", "negative", "no-dilation", "zero-dilation"])
def test_bad_pads_or_dilation_keys_are_refused(tmp_path, extra, padding, message):
    save_workload(_one_conv(extra, padding), tmp_path / "w.npz")
    with pytest.raises(WorkloadError, match=message):
        load_workload(tmp_path / "w.npz")


def _pooled_graph(rng, pool_op: str, pool_attrs: dict, hw: int):
    """x -> Conv 3x3 pad 1 -> Relu -> pool (the attributes under test) -> Conv 1x1 -> GAP -> Flatten -> Gemm."""
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node(pool_op, ["r1"], ["p"], name="pool", **pool_attrs),
             helper.make_node("Conv", ["p", "w2"], ["c2"], name="conv2"),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)]
    inits = [initializer("w1", rng.normal(size=(4, 3, 3, 3)).astype(np.float32)),
             initializer("w2", rng.normal(size=(4, 4, 1, 1)).astype(np.float32)),
             initializer("fc", rng.normal(size=(5, 4)).astype(np.float32))]
    return nodes, inits, [1, 3, hw, hw]


@needs_onnx
@pytest.mark.parametrize("pool_op, attrs, hw, pad, out", [
    # 8 x 8, kernel 3, stride 1: output 8, total padding 2 per axis: 1 each side.
    ("MaxPool", {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}, 8, 1, 8),
    # 7 x 7, kernel 3, stride 2: output ceil(7 / 2) = 4, total (4 - 1) * 2 + 3 - 7 = 2: 1 each side.
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER", "count_include_pad": 1},
     7, 1, 4),
])
def test_pool_same_padding_split_evenly_matches_onnxruntime(tmp_path, pool_op, attrs, hw, pad, out):
    nodes, inits, shape = _pooled_graph(np.random.default_rng(7), pool_op, attrs, hw)
    path = save_model(tmp_path, nodes, inits, shape)
    wl = to_workload(import_onnx(path))
    assert wl.layer("conv1").pool.pad == pad and wl.output_shapes()["conv1"] == (4, out, out)
    x = np.random.default_rng(8).normal(size=shape[1:]).astype(np.float32)
    ours, ref = forward(wl, x).logits, onnxruntime_output(path, x)
    assert np.max(np.abs(ours - ref)) <= REL_TOLERANCE * np.max(np.abs(ref))


@needs_onnx
def test_pool_same_padding_with_an_odd_total_is_refused(tmp_path):
    # 8 x 8, kernel 3, stride 2: output 4, total (4 - 1) * 2 + 3 - 8 = 1: one side would get more.
    nodes, inits, shape = _pooled_graph(np.random.default_rng(7), "MaxPool",
                                        {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, 8)
    with pytest.raises(ModelFileError, match=r"by \[1, 1\] in total per axis: unequal sides are not supported"):
        import_onnx(save_model(tmp_path, nodes, inits, shape))


@needs_onnx
def test_import_onnx_table_shows_asymmetric_pads_and_dilation(tmp_path, capsys):
    attrs, _, _ = CASES["dilation-asymmetric-strided"]
    nodes, inits, shape = _conv_graph(np.random.default_rng(5), attrs)
    path = save_model(tmp_path, nodes, inits, shape)
    code, out, err = run_cli(["import-onnx", str(path), "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 0, err
    row = next(line for line in out.splitlines() if "conv1" in line)
    assert "2x1 dilation 3x2" in row and "1x0x0x2" in row
