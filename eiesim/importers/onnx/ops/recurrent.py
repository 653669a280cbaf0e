"""The recurrent operators: LSTM and GRU (as torch.onnx.export writes nn.LSTM / nn.GRU), and Squeeze.

Each becomes one recurrent layer (``eiesim.network.recurrent``; docs/workload-format.md):
the fused M x V over [x_t; h_{t-1}]. LSTM: ``[W | R]`` with rows in ONNX's gate order
i, o, f, c and bias ``Wb + Rb``. GRU (``linear_before_reset = 1`` only, PyTorch's): rows z, r
as ``[W | R]`` with ``Wb + Rb``, then the candidate's input part ``[W_h | 0]`` with ``Wb_h``
and its recurrent part ``[0 | R_h]`` with ``Rb_h``. Batch 1, one direction, the default
activations, zero initial states; a sequence is carried flat (T x I values, time-major),
so ONNX's layouts 0 and 1 are the same values in the same order. Only the Y output (every
step's h) may be read; Squeeze (which exporters put after Y to drop its direction axis)
keeps a flat tensor as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.importers.onnx.graph_state import PendingLayer
from eiesim.importers.onnx.ops.table import handles

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker

_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}


def _checked_attrs(walker: GraphWalker, node: Any, gates: int) -> int:
    """The node's hidden_size after refusing what a recurrent layer cannot represent."""
    at = walker.attrs(node)
    if at.get("direction", "forward") != "forward":
        raise walker.fail(f"direction {at['direction']!r} is not supported (one forward direction only)", node)
    acts = at.get("activations")
    if acts is not None and [a.lower() for a in acts] != [a.lower() for a in _DEFAULT_ACTIVATIONS[node.op_type]]:
        raise walker.fail(f"activations {acts} are not supported (only the default sigmoid / tanh)", node)
    if "clip" in at:
        raise walker.fail("cell clipping (clip) is not supported", node)
    if int(at.get("input_forget", 0)):
        raise walker.fail("input_forget = 1 is not supported", node)
    if node.op_type == "GRU" and not int(at.get("linear_before_reset", 0)):
        raise walker.fail("GRU with linear_before_reset = 0 needs the reset gate before the recurrent product, "
                          "which one fused M x V per step cannot do; PyTorch exports linear_before_reset = 1", node)
    for out in node.output[1:]:
        if out and walker.consumers.get(out, 0):
            raise walker.fail(f"output {out!r} (the last hidden / cell state) is read; only Y (every step's h) is "
                              "supported", node)
    w = walker.weights(node.input[1], node, f"{node.op_type} W")
    hidden = int(at.get("hidden_size", w.shape[1] // gates))
    return hidden


def _zero_state(walker: GraphWalker, node: Any, index: int, what: str) -> None:
    if len(node.input) > index and node.input[index]:
        state = walker.weights(node.input[index], node, what)
        if np.any(state != 0):
            raise walker.fail(f"a non-zero {what} is not supported (recurrent layers start from zero states)", node)


def _weights(walker: GraphWalker, node: Any, gates: int, hidden: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W (gates H, I), R (gates H, H), B (2 gates H)) of the one direction."""
    w = walker.weights(node.input[1], node, f"{node.op_type} W")
    r = walker.weights(node.input[2], node, f"{node.op_type} R")
    if w.ndim != 3 or w.shape[0] != 1 or w.shape[1] != gates * hidden:
        raise walker.fail(f"W of shape {w.shape} is not (1, {gates} x {hidden}, inputs)", node)
    if r.shape != (1, gates * hidden, hidden):
        raise walker.fail(f"R of shape {r.shape} is not (1, {gates * hidden}, {hidden})", node)
    b = np.zeros(2 * gates * hidden, np.float32)
    if len(node.input) > 3 and node.input[3]:
        b = walker.weights(node.input[3], node, f"{node.op_type} B").reshape(-1)
        if b.size != 2 * gates * hidden:
            raise walker.fail(f"B has {b.size} values, expected {2 * gates * hidden}", node)
    return w[0], r[0], b


def _sequence(walker: GraphWalker, node: Any, inputs: int) -> Any:
    """The X input: a flat sequence of whole steps; a fixed sequence_lens must be the full length."""
    a = walker.act(node.input[0], node)
    values = int(np.prod(a.shape))
    if values % inputs:
        raise walker.fail(f"the input's {values} values are not a sequence of {inputs}-value steps", node)
    if len(node.input) > 4 and node.input[4]:
        lens = walker.const(node.input[4], node, "sequence_lens").reshape(-1)
        if lens.size != 1 or int(lens[0]) != values // inputs:
            raise walker.fail(f"sequence_lens {lens.tolist()} must be the full length {values // inputs}", node)
    return a


def _add(walker: GraphWalker, node: Any, kind: str, weight: np.ndarray, bias: np.ndarray, hidden: int, a: Any,
         inputs: int) -> None:
    layer = PendingLayer(walker.layer_name(node, node.input[1]), kind,
                         np.ascontiguousarray(weight, dtype=np.float32)[:, :, None, None],
                         np.asarray(bias, np.float32), inputs=a.sources, extra={"hidden": hidden})
    steps = int(np.prod(a.shape)) // inputs
    walker.add_layer(node, layer, a, (steps * hidden,))


@handles("LSTM")
def lstm(walker: GraphWalker, node: Any) -> None:
    """An LSTM becomes an ``lstm`` layer: [W | R] (gates i, o, f, c), bias Wb + Rb."""
    hidden = _checked_attrs(walker, node, 4)
    w, r, b = _weights(walker, node, 4, hidden)
    _zero_state(walker, node, 5, "initial_h")
    _zero_state(walker, node, 6, "initial_c")
    if len(node.input) > 7 and node.input[7]:
        raise walker.fail("peephole weights (P) are not supported", node)
    a = _sequence(walker, node, w.shape[1])
    bias = b[:4 * hidden] + b[4 * hidden:]
    _add(walker, node, "lstm", np.concatenate([w, r], axis=1), bias, hidden, a, w.shape[1])


@handles("GRU")
def gru(walker: GraphWalker, node: Any) -> None:
    """A GRU becomes a ``gru`` layer: rows z, r over [W | R], then [W_h | 0] and [0 | R_h] (linear_before_reset)."""
    hidden = _checked_attrs(walker, node, 3)
    w, r, b = _weights(walker, node, 3, hidden)
    _zero_state(walker, node, 5, "initial_h")
    inputs = w.shape[1]
    a = _sequence(walker, node, inputs)
    h = hidden
    wb, rb = b[:3 * h], b[3 * h:]
    fused = np.zeros((4 * h, inputs + h), np.float32)
    fused[:2 * h, :inputs], fused[:2 * h, inputs:] = w[:2 * h], r[:2 * h]
    fused[2 * h:3 * h, :inputs] = w[2 * h:]
    fused[3 * h:, inputs:] = r[2 * h:]
    bias = np.concatenate([wb[:2 * h] + rb[:2 * h], wb[2 * h:], rb[2 * h:]])
    _add(walker, node, "gru", fused, bias, hidden, a, inputs)


@handles("Squeeze", listed_as="Squeeze of a flat tensor")
def squeeze(walker: GraphWalker, node: Any) -> None:
    """Squeeze of a flat tensor (a recurrent layer's Y, batch 1) keeps its values in order."""
    a = walker.act(node.input[0], node)
    if not a.flat:
        raise walker.fail(f"Squeeze is supported on flat tensors (a recurrent layer's output), got shape {a.shape}",
                          node)
    walker.put(node, a)
