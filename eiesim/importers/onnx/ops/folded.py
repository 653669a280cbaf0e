"""The operators folded into the layer before them: Add (bias, residual), Sum, BatchNormalization, Relu, Clip, pools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.importers.onnx.graph_state import ComputedTensor
from eiesim.importers.onnx.ops.activations import clip_bounds, set_activation
from eiesim.importers.onnx.ops.table import handles
from eiesim.network.workload import NETWORK_INPUT, Pool

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker


@handles("Add", listed_as="Add (bias or residual)")
def add(walker: GraphWalker, node: Any) -> None:
    """An Add of a constant after a layer becomes (part of) that layer's bias; of two layers' outputs, a residual."""
    names = list(node.input)
    if len(names) != 2:
        raise walker.fail("Add needs two inputs", node)
    const_side = [n for n in names if n in walker.consts]
    if not const_side:
        residual_add(walker, node, names)
        return
    if len(const_side) != 1:
        raise walker.fail("an Add of two constants on a computed path is not supported", node)
    a = walker.act(next(n for n in names if n not in walker.consts), node)
    layer = walker.single_layer(a, node, "a bias Add")
    c = walker.weights(const_side[0], node, "Add bias").astype(np.float32)
    out_c = layer.weight.shape[0]
    if layer.kind == "conv":
        # Broadcast against (N, C, H, W): the constant must vary along channels only.
        shape = (1,) * (4 - c.ndim) + c.shape if c.ndim <= 4 else None
        if shape is None or shape[0] != 1 or shape[2:] != (1, 1) or shape[1] not in (1, out_c):
            raise walker.fail(f"constant of shape {c.shape} is not a per-channel bias for {out_c} channels", node)
    b = walker.bias_vector(c.reshape(-1), out_c, node) if layer.kind == "conv" else walker.bias_vector(c, out_c, node)
    layer.bias = (layer.bias + b).astype(np.float32)
    walker.bump(layer)
    walker.put(node, walker.make_act(a.sources, a.shape))


def residual_add(walker: GraphWalker, node: Any, names: list[str]) -> None:
    """``a + b`` of two layers' outputs: the later layer adds the earlier one's output on its write-back path.

    The mapping (docs/timing-model.md, "Residual"): the layer that produces the later operand
    (still without ReLU, pool or residual) carries ``residual: <the other layer>``; its PEs read
    the skip operand of the rows they own from the activation SRAM and add it to the requantized
    output before the ReLU (ResNet's relu(bn(conv(x)) + skip)). The network input is refused: it
    is not an EIE layer's output in the activation SRAM.
    """
    a, b = (walker.act(n, node) for n in names)
    for t in (a, b):
        if NETWORK_INPUT in t.sources:
            raise walker.fail("a residual Add of the network input is not supported: the skip operand must be an "
                              "EIE layer's output, which the PEs hold in their activation SRAM", node)
        if len(t.sources) != 1:
            raise walker.fail(f"a residual Add of a channel concatenation {list(t.sources)} is not supported: the "
                              "skip operand must be one layer's output", node)
    if a.shape != b.shape:
        raise walker.fail(f"a residual Add of shapes {list(a.shape)} and {list(b.shape)} is not supported "
                          "(no broadcasting: both operands must have the same shape)", node)
    if a.sources == b.sources:
        raise walker.fail(f"a residual Add of layer {a.sources[0]!r}'s output to itself is not supported", node)
    order = list(walker.layers)
    carrier_t, skip_t = (a, b) if order.index(a.sources[0]) > order.index(b.sources[0]) else (b, a)
    layer, skip = walker.layers[carrier_t.sources[0]], skip_t.sources[0]
    if layer.relu or layer.pool is not None or layer.residual is not None or layer.activation is not None:
        done = ("a ReLU" if layer.relu else "a pool" if layer.pool is not None else
                f"the activation {layer.activation[0]!r}" if layer.activation is not None else
                f"the residual {layer.residual!r}")
        raise walker.fail(f"residual Add: layer {layer.name!r} (the later operand) already has {done}; EIE adds one "
                          "residual per layer, on the write-back path before its ReLU and pool", node)
    layer.residual = skip
    walker.uses.append((f"the residual of layer {layer.name!r}", skip_t))
    walker.bump(layer)
    walker.record(node, "folded", f"residual: layer {skip!r}'s output added on layer {layer.name!r}'s write-back "
                                  "path, before its ReLU")
    walker.put(node, walker.make_act((layer.name,), carrier_t.shape))


@handles("Sum", listed_as="Sum of two layers (residual)")
def sum_(walker: GraphWalker, node: Any) -> None:
    """A Sum of two computed tensors is a residual Add; of one, the identity."""
    names = [n for n in node.input if n]
    if len(names) == 1:
        walker.put(node, walker.act(names[0], node))
        return
    if len(names) != 2 or any(n in walker.consts for n in names):
        raise walker.fail(f"a Sum of {len(names)} tensors is not supported: EIE adds one residual (another layer's "
                          "output) per layer", node)
    residual_add(walker, node, names)


@handles("Relu")
def relu(walker: GraphWalker, node: Any) -> None:
    """A ReLU becomes ``relu = True`` of every layer its input comes from."""
    a = walker.act(node.input[0], node)
    for src in a.sources:
        if src == NETWORK_INPUT:
            raise walker.fail("a ReLU on the network input cannot be folded into a layer", node)
        layer = walker.layers[src]
        if layer.relu:
            continue  # ReLU is idempotent: the tensor does not change
        if layer.activation is not None:
            kind, params = layer.activation
            if kind in ("sigmoid", "hard_sigmoid") or (kind == "clip" and (params.get("min") or -1.0) >= 0):
                continue  # the activation's outputs are already >= 0: the ReLU changes nothing
            if kind == "clip":  # relu(clip(x, lo, hi)) = clip(x, max(lo, 0), max(hi, 0))
                hi = params.get("max")
                layer.activation = ("clip", {"min": 0.0, "max": None if hi is None else max(hi, 0.0)})
                walker.bump(layer)
                continue
            raise walker.fail(f"a ReLU after the activation {kind!r} of layer {src!r} cannot be folded (the "
                              "write-back path applies one activation)", node)
        if layer.pool is not None and layer.pool.kind != "max":
            raise walker.fail(f"ReLU after average pooling of layer {src!r} cannot be folded "
                            "(EIE applies ReLU before pooling)", node)
        layer.relu = True  # ReLU commutes with max pooling
        walker.bump(layer)
    walker.put(node, walker.make_act(a.sources, a.shape))


@handles("BatchNormalization")
def batch_normalization(walker: GraphWalker, node: Any) -> None:
    """An inference BatchNormalization after a layer is folded into that layer's weights and bias."""
    at = walker.attrs(node)
    if int(at.get("training_mode", 0)) or any(o and walker.consumers.get(o, 0) for o in node.output[1:]):
        raise walker.fail("BatchNormalization in training mode (running statistics used) is not supported", node)
    a = walker.act(node.input[0], node)
    layer = walker.single_layer(a, node, "a BatchNormalization")
    if layer.residual is not None:  # it would scale the skip operand too, which the stored weights cannot
        raise walker.fail(f"a BatchNormalization after layer {layer.name!r}'s residual Add cannot be folded into its "
                          "weights (it scales the sum)", node)
    out_c = layer.weight.shape[0]
    gamma, beta, mean, var = (walker.weights(node.input[i], node, what).reshape(-1)
                              for i, what in ((1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")))
    if any(v.shape != (out_c,) for v in (gamma, beta, mean, var)):
        raise walker.fail(f"BatchNormalization parameters must have {out_c} values (one per channel)", node)
    eps = float(at.get("epsilon", 1e-5))
    # y = gamma (x - mean) / sqrt(var + eps) + beta, with x = W v + b: a per-output-channel scale and shift.
    scale = (gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps))
    layer.weight = (layer.weight * scale[:, None, None, None]).astype(np.float32)
    layer.bias = ((layer.bias - mean) * scale + beta).astype(np.float32)
    walker.bump(layer)
    walker.record(node, "folded", f"into layer {layer.name!r}: weights scaled and bias shifted per output channel")
    walker.put(node, walker.make_act(a.sources, a.shape))


@handles("Clip")
def clip(walker: GraphWalker, node: Any) -> None:
    """A Clip to [0, +inf) is a ReLU; other bounds (ReLU6 is [0, 6]) a clip on the write-back path."""
    low, high = clip_bounds(walker, node)
    if low is None and high is None:
        walker.record(node, "dropped", "Clip without bounds: its output equals its input")
        walker.put(node, walker.act(node.input[0], node))
        return
    if low == 0.0 and high is None:
        relu(walker, node)
        walker.record(node, "folded", "Clip to [0, inf) is a ReLU: relu of the producing layer(s)")
        return
    set_activation(walker, node, "clip", {"min": low, "max": high})


def attach_pool(walker: GraphWalker, node: Any, pool: Pool) -> None:
    """Attach ``pool`` to every layer the node's input comes from (all conv layers, none pooled yet)."""
    a = walker.act(node.input[0], node)
    if len(a.shape) != 3:
        raise walker.fail(f"pooling needs a (N, C, H, W) input, got shape {a.shape} (without batch)", node)
    if NETWORK_INPUT in a.sources:
        raise walker.fail("pooling of the network input cannot be attached to a layer", node)
    owners = [walker.layers[s] for s in a.sources]
    for layer in owners:
        if layer.kind != "conv":
            raise walker.fail(f"layer {layer.name!r} is fully connected; pooling attaches to conv layers only", node)
    c, h, w = a.shape
    if pool.kind != "global_avg" and (pool.kernel > h + 2 * pool.pad or pool.kernel > w + 2 * pool.pad):
        raise walker.fail(f"pool kernel {pool.kernel} is larger than the {h}x{w} map", node)
    if any(layer.pool is not None for layer in owners) or walker.consumers.get(node.input[0], 0) > 1:
        # The producers' outputs are stored unpooled (already pooled, or also read as they are): the consumer
        # applies this pool as it loads them (an input pool; docs/timing-model.md, "Input pool").
        if pool.kind == "global_avg":
            raise walker.fail("a global average pool of a tensor that is also used unpooled or already pooled (e.g. "
                              "squeeze-excite's squeeze) is not supported", node)
        walker.record(node, "folded", f"input pool: applied by the Conv that reads it, as it loads "
                                      f"{list(a.sources)}' outputs")
        oh, ow = pool.output_hw(h, w)
        walker.put(node, ComputedTensor(a.sources, (c, oh, ow), a.snapshot, input_pool=pool))
        return
    for layer in owners:
        layer.pool = pool
        walker.bump(layer)
    oh, ow = pool.output_hw(h, w)
    if len(owners) > 1:
        walker.notes.append(f"{node.name or node.output[0]}: {pool.kind} pool after a concat attached to each branch "
                          f"{[layer.name for layer in owners]}")
    walker.put(node, walker.make_act(a.sources, (c, oh, ow)))


def window_pool(walker: GraphWalker, node: Any, kind: str) -> None:
    """A MaxPool / AveragePool node as a ``Pool`` of ``kind``: square, 2-D, unpadded."""
    at = walker.attrs(node)
    if len(node.output) > 1 and node.output[1]:
        raise walker.fail("the Indices output of MaxPool is not supported", node)
    k = [int(v) for v in at.get("kernel_shape", [])]
    s = [int(v) for v in at.get("strides", [1] * len(k))]
    pads = [int(v) for v in at.get("pads", [0] * 2 * len(k))]
    if len(k) != 2 or k[0] != k[1] or len(s) != 2 or s[0] != s[1]:
        raise walker.fail(f"only square 2-D pools are supported (kernel {k}, strides {s})", node)
    if any(d != 1 for d in at.get("dilations", [1, 1])):
        raise walker.fail("pool dilations are not supported", node)
    if k == [1, 1] and s == [1, 1] and not any(pads):
        # torchvision's AdaptiveAvgPool2d on a map already of the target size exports this way.
        walker.record(node, "dropped", "identity pool (kernel 1, stride 1): its output equals its input")
        walker.put(node, walker.act(node.input[0], node))
        return
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pool_pads(walker, node, k[0], s[0], bool(int(at.get("ceil_mode", 0))))
    elif auto not in ("NOTSET", "VALID"):
        raise walker.fail(f"pool auto_pad {auto} is not supported; give explicit pads", node)
    if auto == "VALID":
        pads = [0, 0, 0, 0]
    if len(pads) != 4 or len(set(pads)) != 1 or not 0 <= pads[0] <= k[0] // 2:
        raise walker.fail(f"pool pads {pads} are not supported: the same pad on every side, at most kernel // 2", node)
    include = bool(int(at.get("count_include_pad", 0))) and kind == "avg" and pads[0] > 0
    ceil_mode = bool(int(at.get("ceil_mode", 0)))
    attach_pool(walker, node, Pool(kind, k[0], s[0], ceil_mode, pads[0], include))


def _same_pool_pads(walker: GraphWalker, node: Any, k: int, s: int, ceil_mode: bool) -> list[int]:
    """Explicit pads for a pool's ``auto_pad`` SAME_*: output ceil(n / s) per axis, the padding split evenly.

    An odd total (SAME_UPPER and SAME_LOWER then differ) would pad one side more than the
    other, which a ``Pool`` cannot say: refused, as is ``ceil_mode`` with SAME_* (ONNX sizes
    those outputs by ``auto_pad`` alone).
    """
    shape = walker.act(node.input[0], node).shape
    if len(shape) != 3 or ceil_mode:
        raise walker.fail("pool auto_pad SAME_* needs a (N, C, H, W) input and ceil_mode 0; give explicit pads", node)
    totals = [max((-(-n // s) - 1) * s + k - n, 0) for n in shape[1:]]
    if totals[0] != totals[1] or totals[0] % 2:
        raise walker.fail(f"pool auto_pad SAME_* pads the {shape[1]}x{shape[2]} map by {totals} in total per axis: "
                          "unequal sides are not supported; give explicit pads", node)
    return [totals[0] // 2] * 4


@handles("MaxPool")
def max_pool(walker: GraphWalker, node: Any) -> None:
    """A square 2-D max pool attaches to the layer(s) its input comes from."""
    window_pool(walker, node, "max")


@handles("AveragePool")
def average_pool(walker: GraphWalker, node: Any) -> None:
    """A square 2-D average pool attaches to the layer(s) its input comes from."""
    window_pool(walker, node, "avg")


@handles("GlobalAveragePool")
def global_average_pool(walker: GraphWalker, node: Any) -> None:
    """A global average pool attaches to the layer(s) its input comes from."""
    attach_pool(walker, node, Pool("global_avg", 0, 1, False))


@handles("ReduceMean", listed_as="ReduceMean over H, W")
def reduce_mean_hw(walker: GraphWalker, node: Any) -> None:
    """A ReduceMean over the spatial axes of a (N, C, H, W) layer output is a global average pool.

    With ``keepdims`` 0 the pooled (C,) vector is the flattened tensor an fc layer reads
    (ShuffleNetV2's ``x.mean([2, 3])``). Any other ReduceMean runs on the host.
    """
    a = walker.act(node.input[0], node)
    at = walker.attrs(node)
    if len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in walker.const(node.input[1], node, "ReduceMean axes").reshape(-1)]
    else:
        axes = [int(v) for v in at.get("axes", [])]
    if len(a.shape) != 3 or sorted(v % 4 for v in axes) != [2, 3]:
        raise walker.fail(f"only a ReduceMean over H and W (axes [2, 3]) of a (N, C, H, W) tensor is a global average "
                          f"pool, got axes {axes} of a rank-{len(a.shape) + 1} tensor", node)
    attach_pool(walker, node, Pool("global_avg", 0, 1, False))
    if not int(at.get("keepdims", 1)):
        pooled = walker.acts[node.output[0]]
        walker.put(node, ComputedTensor(pooled.sources, (pooled.shape[0],), pooled.snapshot))
