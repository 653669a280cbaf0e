"""ONNX import: graph reading, constant folding, op mapping, errors, and the light SqueezeNet v1.1.

Numerical checks compare eiesim's float forward pass of the imported model with
onnxruntime running the same file (an independent implementation). Tests that
need ``onnx`` / ``onnxruntime`` skip cleanly without them; the "missing extra"
message is tested without them.
"""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from eiesim.errors import EiesimError, ModelFileError

from _onnx_support import initializer as _init
from _onnx_support import needs_onnx, onnx
from _onnx_support import onnxruntime_output as _ort
from _onnx_support import save_model as _save

if onnx is not None:  # without the optional extra only the "missing extra" test runs
    from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workloads" / "profiles" / "squeezenet-dc-densities.yaml"


# -- without the extra -----------------------------------------------------------------

def _hide_onnx(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx.") or name.startswith("onnxruntime"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "onnx" or m.startswith(("onnx.", "onnxruntime"))]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_missing_extra_is_a_clean_error(monkeypatch, tmp_path, capsys):
    from eiesim.importers.onnx.optional import require_onnx
    from eiesim.importers.onnx.walker import import_onnx

    _hide_onnx(monkeypatch)
    with pytest.raises(EiesimError, match=r"pip install 'eiesim\[onnx\]'"):
        require_onnx()
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not really")
    with pytest.raises(EiesimError, match="install the onnx extra"):
        import_onnx(model)
    code, _, err = run_cli(["import-onnx", str(model), "-o", str(tmp_path / "d.npz")], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "eiesim: error: this needs the 'onnx' package; install the onnx extra: pip install 'eiesim[onnx]'"]
    assert not (tmp_path / "d.npz").exists()


# -- helpers to build models ------------------------------------------------------------

from _support import run_cli

from eiesim.importers.onnx.walker import import_onnx  # noqa: E402
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward  # noqa: E402


def tiny_cnn(tmp_path: Path, rng: np.random.Generator) -> Path:
    """conv3x3 -> relu -> maxpool -> {conv1x1 -> relu, conv3x3 -> relu} -> concat -> gap -> flatten -> gemm.

    The second branch's weight is made by a constant subgraph (ConstantOfShape * Constant + initializer),
    and the gemm bias by a Constant node, so folding is exercised.
    """
    w1 = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(size=4).astype(np.float32)
    wa = rng.normal(size=(3, 4, 1, 1)).astype(np.float32)
    wb_delta = rng.normal(size=(5, 4, 3, 3)).astype(np.float32)
    wfc = rng.normal(size=(6, 8)).astype(np.float32)
    bfc = rng.normal(size=6).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "c1.weight", "c1.bias"], ["t1"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["t1"], ["t2"], name="r1"),
        helper.make_node("MaxPool", ["t2"], ["t3"], name="p1", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("Conv", ["t3", "ba.weight"], ["a1"], name="ba"),
        helper.make_node("Relu", ["a1"], ["a2"], name="ra"),
        helper.make_node("ConstantOfShape", ["wb_shape"], ["wb_ones"], name="wb_fill",
                         value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Constant", [], ["wb_scale"], name="wb_scale_c", value_float=0.5),
        helper.make_node("Mul", ["wb_ones", "wb_scale"], ["wb_half"], name="wb_mul"),
        helper.make_node("Add", ["wb_half", "wb_delta"], ["bb.weight"], name="wb_add"),
        helper.make_node("Conv", ["t3", "bb.weight"], ["b1"], name="bb", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b1"], ["b2"], name="rb"),
        helper.make_node("Concat", ["a2", "b2"], ["cat"], name="cat", axis=1),
        helper.make_node("Dropout", ["cat"], ["drop"], name="drop"),
        helper.make_node("GlobalAveragePool", ["drop"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat", axis=1),
        helper.make_node("Constant", [], ["fc.bias"], name="fc_bias", value=numpy_helper.from_array(bfc)),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1),
    ]
    inits = [_init("c1.weight", w1), _init("c1.bias", b1), _init("ba.weight", wa),
             _init("wb_shape", np.array([5, 4, 3, 3], np.int64)), _init("wb_delta", wb_delta),
             _init("fc.weight", wfc)]
    return _save(tmp_path, nodes, inits, [1, 3, 10, 10])


# -- the tiny CNN ------------------------------------------------------------------------

@needs_onnx
def test_tiny_cnn_maps_ops_to_layers(tmp_path):
    model = import_onnx(tiny_cnn(tmp_path, np.random.default_rng(1)))
    specs = {dl.spec.name: dl.spec for dl in model.layers}
    assert list(specs) == ["c1", "ba", "bb", "fc"]
    assert model.input_shape == (3, 10, 10)
    c1 = specs["c1"]
    assert (c1.kind, c1.padding, c1.relu) == ("conv", (1, 1), True)
    assert (c1.pool.kind, c1.pool.kernel, c1.pool.stride, c1.pool.ceil_mode) == ("max", 3, 2, True)
    # The global pool after the concat is attached to both branches.
    assert specs["ba"].pool.kind == specs["bb"].pool.kind == "global_avg"
    assert specs["ba"].inputs == specs["bb"].inputs == ("c1",)
    assert specs["fc"].kind == "fc" and specs["fc"].inputs == ("ba", "bb") and specs["fc"].relu is False
    assert specs["fc"].in_channels == 8 and specs["fc"].out_channels == 6


@needs_onnx
def test_tiny_cnn_folds_constant_subgraph_weights(tmp_path):
    rng = np.random.default_rng(2)
    path = tiny_cnn(tmp_path, rng)
    m = onnx.load(str(path))
    delta = numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == "wb_delta"))
    model = import_onnx(path)
    bb = next(dl for dl in model.layers if dl.spec.name == "bb")
    np.testing.assert_array_equal(bb.weight, np.float32(0.5) + delta)
    fc_bias = numpy_helper.to_array(m.graph.node[15].attribute[0].t)
    np.testing.assert_array_equal(next(dl for dl in model.layers if dl.spec.name == "fc").bias, fc_bias)


@needs_onnx
def test_tiny_cnn_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(3)
    path = tiny_cnn(tmp_path, rng)
    wl = to_workload(import_onnx(path), strict=False)
    for _ in range(3):
        x = rng.normal(size=(3, 10, 10)).astype(np.float32)
        ours = forward(wl, x).logits
        ref = _ort(path, x)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@needs_onnx
def test_matmul_add_bias_reshape_flatten_avgpool(tmp_path):
    """MatMul + Add(bias) and a Reshape(0, -1) flatten, after conv -> relu -> AveragePool (ceil mode)."""
    rng = np.random.default_rng(4)
    w = rng.normal(size=(2, 1, 2, 2)).astype(np.float32)
    cb = rng.normal(size=(1, 2, 1, 1)).astype(np.float32)
    mm = rng.normal(size=(2 * 3 * 3, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Add", ["c", "cb"], ["cbias"], name="conv_bias"),
        helper.make_node("Relu", ["cbias"], ["r"], name="relu"),
        helper.make_node("AveragePool", ["r"], ["p"], name="avg", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        helper.make_node("Reshape", ["p", "shape"], ["flat"], name="view"),
        helper.make_node("MatMul", ["flat", "mm"], ["z"], name="fc"),
        helper.make_node("Add", ["z", "bias"], ["y"], name="fc_bias"),
    ]
    inits = [_init("w", w), _init("cb", cb), _init("mm", mm), _init("bias", bias),
             _init("shape", np.array([0, -1], np.int64))]
    path = _save(tmp_path, nodes, inits, [1, 1, 6, 6])
    model = import_onnx(path)
    conv, fc = model.layers
    assert conv.spec.pool.kind == "avg" and conv.spec.pool.ceil_mode is True
    np.testing.assert_array_equal(conv.bias, cb.reshape(-1))
    np.testing.assert_array_equal(fc.weight[:, :, 0, 0], mm.T)
    np.testing.assert_array_equal(fc.bias, bias)
    x = rng.normal(size=(1, 6, 6)).astype(np.float32)
    ref = _ort(path, x)
    np.testing.assert_allclose(forward(to_workload(model, strict=False), x).logits, ref, rtol=1e-5, atol=1e-6)


@needs_onnx
def test_symbolic_batch_and_input_shape_override(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    path = _save(tmp_path, nodes, [_init("w", np.ones((2, 3, 1, 1), np.float32))], ["N", 3, "H", "W"])
    with pytest.raises(ModelFileError, match="symbolic dimensions"):
        import_onnx(path)
    assert import_onnx(path, input_shape=(3, 8, 8)).input_shape == (3, 8, 8)


# -- what is refused, and how ----------------------------------------------------------------

def _one_conv_then(tmp_path, extra_nodes, out="y"):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv")] + extra_nodes
    inits = [_init("w", np.ones((2, 3, 1, 1), np.float32)), _init("w4", np.ones((2, 4, 1, 1), np.float32))]
    return _save(tmp_path, nodes, inits, [1, 3, 4, 4], out)


@needs_onnx
def test_unsupported_op_names_type_and_node(tmp_path, capsys):
    path = _one_conv_then(tmp_path, [helper.make_node("Sin", ["c"], ["y"], name="my_sigmoid")])
    with pytest.raises(ModelFileError, match=r"node 'my_sigmoid' \(Sin\): operator not supported"):
        import_onnx(path)
    out = tmp_path / "d.npz"
    code, _, err = run_cli(["import-onnx", str(path), "-o", str(out)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"eiesim: error: {path}: cannot import: 1 node refused, blocking operator Sin: "
                          "node 'my_sigmoid' (Sin): operator not supported")
    assert not out.exists()


_REFUSED = {
    "residual add": (lambda: [helper.make_node("Add", ["c", "c"], ["y"], name="residual")], r"residual"),
    "asymmetric pool pads": (lambda: [helper.make_node("MaxPool", ["c"], ["y"], name="pp", kernel_shape=[2, 2],
                                                       pads=[0, 0, 1, 1])],
                             r"node 'pp' \(MaxPool\): pool pads \[0, 0, 1, 1\] are not supported"),
    "two pools": (lambda: [helper.make_node("MaxPool", ["c"], ["p"], name="p1", kernel_shape=[2, 2]),
                           helper.make_node("MaxPool", ["p"], ["y"], name="p2", kernel_shape=[2, 2])],
                  r"'y' is pooled from a tensor that is also used unpooled \(or already pooled\).*only a Conv may read it"),
    # An inner Softmax runs on the host (tests/test_onnx_transformer.py); a graph ending in host work is refused.
    "inner softmax": (lambda: [helper.make_node("Softmax", ["c"], ["s"], name="sm"),
                               helper.make_node("Relu", ["s"], ["y"], name="r")],
                      r"the graph output 'y' must be the output of one Conv/Gemm/MatMul layer"),
    "spatial concat": (lambda: [helper.make_node("Concat", ["c", "c"], ["y"], name="cat", axis=2)], r"channel axis"),
    "raw and relu both used": (lambda: [helper.make_node("Relu", ["c"], ["r"], name="relu"),
                                        helper.make_node("Concat", ["c", "r"], ["cat"], name="cat", axis=1),
                                        helper.make_node("Conv", ["cat", "w4"], ["y"], name="conv2")],
                               r"layer 'conv2' reads layer 'conv'.s output before a later Add/ReLU/pool"),
}


@pytest.mark.parametrize("case", sorted(_REFUSED))
@needs_onnx
def test_unrepresentable_patterns_are_refused(tmp_path, case):
    make_nodes, message = _REFUSED[case]
    with pytest.raises(ModelFileError, match=message):
        import_onnx(_one_conv_then(tmp_path, make_nodes()))


@needs_onnx
def test_pool_of_network_input_is_refused(tmp_path):
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="inpool", kernel_shape=[2, 2]),
             helper.make_node("Conv", ["p", "w"], ["y"], name="conv")]
    path = _save(tmp_path, nodes, [_init("w", np.ones((2, 3, 1, 1), np.float32))], [1, 3, 4, 4])
    with pytest.raises(ModelFileError, match=r"node 'inpool' \(MaxPool\): pooling of the network input"):
        import_onnx(path)


@needs_onnx
def test_negative_conv_pads_are_refused(tmp_path):
    # Asymmetric pads import (tests/test_conv_padding_dilation.py); negative ones (a crop) do not.
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[0, -1, 1, 1])]
    path = _save(tmp_path, nodes, [_init("w", np.ones((2, 3, 3, 3), np.float32))], [1, 3, 5, 5])
    with pytest.raises(ModelFileError, match=r"negative pads \[0, -1, 1, 1\]"):
        import_onnx(path)


@needs_onnx
def test_external_data_outside_model_dir_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(6, np.float32).tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    path = _one_conv_then(model_dir, [helper.make_node("Relu", ["c"], ["y"], name="r")])
    m = onnx.load(str(path))
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "24")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(m, str(path))
    with pytest.raises(ModelFileError, match="outside the model's directory"):
        import_onnx(path)
    # The same data beside the model is read, and bounds are checked.
    (model_dir / "w.bin").write_bytes(secret.read_bytes())
    w.external_data[0].value = "w.bin"
    onnx.save(m, str(path))
    assert import_onnx(path).layers[0].weight.sum() == 6
    w.external_data[2].value = "400"
    onnx.save(m, str(path))
    with pytest.raises(ModelFileError, match="exceed the file"):
        import_onnx(path)


