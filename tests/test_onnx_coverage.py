"""ONNX import coverage: the per-node report, the error naming every blocker, and the ops that unblock
torchvision's CNNs (identity pools, BatchNormalization folding, Clip as ReLU), names and preprocessing.

Numbers are checked against onnxruntime running the same file (an independent implementation);
expected coverage rows are written out by hand from the graphs below.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from _onnx_support import initializer as init  # noqa: E402
from _onnx_support import onnxruntime_output as ort_output  # noqa: E402
from _onnx_support import save_model as save_graph  # noqa: E402
from _support import run_cli  # noqa: E402

from eiesim.errors import ModelFileError  # noqa: E402
from eiesim.importers.onnx.walker import import_onnx, import_onnx_report  # noqa: E402
from eiesim.network.dense import to_workload  # noqa: E402
from eiesim.network.functional import forward  # noqa: E402

from pathlib import Path  # noqa: E402

TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"


def _blocked_graph(tmp_path):
    """conv -> Sin -> conv2 -> Cos -> flatten -> gemm, and a ReLU of the network input."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1"),
        helper.make_node("Sin", ["c1"], ["s1"], name="sig"),
        helper.make_node("Conv", ["s1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Cos", ["c2"], ["h2"], name="hswish"),
        helper.make_node("Relu", ["x"], ["rx"], name="relu_in"),
        helper.make_node("Flatten", ["h2"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1),
    ]
    inits = [init("w1", rng.normal(size=(2, 3, 1, 1)).astype(np.float32)),
             init("w2", rng.normal(size=(2, 2, 1, 1)).astype(np.float32)),
             init("wf", rng.normal(size=(4, 8)).astype(np.float32))]
    return save_graph(tmp_path, nodes, inits, [1, 3, 2, 2])


def test_every_blocker_is_named_not_only_the_first(tmp_path, capsys):
    path = _blocked_graph(tmp_path)
    with pytest.raises(ModelFileError) as info:
        import_onnx(path)
    msg = info.value.message
    # Sin (unsupported), Cos (unsupported, even though it reads a refused node's output) and
    # the ReLU of the network input (supported op, unrepresentable use) all block the model.
    assert msg.startswith("cannot import: 3 nodes refused, blocking operators Sin, Cos, Relu: ")
    assert "node 'sig' (Sin): operator not supported" in msg
    assert "node 'hswish' (Cos): operator not supported" in msg
    assert "node 'relu_in' (Relu): a ReLU on the network input" in msg
    assert "3 later nodes not checked" in msg  # conv2 (reads sig), flat (reads hswish), fc (reads flat)
    code, out, err = run_cli(["import-onnx", str(path), "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Cos" in err and "Sin" in err
    assert not (tmp_path / "d.npz").exists()


def test_report_lists_every_node_of_a_refused_model(tmp_path, capsys):
    path = _blocked_graph(tmp_path)
    model, rows, error = import_onnx_report(path)
    assert model is None and isinstance(error, ModelFileError)
    assert [(r.node, r.op, r.where) for r in rows] == [
        ("conv1", "Conv", "EIE layer"), ("sig", "Sin", "refused"), ("conv2", "Conv", "not checked"),
        ("hswish", "Cos", "refused"), ("relu_in", "Relu", "refused"), ("flat", "Flatten", "not checked"),
        ("fc", "Gemm", "not checked")]
    assert rows[2].why == "not checked: reads the output of refused node 'sig'"
    code, out, err = run_cli(["import-onnx", str(path), "--report"], capsys)
    assert code == 2 and "cannot import" in err
    for name in ("conv1", "sig", "conv2", "hswish", "relu_in", "flat", "fc"):
        assert name in out
    assert "7 nodes (EIE layer: 1, refused: 3, not checked: 3)" in " ".join(out.split())


def _bn_model(tmp_path, opset=13, name="m.onnx"):
    """conv(pads 1) -> BatchNormalization -> Clip(0, inf) -> AveragePool(1, 1) -> GAP -> flatten -> gemm."""
    rng = np.random.default_rng(7)
    c = 4
    clip_inputs = ["b", "zero"] if opset >= 11 else ["b"]
    clip_attrs = {} if opset >= 11 else {"min": 0.0}
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c", "g", "beta", "mu", "var"], ["b"], name="bn", epsilon=1e-3),
        helper.make_node("Clip", clip_inputs, ["r"], name="clip", **clip_attrs),
        helper.make_node("AveragePool", ["r"], ["p"], name="adaptive", kernel_shape=[1, 1], strides=[1, 1]),
        helper.make_node("GlobalAveragePool", ["p"], ["gp"], name="gap"),
        helper.make_node("Flatten", ["gp"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1, alpha=0.5, beta=2.0),
    ]
    inits = [init("conv.weight", rng.normal(size=(c, 3, 3, 3)).astype(np.float32)),
             init("g", rng.uniform(0.5, 2, c).astype(np.float32)), init("beta", rng.normal(size=c).astype(np.float32)),
             init("mu", rng.normal(size=c).astype(np.float32)), init("var", rng.uniform(0.1, 3, c).astype(np.float32)),
             init("fc.weight", rng.normal(size=(5, c)).astype(np.float32)),
             init("fc.bias", rng.normal(size=5).astype(np.float32))]
    if opset >= 11:
        inits.append(init("zero", np.array(0.0, np.float32)))
    return save_graph(tmp_path, nodes, inits, [1, 3, 6, 6], name=name, opset=opset)


@pytest.mark.parametrize("opset", [13, 9])
def test_batchnorm_folded_clip_as_relu_identity_pool_dropped_match_onnxruntime(tmp_path, opset):
    path = _bn_model(tmp_path, opset)
    model = import_onnx(path)
    assert [dl.spec.name for dl in model.layers] == ["conv", "fc"]
    assert model.layers[0].spec.relu and model.layers[0].spec.pool.kind == "global_avg"
    rows = {r["node"]: (r["where"]) for r in model.extra["onnx_coverage"]}
    assert rows == {"conv": "EIE layer", "bn": "folded", "clip": "folded", "adaptive": "dropped", "gap": "folded",
                    "flat": "dropped", "fc": "EIE layer"}
    x = np.random.default_rng(3).normal(size=(3, 6, 6)).astype(np.float32)
    ours = forward(to_workload(model, strict=False), x).logits.reshape(-1)
    theirs = ort_output(path, x)
    assert np.max(np.abs(ours - theirs)) < 1e-5 * max(1.0, float(np.max(np.abs(theirs))))


def test_relu6_is_a_clip_activation_on_the_write_back_path(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Clip", ["c", "zero", "six"], ["y"], name="relu6")]
    inits = [init("w", np.ones((2, 3, 1, 1), np.float32)), init("zero", np.array(0.0, np.float32)),
             init("six", np.array(6.0, np.float32))]
    model = import_onnx(save_graph(tmp_path, nodes, inits, [1, 3, 2, 2]))
    assert model.layers[0].extra["activation"] == {"kind": "clip", "min": 0.0, "max": 6.0}
    assert not model.layers[0].spec.relu


def test_batchnorm_after_relu_is_refused(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("BatchNormalization", ["r", "one", "zero", "zero", "one"], ["y"], name="bn")]
    inits = [init("w", np.ones((2, 3, 1, 1), np.float32)), init("one", np.ones(2, np.float32)),
             init("zero", np.zeros(2, np.float32))]
    with pytest.raises(ModelFileError, match=r"node 'bn' \(BatchNormalization\): a BatchNormalization after ReLU"):
        import_onnx(save_graph(tmp_path, nodes, inits, [1, 3, 2, 2]))


def test_name_from_file_preprocess_preset_info_and_functional_check(tmp_path, capsys):
    path = _bn_model(tmp_path, name="resnetish.onnx")
    assert import_onnx(path).name == "resnetish"  # not the exporter's graph name "main_graph"
    wl = tmp_path / "wl.npz"
    code, out, err = run_cli(["compress", str(path), "-o", str(wl), "--density", "0.5", "--bits", "4",
                              "--preprocess", "imagenet", "--name", "mine"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["info", str(wl), "--json"], capsys)
    data = json.loads(out)
    assert data["name"] == "mine"
    assert [r["where"] for r in data["onnx_coverage"]] == [
        "EIE layer", "folded", "folded", "dropped", "folded", "dropped", "EIE layer"]
    from eiesim.network.workload_file import load_workload

    assert load_workload(wl).preprocess == {"channel_order": "RGB", "scale": 1.0, "mean": [0.485, 0.456, 0.406],
                                            "std": [0.229, 0.224, 0.225]}
    code, out, err = run_cli(["info", str(wl)], capsys)
    assert code == 0 and "where each node runs" in out and "adaptive" in out
    code, out, err = run_cli(["run", str(TINY_ARCH), str(wl), "--image", "chelsea"], capsys)
    assert code == 0, err


def test_import_onnx_name_option_and_report_without_output(tmp_path, capsys):
    path = _bn_model(tmp_path)
    dense = tmp_path / "d.npz"
    code, out, err = run_cli(["import-onnx", str(path), "-o", str(dense), "--name", "given"], capsys)
    assert code == 0, err
    from eiesim.network.dense import load_dense

    assert load_dense(dense).name == "given"
    code, out, err = run_cli(["import-onnx", str(path), "--report"], capsys)
    assert code == 0 and "identity pool" in out
    code, out, err = run_cli(["import-onnx", str(path)], capsys)
    assert code == 2 and "--report" in err


def test_std_divides_after_the_mean():
    from eiesim.inputs.images import preprocess

    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3) * 10
    pre = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    got = preprocess(img, pre, (3, 2, 2))
    expected = np.empty((3, 2, 2))
    for ch in range(3):
        for i in range(2):
            for j in range(2):
                expected[ch, i, j] = (img[i, j, ch] / 255.0 - pre["mean"][ch]) / pre["std"][ch]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# -- padded pooling -------------------------------------------------------------------------

_PADDED_POOLS = [
    ("MaxPool", 3, 2, 1, 0, 0), ("MaxPool", 3, 2, 1, 1, 0), ("MaxPool", 2, 2, 1, 1, 0), ("MaxPool", 3, 1, 1, 0, 0),
    ("AveragePool", 3, 2, 1, 0, 0), ("AveragePool", 3, 2, 1, 1, 0), ("AveragePool", 3, 2, 1, 0, 1),
    ("AveragePool", 3, 2, 1, 1, 1), ("AveragePool", 5, 3, 2, 1, 1), ("AveragePool", 3, 1, 1, 0, 1),
]


@pytest.mark.parametrize("op,k,s,p,ceil,include", _PADDED_POOLS)
@pytest.mark.parametrize("hw", [7, 8])
def test_padded_pools_match_onnxruntime(tmp_path, op, k, s, p, ceil, include, hw):
    rng = np.random.default_rng(11)
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, ceil_mode=ceil)
    if op == "AveragePool":
        attrs["count_include_pad"] = include
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv"),
             helper.make_node(op, ["c"], ["y"], name="pool", **attrs)]
    path = save_graph(tmp_path, nodes, [init("conv.weight", rng.normal(size=(3, 2, 1, 1)).astype(np.float32))],
                      [1, 2, hw, hw], opset=13)
    model = import_onnx(path)
    x = rng.normal(size=(2, hw, hw)).astype(np.float32)
    ours = forward(to_workload(model, strict=False), x).logits.reshape(-1)
    theirs = ort_output(path, x)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_integer_padded_average_rounds_against_a_slow_reference():
    from eiesim.network.fixed_point import pool_fixed
    from eiesim.network.workload import Pool

    x = np.random.default_rng(5).integers(-300, 300, size=(2, 7, 6)).astype(np.int64)
    for include in (False, True):
        for ceil in (False, True):
            pool = Pool("avg", 3, 2, ceil, 1, include)
            got = pool_fixed(x, pool)
            oh, ow = pool.output_hw(7, 6)
            expected = np.zeros((2, oh, ow), np.int64)
            for ch in range(2):
                for oy in range(oh):
                    for ox in range(ow):
                        total, real, padded = 0, 0, 0
                        for dy in range(3):
                            for dx in range(3):
                                yy, xx = oy * 2 - 1 + dy, ox * 2 - 1 + dx
                                if -1 <= yy <= 7 and -1 <= xx <= 6:
                                    padded += 1
                                if 0 <= yy < 7 and 0 <= xx < 6:
                                    total += int(x[ch, yy, xx])
                                    real += 1
                        n = padded if include else real
                        expected[ch, oy, ox] = (2 * total + n) // (2 * n)  # round half up
            np.testing.assert_array_equal(got, expected)


def test_padded_max_pool_runs_and_passes_the_functional_check(tmp_path, capsys):
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "c1.weight"], ["c"], name="c1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
             helper.make_node("AveragePool", ["p"], ["a"], name="avg", kernel_shape=[3, 3], strides=[1, 1],
                              pads=[1] * 4, count_include_pad=1),
             helper.make_node("Conv", ["a", "c2.weight"], ["y"], name="c2")]
    inits = [init("c1.weight", rng.normal(size=(4, 3, 3, 3)).astype(np.float32)),
             init("c2.weight", rng.normal(size=(5, 4, 1, 1)).astype(np.float32))]
    path = save_graph(tmp_path, nodes, inits, [1, 3, 9, 9])
    two_pools = import_onnx(path)  # the second pool in a row is the reading conv's input pool
    assert two_pools.layers[1].extra["input_pool"] == {"kind": "avg", "kernel": 3, "stride": 1, "ceil_mode": False,
                                                       "pad": 1, "count_include_pad": True}
    nodes[3] = helper.make_node("Relu", ["p"], ["a"], name="relu2")
    path = save_graph(tmp_path, nodes, inits, [1, 3, 9, 9])
    model = import_onnx(path)
    assert model.layers[0].spec.pool.pad == 1
    x = rng.normal(size=(3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(forward(to_workload(model, strict=False), x).logits.reshape(-1), ort_output(path, x),
                               rtol=1e-5, atol=1e-5)
    wl = tmp_path / "wl.npz"
    assert run_cli(["compress", str(path), "-o", str(wl), "--density", "0.5", "--bits", "4"], capsys)[0] == 0
    code, out, err = run_cli(["run", str(TINY_ARCH), str(wl)], capsys)
    assert code == 0, err
    back = tmp_path / "back.onnx"
    code, out, err = run_cli(["export-onnx", str(wl), "-o", str(back)], capsys)
    assert code == 0, err
    out = " ".join(out.split())
    assert "max |difference| / max |output| = " in out
    assert float(out.split("max |difference| / max |output| = ")[1].split()[0]) < 1e-5


def test_pool_pad_is_checked_when_a_workload_is_loaded():
    from eiesim.errors import WorkloadError
    from eiesim.network.workload_file import _parse_pool

    assert _parse_pool({"kind": "max", "kernel": 3, "stride": 2, "pad": 1}, "layer 0", Path("w.npz")).pad == 1
    for bad in (2, -1, True, 1.0):
        with pytest.raises(WorkloadError, match="pool 'pad' must be an integer in \\[0, kernel // 2 = 1\\]"):
            _parse_pool({"kind": "max", "kernel": 3, "stride": 2, "pad": bad}, "layer 0", Path("w.npz"))


def test_float_reference_of_a_layer_with_more_distinct_weights_than_a_codebook_decodes_exactly():
    from eiesim.network.dense import DenseLayer, DenseModel
    from eiesim.network.topologies import LayerSpec
    from eiesim.network.workload import MAX_CODEBOOK

    rng = np.random.default_rng(9)
    w = rng.normal(size=(MAX_CODEBOOK // 50, 101)).astype(np.float32)  # ~110,000 distinct non-zeros
    w[w < -1] = 0.0
    model = DenseModel("big", "test", (101,), None,
                       [DenseLayer(LayerSpec("fc", "fc", 101, w.shape[0]), w[:, :, None, None],
                                   np.zeros(w.shape[0], np.float32))])
    assert np.count_nonzero(w) > MAX_CODEBOOK
    wl = to_workload(model, strict=False)
    np.testing.assert_array_equal(wl.layers[0].dense_weights().reshape(w.shape), w)


def test_dense_to_workload_csr_equals_scipy():
    import scipy.sparse as sp

    from eiesim.network.dense import _csr_of

    rng = np.random.default_rng(12)
    # Mostly zeros (a search for the non-zeros), a few zeros and none (every column of every row, less the zeros).
    for shape, zeros in [(s, z) for s in [(1, 1), (5, 7), (13, 1), (1, 9), (40, 33)] for z in (0.6, 0.1, 0.0)]:
        m = rng.normal(size=shape).astype(np.float32)
        m[rng.random(shape) < zeros] = 0.0
        if zeros:
            m[0, 0] = -0.0
        ref = sp.csr_matrix(m)
        ref.eliminate_zeros()
        ref.sort_indices()
        got = _csr_of(m)
        np.testing.assert_array_equal(got.indptr, ref.indptr)
        np.testing.assert_array_equal(got.indices, ref.indices)
        np.testing.assert_array_equal(got.data, ref.data)
