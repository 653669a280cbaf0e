"""ONNX LSTM / GRU (as torch.onnx.export writes nn.LSTM / nn.GRU) -> recurrent layers; float output against
onnxruntime; compress -> run on both engines, bit-exact against the fixed-point reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _onnx_support import helper, initializer, needs_onnx, save_model

from eiesim.cli.compress_cmd import compress_model
from eiesim.config.arch import load_arch
from eiesim.errors import ModelFileError
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.run.simulate import simulate

pytestmark = needs_onnx
ROOT = Path(__file__).resolve().parents[1]


def _rnn_node(op: str, name: str, x: str, y: str, hidden: int, inputs: int, rng, **attrs):
    gates = 4 if op == "LSTM" else 3
    w = rng.normal(0, 0.5, (1, gates * hidden, inputs)).astype(np.float32)
    r = rng.normal(0, 0.5, (1, gates * hidden, hidden)).astype(np.float32)
    b = rng.normal(0, 0.3, (1, 2 * gates * hidden)).astype(np.float32)
    inits = [initializer(f"{name}.W", w), initializer(f"{name}.R", r), initializer(f"{name}.B", b)]
    if op == "GRU":
        attrs.setdefault("linear_before_reset", 1)
    outs = [f"{name}.Y", f"{name}.Y_h"] + ([f"{name}.Y_c"] if op == "LSTM" else [])
    nodes = [helper.make_node(op, [x, f"{name}.W", f"{name}.R", f"{name}.B"], outs, name=name, hidden_size=hidden,
                              **attrs),
             helper.make_node("Squeeze", [f"{name}.Y", f"{name}.axes"], [y], name=f"{name}.squeeze")]
    inits.append(initializer(f"{name}.axes", np.array([1], np.int64)))
    return nodes, inits


def _stack(tmp_path, op: str, layers: int, steps: int, inputs: int, hidden: int, seed: int):
    """An exported-like nn.LSTM / nn.GRU of ``layers`` layers: X (T, 1, I) -> [op -> Squeeze] x layers."""
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "x"
    for k in range(layers):
        out = "y" if k == layers - 1 else f"h{k}"
        n, i = _rnn_node(op, f"{op.lower()}{k}", x, out, hidden, inputs if k == 0 else hidden, rng)
        nodes += n
        inits += i
        x = out
    return save_model(tmp_path, nodes, inits, [steps, 1, inputs], name=f"{op}.onnx")


def _ort(path, x):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    return session.run(None, {feed.name: x.reshape(feed.shape)})[0].reshape(-1)


@pytest.mark.parametrize("op, layers, steps, inputs, hidden", [
    ("LSTM", 1, 5, 3, 4), ("LSTM", 2, 7, 6, 5), ("GRU", 1, 4, 3, 4), ("GRU", 3, 6, 2, 3)])
def test_import_matches_onnxruntime(tmp_path, op, layers, steps, inputs, hidden):
    from eiesim.importers.onnx.walker import import_onnx

    path = _stack(tmp_path, op, layers, steps, inputs, hidden, seed=layers * 10 + steps)
    model = import_onnx(path)
    assert [dl.spec.kind for dl in model.layers] == [op.lower()] * layers
    assert model.input_shape == (steps * inputs,)
    x = np.random.default_rng(1).normal(0, 1, steps * inputs).astype(np.float32)
    ours = forward(to_workload(model, strict=False), x, "float32").logits
    ref = _ort(path, x)
    assert ours.shape == ref.shape == (steps * hidden,)
    assert np.max(np.abs(ours - ref)) < 1e-5


@pytest.mark.parametrize("op", ["LSTM", "GRU"])
def test_compress_and_run_on_both_engines(tmp_path, op):
    from eiesim.importers.onnx.walker import import_onnx

    model = import_onnx(_stack(tmp_path, op, 2, 3, 5, 4, seed=3))
    wl = compress_model(model, {dl.spec.name: 0.6 for dl in model.layers}, 4)
    assert all(layer.kind == op.lower() and layer.extra["hidden"] == 4 for layer in wl.layers)
    wl.input = np.random.default_rng(2).normal(0, 1, 15).astype(np.float32)
    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")
    fast, event = simulate(arch, wl, engine="fast"), simulate(arch, wl, engine="event")
    assert fast.check["functional"] == event.check["functional"] == "pass"
    assert fast.to_dict()["layers"] == event.to_dict()["layers"]
    assert [s.pixels for s in fast.layers] == [3, 3]  # one round per time step


@pytest.mark.parametrize("attrs, match", [
    ({"direction": "bidirectional"}, "direction"), ({"clip": 1.0}, "clip"),
    ({"linear_before_reset": 0}, "linear_before_reset")])
def test_unsupported_variants_are_refused(tmp_path, attrs, match):
    from eiesim.importers.onnx.walker import import_onnx

    op = "GRU" if "linear_before_reset" in attrs else "LSTM"
    rng = np.random.default_rng(0)
    nodes, inits = _rnn_node(op, "r", "x", "y", 3, 2, rng, **attrs)
    path = save_model(tmp_path, nodes, inits, [4, 1, 2])
    with pytest.raises(ModelFileError, match=match):
        import_onnx(path)


def test_zero_initial_states_spelled_as_pytorch_does(tmp_path):
    # torch.onnx.export feeds nn.LSTM's zero states as Expand(zeros, (layers, batch, H)); they fold to constants.
    from eiesim.importers.onnx.walker import import_onnx

    rng = np.random.default_rng(4)
    nodes, inits = _rnn_node("LSTM", "r", "x", "y", 3, 2, rng)
    lstm_node = nodes[0]
    zeros = helper.make_node("Expand", ["zero", "state_shape"], ["h0"], name="expand")
    inits += [initializer("zero", np.zeros((1, 1, 1), np.float32)), initializer("state_shape", np.array([1, 1, 3]))]
    lstm_node.input.extend(["", "h0", "h0"])  # sequence_lens absent, initial_h, initial_c
    path = save_model(tmp_path, [zeros, *nodes], inits, [4, 1, 2])
    model = import_onnx(path)
    x = rng.normal(0, 1, 8).astype(np.float32)
    assert np.max(np.abs(forward(to_workload(model, strict=False), x, "float32").logits - _ort(path, x))) < 1e-5
    inits[-2] = initializer("zero", np.full((1, 1, 1), 0.5, np.float32))  # non-zero states are refused
    with pytest.raises(ModelFileError, match="initial_h"):
        import_onnx(save_model(tmp_path, [zeros, *nodes], inits, [4, 1, 2], name="nz.onnx"))
