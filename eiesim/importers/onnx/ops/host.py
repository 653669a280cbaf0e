"""Token layers and host ops: the ONNX operators of transformers and of other work EIE has no unit for.

``HOST_SIDE`` is a second operator table, consulted by the walker for a node that reads a token
sequence, token ids or a host op's output, for an operator only the host has (Softmax in the
middle of a graph, LayerNormalization, Erf, Transpose, ...), and for a node the EIE mapping
(``OPS``) refuses (e.g. an Add of two tensors that are not both EIE layer outputs). Its handlers:

* make an **EIE layer applied per token** from a ``MatMul`` of a (1, T, D) sequence with a
  constant (D, N) weight: a 1 x 1 conv over a 1 x T image with D channels, so the tokens are the
  layer's rounds like the pixels of a conv (docs/onnx.md, "Transformers");
* fold a constant ``Add`` (bias) and a ``Relu`` into such a layer, as for any layer;
* otherwise record a **host op** (``eiesim.network.host_graph``): computed in float32 on the host
  between EIE layers, counted and reported (``eiesim.network.host_ops``), never free.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.importers.onnx.coverage import CoverageRow, node_label
from eiesim.importers.onnx.fold import shape_of
from eiesim.importers.onnx.graph_state import ComputedTensor, PendingLayer
from eiesim.importers.onnx.ops import layers as layer_ops
from eiesim.importers.onnx.ops import plumbing
from eiesim.network.host_graph import HostOp, eie_shape, is_sequence
from eiesim.network.host_ops import evaluate, op_counts
from eiesim.network.workload import NETWORK_INPUT

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker

HostHandler = Callable[["GraphWalker", Any], None]

#: ONNX operator -> its handler on the host side (``eiesim.importers.onnx.walker`` says when it is used).
HOST_SIDE: dict[str, HostHandler] = {}
#: The operators that run on the host when the EIE mapping (``OPS``) refuses them on (C, H, W) / (K,) tensors:
#: an Add whose operands are not both EIE layer outputs, a product of two computed tensors (a MatMul, or
#: squeeze-excite's Mul of a map by per-channel gates), a Softmax that is not the last node, a Reshape that is
#: not a flatten (attention heads), a ReduceMean that is not a global average pool, a global average pool of a
#: tensor that is also read unpooled (squeeze-excite's squeeze). A refused Relu, Concat, Flatten, ... stays refused.
HOST_FALLBACK = frozenset({"Add", "MatMul", "Mul", "Softmax", "Reshape", "ReduceMean", "GlobalAveragePool"})


def host_side(*op_types: str) -> Callable[[HostHandler], HostHandler]:
    """Register the decorated function as the host-side handler of ``op_types``."""
    def register(handler: HostHandler) -> HostHandler:
        for op in op_types:
            if op in HOST_SIDE:
                raise ValueError(f"two host-side handlers for the ONNX operator {op}")
            HOST_SIDE[op] = handler
        return handler

    return register


# -- the walker's vocabulary for host tensors --------------------------------------------------------------------

def view_of(walker: GraphWalker, name: str, a: ComputedTensor) -> tuple[int, ...]:
    """The host view (ONNX shape with batch 1) of computed tensor ``name``."""
    return walker.host_view.get(name, (1, *a.shape))


def natural_view(walker: GraphWalker, source: str) -> tuple[int, ...]:
    """The host view in which the host receives ``source`` (the network input, a layer or a host op)."""
    if source in walker.host_ops:
        return tuple(walker.host_ops[source]["shape"])
    if source == NETWORK_INPUT:  # a sequence input is carried flat (docs/onnx.md, "Input")
        return (1, *walker.acts[walker.input_name].shape)
    out = _layer_out_shape(walker, source)
    if source in walker.token_layers:
        return (*walker.token_layers[source], out[0])
    return (1, *out)


def _layer_out_shape(walker: GraphWalker, name: str) -> tuple[int, ...]:
    """A layer's output shape (after its pool) as the walker last recorded it; an fc layer's is (K,)."""
    layer = walker.layers[name]
    if layer.kind == "fc":
        return (int(layer.weight.shape[0]),)
    return walker.layer_shapes[name]


def operand(walker: GraphWalker, node: Any, name: str) -> tuple[str | np.ndarray, tuple[int, ...]]:
    """An input of a host op: a constant array, or the name of the tensor it reads and that tensor's host view.

    A computed tensor whose host view differs from the view its source gives (a flattened layer output)
    gets a Reshape host op in between; the channel concatenation of several outputs (ShuffleNetV2's
    Concat before its channel shuffle) a Concat host op (the host receives each part, as it would anyway).
    """
    if name in walker.consts:
        value = walker.consts[name]
        return value, tuple(np.shape(value))
    a = walker.act(name, node)
    walker.uses.append((f"host op {node_name(node)!r}", a))
    view = view_of(walker, name, a)
    source = a.sources[0]
    have = natural_view(walker, source)
    if len(a.sources) > 1:
        parts = [natural_view(walker, s) for s in a.sources]
        if len({len(p) for p in parts}) != 1 or len({p[2:] for p in parts}) != 1 or len(parts[0]) < 2:
            raise walker.fail(f"a host op cannot read the channel concatenation of {list(a.sources)} "
                              f"(host views {[list(p) for p in parts]})", node)
        have = (parts[0][0], sum(p[1] for p in parts), *parts[0][2:])
        source = add_host_op(walker, node, "Concat", list(a.sources), {"axis": 1}, have, suffix="concat")
    if have != view:
        source = add_host_op(walker, node, "Reshape", [source], {"shape": list(view)}, view, suffix="view")
    return source, view


def node_name(node: Any) -> str:
    return str(node.name or node.output[0])


def unique_name(walker: GraphWalker, base: str) -> str:
    base = re.sub(r"\s+", "_", base).strip("/") or "host"
    name, k = base, 2
    while name in walker.layers or name in walker.host_ops or name == NETWORK_INPUT:
        name, k = f"{base}_{k}", k + 1
    return name


def add_host_op(walker: GraphWalker, node: Any, op: str, inputs: list[str | np.ndarray], attrs: dict[str, Any],
                shape: tuple[int, ...], suffix: str = "") -> str:
    """Record a host op (its output of host view ``shape``) and return its name."""
    name = unique_name(walker, node_name(node) + (f"/{suffix}" if suffix else ""))
    record = HostOp(name, op, tuple(inputs), attrs, tuple(int(s) for s in shape))
    walker.host_ops[name] = record.to_meta()
    walker.version[name] = 0
    return name


def put_host(walker: GraphWalker, out: str, source: str, shape: tuple[int, ...]) -> None:
    """Tensor ``out`` is host op ``source``'s output, of host view ``shape``."""
    walker.acts[out] = walker.make_act((source,), eie_shape(shape))
    walker.host_view[out] = tuple(shape)