@needs_onnx
def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(ModelFileError):
        import_onnx(bad)


# -- SqueezeNet v1.1 from the onnx package's test data ----------------------------------------

LIGHT = (Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_squeezenet.onnx"
         if onnx is not None else Path("/nonexistent"))
needs_light = pytest.mark.skipif(not LIGHT.is_file(), reason="light_squeezenet.onnx not shipped by this onnx version")


@needs_light
@needs_onnx
def test_light_squeezenet_has_26_layers_with_v11_shapes():
    from eiesim.network.topologies import squeezenet_topology

    model = import_onnx(LIGHT)
    assert model.input_shape == (3, 224, 224)
    names = [dl.spec.name for dl in model.layers]
    rename = {"conv1x1_1": "squeeze1x1", "conv1x1_2": "expand1x1", "conv3x3_2": "expand3x3"}
    expected = squeezenet_topology("1.1")
    assert len(names) == 26
    for dl, spec in zip(model.layers, expected):
        name = {"conv_final": "conv10"}.get(spec.name) or (
            spec.name.split("/")[0] + "/" + rename[spec.name.split("/")[1]] if "/" in spec.name else spec.name)
        assert dl.spec.name == name
        assert dl.weight.shape == spec.weight_shape, name
        assert (dl.spec.stride, dl.spec.padding, dl.spec.relu) == (spec.stride, spec.padding, spec.relu), name
        assert (dl.spec.pool is None) == (spec.pool is None), name
        if spec.pool is not None:
            assert (dl.spec.pool.kind, dl.spec.pool.kernel, dl.spec.pool.stride) == (
                spec.pool.kind, spec.pool.kernel, spec.pool.stride), name
        assert len(dl.spec.inputs) == len(spec.inputs), name
    notes = " ".join(model.extra["import_notes"])
    assert "Softmax" in notes and "concat" in notes


