"""Write a workload's decoded network as a standard ONNX graph.

What a user gets is the network EIE computes, in float: every layer's pruned,
weight-shared matrix decoded to dense float32 weights (zeros where pruned, each
non-zero its codebook value), as ``Conv`` or ``Gemm`` nodes followed by ``Relu``
and the layer's pool (``MaxPool`` / ``AveragePool`` with the workload's
``ceil_mode``, or ``GlobalAveragePool``); several inputs become a channel
``Concat``, and fc layers fed by (C, H, W) maps get a ``Flatten``. onnxruntime
(or any ONNX tool) can then run and inspect the compressed model.

Naming makes the file readable and the round trip exact: each layer's weight
initializer is ``<layer>.weight`` (and ``<layer>.bias``), so
``eiesim.importers.onnx.walker`` recovers the layer names; each layer's final output
tensor (after ReLU and pool) is named after the layer. The workload's input
preprocessing is stored in the model's metadata (``eiesim.preprocess``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.errors import UsageError, WorkloadError
from eiesim.importers.onnx.optional import require_onnx
from eiesim.importers.onnx.walker import PREPROCESS_KEY
from eiesim.network.host_graph import HOST_OPS_KEY, TOKENS_KEY
from eiesim.network.workload import NETWORK_INPUT, RECURRENT_KINDS, Layer, Workload, pads_tlbr
from eiesim.outputs.commit import atomic_path

#: ONNX operator set written (ceil_mode on pools needs >= 10; 13 is widely supported).
OPSET = 13
#: IR version written (onnxruntime >= 1.17 reads IR 9; keep it conservative).
IR_VERSION = 8
#: Largest model written without external data (protobuf's 2 GiB limit, with margin).
MAX_INLINE_BYTES = 2 * 1024**3 - 64 * 1024**2


def build_model(workload: Workload) -> Any:
    """The workload as an ``onnx.ModelProto`` (decoded dense float32 weights, batch 1)."""
    if HOST_OPS_KEY in workload.extra or any(layer.extra.get(TOKENS_KEY) for layer in workload.layers):
        raise WorkloadError("export-onnx writes EIE layers only; this workload has host ops or token layers "
                            "(re-export the source model instead)", workload.source)
    recurrent = [layer.name for layer in workload.layers if layer.kind in RECURRENT_KINDS]
    if recurrent:
        raise UsageError(f"export-onnx does not write recurrent layers (LSTM / GRU) yet: {', '.join(recurrent)}")
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    shapes = workload.output_shapes()
    shapes_in = {NETWORK_INPUT: tuple(workload.input_shape), **shapes}
    concat_cache: dict[tuple[tuple[str, ...], bool], str] = {}
    total_bytes = 0

    def tensor_of(source: str) -> str:
        return "input" if source == NETWORK_INPUT else source

    def gathered(layer: Layer) -> str:
        """Name of the tensor a layer reads: its inputs (flattened for fc) concatenated on channels."""
        flat = layer.kind == "fc"
        key = (layer.inputs, flat)
        if key in concat_cache:
            return concat_cache[key]
        parts = []
        for src in layer.inputs:
            name = tensor_of(src)
            if flat and len(shapes_in[src]) != 1:
                flat_name = f"{name}:flat"
                if flat_name not in {n.output[0] for n in nodes}:
                    nodes.append(helper.make_node("Flatten", [name], [flat_name], name=f"{name}/flatten", axis=1))
                name = flat_name
            parts.append(name)
        if len(parts) == 1:
            out = parts[0]
        else:
            out = f"{layer.name}:in"
            nodes.append(helper.make_node("Concat", parts, [out], name=f"{layer.name}/concat", axis=1))
        concat_cache[key] = out
        return out

    for layer in workload.layers:
        if layer.name == "input":
            raise UsageError("a layer named 'input' clashes with the ONNX graph input name", workload.source)
        w = layer.dense_weights()
        b = np.asarray(layer.bias, dtype=np.float32)
        total_bytes += w.nbytes + b.nbytes
        x = gathered(layer)
        if layer.input_pool is not None:  # pooled as the load phase gathers it
            nodes.append(_pool_node(helper, layer.input_pool, x, f"{layer.name}:input_pool",
                                    f"{layer.name}/input_pool"))
            x = f"{layer.name}:input_pool"
        pre = f"{layer.name}:{layer.kind}"
        if layer.kind == "conv":
            inits += [numpy_helper.from_array(w, f"{layer.name}.weight"), numpy_helper.from_array(b, f"{layer.name}.bias")]
            dilated: dict[str, Any] = {"dilations": list(layer.dilation)} if layer.dilation != (1, 1) else {}
            nodes.append(helper.make_node(
                "Conv", [x, f"{layer.name}.weight", f"{layer.name}.bias"], [pre], name=layer.name,
                kernel_shape=list(layer.kernel), strides=list(layer.stride), pads=list(pads_tlbr(layer.conv_padding)),
                **dilated))
        else:
            w2 = np.ascontiguousarray(w.reshape(layer.rows, layer.cols))
            inits += [numpy_helper.from_array(w2, f"{layer.name}.weight"), numpy_helper.from_array(b, f"{layer.name}.bias")]
            nodes.append(helper.make_node("Gemm", [x, f"{layer.name}.weight", f"{layer.name}.bias"], [pre],
                                          name=layer.name, transB=1))
        cur = pre
        if layer.residual is not None:  # added before the ReLU, as on the write-back path
            nodes.append(helper.make_node("Add", [cur, tensor_of(layer.residual)], [f"{layer.name}:residual"],
                                          name=f"{layer.name}/residual"))
            cur = f"{layer.name}:residual"
        steps: list[tuple[str, dict[str, Any]]] = []
        if layer.activation is not None:
            cur = _activation_nodes(layer, cur, nodes, inits, helper, numpy_helper)
        if layer.relu:
            steps.append(("Relu", {}))
        if layer.pool is not None:
            p = layer.pool
            if p.kind == "global_avg":
                steps.append(("GlobalAveragePool", {}))
            else:
                op = "MaxPool" if p.kind == "max" else "AveragePool"
                steps.append((op, dict(kernel_shape=[p.kernel, p.kernel], strides=[p.stride, p.stride],
                                       pads=[p.pad] * 4, ceil_mode=int(p.ceil_mode))))
                if p.kind == "avg" and p.count_include_pad:
                    steps[-1][1]["count_include_pad"] = 1
        if not steps:
            steps.append(("Identity", {}))
        for i, (op, attrs) in enumerate(steps):
            out = layer.name if i == len(steps) - 1 else f"{layer.name}:{op.lower()}"
            nodes.append(helper.make_node(op, [cur], [out], name=f"{layer.name}/{op.lower()}", **attrs))
            cur = out
    if total_bytes > MAX_INLINE_BYTES:
        raise UsageError(f"the decoded model needs {total_bytes} bytes, above ONNX's 2-GiB single-file limit",
                         workload.source)

    last = workload.output_layer.name
    graph = helper.make_graph(
        nodes, workload.name or "eiesim",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, *workload.input_shape])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [1, *shapes[last]])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="eiesim", opset_imports=[helper.make_opsetid("", OPSET)],
                              doc_string=f"Decoded (dense, shared-weight) network of eiesim workload {workload.name!r} "
                                         f"(source {workload.source!r}).")
    model.ir_version = IR_VERSION
    if workload.preprocess is not None:
        helper.set_model_props(model, {PREPROCESS_KEY: json.dumps(workload.preprocess, sort_keys=True)})
    onnx.checker.check_model(model)
    return model


def _pool_node(helper: Any, p: Any, x: str, out: str, name: str) -> Any:
    """A MaxPool / AveragePool node of window pool ``p`` (eiesim.network.workload.Pool)."""
    attrs: dict[str, Any] = dict(kernel_shape=[p.kernel, p.kernel], strides=[p.stride, p.stride], pads=[p.pad] * 4,
                                 ceil_mode=int(p.ceil_mode))
    if p.kind == "avg" and p.count_include_pad:
        attrs["count_include_pad"] = 1
    return helper.make_node("MaxPool" if p.kind == "max" else "AveragePool", [x], [out], name=name, **attrs)


def _activation_nodes(layer: Layer, x: str, nodes: list[Any], inits: list[Any], helper: Any, numpy_helper: Any) -> str:
    """Append the ONNX nodes of ``layer``'s write-back activation applied to tensor ``x``; return its output."""
    name, p = layer.activation, layer.activation_params
    out = f"{layer.name}:{name}"

    def const(suffix: str, value: Any) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), f"{layer.name}.{suffix}"))
        return f"{layer.name}.{suffix}"

    if name == "clip":
        lo = const("clip_min", p["min"]) if p.get("min") is not None else ""
        hi = const("clip_max", p["max"]) if p.get("max") is not None else ""
        nodes.append(helper.make_node("Clip", [x, lo, hi], [out], name=f"{layer.name}/clip"))
    elif name in ("sigmoid", "tanh"):
        nodes.append(helper.make_node(name.capitalize(), [x], [out], name=f"{layer.name}/{name}"))
    elif name == "leaky_relu":
        nodes.append(helper.make_node("LeakyRelu", [x], [out], name=f"{layer.name}/leaky_relu", alpha=p["alpha"]))
    elif name == "prelu":
        slope = np.asarray(p["slope"], np.float32)
        shape = (-1, 1, 1) if layer.kind == "conv" and slope.size > 1 else (-1,)
        nodes.append(helper.make_node("PRelu", [x, const("prelu_slope", slope.reshape(shape))], [out],
                                      name=f"{layer.name}/prelu"))
    elif name == "hard_sigmoid":
        nodes.append(helper.make_node("HardSigmoid", [x], [out], name=f"{layer.name}/hard_sigmoid",
                                      alpha=p["alpha"], beta=p["beta"]))
    else:  # hard_swish, silu: x times a gate (opset 13 has no HardSwish)
        gate = f"{layer.name}:gate"
        if name == "silu":
            nodes.append(helper.make_node("Sigmoid", [x], [gate], name=f"{layer.name}/gate"))
        else:
            nodes.append(helper.make_node("HardSigmoid", [x], [gate], name=f"{layer.name}/gate", alpha=1.0 / 6.0,
                                          beta=0.5))
        nodes.append(helper.make_node("Mul", [x, gate], [out], name=f"{layer.name}/{name}"))
    return out


def export_onnx(workload: Workload, path: str | Path) -> Path:
    """Write ``workload`` as an ONNX model at ``path`` (atomically); returns the path written."""
    onnx = require_onnx()
    model = build_model(workload)
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))
    return path