def probe(op: str, operands: list[tuple[str | np.ndarray, tuple[int, ...]]], attrs: dict[str, Any]) -> np.ndarray:
    """The op evaluated on zeros of its computed inputs' shapes (and its real constants): its output's shape."""
    args = [np.zeros(shape, np.float32) if isinstance(value, str) else value for value, shape in operands]
    return evaluate(op, args, attrs)


def host(walker: GraphWalker, node: Any, op: str, names: list[str], attrs: dict[str, Any] | None = None,
         output: int = 0, suffix: str = "", record: bool = True) -> str:
    """Node ``node`` (or one of its outputs) as a host op ``op`` on ``names``; its output becomes a host tensor."""
    attrs = attrs or {}
    if all(n in walker.consts for n in names):  # shape arithmetic and other constants: evaluated at import
        walker.fold(node)
        walker.record(node, "folded", "constant, evaluated at import")
        return ""
    operands = [operand(walker, node, n) for n in names]
    try:
        shape = tuple(probe(op, operands, attrs).shape)
    except (ValueError, IndexError, TypeError) as exc:
        raise walker.fail(f"{op} on inputs of shapes {[s for _, s in operands]}: {exc}", node) from None
    if not shape:
        raise walker.fail(f"{op} gives a scalar; eiesim's host tensors have at least one axis", node)
    name = add_host_op(walker, node, op, [v for v, _ in operands], attrs, shape, suffix)
    put_host(walker, node.output[output], name, shape)
    if record:
        counts = op_counts(HostOp(name, op, tuple(v for v, _ in operands), attrs, shape), [s for _, s in operands])
        total = sum(counts.values())
        walker.record(node, "host", f"{op} on the host, {total:,} operations" if total else
                      f"{op} on the host (moves data only)")
    return name