@needs_light
@needs_onnx
def test_light_squeezenet_forward_matches_onnxruntime_logits():
    from eiesim.importers.onnx.runtime import onnxruntime_forward

    pytest.importorskip("onnxruntime")
    model = import_onnx(LIGHT)
    x = np.random.default_rng(5).random((3, 224, 224), dtype=np.float32)
    ours = forward(to_workload(model, strict=False), x).logits
    ref = onnxruntime_forward(LIGHT, x, model.extra["onnx_output"])  # the tensor before the dropped Softmax
    assert ref.shape == (1000,)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


@needs_light
@needs_onnx
def test_density_profile_names_and_values():
    from eiesim.network.topologies import RELEASED_DC_NNZ, squeezenet_topology

    profile = yaml.safe_load(PROFILE.read_text())
    assert list(profile) == [dl.spec.name for dl in import_onnx(LIGHT).layers]
    counts = {s.name: s.weight_count for s in squeezenet_topology("1.0")}
    dc_names = list(RELEASED_DC_NNZ)  # same order: conv1, fire2..fire9 (squeeze, e1x1, e3x3), conv_final
    for (name, density), dc in zip(profile.items(), dc_names):
        assert density == pytest.approx(RELEASED_DC_NNZ[dc] / counts[dc], abs=5e-5), (name, dc)


