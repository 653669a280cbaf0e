"""Host ops in float32, and the work they cost the host: operations and bytes moved to and from the chip.

``evaluate`` computes one host op with ONNX's semantics (numpy, float32; the onnxruntime tests
check it). ``HostValues`` runs a workload's host graph on demand, between EIE layers: a host op
reads the network input and EIE layer outputs in their host view and is computed once.
``host_work`` counts, per op, the arithmetic (multiplies, adds, exps, divides, others: compares,
square roots, erf / tanh, selects) and the activations that leave EIE for it and come back
(16-bit values, like the chip's activations). The counts depend only on the shapes.
EIE's cycles do not include the host's time (docs/timing-model.md, "Host work").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from eiesim.errors import InputDataError, WorkloadError
from eiesim.network.host_graph import TOKENS_KEY, HostGraph, HostOp, host_graph, to_host
from eiesim.network.workload import NETWORK_INPUT, Workload

#: Bytes of one activation crossing the chip boundary (EIE's 16-bit fixed point).
BOUNDARY_BYTES_PER_VALUE = 2


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _axis(attrs: dict[str, Any], rank: int, default: int) -> int:
    axis = int(attrs.get("axis", default))
    return axis + rank if axis < 0 else axis


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return _f32(erf(np.asarray(x, np.float64)))


def _layer_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None, attrs: dict[str, Any]) -> np.ndarray:
    axes = tuple(range(_axis(attrs, x.ndim, -1), x.ndim))
    x = _f32(x)
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float32)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True, dtype=np.float32)
    y = centered / np.sqrt(var + np.float32(attrs.get("epsilon", 1e-5))) * _f32(scale)
    return y + _f32(bias) if bias is not None else y


def _softmax(x: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    axis = _axis(attrs, x.ndim, -1)
    e = np.exp(_f32(x) - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True, dtype=np.float32)


def _gelu(x: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    x = _f32(x)
    if attrs.get("approximate", "none") == "tanh":
        inner = np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x * x * x)
        return np.float32(0.5) * x * (np.float32(1) + np.tanh(inner))
    return np.float32(0.5) * x * (np.float32(1) + _erf(x / np.float32(math.sqrt(2))))


def _slice(x: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    index: list[slice] = [slice(None)] * x.ndim
    steps = attrs.get("steps") or [1] * len(attrs["axes"])
    for axis, start, end, step in zip(attrs["axes"], attrs["starts"], attrs["ends"], steps, strict=True):
        index[axis + x.ndim if axis < 0 else axis] = slice(start, end, step)
    return x[tuple(index)]


def _gather(data: np.ndarray, indices: np.ndarray, attrs: dict[str, Any]) -> np.ndarray:
    axis = _axis(attrs, data.ndim, 0)
    idx = np.asarray(indices)
    if idx.dtype.kind == "f":  # token ids arrive as the (float) network input
        if not np.all(idx == np.round(idx)):
            raise InputDataError("Gather indices (token ids) must be whole numbers")
        idx = idx.astype(np.int64)
    n = data.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise InputDataError(f"Gather indices (token ids) must lie in [-{n}, {n}), got {int(idx.min())}.."
                             f"{int(idx.max())}")
    return np.take(data, idx, axis=axis)


_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "Sqrt": np.sqrt, "Erf": _erf, "Tanh": np.tanh, "Exp": np.exp, "Neg": np.negative,
    "Reciprocal": lambda x: np.float32(1) / x, "Relu": lambda x: np.maximum(x, np.float32(0)),
    "Sigmoid": lambda x: np.float32(1) / (np.float32(1) + np.exp(-x)),
}
_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power, "MatMul": np.matmul,
}


def evaluate(op: HostOp | str, inputs: list[np.ndarray], attrs: dict[str, Any] | None = None) -> np.ndarray:
    """One host op (``op`` or its operator name with ``attrs``) on its input arrays, in float32 (ONNX semantics)."""
    name, at = (op.op, op.attrs) if isinstance(op, HostOp) else (op, attrs or {})
    x = inputs[0]
    if name in _UNARY:
        return _f32(_UNARY[name](_f32(x)))
    if name in _BINARY:
        return _f32(_BINARY[name](_f32(x), _f32(inputs[1])))
    if name == "Where":
        return _f32(np.where(np.asarray(x, bool), _f32(inputs[1]), _f32(inputs[2])))
    if name == "Gelu":
        return _gelu(x, at)
    if name == "Softmax":
        return _f32(_softmax(x, at))
    if name == "LayerNormalization":
        return _f32(_layer_norm(x, inputs[1], inputs[2] if len(inputs) > 2 else None, at))
    if name == "ReduceMean":
        axes = tuple(a + x.ndim if a < 0 else a for a in at["axes"])
        return _f32(np.mean(_f32(x), axis=axes, keepdims=bool(at.get("keepdims", 1)), dtype=np.float32))
    if name == "Transpose":
        return np.ascontiguousarray(np.transpose(x, at.get("perm") or None))
    if name == "Reshape":
        return np.asarray(x).reshape(at["shape"])
    if name == "Slice":
        return np.ascontiguousarray(_slice(np.asarray(x), at))
    if name == "Gather":
        return _gather(np.asarray(x), inputs[1], at)
    if name == "Concat":
        return np.concatenate([np.asarray(v) for v in inputs], axis=_axis(at, np.ndim(x), 0))
    raise WorkloadError(f"host operator {name!r} is not implemented")


# -- the host graph between EIE layers ------------------------------------------------------------------------

class HostValues:
    """A workload's host ops, computed on demand in float32 (each once), host view (batch axis first).

    ``eie_output(name)`` gives the EIE-view value of the network input (``"input"``) or of a layer
    output as the host receives it (float32); the host graph reads them through ``to_host``.
    """

    def __init__(self, workload: Workload, graph: HostGraph, eie_output: Callable[[str], np.ndarray]) -> None:
        self.graph = graph
        self.tokens = {layer.name: layer.extra[TOKENS_KEY] for layer in workload.layers if layer.extra.get(TOKENS_KEY)}
        self.eie_output = eie_output
        self.values: dict[str, np.ndarray] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.graph.ops

    def get(self, name: str) -> np.ndarray:
        """Host op ``name``'s output (computing it and the host ops it reads)."""
        if name not in self.values:
            op = self.graph.ops[name]
            args = [self._read(i) if isinstance(i, str) else i for i in op.inputs]
            _check_broadcast(op, args)
            value = evaluate(op, args)
            if tuple(value.shape) != op.shape:
                raise WorkloadError(f"host op {name!r} gives shape {list(value.shape)}, its record says "
                                    f"{list(op.shape)}")
            self.values[name] = value
        return self.values[name]

    def _read(self, name: str) -> np.ndarray:
        if name in self.graph.ops:
            return self.get(name)
        tokens = None if name == NETWORK_INPUT else self.tokens.get(name)
        return to_host(self.eie_output(name), tokens)