# -- EIE layers applied per token --------------------------------------------------------------------------------

def token_source(walker: GraphWalker, node: Any, name: str) -> ComputedTensor | None:
    """The token sequence ``name`` (a host view (..., D) other than (1, K) and (1, C, H, W)) as one tensor a
    layer can read, or None."""
    if name in walker.consts or name not in walker.acts:
        return None
    a = walker.acts[name]
    view = walker.host_view.get(name)
    if view is None or len(view) < 2 or not is_sequence(view) or len(a.sources) != 1:
        return None
    if natural_view(walker, a.sources[0]) != view:  # e.g. the flat network input: viewed by a Reshape on the host
        source, view = operand(walker, node, name)
        return walker.make_act((str(source),), eie_shape(view))
    return a


def token_layer(walker: GraphWalker, node: Any, seq: ComputedTensor, x: str, w: np.ndarray, bias: np.ndarray,
                weight_name: str) -> None:
    """An fc layer of weight ``w`` (out, in) applied to every token of sequence ``x``: a 1 x 1 conv on a 1 x R map."""
    leading = tuple(walker.host_view[x][:-1])
    count = math.prod(leading)
    layer = PendingLayer(walker.layer_name(node, weight_name), "conv", np.ascontiguousarray(w)[:, :, None, None],
                         bias.astype(np.float32), inputs=seq.sources)
    walker.token_layers[layer.name] = leading
    walker.add_layer(node, layer, seq, (w.shape[0], 1, count))
    walker.coverage[-1] = CoverageRow(node_label(node), node.op_type, "EIE layer",
                                      f"fc layer {layer.name!r} applied per token ({count} tokens as rounds)")
    walker.host_view[node.output[0]] = (*leading, int(w.shape[0]))


def _fc_on_host_tensor(walker: GraphWalker, x: str) -> bool:
    """True when ``x`` is a (1, K) host tensor an fc layer can read as it is."""
    if x not in walker.acts or x not in walker.host_view or len(walker.host_view[x]) != 2:
        return False
    a = walker.acts[x]
    return len(a.sources) == 1 and natural_view(walker, a.sources[0]) == walker.host_view[x]


@host_side("MatMul")
def matmul(walker: GraphWalker, node: Any) -> None:
    """MatMul with a constant weight: an EIE layer (per token for a sequence); of two computed tensors: the host."""
    x, w_name = node.input[0], node.input[1]
    weight = walker.consts.get(w_name)
    if weight is not None and weight.ndim == 2 and x not in walker.consts:
        seq = token_source(walker, node, x)
        if seq is not None and weight.shape[0] == walker.host_view[x][-1]:
            w = walker.weights(w_name, node, "MatMul weight")
            token_layer(walker, node, seq, x, w.T, np.zeros(w.shape[1], np.float32), w_name)
            return
        if _fc_on_host_tensor(walker, x):
            layer_ops.matmul(walker, node)
            return
    host(walker, node, "MatMul", [x, w_name])


