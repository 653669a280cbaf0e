"""ONNX export: onnxruntime runs the exported graph and agrees with eiesim's float reference;
export -> import gives back identical decoded weights (small workloads and the real DC SqueezeNet)."""

from __future__ import annotations

import numpy as np
import pytest
from _support import run_cli

from eiesim.config.defaults import DEFAULT_NETWORK
from eiesim.errors import EiesimError, OutputError
from eiesim.network.workload import Pool, Workload, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload

try:
    import onnx
except ImportError:
    onnx = None
try:
    import onnxruntime
except ImportError:
    onnxruntime = None

needs_onnx = pytest.mark.skipif(onnx is None, reason="the onnx extra is not installed")
needs_ort = pytest.mark.skipif(onnx is None or onnxruntime is None, reason="the onnx extra is not installed")

DC_NET = DEFAULT_NETWORK  # the real Deep-Compression SqueezeNet, bundled in the package


def _shared(rng: np.random.Generator, shape: tuple[int, ...], density: float, bits: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Weights drawn from a small codebook (no zeros in it), with a random sparsity pattern."""
    codebook = rng.choice([-1, 1], size=1 << bits) * rng.uniform(0.1, 1.0, size=1 << bits)
    w = codebook[rng.integers(0, 1 << bits, size=shape)] * (rng.random(shape) < density)
    return w.astype(np.float32), codebook.astype(np.float32)


def small_workload(seed: int = 0) -> Workload:
    """conv (max pool, ceil mode with a partial last window) -> two branches (one avg-pooled 2/2, ceil mode)
    -> concat -> conv with global avg pool -> fc reading two producers (flattened, concatenated)."""
    rng = np.random.default_rng(seed)

    def layer(name, shape, **kw):
        w, cb = _shared(rng, shape, 0.6)
        return layer_from_dense(name, w, codebook=cb, bias=rng.normal(0, 0.1, shape[0]), **kw)

    maxp = Pool("max", 3, 2, True)  # 8x8 -> 4x4 in ceil mode (floor would give 3x3)
    avgp = Pool("avg", 3, 2, True)  # 4x4 -> 2x2; the last window is clipped to 2 rows/columns (divides by 6 or 4)
    layers = [
        layer("conv1", (6, 3, 3, 3), padding=(1, 1), pool=maxp),
        layer("left", (4, 6, 1, 1), inputs=("conv1",), pool=avgp),
        layer("right", (5, 6, 3, 3), padding=(1, 1), inputs=("conv1",), pool=avgp),
        layer("mix", (7, 9, 1, 1), inputs=("left", "right"), pool=Pool("global_avg", 0, 1, False)),
        layer("fc", (10, 4 * 2 * 2 + 7), kind="fc", inputs=("left", "mix"), relu=False),
    ]
    return Workload("small", "test", (3, 8, 8), None, layers,
                    input=rng.normal(size=(3, 8, 8)).astype(np.float32))


def test_missing_extra_is_a_clean_error(monkeypatch, tmp_path, capsys):
    import builtins
    import sys

    from eiesim.importers.onnx.export import export_onnx

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnx" or name.startswith(("onnx.", "onnxruntime")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "onnx" or m.startswith(("onnx.", "onnxruntime"))]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(EiesimError, match=r"install the onnx extra: pip install 'eiesim\[onnx\]'"):
        export_onnx(small_workload(), tmp_path / "m.onnx")
    wl_path = tmp_path / "w.npz"
    save_workload(small_workload(), wl_path)
    code, _, err = run_cli(["export-onnx", str(wl_path), "-o", str(tmp_path / "m.onnx")], capsys)
    assert code == 2 and "install the onnx extra" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


@needs_ort
def test_exported_small_workload_runs_in_onnxruntime_like_eiesim(tmp_path):
    from eiesim.importers.onnx.export import export_onnx
    from eiesim.network.functional import forward

    wl = small_workload(1)
    path = export_onnx(wl, tmp_path / "small.onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # Every layer's output tensor is named after the layer: fetch them all and compare layer by layer.
    names = [layer.name for layer in wl.layers]
    model = onnx.load(str(path))
    for n in names[:-1]:
        model.graph.output.append(onnx.ValueInfoProto(name=n))
    sess = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.normal(size=(3, 8, 8)).astype(np.float32)
        theirs = dict(zip(names[-1:] + names[:-1], sess.run(names[-1:] + names[:-1], {"input": x[None]})))
        ours = forward(wl, x).outputs
        for n in names:
            assert theirs[n][0].shape == ours[n].shape, n
            np.testing.assert_allclose(theirs[n][0], ours[n], rtol=1e-5, atol=1e-5, err_msg=n)


@needs_onnx
def test_export_then_import_gives_identical_weights_and_graph(tmp_path):
    from eiesim.importers.onnx.export import export_onnx
    from eiesim.importers.onnx.walker import import_onnx
    from eiesim.network.dense import to_workload

    wl = small_workload(3)
    export_onnx(wl, tmp_path / "m.onnx")
    back = to_workload(import_onnx(tmp_path / "m.onnx"))
    save_workload(back, tmp_path / "back.npz")
    back = load_workload(tmp_path / "back.npz")
    assert [layer.name for layer in back.layers] == [layer.name for layer in wl.layers]
    for a, b in zip(wl.layers, back.layers):
        assert (a.kind, a.kernel, a.stride, a.padding, a.inputs, a.relu, a.pool) == (
            b.kind, b.kernel, b.stride, b.padding, b.inputs, b.relu, b.pool), a.name
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.codebook[a.codes.astype(int)], b.codebook[b.codes.astype(int)])
        np.testing.assert_array_equal(a.bias, b.bias)


@needs_onnx
def test_export_is_atomic(tmp_path, monkeypatch):
    from eiesim.importers.onnx.export import export_onnx

    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(onnx, "save", broken_save)
    with pytest.raises(OutputError, match="disk full"):  # the library raises only the eiesim error family
        export_onnx(small_workload(), target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


@needs_ort
def test_export_onnx_command_checks_with_onnxruntime(tmp_path, capsys):
    wl_path = tmp_path / "w.npz"
    save_workload(small_workload(4), wl_path)
    out = tmp_path / "m.onnx"
    code, stdout, err = run_cli(["export-onnx", str(wl_path), "-o", str(out)], capsys)
    assert code == 0, err
    text = " ".join(stdout.split())  # rich may wrap lines
    assert out.is_file() and "check on stored input" in text
    rel = float(text.split("max |difference| / max |output| = ")[1].split()[0])
    assert rel < 1e-5


# -- the real Deep-Compression SqueezeNet ---------------------------------------------------

@pytest.fixture(scope="module")
def dc_workload():
    if not DC_NET.is_file():
        pytest.skip("the real DC SqueezeNet file is not present")
    deep_compression = pytest.importorskip("eiesim.importers.caffe.deep_compression")
    return deep_compression.import_dc(DC_NET)


@needs_ort
def test_real_dc_round_trip_and_onnxruntime_on_chelsea(dc_workload, tmp_path):
    from eiesim.importers.onnx.export import export_onnx
    from eiesim.importers.onnx.runtime import onnxruntime_forward
    from eiesim.importers.onnx.walker import import_onnx
    from eiesim.network.dense import to_workload
    from eiesim.network.functional import forward
    from eiesim.network.network_input import prepare_input

    path = export_onnx(dc_workload, tmp_path / "dc.onnx")
    dense = import_onnx(path)
    assert dense.preprocess == dc_workload.preprocess  # carried in the model metadata
    back = to_workload(dense)  # no pruning, no re-clustering
    assert back.nnz == dc_workload.nnz == 415_921
    for a, b in zip(dc_workload.layers, back.layers):
        wa, wb = a.weights_csr(), b.weights_csr()
        np.testing.assert_array_equal(wa.indptr, wb.indptr)
        np.testing.assert_array_equal(wa.indices, wb.indices)
        np.testing.assert_array_equal(wa.data, wb.data)
        np.testing.assert_array_equal(a.bias, b.bias)
    x = prepare_input(dc_workload, "chelsea")
    theirs = onnxruntime_forward(path, x)
    ours = forward(dc_workload, x).logits
    assert int(np.argmax(theirs)) == int(np.argmax(ours)) == 285  # Egyptian cat
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-4 * np.abs(ours).max())
