"""Functional reference: what a compressed network really computes, in float32 and in 16-bit fixed point.

Two forward passes over any workload graph (layers in topological order, several
inputs concatenated along channels, fc layers flattening (C, H, W) producers):

* ``float32``: a straightforward dense implementation (sliding windows + tensordot
  with the decoded weights). It shares no convolution code with the fixed-point
  path, so the two check each other.
* ``fixed16``: EIE's datapath (eiesim.network.fixed_point): activations quantized to 16-bit
  dynamic fixed point, exact integer M x V accumulation, bias, requantization with
  saturation, ReLU, pooling. ``run_fixed`` is the layer loop the timing engines
  reuse with their own ``accumulate`` so that all paths share gather, finish,
  pool and concatenation code.

The per-layer formats come from a ``FixedPointPlan`` (docs/fixed-point.md): pinned
in the workload meta under "fixed_point", or calibrated from a float pass on the
input being run.
"""

from __future__ import annotations

import dataclasses
import math
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eiesim.errors import InputDataError, UsageError, WorkloadError
from eiesim.network.activations import apply_float
from eiesim.network.fixed_point import (
    MAX_FRAC,
    MIN_FRAC,
    LayerFormat,
    accumulate_reference,
    dequantize,
    finish_layer,
    frac_bits_for,
    layer_matrix_q,
    pool_fixed,
    pool_float,
    quantize,
    weight_format,
)
from eiesim.network.host_graph import TOKENS_KEY, to_eie
from eiesim.network.host_ops import HostValues, graph_of
from eiesim.network.recurrent import recurrent_fixed, recurrent_float
from eiesim.network.workload import NETWORK_INPUT, RECURRENT_KINDS, Layer, Workload, pads_tlbr, recurrent_step_view

PRECISIONS = ("float32", "fixed16")
#: Key of a pinned plan in the workload meta.
PLAN_META_KEY = "fixed_point"

#: ``accumulate(layer, x_q, fmt) -> acc``: exact integer M x V products before bias.
Accumulate = Callable[[Layer, np.ndarray, LayerFormat], np.ndarray]


# -- fixed-point plan -------------------------------------------------------------