@host_side("Gemm")
def gemm(walker: GraphWalker, node: Any) -> None:
    """Gemm of a token sequence (e.g. (T, D) rows) with a constant B: an EIE layer applied per row.

    With ``transA`` = 1 the activation A is transposed first (``_transposed_a``), then read as above.
    """
    x = node.input[0]
    at = walker.attrs(node)
    if int(at.get("transA", 0)):
        gemm(walker, _transposed_a(walker, node))
        return
    seq = token_source(walker, node, x)
    if seq is None:
        layer_ops.gemm(walker, node)
        return
    b = walker.weights(node.input[1], node, "Gemm weight B")
    if b.ndim != 2:
        raise walker.fail(f"weight B must be 2-D, got {b.shape}", node)
    w = (b.T if not int(at.get("transB", 0)) else b) * np.float32(at.get("alpha", 1.0))
    if w.shape[1] != walker.host_view[x][-1]:
        raise walker.fail(f"weight takes {w.shape[1]} inputs but each row has {walker.host_view[x][-1]}", node)
    bias = np.zeros(w.shape[0], np.float32)
    if len(node.input) > 2 and node.input[2]:
        c = walker.weights(node.input[2], node, "Gemm bias C") * np.float32(at.get("beta", 1.0))
        bias = walker.bias_vector(c, w.shape[0], node)
    token_layer(walker, node, seq, x, w, bias, node.input[1])


def _transposed_a(walker: GraphWalker, node: Any) -> Any:
    """A copy of Gemm ``node`` with ``transA`` = 0 reading A^T, which the host makes from A (a (K, M) tensor).

    A (K, 1) column (batch 1) is the (1, K) row an fc layer reads: the same values in the same order, a
    Reshape that moves nothing (0 operations). A (D, T) tensor becomes the T tokens of D values a layer
    applied per token reads: a Transpose on the host (0 operations; the bytes to and from the chip are
    counted like any host op's). A constant A, one that is not 2-D, or a (1, K) row (its transpose is K rows
    of one value: an outer product, no matrix-vector product) is refused.
    """
    x = node.input[0]
    if x in walker.consts:
        raise walker.fail("transA=1 with a constant A is not supported (the activation must be A)", node)
    source, view = operand(walker, node, x)
    if len(view) != 2:
        raise walker.fail(f"transA=1 needs a 2-D A, got a {list(view)} tensor", node)
    k, m = view
    if k == 1 and m > 1:
        raise walker.fail(f"transA=1 of a (1, {m}) row gives {m} rows of one value each (an outer product with B, "
                          "not a matrix-vector product); only a (K, 1) column or (D, T) tokens are supported", node)
    op, attrs = ("Reshape", {"shape": [1, k]}) if m == 1 else ("Transpose", {"perm": [1, 0]})
    name = add_host_op(walker, node, op, [source], attrs, (m, k), suffix="A^T")
    tensor = unique_name(walker, f"{node.output[0]}/A^T")
    while tensor in walker.acts or tensor in walker.consts:
        tensor += "'"
    put_host(walker, tensor, name, (m, k))
    clone = type(node)()
    clone.CopyFrom(node)
    clone.input[0] = tensor
    keep = [a for a in clone.attribute if a.name != "transA"]
    del clone.attribute[:]
    clone.attribute.extend(keep)
    return clone