@needs_light
@needs_onnx
def test_compress_light_squeezenet_to_released_densities(tmp_path, capsys):
    from eiesim.network.workload_file import load_workload

    out = tmp_path / "light.npz"
    code, stdout, err = run_cli(["compress", str(LIGHT), "--density-profile", str(PROFILE), "--bits", "8",
                                 "-o", str(out)], capsys)
    assert code == 0, err
    wl = load_workload(out)
    profile = yaml.safe_load(PROFILE.read_text())
    assert [layer.name for layer in wl.layers] == list(profile)
    for layer in wl.layers:
        assert abs(layer.nnz - profile[layer.name] * layer.rows * layer.cols) <= 1, layer.name
    assert "Agreement with the uncompressed model" in stdout and "top-1 agreement" in stdout


def test_density_profile_errors(tmp_path, capsys):
    from eiesim.errors import UsageError
    from eiesim.importers.agreement import load_density_profile

    bad = tmp_path / "p.yaml"
    bad.write_text("conv1: 1.5\n")
    with pytest.raises(UsageError, match=r"density must be a number in \[0, 1\]"):
        load_density_profile(bad, ["conv1"])
    bad.write_text("convX: 0.5\n")
    with pytest.raises(UsageError, match=r"layers \['convX'\] are not in the model"):
        load_density_profile(bad, ["conv1"])
    bad.write_text('{"conv1": 0.25}')
    assert load_density_profile(bad, ["conv1"]) == {"conv1": 0.25}