@dataclass(frozen=True)
class FixedPointPlan:
    """Per-layer fixed-point formats of a whole network, plus the network input's format.

    ``host``: the format of each host op output an EIE layer reads (the conversion at the chip
    boundary, docs/fixed-point.md); empty for a network without host ops.
    """

    bits: int
    input_frac: int
    layers: dict[str, LayerFormat]
    host: dict[str, int] = field(default_factory=dict)

    def format(self, name: str) -> LayerFormat:
        """The LayerFormat of layer ``name``."""
        return self.layers[name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: {"bits", "input_frac", "layers": {name: {weight_frac, in_frac, out_frac, bits}}}."""
        out: dict[str, Any] = {"bits": self.bits, "input_frac": self.input_frac,
                               "layers": {name: fmt.to_dict() for name, fmt in self.layers.items()}}
        if self.host:  # networks without host ops keep the original keys (reports byte-identical)
            out["host"] = dict(self.host)
        return out

    @classmethod
    def from_dict(cls, data: Any, workload: Workload | None = None, source: str | None = None) -> FixedPointPlan:
        """Parse and validate a plan dict (as written by ``to_dict``); checks it covers ``workload`` when given."""
        def bad(problem: str) -> WorkloadError:
            return WorkloadError(f"fixed-point plan: {problem}", source)

        if not isinstance(data, dict) or not isinstance(data.get("layers"), dict):
            raise bad("must be an object with 'bits', 'input_frac' and 'layers'")
        bits = _plan_int(data.get("bits"), "bits", 2, 32, bad)
        input_frac = _plan_int(data.get("input_frac"), "input_frac", MIN_FRAC, MAX_FRAC, bad)
        layers: dict[str, LayerFormat] = {}
        for name, fmt in data["layers"].items():
            if not isinstance(fmt, dict):
                raise bad(f"layer {name!r} must be an object")
            vals = {k: _plan_int(fmt.get(k), f"{name}.{k}", MIN_FRAC, MAX_FRAC, bad)
                    for k in ("weight_frac", "in_frac", "out_frac")}
            layer_bits = _plan_int(fmt.get("bits", bits), f"{name}.bits", 2, 32, bad)
            if layer_bits != bits:
                raise bad(f"layer {name!r} has bits {layer_bits} but the plan has bits {bits}")
            layers[name] = LayerFormat(bits=bits, **vals)
        host_raw = data.get("host", {})
        if not isinstance(host_raw, dict):
            raise bad("'host' must be an object {host op: frac}")
        host = {str(name): _plan_int(v, f"host.{name}", MIN_FRAC, MAX_FRAC, bad) for name, v in host_raw.items()}
        plan = cls(bits=bits, input_frac=input_frac, layers=layers, host=host)
        if workload is not None:
            plan.check(workload, source)
        return plan

    def check(self, workload: Workload, source: str | None = None) -> None:
        """Raise WorkloadError unless every layer has a format and consumers agree with their producers."""
        names = [layer.name for layer in workload.layers]
        missing = [n for n in names if n not in self.layers]
        if missing:
            raise WorkloadError(f"fixed-point plan: no format for layers {missing}", source)
        out_frac = {NETWORK_INPUT: self.input_frac, **self.host, **{n: self.layers[n].out_frac for n in names}}
        for layer in workload.layers:
            unknown = [src for src in layer.inputs if src not in out_frac]
            if unknown:
                raise WorkloadError(f"fixed-point plan: no format for host op {unknown[0]!r}, which layer "
                                    f"{layer.name!r} reads", source)
            fracs = {out_frac[src] for src in layer.inputs}
            if fracs != {self.layers[layer.name].in_frac}:
                raise WorkloadError(
                    f"fixed-point plan: layer {layer.name!r} has in_frac {self.layers[layer.name].in_frac} "
                    f"but its inputs {list(layer.inputs)} have out_frac {sorted(fracs)}", source)


def _plan_int(value: Any, key: str, lo: int, hi: int, bad: Callable[[str], Exception]) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise bad(f"{key!r} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def plan_fixed_point(workload: Workload, x_float: np.ndarray, bits: int = 16,
                     use_pinned: bool = True) -> FixedPointPlan:
    """Choose per-layer dynamic fixed-point formats (docs/fixed-point.md).

    The workload's pinned plan (meta key "fixed_point") is returned when present and
    ``use_pinned``. Otherwise the plan is calibrated on ``x_float``: weight_frac from
    each codebook; out_frac from the float pass's largest output that must be
    representable (after ReLU, before pooling; before ReLU for layers without one),
    so saturation is rare; tensors that
    meet at a consumer (concatenated, or read by the same layer) share the smallest
    of their out_fracs; a layer's in_frac is that shared format (or the network
    input's, taken from max |x_float|).
    """
    if use_pinned and PLAN_META_KEY in workload.extra:
        return FixedPointPlan.from_dict(workload.extra[PLAN_META_KEY], workload, workload.source)
    if not isinstance(bits, int) or not 2 <= bits <= 32:
        raise UsageError(f"fixed-point width must be 2..32 bits, got {bits!r}")
    result = forward(workload, x_float, "float32")
    frac = {NETWORK_INPUT: frac_bits_for(float(np.max(np.abs(result.network_input), initial=0.0)), bits)}
    for layer in workload.layers:
        # With ReLU only the non-negative outputs must fit (negative overflows clip to 0 exactly); another
        # activation needs both its input and its output to fit (without one, the two are the same).
        after = result.max_abs_before_pool[layer.name]
        peak = after if layer.relu else max(result.max_abs_before_relu[layer.name], after)
        frac[layer.name] = frac_bits_for(peak, bits)
    for name, peak_abs in result.max_abs_host.items():
        frac[name] = frac_bits_for(peak_abs, bits)
    out: dict[str, int] = {}
    for group in format_groups(workload):
        shared = min(frac[name] for name in group)
        out.update((name, shared) for name in group)
    layers = {
        layer.name: LayerFormat(weight_frac=weight_format(layer, bits), in_frac=out[layer.inputs[0]],
                                out_frac=out[layer.name], bits=bits)
        for layer in workload.layers
    }
    return FixedPointPlan(bits=bits, input_frac=out[NETWORK_INPUT], layers=layers,
                          host={name: out[name] for name in result.max_abs_host})


def format_groups(workload: Workload) -> list[set[str]]:
    """Tensors that must share one fixed-point format: the network input and every layer output, grouped.

    Tensors read together (concatenated, or read by the same layer) meet in one
    accumulator, so they need one format; the relation is transitive. The groups are
    the connected components of the undirected graph that links the inputs of each
    layer (a union-find), listed in order of their first tensor (the network input, the
    layers in order, then other names in order of first mention).
    """
    parent: dict[str, str] = {NETWORK_INPUT: NETWORK_INPUT}
    parent.update((layer.name, layer.name) for layer in workload.layers)

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]  # path halving
            name = parent[name]
        return name

    for layer in workload.layers:
        # A recurrent layer's output h is broadcast with its input x (one vector): one format.
        linked = [*layer.inputs, layer.name] if layer.kind in RECURRENT_KINDS else layer.inputs
        for name in linked:
            parent.setdefault(name, name)
        for a, b in zip(linked, linked[1:]):
            parent[root(b)] = root(a)
    groups: dict[str, set[str]] = {}
    for name in parent:
        groups.setdefault(root(name), set()).add(name)
    return list(groups.values())


# -- graph plumbing (shared by every path) --------------------------------------------

def gather_input(workload: Workload, layer: Layer, outputs: Mapping[str, np.ndarray],
                 network_input: np.ndarray) -> np.ndarray:
    """The tensor ``layer`` consumes: its inputs concatenated along channels, in listed order.

    fc layers get one vector (each producer flattened, then concatenated); a conv layer with an
    ``input_pool`` gets the concatenation pooled (float or fixed-point pooling by dtype). Works for
    float and integer arrays alike (dtype of the producers is kept).
    """
    parts = []
    for src in layer.inputs:
        if src == NETWORK_INPUT:
            parts.append(np.asarray(network_input))
        elif src in outputs:
            parts.append(np.asarray(outputs[src]))
        else:
            raise WorkloadError(f"layer {layer.name!r}: input {src!r} has not been computed", workload.source)
    if layer.kind != "conv":  # fc and recurrent layers read one flat vector
        return np.concatenate([p.reshape(-1) for p in parts]) if len(parts) > 1 else parts[0].reshape(-1)
    x = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    pool = layer.input_pool  # applied as the load phase gathers the input (docs/timing-model.md, "Input pool")
    if pool is not None:
        x = pool_float(x, pool) if x.dtype.kind == "f" else pool_fixed(np.asarray(x, dtype=np.int64), pool)
    return x


def _density(x: np.ndarray) -> float:
    return float(np.count_nonzero(x)) / x.size if x.size else 0.0


class FixedOutputs(dict):
    """``run_fixed``'s result: {layer name: int64 output after ReLU and pooling}, plus per-layer statistics.

    Attributes ``saturations`` (values clipped when requantizing, bias included),
    ``density_before_pool`` (non-zero fraction after ReLU, before pooling) and
    ``input_density`` (non-zero fraction of the layer's gathered input).
    """

    def __init__(self) -> None:
        super().__init__()
        self.saturations: dict[str, int] = {}
        #: Values clipped quantizing each host op output an EIE layer reads (empty without host ops).
        self.host_saturations: dict[str, int] = {}
        self.density_before_pool: dict[str, float] = {}
        self.input_density: dict[str, float] = {}


def run_fixed(workload: Workload, x_q_input: np.ndarray, plan: FixedPointPlan,
              accumulate: Accumulate = accumulate_reference) -> FixedOutputs:
    """Run the fixed-point network layer by layer with a pluggable M x V ``accumulate``.

    ``x_q_input`` is the network input in fixed point (``plan.input_frac``). For each
    layer: gather (concat/flatten), ``accumulate(layer, x_q, fmt)`` -> exact integer
    accumulators, then ``finish_layer`` (bias, requantize, saturate, ReLU) and pooling.
    Returns a ``FixedOutputs`` dict of int64 outputs.
    """
    x_q_input = _checked_shape(workload, x_q_input, "iu", "fixed-point input must hold integers").astype(np.int64)
    plan.check(workload, workload.source)
    outs = FixedOutputs()
    graph = graph_of(workload)
    host_q: dict[str, np.ndarray] = {}
    if graph is not None:
        # The host reads the chip's fixed-point values as floats and sends back its results quantized
        # to the format of the layer reading them (the chip boundary, docs/fixed-point.md).
        host = HostValues(workload, graph, lambda name: dequantize(
            x_q_input if name == NETWORK_INPUT else outs[name],
            plan.input_frac if name == NETWORK_INPUT else plan.format(name).out_frac))
    for layer in workload.layers:
        fmt = plan.format(layer.name)
        for src in layer.inputs:
            if graph is not None and src in graph.ops and src not in host_q:
                host_q[src], outs.host_saturations[src] = quantize(to_eie(host.get(src)), plan.host[src], plan.bits)
        x_q = gather_input(workload, layer, ChainMap(outs, host_q) if host_q else outs, x_q_input)
        outs.input_density[layer.name] = _density(x_q)
        if layer.kind in RECURRENT_KINDS:
            y, sat = _recurrent_fixed(layer, x_q, fmt, accumulate)
            outs.density_before_pool[layer.name] = _density(y)
            outs[layer.name] = y
            outs.saturations[layer.name] = sat
            continue
        acc = np.asarray(accumulate(layer, x_q, fmt), dtype=np.int64)
        residual = None
        if layer.residual is not None:  # the skip operand, as its producer stored it (docs/fixed-point.md)
            residual = (outs[layer.residual], plan.format(layer.residual).out_frac)
        # The pooling follows below (finish_layer would pool a layer that has one).
        y, sat = finish_layer(acc, layer if layer.pool is None else dataclasses.replace(layer, pool=None), fmt,
                              residual)
        outs.density_before_pool[layer.name] = _density(y)
        if layer.pool is not None:
            y = pool_fixed(y, layer.pool)
        outs[layer.name] = y
        outs.saturations[layer.name] = sat
    return outs


def _recurrent_fixed(layer: Layer, x_q: np.ndarray, fmt: LayerFormat, accumulate: Accumulate) -> tuple[np.ndarray, int]:
    """A recurrent layer in fixed point (``eiesim.network.recurrent``), its M x V products from ``accumulate``.

    The reference recurrence runs first with exact products step by step; it gives every
    step's vector [x_t; h_{t-1}]. Any other ``accumulate`` (an engine) then runs the T
    rounds on those vectors at once, as "pixels" of a 1 x 1 conv (``recurrent_step_view``:
    the rounds' timing depends only on the vectors), and the element-wise recurrence is
    replayed on its accumulators: an accumulator that differs anywhere changes h.
    """
    view = recurrent_step_view(layer)

    w_q = layer_matrix_q(layer, fmt)  # int64 CSR: every step's product exact

    def exact(t: int, v: np.ndarray) -> np.ndarray:
        return np.asarray(w_q @ v, dtype=np.int64)

    y, sat, vectors = recurrent_fixed(layer, x_q, fmt, exact)
    if accumulate is accumulate_reference:
        return y, sat
    w_products = np.asarray(accumulate(view, vectors.reshape(layer.cols, -1, 1), fmt), dtype=np.int64)
    products = w_products.reshape(layer.rows, -1)
    y_engine, sat_engine, _ = recurrent_fixed(layer, x_q, fmt, lambda t, v: products[:, t])
    return y_engine, sat_engine


# -- float reference --------------------------------------------------------------------

def _conv_float(x: np.ndarray, layer: Layer) -> np.ndarray:
    """Dense convolution (cross-correlation, Caffe semantics) via sliding windows + tensordot.

    A dilated kernel is a window of its full span on the input, of which every dh-th row
    and dw-th column are the taps.
    """
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel, layer.stride, layer.dilation
    top, left, bottom, right = pads_tlbr(layer.conv_padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(1, 2))[:, ::sh, ::sw, ::dh, ::dw]
    # windows: (C, OH, OW, kh, kw); weights: (M, C, kh, kw) -> (M, OH, OW)
    return np.tensordot(layer.dense_weights(), windows, axes=([1, 2, 3], [0, 3, 4]))


def _layer_float(x: np.ndarray, layer: Layer) -> np.ndarray:
    """Pre-activation output of one layer in float32 (bias included)."""
    if layer.kind == "fc":  # sparse mat-vec: a dense copy of a large fc layer costs more than the product
        return (layer.weights_csr() @ np.asarray(x, dtype=np.float32) + layer.bias).astype(np.float32)
    return (_conv_float(x, layer) + layer.bias[:, None, None]).astype(np.float32)


# -- forward --------------------------------------------------------------------------

@dataclass
class ForwardResult:
    """Everything one forward pass produced.

    ``outputs`` are each layer's output after ReLU and pooling (what the next layer
    reads): float32, or int64 fixed-point values for fixed16 (use ``dequantized``).
    ``output_density`` is the non-zero fraction of that output (the input sparsity
    the next layer on EIE sees); ``output_density_before_pool`` the same after ReLU
    but before pooling; ``input_density`` the non-zero fraction of each layer's
    gathered input. ``saturations`` counts values clipped per layer (fixed16; zeros
    for float32) and ``input_saturations`` those clipped quantizing the network
    input. ``max_abs_before_relu`` (float32 only) is the largest |value| a
    layer produced before ReLU and pooling, used to calibrate fixed-point formats;
    ``max_abs_before_pool`` (float32 only) the largest after ReLU, before pooling.
    """

    precision: str
    outputs: dict[str, np.ndarray]
    output_density: dict[str, float]
    output_density_before_pool: dict[str, float]
    input_density: dict[str, float]
    saturations: dict[str, int]
    logits: np.ndarray
    probabilities: np.ndarray
    network_input: np.ndarray
    plan: FixedPointPlan | None = None
    max_abs_before_relu: dict[str, float] = field(default_factory=dict)
    max_abs_before_pool: dict[str, float] = field(default_factory=dict)
    input_saturations: int = 0
    #: Largest |value| of each host op output an EIE layer reads (float32 only; calibrates its format).
    max_abs_host: dict[str, float] = field(default_factory=dict)

    def dequantized(self, name: str) -> np.ndarray:
        """Layer ``name``'s output as float32 (fixed-point values divided by 2**out_frac)."""
        out = self.outputs[name]
        if self.plan is None:
            return np.asarray(out, dtype=np.float32)
        return dequantize(out, self.plan.format(name).out_frac)

    def top(self, k: int = 5) -> list[list[Any]]:
        """The ``k`` most probable classes as [class_index, probability], most probable first (ties: lower index)."""
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [[int(i), float(self.probabilities[i])] for i in order]

    @property
    def top5(self) -> list[list[Any]]:
        return self.top(5)

    @property
    def total_saturations(self) -> int:
        return int(sum(self.saturations.values()))


def softmax(v: np.ndarray) -> np.ndarray:
    """Numerically stable softmax of a vector (float64 inside, float32 out)."""
    z = np.asarray(v, dtype=np.float64).reshape(-1)
    if z.size == 0:
        return z.astype(np.float32)
    e = np.exp(z - z.max())
    return (e / e.sum()).astype(np.float32)


def _checked_shape(workload: Workload, x: np.ndarray, kinds: str, what: str) -> np.ndarray:
    """``x`` as an array after checking its dtype kind and that it has the workload's input shape."""
    x = np.asarray(x)
    if x.dtype.kind not in kinds:
        raise InputDataError(f"{what}, got {x.dtype}")
    if tuple(x.shape) != tuple(workload.input_shape):
        raise InputDataError(f"input has shape {tuple(x.shape)}, the workload expects {tuple(workload.input_shape)}")
    return x


def check_input(workload: Workload, x: np.ndarray) -> np.ndarray:
    """``x`` as float32 after checking its shape and values against the workload input."""
    x = _checked_shape(workload, x, "fiu", "input must be numeric").astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise InputDataError("input holds NaN or Inf")
    return x


def forward(workload: Workload, x: np.ndarray, precision: str = "float32",
            plan: FixedPointPlan | None = None) -> ForwardResult:
    """Run the whole network on float input ``x`` (the workload's input shape).

    ``precision`` "float32" runs the dense float reference; "fixed16" quantizes ``x``
    with ``plan`` (default: pinned in the workload, else calibrated on ``x``) and runs
    the fixed-point datapath. Logits are the last layer's output flattened;
    probabilities their softmax.
    """
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    x = check_input(workload, x)
    if precision == "float32":
        return _forward_float(workload, x)
    if plan is None:
        plan = plan_fixed_point(workload, x, 16)
    else:
        plan.check(workload, workload.source)
    if plan.bits != 16:
        raise UsageError(f"precision fixed16 needs a 16-bit plan, got {plan.bits} bits")
    x_q, sat_in = quantize(x, plan.input_frac, plan.bits)
    outs = run_fixed(workload, x_q, plan)
    last = workload.output_layer.name
    logits = logits_of(workload, dequantize(outs[last], plan.format(last).out_frac))
    return ForwardResult(
        precision=precision, outputs=dict(outs),
        output_density={n: _density(v) for n, v in outs.items()},
        output_density_before_pool=dict(outs.density_before_pool), input_density=dict(outs.input_density),
        saturations=dict(outs.saturations), logits=logits, probabilities=softmax(logits), network_input=x, plan=plan,
        input_saturations=sat_in,
    )


def _forward_float(workload: Workload, x: np.ndarray) -> ForwardResult:
    outputs: dict[str, np.ndarray] = {}
    before_pool: dict[str, float] = {}
    in_density: dict[str, float] = {}
    max_abs: dict[str, float] = {}
    max_before_pool: dict[str, float] = {}
    graph = graph_of(workload)
    host_in: dict[str, np.ndarray] = {}
    max_host: dict[str, float] = {}
    if graph is not None:
        host = HostValues(workload, graph, lambda name: x if name == NETWORK_INPUT else outputs[name])
    for layer in workload.layers:
        for src in layer.inputs:
            if graph is not None and src in graph.ops and src not in host_in:
                host_in[src] = to_eie(host.get(src)).astype(np.float32)
                max_host[src] = float(np.max(np.abs(host_in[src]), initial=0.0))
        xin = gather_input(workload, layer, ChainMap(outputs, host_in) if host_in else outputs, x)
        in_density[layer.name] = _density(xin)
        if layer.kind in RECURRENT_KINDS:
            y, _ = recurrent_float(layer, xin)
        else:
            y = _layer_float(xin, layer)
        if layer.residual is not None:  # added on the write-back path, before the ReLU
            y = (y + outputs[layer.residual].reshape(y.shape)).astype(np.float32)
        max_abs[layer.name] = float(np.max(np.abs(y), initial=0.0))
        if layer.activation is not None:
            y = apply_float(layer.activation, y, layer.activation_params)
        elif layer.relu:
            y = np.maximum(y, 0)
        before_pool[layer.name] = _density(y)
        max_before_pool[layer.name] = float(np.max(np.abs(y), initial=0.0))
        if layer.pool is not None:
            y = pool_float(y, layer.pool)
        outputs[layer.name] = y.astype(np.float32)
    if not all(math.isfinite(v) for v in [*max_abs.values(), *max_host.values()]):
        raise InputDataError("the float forward pass overflowed (NaN or Inf in a layer or host op output)")
    logits = logits_of(workload, outputs[workload.output_layer.name])
    return ForwardResult(
        precision="float32", outputs=outputs, output_density={n: _density(v) for n, v in outputs.items()},
        output_density_before_pool=before_pool, input_density=in_density,
        saturations={n: 0 for n in outputs}, logits=logits, probabilities=softmax(logits), network_input=x,
        max_abs_before_relu=max_abs, max_abs_before_pool=max_before_pool, max_abs_host=max_host,
    )


def token_count(workload: Workload) -> int | None:
    """How many tokens the network output holds (its output layer applied per token), or None (one output vector)."""
    tokens = workload.output_layer.extra.get(TOKENS_KEY)
    return math.prod(int(t) for t in tokens) if tokens else None


def top1_per_token(workload: Workload, logits: np.ndarray) -> np.ndarray:
    """The top-1 class of each output row: per token for a token output ((T, V) logits, e.g. an LM head),
    else the one argmax of the whole output (ties: the lower index). ``logits`` as ``logits_of`` orders them."""
    rows = token_count(workload) or 1
    return np.argmax(np.asarray(logits).reshape(rows, -1), axis=1)


def logits_of(workload: Workload, last_output: np.ndarray) -> np.ndarray:
    """The network output flattened in the source model's order: a token layer's (V, 1, R) output as (R, V)."""
    if workload.output_layer.extra.get(TOKENS_KEY):
        channels = last_output.shape[0]
        return np.ascontiguousarray(np.asarray(last_output).reshape(channels, -1).T).reshape(-1)
    return np.asarray(last_output).reshape(-1)
