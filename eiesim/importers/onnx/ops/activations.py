"""Activations other than ReLU, folded onto the producing layer's write-back path (``eiesim.network.activations``).

Each handler sets the ``activation`` of every layer its input comes from (a concatenation's
branches each get theirs; PReLU's per-channel slopes are split along the branches). The layer
must not have a ReLU, another activation or a pool yet: the write-back path applies one
activation, after the bias and residual, before pooling (docs/timing-model.md, "Activations").
SiLU / Swish, exported as ``x * Sigmoid(x)``, is recognised at the ``Mul``; a ``Mul`` by a
constant per-channel scale is folded into the layer's weights and bias; a ``Mul`` of two computed
tensors (squeeze-excite) is refused here and runs on the host (``eiesim.importers.onnx.ops.host``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.importers.onnx.ops.table import handles
from eiesim.network.workload import NETWORK_INPUT

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker


def set_activation(walker: GraphWalker, node: Any, kind: str, params: dict[str, Any] | None = None) -> None:
    """Give every layer the node's input comes from the write-back activation ``kind`` (with ``params``)."""
    a = walker.act(node.input[0], node)
    slopes = (params or {}).get("slope")
    offset = 0
    for src in a.sources:
        if src == NETWORK_INPUT:
            raise walker.fail(f"{node.op_type} on the network input cannot be folded into a layer", node)
        layer = walker.layers[src]
        done = ("a ReLU" if layer.relu else f"the activation {layer.activation[0]!r}" if layer.activation
                else "a pool" if layer.pool is not None else None)
        if done is not None:
            raise walker.fail(f"{node.op_type} after {done} of layer {src!r} cannot be folded: the write-back path "
                              "applies one activation, before pooling", node)
        p = dict(params or {})
        if slopes is not None and len(slopes) > 1:  # per channel: this branch's share of the concatenation
            channels = int(layer.weight.shape[0])
            p["slope"] = slopes[offset:offset + channels]
            offset += channels
        layer.activation = (kind, p)
        walker.bump(layer)
    walker.record(node, "folded", f"{kind} on the write-back path of layer(s) {list(a.sources)} "
                                  "(docs/timing-model.md, \"Activations\")")
    walker.put(node, walker.make_act(a.sources, a.shape))


def clip_bounds(walker: GraphWalker, node: Any) -> tuple[float | None, float | None]:
    """A Clip's (min, max): from its inputs (opset >= 11) or attributes; None where unbounded."""
    at = walker.attrs(node)
    bounds: list[float | None] = []
    for index, key in ((1, "min"), (2, "max")):
        if len(node.input) > index and node.input[index]:
            value: float | None = float(walker.const(node.input[index], node, f"Clip {key}").reshape(-1)[0])
        else:
            value = float(at[key]) if key in at else None
        bounds.append(value if value is not None and np.isfinite(value) else None)
    return bounds[0], bounds[1]


@handles("Sigmoid")
def sigmoid(walker: GraphWalker, node: Any) -> None:
    """A Sigmoid is a 256-entry table on the write-back path of the producing layer(s)."""
    set_activation(walker, node, "sigmoid")
    walker.sigmoid_of[node.output[0]] = node.input[0]


@handles("Tanh")
def tanh(walker: GraphWalker, node: Any) -> None:
    """A Tanh is a 256-entry table on the write-back path of the producing layer(s)."""
    set_activation(walker, node, "tanh")


@handles("HardSigmoid")
def hard_sigmoid(walker: GraphWalker, node: Any) -> None:
    """A HardSigmoid is a multiply-add and a clamp on the write-back path."""
    at = walker.attrs(node)
    set_activation(walker, node, "hard_sigmoid",
                   {"alpha": float(at.get("alpha", 0.2)), "beta": float(at.get("beta", 0.5))})


@handles("HardSwish")
def hard_swish(walker: GraphWalker, node: Any) -> None:
    """A HardSwish is x times a hard-sigmoid gate (two multiplies) on the write-back path."""
    set_activation(walker, node, "hard_swish")