def _check_broadcast(op: HostOp, args: list[np.ndarray]) -> None:
    """Refuse, before computing it, an op whose inputs would make an output larger than its record says
    (the record's shape is what the memory budget counted, ``eiesim.network.memory``)."""
    shapes = [tuple(np.shape(a)) for a in args]
    try:
        if op.op == "MatMul" and all(len(s) >= 2 for s in shapes):
            out = (*np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2]), shapes[0][-2], shapes[1][-1])
        elif op.op in _BINARY or op.op == "Where":
            out = np.broadcast_shapes(*shapes)
        else:
            return
    except ValueError:
        raise WorkloadError(f"host op {op.name!r}: inputs of shapes {[list(s) for s in shapes]} do not "
                            "broadcast") from None
    if math.prod(out) > math.prod(op.shape):
        raise WorkloadError(f"host op {op.name!r}: its inputs give shape {list(out)}, its record says "
                            f"{list(op.shape)}")


def graph_of(workload: Workload) -> HostGraph | None:
    """The workload's validated host graph, or None for a network that runs entirely on EIE."""
    return host_graph(workload.extra, [layer.name for layer in workload.layers], workload.source)


# -- counting ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HostOpWork:
    """What one host op costs the host for one inference."""

    name: str
    op: str
    multiplies: int
    adds: int
    exps: int
    divides: int
    others: int
    bytes_from_chip: int
    bytes_to_chip: int

    @property
    def operations(self) -> int:
        return self.multiplies + self.adds + self.exps + self.divides + self.others

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "operations": self.operations}


