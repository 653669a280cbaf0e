"""The operators that make a layer: Conv, Gemm and MatMul."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from eiesim.errors import ModelFileError
from eiesim.importers.onnx.graph_state import ComputedTensor, PendingLayer
from eiesim.importers.onnx.ops.table import handles
from eiesim.inputs.memory import check_memory
from eiesim.network.workload import DILATION_KEY, PADS_KEY, conv_output_hw

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker


@handles("Conv")
def conv(walker: GraphWalker, node: Any) -> None:
    """A 2-D Conv becomes a conv layer (a grouped conv: its block-diagonal dense weight)."""
    at = walker.attrs(node)
    a = walker.act(node.input[0], node)
    if len(a.shape) != 3:
        raise walker.fail(f"Conv needs a (N, C, H, W) input, got shape {a.shape} (without batch)", node)
    w = walker.weights(node.input[1], node, "Conv weight")
    if w.ndim != 4:
        raise walker.fail(f"only 2-D convolutions are supported (weight shape {w.shape})", node)
    dilation = tuple(int(d) for d in at.get("dilations", [1, 1]))
    if len(dilation) != 2 or min(dilation) < 1:
        raise walker.fail(f"dilations {list(dilation)} must be two positive integers", node)
    group = int(at.get("group", 1))
    c, h, wd = a.shape
    out_c, in_per_group, kh, kw = w.shape
    if group < 1 or c != in_per_group * group or out_c % group:
        raise walker.fail(f"weight {w.shape} with group {group} does not fit {c} input channels", node)
    if "kernel_shape" in at and list(at["kernel_shape"]) != [kh, kw]:
        raise walker.fail(f"kernel_shape {at['kernel_shape']} disagrees with weight shape {w.shape}", node)
    if group > 1:
        # A grouped conv is a dense conv whose weight is block-diagonal over channel groups.
        check_memory(4 * out_c * c * kh * kw, f"the dense weight of grouped conv {node.name or node.output[0]!r} "
                     f"({out_c}x{c}x{kh}x{kw})", walker.path, ModelFileError)
        full = np.zeros((out_c, c, kh, kw), np.float32)
        per_out = out_c // group
        for g in range(group):
            full[g * per_out:(g + 1) * per_out, g * in_per_group:(g + 1) * in_per_group] = w[g * per_out:(g + 1) * per_out]
        w = full
        walker.notes.append(f"{node.name or node.output[0]}: grouped conv (group={group}) as one block-diagonal layer "
                            "(its structural zeros are never stored; docs/onnx.md)")
    stride = cast("tuple[int, int]", tuple(int(s) for s in at.get("strides", [1, 1])))  # conv_pads checks: two
    if dilation != (1, 1) and at.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX's padding formula for this case changed between opsets and onnxruntime refuses it.
        raise walker.fail(f"auto_pad {at['auto_pad']} with dilations {list(dilation)} is not supported; give "
                          "explicit pads", node)
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)  # the kernel's extent on the input
    pads = conv_pads(walker, node, at, (h, wd), span, stride)
    bias = np.zeros(out_c, np.float32)
    if len(node.input) > 2 and node.input[2]:
        bias = walker.weights(node.input[2], node, "Conv bias").reshape(-1)
        if bias.shape != (out_c,):
            raise walker.fail(f"bias has {bias.size} values for {out_c} output channels", node)
    oh, ow = conv_output_hw(h, wd, (kh, kw), stride, pads, dilation)
    if oh < 1 or ow < 1:
        raise walker.fail(f"kernel {kh}x{kw} does not fit the {h}x{wd} input", node)
    extra: dict[str, Any] = {}
    if (pads[0], pads[1]) != (pads[2], pads[3]):
        extra[PADS_KEY] = list(pads)
    if dilation != (1, 1):
        extra[DILATION_KEY] = list(dilation)
    layer = PendingLayer(walker.layer_name(node, node.input[1]), "conv", w, bias, stride=stride,
                         padding=(pads[0], pads[1]), inputs=a.sources, input_pool=a.input_pool, extra=extra)
    walker.add_layer(node, layer, a, (out_c, oh, ow))


def conv_pads(walker: GraphWalker, node: Any, at: dict[str, Any], hw: tuple[int, int], k: tuple[int, int],
              stride: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The (top, left, bottom, right) zero padding of a conv: explicit ``pads`` or ``auto_pad`` SAME_* / VALID.

    ``k`` is the kernel's extent on the input (dilated). SAME_UPPER puts the odd pixel of
    padding at the end (bottom, right), SAME_LOWER at the beginning, as ONNX defines them.
    """
    if len(stride) != 2 or min(stride) < 1:
        raise walker.fail(f"strides {list(stride)} must be two positive integers", node)
    auto = at.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", "VALID"):
        pads = [0, 0, 0, 0] if auto == "VALID" else [int(p) for p in at.get("pads", [0, 0, 0, 0])]
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0, 0, 0, 0]
        for i in range(2):
            out = -(-hw[i] // stride[i])
            total = max((out - 1) * stride[i] + k[i] - hw[i], 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + 2] = (small, big) if auto == "SAME_UPPER" else (big, small)
    else:
        raise walker.fail(f"auto_pad {auto!r} is not supported", node)
    if len(pads) != 4:
        raise walker.fail(f"pads {pads} must have 4 values for a 2-D conv", node)
    if min(pads) < 0:
        raise walker.fail(f"negative pads {pads}", node)
    # ONNX orders pads [h_begin, w_begin, h_end, w_end]: (top, left, bottom, right).
    return pads[0], pads[1], pads[2], pads[3]


def fc_input(walker: GraphWalker, node: Any, name: str) -> ComputedTensor:
    """The flattened (K,) input an fc operator reads; a 4-D one needs a Flatten first."""
    a = walker.act(name, node)
    if not a.flat:
        raise walker.fail(f"{node.op_type} needs a flattened (N, K) input; got shape {a.shape} (add a Flatten)", node)
    return a


@handles("Gemm")
def gemm(walker: GraphWalker, node: Any) -> None:
    """A Gemm of the activation (A) and a constant B, plus an optional bias C, becomes an fc layer (with
    ``transA`` = 1 after the host has transposed A: ``eiesim.importers.onnx.ops.host``)."""
    at = walker.attrs(node)
    if int(at.get("transA", 0)):  # A^T is made on the host first, then read as a row or as tokens
        walker.on_host(node)
        return
    a = fc_input(walker, node, node.input[0])
    b = walker.weights(node.input[1], node, "Gemm weight B")
    if b.ndim != 2:
        raise walker.fail(f"weight B must be 2-D, got {b.shape}", node)
    w = b.T if not int(at.get("transB", 0)) else b
    if float(at.get("alpha", 1.0)) != 1.0:  # (x * 1 is x: no copy of a VGG-sized weight for nothing)
        w = w * np.float32(at.get("alpha", 1.0))
    out_k, in_k = w.shape
    if in_k != a.shape[0]:
        raise walker.fail(f"weight takes {in_k} inputs but the input has {a.shape[0]} values", node)
    bias = np.zeros(out_k, np.float32)
    if len(node.input) > 2 and node.input[2]:
        c = walker.weights(node.input[2], node, "Gemm bias C") * np.float32(at.get("beta", 1.0))
        bias = walker.bias_vector(c, out_k, node)
    layer = PendingLayer(walker.layer_name(node, node.input[1]), "fc", np.ascontiguousarray(w)[:, :, None, None],
                         bias, inputs=a.sources)
    walker.add_layer(node, layer, a, (out_k,))


@handles("MatMul")
def matmul(walker: GraphWalker, node: Any) -> None:
    """A MatMul of the activation and a constant weight becomes an fc layer without bias."""
    a = fc_input(walker, node, node.input[0])
    b = walker.weights(node.input[1], node, "MatMul weight")
    if b.ndim != 2 or b.shape[0] != a.shape[0]:
        raise walker.fail(f"weight {b.shape} does not take the {a.shape[0]}-value input", node)
    w = np.ascontiguousarray(b.T)
    layer = PendingLayer(walker.layer_name(node, node.input[1]), "fc", w[:, :, None, None],
                         np.zeros(w.shape[0], np.float32), inputs=a.sources)
    walker.add_layer(node, layer, a, (w.shape[0],))