@handles("LeakyRelu")
def leaky_relu(walker: GraphWalker, node: Any) -> None:
    """A LeakyRelu is a comparison and a multiply on the write-back path."""
    set_activation(walker, node, "leaky_relu", {"alpha": float(walker.attrs(node).get("alpha", 0.01))})


@handles("PRelu")
def prelu(walker: GraphWalker, node: Any) -> None:
    """A PRelu (one slope, or one per channel) is a comparison and a multiply on the write-back path."""
    a = walker.act(node.input[0], node)
    slope = walker.weights(node.input[1], node, "PRelu slope")
    channels = a.shape[0]
    trailing = slope.shape[1:] if slope.ndim == len(a.shape) else ()
    if slope.size not in (1, channels) or any(d != 1 for d in trailing) or (
            slope.ndim == len(a.shape) and slope.shape[0] != slope.size):
        raise walker.fail(f"a PRelu slope of shape {list(slope.shape)} is not one value or one per channel "
                          f"({channels})", node)
    set_activation(walker, node, "prelu", {"slope": [float(v) for v in slope.reshape(-1)]})


@handles("Mul", listed_as="Mul (x * Sigmoid(x), constant scale)")
def mul(walker: GraphWalker, node: Any) -> None:
    """x * Sigmoid(x) of a layer's output is SiLU on its write-back path; a constant Mul scales the layer."""
    names = list(node.input)
    if len(names) != 2:
        raise walker.fail("Mul needs two inputs", node)
    const_side = [n for n in names if n in walker.consts]
    if len(const_side) == 1:
        _scale(walker, node, next(n for n in names if n not in walker.consts), const_side[0])
        return
    x, s = names if names[1] in walker.sigmoid_of else names[::-1]
    if walker.sigmoid_of.get(s) != x:
        raise walker.fail("a Mul of two computed tensors does not run on EIE (squeeze-excite's x * "
                          "sigmoid(fc(pool(x))) scales a layer's outputs by another layer's: EIE's write-back path "
                          "has no second operand per channel); only x * Sigmoid(x) (SiLU) does", node)
    if walker.consumers.get(s, 0) != 1 or walker.consumers.get(x, 0) != 2:
        raise walker.fail("x * Sigmoid(x) where x or Sigmoid(x) is also used elsewhere cannot be folded: the "
                          "layer stores one output", node)
    a = walker.act(s, node)
    for src in a.sources:
        layer = walker.layers[src]
        layer.activation = ("silu", {})
        walker.bump(layer)
    walker.record(node, "folded", f"x * Sigmoid(x): silu on the write-back path of layer(s) {list(a.sources)}")
    walker.put(node, walker.make_act(a.sources, a.shape))


def _scale(walker: GraphWalker, node: Any, name: str, const: str) -> None:
    """A constant scalar or per-output-channel factor folded into the one layer's weights and bias."""
    a = walker.act(name, node)
    layer = walker.single_layer(a, node, "a constant Mul")
    c = walker.weights(const, node, "Mul factor")
    out_c = int(layer.weight.shape[0])
    if layer.residual is not None:
        raise walker.fail(f"a constant Mul after layer {layer.name!r}'s residual Add cannot be folded into its "
                          "weights", node)
    if layer.kind == "conv":
        shape = (1,) * (4 - c.ndim) + c.shape if c.ndim <= 4 else None
        if shape is None or shape[0] != 1 or shape[2:] != (1, 1) or shape[1] not in (1, out_c):
            raise walker.fail(f"constant of shape {list(c.shape)} is not a per-channel factor for {out_c} "
                              "channels", node)
    factor = walker.bias_vector(c.reshape(-1) if layer.kind == "conv" else c, out_c, node).astype(np.float64)
    layer.weight = (layer.weight * factor[:, None, None, None]).astype(np.float32)
    layer.bias = (layer.bias * factor).astype(np.float32)
    walker.bump(layer)
    walker.record(node, "folded", f"into layer {layer.name!r}: weights and bias scaled per output channel")
    walker.put(node, walker.make_act(a.sources, a.shape))
