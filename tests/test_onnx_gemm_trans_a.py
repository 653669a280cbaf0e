"""Gemm with transA = 1: the activation A is transposed on the host, then read as a row or as tokens.

Two cases (docs/onnx.md): a (K, 1) column of batch 1 (its transpose is the (1, K) row an fc layer reads,
a Reshape that moves nothing) and a (D, T) tensor (its transpose is T tokens of D values, a layer applied
per token). Every combination of ``alpha``, ``beta``, ``transB`` and a bias C is checked against
onnxruntime running the same file; the compressed workload passes the bit-exact functional check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _onnx_support import initializer, needs_onnx, onnx, save_model
from eiesim.cli.compress_cmd import compress_model
from eiesim.config.arch import load_arch
from eiesim.errors import ModelFileError
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.network.host_ops import host_work
from eiesim.run.simulate import simulate

if onnx is not None:
    from onnx import TensorProto, helper

    from eiesim.importers.onnx.walker import import_onnx

pytestmark = needs_onnx
TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"
COMBOS = [(1.0, 1.0, 0, True), (0.5, 2.0, 1, True), (2.0, 1.0, 1, False), (1.0, -0.5, 0, True)]


def _gemm(name: str, a: str, out: str, k: int, n: int, alpha: float, beta: float, trans_b: int, bias: bool,
          rng: np.random.Generator) -> tuple[object, list]:
    """A Gemm with transA = 1 reading ``a`` (a (k, m) tensor), B of (k, n) (or (n, k) with transB), C of (n,)."""
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    inits = [initializer(f"{name}.B", b)]
    inputs = [a, f"{name}.B"]
    if bias:
        inits.append(initializer(f"{name}.C", rng.normal(size=(n,)).astype(np.float32)))
        inputs.append(f"{name}.C")
    node = helper.make_node("Gemm", inputs, [out], name=name, transA=1, transB=trans_b, alpha=alpha, beta=beta)
    return node, inits


def _ort(path: Path, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _check_bit_exact(model, x: np.ndarray) -> None:
    wl = compress_model(model, {dl.spec.name: 0.6 for dl in model.layers}, bits=4)
    arch = load_arch(TINY_ARCH)
    fast, event = simulate(arch, wl, input=x, engine="fast"), simulate(arch, wl, input=x, engine="event")
    assert fast.check["functional"] == "pass" and event.check["functional"] == "pass"


@pytest.mark.parametrize("alpha, beta, trans_b, bias", COMBOS)
def test_column_of_batch_one(tmp_path, alpha, beta, trans_b, bias):
    """x (1, 6) -> fc1 -> Transpose -> a (5, 1) column -> Gemm transA=1: the column is fc2's (1, 5) row."""
    rng = np.random.default_rng(41)
    g2, inits2 = _gemm("fc2", "col", "y", 5, 3, alpha, beta, trans_b, bias, rng)
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], name="fc1", transB=1),
             helper.make_node("Transpose", ["h"], ["col"], name="to_column", perm=[1, 0]), g2]
    inits = [initializer("w1", rng.normal(size=(5, 6)).astype(np.float32)), *inits2]
    path = save_model(tmp_path, nodes, inits, [1, 6], opset=13)
    model = import_onnx(path)
    assert [(dl.spec.name, dl.spec.kind) for dl in model.layers] == [("fc1", "fc"), ("fc2", "fc")]
    x = rng.normal(size=(6,)).astype(np.float32)
    ours, ref = forward(to_workload(model, strict=False), x).logits, _ort(path, x[None]).reshape(-1)
    assert ours.shape == ref.shape == (3,)
    assert np.max(np.abs(ours - ref)) <= 1e-5 * max(1.0, float(np.max(np.abs(ref))))
    # The Transpose and the column's Reshape back move data only; fc1's 5 outputs leave the chip and come back.
    work = host_work(to_workload(model, strict=False))
    assert [r.op for r in work] == ["Transpose", "Reshape"] and sum(r.operations for r in work) == 0
    assert sum(r.bytes_from_chip for r in work) == sum(r.bytes_to_chip for r in work) == 2 * 5
    _check_bit_exact(model, x)


@pytest.mark.parametrize("alpha, beta, trans_b, bias", COMBOS)
def test_tokens_transposed(tmp_path, alpha, beta, trans_b, bias):
    """x (1, 4, 6) -> Reshape (4, 6) -> Transpose (6, 4) -> Gemm transA=1: 4 tokens of 6 values, per-token layer."""
    rng = np.random.default_rng(42)
    g, inits = _gemm("proj", "xt", "y", 6, 5, alpha, beta, trans_b, bias, rng)
    nodes = [helper.make_node("Reshape", ["x", "rows"], ["r"], name="rows"),
             helper.make_node("Transpose", ["r"], ["xt"], name="transpose", perm=[1, 0]), g]
    inits.append(initializer("rows", np.array([4, 6], np.int64)))
    path = save_model(tmp_path, nodes, inits, [1, 4, 6], opset=13)
    model = import_onnx(path)
    assert len(model.layers) == 1 and model.layers[0].extra["tokens"] == [4]
    x = rng.normal(size=(1, 4, 6)).astype(np.float32)
    ours, ref = forward(to_workload(model, strict=False), x.reshape(-1)).logits, _ort(path, x)
    assert ref.shape == (4, 5)
    assert np.max(np.abs(ours - ref.reshape(-1))) <= 1e-5 * max(1.0, float(np.max(np.abs(ref))))
    _check_bit_exact(model, x.reshape(-1))


def test_constant_a_is_refused(tmp_path):
    rng = np.random.default_rng(43)
    nodes = [helper.make_node("Gemm", ["a", "x"], ["y"], name="g", transA=1)]
    path = tmp_path / "m.onnx"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[initializer("a", rng.normal(size=(1, 2)).astype(np.float32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    with pytest.raises(ModelFileError, match=r"node 'g' \(Gemm\)"):
        import_onnx(path)