@host_side("Add")
def add(walker: GraphWalker, node: Any) -> None:
    """An Add of a constant to a token layer's output is its bias; any other Add runs on the host."""
    names = list(node.input)
    consts = [n for n in names if n in walker.consts]
    if len(names) == 2 and len(consts) == 1:
        x = next(n for n in names if n not in walker.consts)
        layer = _token_layer_of(walker, x)
        c = walker.consts[consts[0]]
        if layer is not None and layer.pool is None and not layer.relu and c.dtype.kind == "f":
            out_c = layer.weight.shape[0]
            if (c.size in (1, out_c) and (c.size == 1 or c.shape[-1] == out_c)
                    and all(d == 1 for d in c.shape[:-1])):
                a = walker.acts[x]
                layer.bias = (layer.bias + np.broadcast_to(c.reshape(-1).astype(np.float32), (out_c,))).astype(np.float32)
                walker.bump(layer)
                walker.put(node, walker.make_act(a.sources, a.shape))
                walker.host_view[node.output[0]] = walker.host_view[x]
                walker.record(node, "folded", f"bias of token layer {layer.name!r}")
                return
    if all(_from_layers(walker, n) for n in names):
        raise walker.fail("an Add of two EIE layer outputs (a residual connection) is not supported", node)
    host(walker, node, "Add", names)


def _from_layers(walker: GraphWalker, name: str) -> bool:
    """True for a (C, H, W) / (K,) tensor made only of EIE layer outputs (the EIE mapping's residual Add)."""
    if name in walker.consts or name in walker.host_view or name not in walker.acts:
        return False
    return all(s in walker.layers for s in walker.acts[name].sources)


def _token_layer_of(walker: GraphWalker, name: str) -> PendingLayer | None:
    """The token layer tensor ``name`` is the output of (unchanged view), or None."""
    if name not in walker.acts or name not in walker.host_view:
        return None
    a = walker.acts[name]
    if len(a.sources) != 1 or a.sources[0] not in walker.token_layers:
        return None
    if natural_view(walker, a.sources[0]) != walker.host_view[name]:
        return None
    return walker.layers[a.sources[0]]


@host_side("Relu")
def relu(walker: GraphWalker, node: Any) -> None:
    """A ReLU of a token layer's output is that layer's ReLU; of any other host tensor it runs on the host."""
    x = node.input[0]
    layer = _token_layer_of(walker, x)
    if layer is not None:
        if not layer.relu:
            layer.relu = True
            walker.bump(layer)
        a = walker.acts[x]
        walker.put(node, walker.make_act(a.sources, a.shape))
        walker.host_view[node.output[0]] = walker.host_view[x]
        walker.record(node, "folded", f"relu of token layer {layer.name!r}")
        return
    host(walker, node, "Relu", [x])


def _elementwise(op: str) -> HostHandler:
    def handler(walker: GraphWalker, node: Any) -> None:
        host(walker, node, op, [n for n in node.input if n])
    handler.__doc__ = f"{op} on the host, element by element (ONNX broadcasting)."
    return handler


for _op in ("Sub", "Div", "Pow", "Where", "Sqrt", "Erf", "Tanh", "Exp", "Neg", "Reciprocal"):
    host_side(_op)(_elementwise(_op))


@host_side("Mul")
def mul(walker: GraphWalker, node: Any) -> None:
    """A Mul on the host (e.g. squeeze-excite's x * gate), element by element with ONNX broadcasting.

    On a CNN's (C, H, W) / (K,) tensors (the EIE mapping refused the Mul) only a product of two computed
    tensors comes here; a constant Mul the EIE mapping cannot fold (after a ReLU, pool or residual, on the
    network input) stays refused with its reason, and so does ``x * Sigmoid(x)`` (SiLU): its Sigmoid is
    already on x's layer, so the host could not read x without it.
    """
    names = [n for n in node.input if n]
    if not any(n in walker.host_view for n in names) and any(n in walker.consts for n in names):
        raise walker.fail("a constant Mul of a layer output runs folded into the layer or not at all", node)
    if len(names) == 2 and (walker.sigmoid_of.get(names[1]) == names[0] or walker.sigmoid_of.get(names[0]) == names[1]):
        raise walker.fail("x * Sigmoid(x) runs on the write-back path (SiLU) only", node)
    host(walker, node, "Mul", names)