@needs_onnx
def test_compress_dense_npz_profile_precedence_and_eiesim_reference(tmp_path, capsys):
    from eiesim.network.dense import save_dense
    from eiesim.network.workload_file import load_workload

    model = import_onnx(tiny_cnn(tmp_path, np.random.default_rng(6)))
    dense = save_dense(model, tmp_path / "dense.npz")
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(7).normal(size=(3, 10, 10)).astype(np.float32))
    profile = tmp_path / "profile.json"
    profile.write_text('{"c1": 0.5, "ba": 0.25}')
    out = tmp_path / "c.npz"
    code, stdout, err = run_cli(["compress", str(dense), "--density-profile", str(profile), "--density", "ba=1.0",
                                 "--bits", "8", "--image", str(x), "-o", str(out)], capsys)
    assert code == 0, err
    wl = load_workload(out)
    assert wl.layer("c1").nnz == round(0.5 * 4 * 27)  # from the profile
    assert wl.layer("ba").nnz == 3 * 4  # --density overrides the profile
    assert wl.layer("bb").nnz == 5 * 4 * 9  # not in the profile: default 1.0
    text = " ".join(stdout.split())
    assert "of 1 input(s) (reference: eiesim float reference on the dense weights)" in text


@needs_onnx
def test_pytorch_style_view_and_names(tmp_path):
    """``x.view(x.size(0), -1)`` exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape: folded to a flatten;
    layer names come from the weight initializers (``features.0.weight`` -> ``features.0``)."""
    rng = np.random.default_rng(8)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    fw = rng.normal(size=(5, 16)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "features.0.weight"], ["c"], name="/features/Conv", strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="/features/Relu"),
        helper.make_node("Shape", ["r"], ["s"], name="/Shape"),
        helper.make_node("Constant", [], ["zero"], name="/C0", value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "zero"], ["b"], name="/Gather", axis=0),
        helper.make_node("Constant", [], ["ax"], name="/C1", value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Unsqueeze", ["b", "ax"], ["bu"], name="/Unsqueeze"),
        helper.make_node("Constant", [], ["m1"], name="/C2", value=numpy_helper.from_array(np.array([-1], np.int64))),
        helper.make_node("Concat", ["bu", "m1"], ["shape"], name="/Concat", axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["flat"], name="/Reshape"),
        helper.make_node("Gemm", ["flat", "classifier.weight"], ["y"], name="/classifier/Gemm", transB=1),
    ]
    path = _save(tmp_path, nodes, [_init("features.0.weight", w), _init("classifier.weight", fw)], [1, 3, 5, 5])
    model = import_onnx(path)
    assert [(dl.spec.name, dl.spec.kind, dl.spec.inputs) for dl in model.layers] == [
        ("features.0", "conv", ("input",)), ("classifier", "fc", ("features.0",))]
    x = rng.normal(size=(3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(forward(to_workload(model, strict=False), x).logits, _ort(path, x), rtol=1e-5, atol=1e-5)


@needs_onnx
def test_constant_subgraphs_follow_the_onnx_specification(tmp_path):
    """Folded by ONNX's reference runtime: Shape honours ``start`` on a constant, and integer Div is exact.

    The fc weight is reshaped to (5, 16): 5 comes from Shape(T, start=1) of a (2, 5, 7) constant, 16 from
    (2**53 + 1) / 1 - (2**53 - 15) in int64 (through float64 the quotient loses its last unit and gives 15).
    onnxruntime runs the same graph as the independent check.
    """
    rng = np.random.default_rng(11)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    fw = rng.normal(size=(5 * 16,)).astype(np.float32)
    big = np.array([2**53 + 1], np.int64)
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv", strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["flat"], name="flatten", axis=1),
        helper.make_node("Shape", ["T"], ["tshape"], name="shape_from_1", start=1, end=2),
        helper.make_node("Div", ["big", "one"], ["q"], name="int_div"),
        helper.make_node("Sub", ["q", "offset"], ["cols"], name="cols"),
        helper.make_node("Concat", ["tshape", "cols"], ["wshape"], name="wshape", axis=0),
        helper.make_node("Reshape", ["fc.flat", "wshape"], ["fc.weight"], name="reshape_w"),
        helper.make_node("Gemm", ["flat", "fc.weight"], ["y"], name="fc", transB=1),
    ]
    inits = [_init("conv.weight", w), _init("fc.flat", fw), _init("T", np.zeros((2, 5, 7), np.float32)),
             _init("big", big), _init("one", np.array([1], np.int64)), _init("offset", np.array([2**53 - 15], np.int64))]
    path = _save(tmp_path, nodes, inits, [1, 3, 5, 5], opset=15)  # Shape has start and end from opset 15
    model = import_onnx(path)
    assert model.layers[1].weight.shape == (5, 16, 1, 1)
    x = rng.normal(size=(3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(forward(to_workload(model, strict=False), x).logits, _ort(path, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("out_features, in_features", [(0, 4), (3, 0)])
def test_a_zero_size_gemm_is_one_line_and_writes_nothing(out_features, in_features, tmp_path, capsys):
    """Issue 22: a Gemm with a 0-element weight wrote an invalid dense file, then a ZeroDivisionError traceback."""
    path = _save(tmp_path, [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)],
                 [_init("w", np.zeros((out_features, in_features), np.float32))], [1, in_features])
    for args, out in ((["import-onnx", str(path), "-o"], tmp_path / "d.npz"),
                      (["compress", str(path), "-o"], tmp_path / "w.npz")):
        code, _, err = run_cli([*args, str(out)], capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith(f"eiesim: error: {path}: ")
        if in_features:  # (with no inputs the input shape [1, 0] is refused first)
            assert "layer 'fc': its weight has shape (0, 4" in lines[0] and "no elements" in lines[0]
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
