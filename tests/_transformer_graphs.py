"""Small transformer graphs built with ``onnx.helper`` the way ``torch.onnx.export`` (opset 17) spells them.

* ``encoder_layer``: ``nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, batch_first=True)``
  (post-norm, ReLU, fused in-projection then ``Split``) followed by a ``Linear`` head;
* ``decoder_block``: a token-embedding ``Gather`` plus positional embedding, a pre-norm block with
  causal self-attention (a ``Where`` with a constant causal mask) and an MLP with the ``Erf`` GELU
  pattern, a final LayerNormalization and an LM head.

The weights are random (seeded); the tests compare eiesim with onnxruntime on the written file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _onnx_support import onnx

if onnx is not None:
    from onnx import TensorProto, helper, numpy_helper


class _Graph:
    """Nodes and initializers of a graph under construction, with fresh names."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.count = 0
        self.used: set[str] = set()

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base: str, arr) -> str:
        name = base if base not in self.used else self.name(base)
        self.used.add(name)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def weight(self, base: str, shape, scale: float = 0.15) -> str:
        return self.const(base, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name(f"/{op}"), **attrs))
        return outs

    def one(self, op: str, inputs: list[str], **attrs) -> str:
        return self.node(op, inputs, **attrs)[0]

    def linear(self, x: str, d_in: int, d_out: int, base: str, bias: bool = True) -> str:
        y = self.one("MatMul", [x, self.weight(f"{base}.weight", (d_in, d_out))])
        if bias:
            y = self.one("Add", [y, self.weight(f"{base}.bias", (d_out,), 0.05)])
        return y

    def layer_norm(self, x: str, d: int, base: str) -> str:
        gamma = self.const(f"{base}.weight", (1 + 0.1 * self.rng.standard_normal(d)).astype(np.float32))
        beta = self.const(f"{base}.bias", (0.1 * self.rng.standard_normal(d)).astype(np.float32))
        return self.one("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)

    def heads(self, x: str, seq: int, nhead: int, dh: int) -> str:
        shape = self.const("heads_shape", np.array([1, seq, nhead, dh], np.int64))
        return self.one("Transpose", [self.one("Reshape", [x, shape])], perm=[0, 2, 1, 3])

    def attention(self, q: str, k: str, v: str, seq: int, nhead: int, d: int, causal: bool) -> str:
        dh = d // nhead
        qh, kh, vh = (self.heads(t, seq, nhead, dh) for t in (q, k, v))
        scale = self.const("scale", np.array(1 / np.sqrt(dh), np.float32))
        scores = self.one("MatMul", [self.one("Mul", [qh, scale]), self.one("Transpose", [kh], perm=[0, 1, 3, 2])])
        if causal:
            mask = self.const("causal_mask", np.tril(np.ones((seq, seq), bool)))
            scores = self.one("Where", [mask, scores, self.const("neg_inf", np.array(-np.inf, np.float32))])
        ctx = self.one("MatMul", [self.one("Softmax", [scores], axis=-1), vh])
        merged = self.const("merge_shape", np.array([1, seq, d], np.int64))
        return self.one("Reshape", [self.one("Transpose", [ctx], perm=[0, 2, 1, 3]), merged])

    def save(self, tmp_path: Path, x_info, y: str, name: str) -> Path:
        graph = helper.make_graph(self.nodes, "main_graph", [x_info],
                                  [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        path = tmp_path / name
        onnx.save(model, str(path))
        return path


def encoder_layer(tmp_path: Path, d: int = 64, nhead: int = 2, ff: int = 128, seq: int = 8, classes: int = 10,
                  seed: int = 0) -> Path:
    """``nn.TransformerEncoderLayer`` (post-norm, ReLU, batch_first) + ``nn.Linear(d, classes)``; input (1, seq, d)."""
    g = _Graph(seed)
    x = "x"
    qkv = g.linear(x, d, 3 * d, "self_attn.in_proj")
    q, k, v = g.node("Split", [qkv, g.const("split", np.array([d, d, d], np.int64))], n_out=3, axis=2)
    attn = g.linear(g.attention(q, k, v, seq, nhead, d, causal=False), d, d, "self_attn.out_proj")
    h = g.layer_norm(g.one("Add", [x, attn]), d, "norm1")
    f = g.linear(g.one("Relu", [g.linear(h, d, ff, "linear1")]), ff, d, "linear2")
    out = g.layer_norm(g.one("Add", [h, f]), d, "norm2")
    y = g.linear(out, d, classes, "head")
    g.nodes[-1].output[0] = "y"
    return g.save(tmp_path, helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d]), "y", "encoder.onnx")


def decoder_block(tmp_path: Path, vocab: int = 50, d: int = 64, nhead: int = 2, ff: int = 128, seq: int = 8,
                  seed: int = 1) -> Path:
    """Embedding ``Gather`` + positions, a pre-norm causal decoder block (Erf GELU), final norm, LM head."""
    g = _Graph(seed)
    emb = g.one("Gather", [g.weight("tok_emb.weight", (vocab, d), 0.5), "ids"], axis=0)
    x = g.one("Add", [emb, g.weight("pos_emb", (1, seq, d), 0.1)])
    n1 = g.layer_norm(x, d, "ln1")
    q, k, v = (g.linear(n1, d, d, f"attn.{p}", bias=False) for p in "qkv")
    x = g.one("Add", [x, g.linear(g.attention(q, k, v, seq, nhead, d, causal=True), d, d, "attn.proj")])
    hidden = g.linear(g.layer_norm(x, d, "ln2"), d, ff, "mlp.fc")
    erf = g.one("Erf", [g.one("Div", [hidden, g.const("sqrt2", np.array(np.sqrt(2), np.float32))])])
    gelu = g.one("Mul", [g.one("Mul", [hidden, g.one("Add", [erf, g.const("one", np.array(1, np.float32))])]),
                         g.const("half", np.array(0.5, np.float32))])
    x = g.one("Add", [x, g.linear(gelu, ff, d, "mlp.proj")])
    g.linear(g.layer_norm(x, d, "ln_f"), d, vocab, "lm_head", bias=False)
    g.nodes[-1].output[0] = "y"
    return g.save(tmp_path, helper.make_tensor_value_info("ids", TensorProto.INT64, [1, seq]), "y", "decoder.onnx")