@host_side("GlobalAveragePool")
def global_average_pool(walker: GraphWalker, node: Any) -> None:
    """A global average pool the EIE mapping cannot attach (its input is also read unpooled: squeeze-excite's
    squeeze) runs on the host, as a ReduceMean over H and W keeping the dimensions."""
    view = _view(walker, node, node.input[0])
    if len(view) != 4:
        raise walker.fail("GlobalAveragePool needs a (N, C, H, W) input", node)
    host(walker, node, "ReduceMean", [node.input[0]], {"axes": [2, 3], "keepdims": 1}, record=False)
    operations = view[1] * (view[2] * view[3] - 1) + view[1]  # the sums and one divide per channel (op_counts)
    walker.record(node, "host", f"global average pool of a tensor also read unpooled (squeeze-excite's squeeze): "
                                f"a ReduceMean over H, W on the host, {operations:,} operations")


@host_side("Mod", "Equal", "Expand")
def constant_only(walker: GraphWalker, node: Any) -> None:
    """Shape arithmetic on constants (e.g. PyTorch's attention exports): evaluated at import."""
    if not all(n in walker.consts for n in node.input if n):
        raise walker.fail("only supported on constants (shape arithmetic), not on computed tensors", node)
    walker.fold(node)
    walker.record(node, "folded", "constant, evaluated at import")


@host_side("Gelu")
def gelu(walker: GraphWalker, node: Any) -> None:
    """GELU (exact or tanh approximation) on the host."""
    at = walker.attrs(node)
    host(walker, node, "Gelu", [node.input[0]], {"approximate": str(at.get("approximate", "none"))})


@host_side("Softmax")
def softmax(walker: GraphWalker, node: Any) -> None:
    """A Softmax that is not the graph's last node runs on the host (a final one is dropped)."""
    out = node.output[0]
    x = node.input[0]
    if out in walker.graph_outputs and walker.consumers.get(out, 0) == 1 and _token_layer_of(walker, x) is not None:
        plumbing.softmax(walker, node)
        walker.host_view[out] = walker.host_view[x]
        return
    at = walker.attrs(node)
    rank = len(_view(walker, node, x))
    default = -1 if (walker.opset or 13) >= 13 else 1
    axis = int(at.get("axis", default))
    axis = axis + rank if axis < 0 else axis
    if (walker.opset or 13) < 13 and axis != rank - 1:
        raise walker.fail(f"Softmax before opset 13 with axis {axis} of a rank-{rank} tensor is not supported "
                          "(only the last axis)", node)
    host(walker, node, "Softmax", [x], {"axis": axis})


def _view(walker: GraphWalker, node: Any, name: str) -> tuple[int, ...]:
    if name in walker.consts:
        return tuple(np.shape(walker.consts[name]))
    return view_of(walker, name, walker.act(name, node))


@host_side("LayerNormalization")
def layer_normalization(walker: GraphWalker, node: Any) -> None:
    """LayerNormalization on the host (its optional Mean and InvStdDev outputs must be unused)."""
    if any(o and walker.consumers.get(o, 0) for o in node.output[1:]):
        raise walker.fail("the Mean / InvStdDev outputs of LayerNormalization are not supported", node)
    at = walker.attrs(node)
    host(walker, node, "LayerNormalization", [n for n in node.input if n],
         {"axis": int(at.get("axis", -1)), "epsilon": float(at.get("epsilon", 1e-5))})


@host_side("ReduceMean")
def reduce_mean(walker: GraphWalker, node: Any) -> None:
    """ReduceMean on the host (axes as an attribute or, from opset 18, a constant input)."""
    at = walker.attrs(node)
    rank = len(_view(walker, node, node.input[0]))
    if len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in walker.const(node.input[1], node, "ReduceMean axes").reshape(-1)]
    else:
        axes = [int(v) for v in at.get("axes", [])]
    if not axes:
        if int(at.get("noop_with_empty_axes", 0)):
            raise walker.fail("ReduceMean with noop_with_empty_axes is not supported", node)
        axes = list(range(rank))
    host(walker, node, "ReduceMean", [node.input[0]], {"axes": axes, "keepdims": int(at.get("keepdims", 1))})


