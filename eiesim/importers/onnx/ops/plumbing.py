"""The operators that only route tensors: Concat, Flatten, Reshape, Dropout, Shape, Identity, a final Softmax."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.importers.onnx.fold import shape_of
from eiesim.importers.onnx.graph_state import ComputedTensor
from eiesim.importers.onnx.ops.table import handles

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker


@handles("Concat")
def concat(walker: GraphWalker, node: Any) -> None:
    """A channel Concat: a consumer reads the parts' layers, in order (its ``inputs``)."""
    at = walker.attrs(node)
    parts = [walker.act(n, node) for n in node.input if n]
    if any(n in walker.consts for n in node.input):
        raise walker.fail("Concat of a constant with computed tensors is not supported", node)
    rank = len(parts[0].shape) + 1
    axis = int(at.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if axis != 1:
        raise walker.fail(f"only concatenation along the channel axis (1) is supported, got axis {at.get('axis')}", node)
    if any(len(p.shape) + 1 != rank for p in parts) or len({p.shape[1:] for p in parts}) != 1:
        raise walker.fail(f"inputs of shapes {[p.shape for p in parts]} cannot be concatenated on channels", node)
    sources = tuple(s for p in parts for s in p.sources)
    snapshot = tuple(x for p in parts for x in p.snapshot)
    shape = (sum(p.shape[0] for p in parts), *parts[0].shape[1:])
    walker.put(node, ComputedTensor(sources, shape, snapshot))


def flatten_to(walker: GraphWalker, node: Any, a: ComputedTensor) -> None:
    """The node's output: ``a`` flattened to (K,), from the same sources."""
    walker.put(node, ComputedTensor(a.sources, (math.prod(a.shape),), a.snapshot))


@handles("Flatten")
def flatten(walker: GraphWalker, node: Any) -> None:
    """Flatten with axis 1 changes nothing in the layer graph."""
    at = walker.attrs(node)
    if int(at.get("axis", 1)) != 1:
        raise walker.fail(f"only Flatten with axis 1 is supported, got {at.get('axis')}", node)
    flatten_to(walker, node, walker.act(node.input[0], node))


@handles("Reshape", listed_as="Reshape as flatten")
def reshape(walker: GraphWalker, node: Any) -> None:
    """A Reshape that flattens (or keeps the shape) changes nothing in the layer graph."""
    a = walker.act(node.input[0], node)
    target = walker.const(node.input[1], node, "Reshape's shape").astype(np.int64).reshape(-1).tolist()
    total = math.prod(a.shape)
    full = [1, *a.shape]
    resolved = [full[i] if v == 0 and i < len(full) else v for i, v in enumerate(target)]
    if resolved.count(-1) == 1:
        known = math.prod(v for v in resolved if v != -1)
        resolved = [total // known if v == -1 else v for v in resolved] if known else resolved
    if resolved not in ([1, total], [total]) and not (resolved == full):
        raise walker.fail(f"Reshape to {target} is not a flatten of the {full} tensor; only flattening is supported", node)
    if resolved == full:
        walker.put(node, a)
    else:
        flatten_to(walker, node, a)


@handles("Dropout")
def dropout(walker: GraphWalker, node: Any) -> None:
    """Dropout at inference is the identity."""
    if len(node.output) > 1 and node.output[1] and walker.consumers.get(node.output[1], 0):
        raise walker.fail("the mask output of Dropout is used; eiesim treats Dropout as the identity", node)
    if len(node.input) > 2 and node.input[2] and node.input[2] in walker.consts and bool(walker.consts[node.input[2]]):
        raise walker.fail("Dropout in training mode is not supported", node)
    walker.put(node, walker.act(node.input[0], node))


@handles("Shape", listed_as=None)
def shape(walker: GraphWalker, node: Any) -> None:
    """Shape of a computed tensor is a constant (batch 1, static shapes)."""
    # Shapes of computed tensors are static here (batch 1), so Shape becomes a constant;
    # this is how exporters spell ``x.view(x.size(0), -1)``. The same evaluation as a constant's Shape.
    a = walker.act(node.input[0], node)
    walker.consts[node.output[0]] = shape_of(node, (1, *a.shape), walker.opset, walker.path)


@handles("Identity")
def identity(walker: GraphWalker, node: Any) -> None:
    """Identity changes nothing."""
    walker.put(node, walker.act(node.input[0], node))


@handles("Softmax", listed_as="final Softmax")
def softmax(walker: GraphWalker, node: Any) -> None:
    """A final Softmax is dropped: eiesim's output is the last layer's logits."""
    out = node.output[0]
    if out not in walker.graph_outputs or walker.consumers.get(out, 0) != 1:
        raise walker.fail("Softmax is supported only as the very last operator (it is dropped)", node)
    walker.notes.append(f"final Softmax {node.name or out!r} dropped: eiesim's output is the last layer's logits "
                      "(the forward pass applies softmax itself for top-5)")
    walker.logits_tensor = node.input[0]
    walker.put(node, walker.act(node.input[0], node))