def op_counts(op: HostOp, in_shapes: list[tuple[int, ...]]) -> dict[str, int]:
    """Arithmetic of one op: multiplies, adds, exps, divides, others (compares, sqrt, erf, tanh, selects)."""
    out = math.prod(op.shape)
    c = dict.fromkeys(("multiplies", "adds", "exps", "divides", "others"), 0)
    name = op.op
    if name == "MatMul":
        k = in_shapes[0][-1] if len(in_shapes[0]) > 1 else in_shapes[0][0]
        c["multiplies"], c["adds"] = out * k, out * (k - 1)
    elif name in ("Add", "Sub"):
        c["adds"] = out
    elif name == "Mul":
        c["multiplies"] = out
    elif name in ("Div", "Reciprocal"):
        c["divides"] = out
    elif name == "Exp":
        c["exps"] = out
    elif name == "Sigmoid":
        c["exps"], c["adds"], c["divides"] = out, out, out
    elif name in ("Sqrt", "Erf", "Tanh", "Relu", "Where", "Pow", "Neg"):
        c["others"] = out
    elif name == "Gelu":
        if op.attrs.get("approximate", "none") == "tanh":
            c["multiplies"], c["adds"], c["others"] = 6 * out, 2 * out, out
        else:
            c["multiplies"], c["adds"], c["divides"], c["others"] = 2 * out, out, out, out
    elif name == "Softmax":
        n = in_shapes[0][_axis(op.attrs, len(in_shapes[0]), -1)]
        rows = out // n
        c["others"] = rows * (n - 1)  # the row maximum
        c["adds"] = out + rows * (n - 1)  # subtract the maximum, sum the exponentials
        c["exps"], c["divides"] = out, out
    elif name == "LayerNormalization":
        axis = _axis(op.attrs, len(in_shapes[0]), -1)
        n = math.prod(in_shapes[0][axis:])
        rows = out // n
        # mean: n-1 adds, 1 divide; centre: n adds; variance: n multiplies, n-1 adds, 1 divide;
        # + epsilon: 1 add; sqrt: 1; normalize: n divides; scale: n multiplies; shift: n adds (with a bias).
        shift = n if len(op.inputs) > 2 else 0
        c["adds"] = rows * ((n - 1) + n + (n - 1) + 1 + shift)
        c["multiplies"] = rows * 2 * n
        c["divides"] = rows * (2 + n)
        c["others"] = rows
    elif name == "ReduceMean":
        c["adds"], c["divides"] = math.prod(in_shapes[0]) - out, out
    return c  # Transpose, Reshape, Slice, Gather, Concat: data movement only


def host_work(workload: Workload) -> list[HostOpWork]:
    """Per host op, in stored order: its arithmetic and the bytes it moves to and from the chip.

    A layer output that leaves the chip is counted once, at the first host op that reads it; a
    host tensor that an EIE layer reads is counted once, at the op that makes it. Host ops reading
    the network input or other host ops move nothing across the boundary (the input is the host's), and
    the network input only rearranged for a layer (no arithmetic) is the network input's DRAM read.
    """
    graph = graph_of(workload)
    if graph is None:
        return []
    shapes = workload.output_shapes()
    read_by_layers = {src for layer in workload.layers for src in layer.inputs}
    left_chip: set[str] = set()
    rows = []
    for op in graph.ops.values():
        in_shapes: list[tuple[int, ...]] = []
        from_chip = 0
        for value in op.inputs:
            if not isinstance(value, str):
                in_shapes.append(tuple(np.shape(value)))
            elif value in graph.ops:
                in_shapes.append(graph.ops[value].shape)
            else:
                size = math.prod(workload.input_shape) if value == NETWORK_INPUT else math.prod(shapes[value])
                in_shapes.append(_host_shape(workload, value, shapes))
                if value != NETWORK_INPUT and value not in left_chip:
                    left_chip.add(value)
                    from_chip += BOUNDARY_BYTES_PER_VALUE * size
        counts = op_counts(op, in_shapes)
        # The network input rearranged for the chip (e.g. a flat sequence as tokens) is what the chip reads
        # as the network input anyway (docs/timing-model.md, I/O mode): no extra bytes.
        input_view = not any(counts.values()) and set(op.sources) == {NETWORK_INPUT}
        to_chip = BOUNDARY_BYTES_PER_VALUE * math.prod(op.shape) if op.name in read_by_layers and not input_view else 0
        rows.append(HostOpWork(op.name, op.op, **counts, bytes_from_chip=from_chip, bytes_to_chip=to_chip))
    return rows


def _host_shape(workload: Workload, name: str, shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    eie = tuple(workload.input_shape) if name == NETWORK_INPUT else shapes[name]
    if name == NETWORK_INPUT:
        return (1, *eie)
    tokens = workload.layer(name).extra.get(TOKENS_KEY)
    return (*tokens, eie[0]) if tokens else (1, *eie)


def host_work_summary(workload: Workload) -> dict[str, Any] | None:
    """The host work of one inference: totals and one row per op (None for a network without host ops)."""
    rows = host_work(workload)
    if not rows and graph_of(workload) is None:
        return None
    keys = ("multiplies", "adds", "exps", "divides", "others", "operations", "bytes_from_chip", "bytes_to_chip")
    dicts = [r.to_dict() for r in rows]
    return {"ops": len(rows), **{k: int(sum(d[k] for d in dicts)) for k in keys},
            "time_modelled": False, "per_op": dicts}


__all__ = ["BOUNDARY_BYTES_PER_VALUE", "HostOpWork", "HostValues", "evaluate", "graph_of", "host_work", "op_counts",
           "host_work_summary"]