@host_side("Transpose")
def transpose(walker: GraphWalker, node: Any) -> None:
    """Transpose on the host (e.g. splitting attention heads)."""
    at = walker.attrs(node)
    rank = len(_view(walker, node, node.input[0]))
    perm = [int(v) for v in at.get("perm", list(reversed(range(rank))))]
    host(walker, node, "Transpose", [node.input[0]], {"perm": perm})


def _reshape_to(walker: GraphWalker, node: Any, target: tuple[int, ...]) -> None:
    host(walker, node, "Reshape", [node.input[0]], {"shape": list(target)})


@host_side("Reshape")
def reshape(walker: GraphWalker, node: Any) -> None:
    """Reshape on the host (ONNX rules: 0 copies a dimension unless ``allowzero``, -1 is inferred)."""
    at = walker.attrs(node)
    view = _view(walker, node, node.input[0])
    target = [int(v) for v in walker.const(node.input[1], node, "Reshape's shape").reshape(-1)]
    if not int(at.get("allowzero", 0)):
        target = [view[i] if v == 0 and i < len(view) else v for i, v in enumerate(target)]
    if target.count(-1) == 1:
        known = math.prod(v for v in target if v != -1)
        target = [math.prod(view) // known if v == -1 else v for v in target] if known else target
    if math.prod(target) != math.prod(view) or any(v < 1 for v in target):
        raise walker.fail(f"Reshape of a {list(view)} tensor to {target} is not possible", node)
    _reshape_to(walker, node, tuple(target))


@host_side("Flatten")
def flatten(walker: GraphWalker, node: Any) -> None:
    """Flatten of a host tensor (a Reshape on the host)."""
    at = walker.attrs(node)
    view = _view(walker, node, node.input[0])
    axis = int(at.get("axis", 1))
    axis = axis + len(view) if axis < 0 else axis
    _reshape_to(walker, node, (math.prod(view[:axis]), math.prod(view[axis:])))


def _axes(walker: GraphWalker, node: Any, rank: int) -> list[int]:
    at = walker.attrs(node)
    if len(node.input) > 1 and node.input[1]:
        raw = [int(v) for v in walker.const(node.input[1], node, f"{node.op_type} axes").reshape(-1)]
    else:
        raw = [int(v) for v in at.get("axes", [])]
    return [a + rank if a < 0 else a for a in raw]


@host_side("Squeeze")
def squeeze(walker: GraphWalker, node: Any) -> None:
    """Squeeze of a host tensor (a Reshape on the host)."""
    view = _view(walker, node, node.input[0])
    axes = _axes(walker, node, len(view)) or [i for i, d in enumerate(view) if d == 1]
    _reshape_to(walker, node, tuple(d for i, d in enumerate(view) if i not in axes))


@host_side("Unsqueeze")
def unsqueeze(walker: GraphWalker, node: Any) -> None:
    """Unsqueeze of a host tensor (a Reshape on the host)."""
    view = list(_view(walker, node, node.input[0]))
    raw = _axes(walker, node, 0)  # as written: a negative axis counts from the end of the output
    rank = len(view) + len(raw)
    for axis in sorted(a + rank if a < 0 else a for a in raw):
        view.insert(axis, 1)
    _reshape_to(walker, node, tuple(view))


@host_side("Split")
def split(walker: GraphWalker, node: Any) -> None:
    """Split on the host: one Slice per output (e.g. the query, key and value of a fused projection)."""
    at = walker.attrs(node)
    view = _view(walker, node, node.input[0])
    axis = int(at.get("axis", 0))
    axis = axis + len(view) if axis < 0 else axis
    outputs = [o for o in node.output]
    if len(node.input) > 1 and node.input[1]:
        sizes = [int(v) for v in walker.const(node.input[1], node, "Split sizes").reshape(-1)]
    elif "split" in at:
        sizes = [int(v) for v in at["split"]]
    else:
        parts = int(at.get("num_outputs", len(outputs)))
        step = -(-view[axis] // parts)
        sizes = [min(step, view[axis] - i * step) for i in range(parts)]
    if sum(sizes) != view[axis] or len(sizes) != len(outputs):
        raise walker.fail(f"Split sizes {sizes} do not divide axis {axis} of a {list(view)} tensor", node)
    start = 0
    for k, (out, size) in enumerate(zip(outputs, sizes, strict=True)):
        if out:
            host(walker, node, "Slice", [node.input[0]], {"axes": [axis], "starts": [start], "ends": [start + size]},
                 output=k, suffix=str(k), record=False)
        start += size
    walker.record(node, "host", f"Split on the host into {len(sizes)} parts (moves data only)")


@host_side("Slice")
def slice_(walker: GraphWalker, node: Any) -> None:
    """Slice with constant starts, ends, axes and steps, on the host."""
    view = _view(walker, node, node.input[0])

    def ints(index: int, default: list[int] | None) -> list[int]:
        if len(node.input) > index and node.input[index]:
            return [int(v) for v in walker.const(node.input[index], node, "Slice parameter").reshape(-1)]
        if default is None:
            raise walker.fail("Slice needs starts and ends", node)
        return default

    starts, ends = ints(1, None), ints(2, None)
    axes = ints(3, list(range(len(starts))))
    steps = ints(4, [1] * len(starts))
    clip = np.iinfo(np.int64).max // 2  # ONNX writes "to the end" as INT64_MAX
    ends = [max(min(e, clip), -clip) for e in ends]
    host(walker, node, "Slice", [node.input[0]], {"axes": axes, "starts": starts, "ends": ends, "steps": steps})


@host_side("Gather")
def gather(walker: GraphWalker, node: Any) -> None:
    """Gather on the host: an embedding lookup (constant table, token ids) or picking along an axis."""
    at = walker.attrs(node)
    host(walker, node, "Gather", [node.input[0], node.input[1]], {"axis": int(at.get("axis", 0))})


@host_side("Concat")
def concat(walker: GraphWalker, node: Any) -> None:
    """A Concat the EIE mapping cannot take (another axis, host tensors) runs on the host."""
    at = walker.attrs(node)
    names = [n for n in node.input if n]
    rank = len(_view(walker, node, names[0]))
    axis = int(at["axis"])
    host(walker, node, "Concat", names, {"axis": axis + rank if axis < 0 else axis})


@host_side("Identity", "Dropout", "Cast")
def passthrough(walker: GraphWalker, node: Any) -> None:
    """Identity, inference Dropout and a Cast between float types change nothing."""
    if node.op_type == "Cast":
        to = int(walker.attrs(node).get("to", 0))
        if to not in (walker.onnx.TensorProto.FLOAT, walker.onnx.TensorProto.FLOAT16, walker.onnx.TensorProto.DOUBLE):
            raise walker.fail("a Cast of a computed tensor to a non-float type is not supported", node)
    if node.op_type == "Dropout":
        plumbing.dropout(walker, node)
    else:
        walker.put(node, walker.act(node.input[0], node))
    if node.input[0] in walker.host_view:
        walker.host_view[node.output[0]] = walker.host_view[node.input[0]]
    walker.record(node, "dropped", f"{node.op_type} changes nothing")


@host_side("Shape")
def shape(walker: GraphWalker, node: Any) -> None:
    """Shape of a host tensor is a constant (its host view)."""
    walker.consts[node.output[0]] = shape_of(node, _view(walker, node, node.input[0]), walker.opset, walker.path)
    walker.record(node, "folded", "constant (the tensor's static shape)")


__all__ = ["HOST_FALLBACK", "HOST_SIDE", "host_side"]
