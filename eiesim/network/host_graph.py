"""The host part of a workload: operations EIE has no unit for, run by the host between EIE layers.

A transformer (or any graph with work EIE cannot do) is a graph of EIE layers and *host ops*:
products of two computed tensors, Softmax, LayerNormalization, GELU, Transpose, embedding
Gather, ... (docs/workload-format.md, "Host ops"). The host ops are stored in the workload meta
under ``host_ops`` (a list in topological order); an EIE layer reads a host op's output by
naming it in its ``inputs``, like another layer. Files without the key load unchanged.

This module holds the *description* of the host graph: the op records, their validation when a
file is loaded, and the two views of a tensor:

* the **host view** is ONNX's layout with the batch axis (batch 1): ``(1, K)``, ``(1, T, D)``
  for a token sequence, ``(1, C, H, W)``, or any other rank;
* the **EIE view** is what an EIE layer reads: ``(K,)`` for ``(1, K)``, ``(C, H, W)`` for
  ``(1, C, H, W)``, and for any other shape ``(..., D)`` a sequence of R = prod(...) tokens of D
  values, ``(D, 1, R)``: the tokens are the pixels of a 1 x R image with D channels, so an fc layer
  applied per token is a 1 x 1 conv whose rounds are the tokens.

The float implementation and the op counts are in ``eiesim.network.host_ops``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.errors import WorkloadError

#: Workload meta key of the host ops (absent: a pure EIE network).
HOST_OPS_KEY = "host_ops"
#: Layer meta key of a layer applied per token: the leading dimensions of its output's host view
#: (``[1, T]`` for a (1, T, N) output; their product is the number of tokens).
TOKENS_KEY = "tokens"
#: The name layers use for the network input (``eiesim.network.workload.NETWORK_INPUT``).
_NETWORK_INPUT = "input"

#: Every host operator eiesim computes (``eiesim.network.host_ops``), by ONNX name.
HOST_OPERATORS = (
    "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Where",
    "Sqrt", "Erf", "Tanh", "Exp", "Neg", "Reciprocal", "Relu", "Sigmoid", "Gelu",
    "Softmax", "LayerNormalization", "ReduceMean",
    "Transpose", "Reshape", "Slice", "Gather", "Concat",
)
#: Elements a host op's constant may hold (an embedding table of 4M values is 16 MB in the meta JSON).
MAX_CONST_ELEMENTS = 1 << 22
_CONST_DTYPES = ("float32", "int64", "bool")


@dataclass(frozen=True)
class HostOp:
    """One host operation: ``op`` applied to ``inputs`` (tensor names or constants), giving ``shape``.

    ``inputs`` are tensor names (the network input ``"input"``, a layer or an earlier host op)
    or constant arrays; ``shape`` is the output's host view (batch axis included).
    """

    name: str
    op: str
    inputs: tuple[str | np.ndarray, ...]
    attrs: dict[str, Any]
    shape: tuple[int, ...]

    @property
    def sources(self) -> list[str]:
        """The computed tensors this op reads (not its constants), in input order."""
        return [i for i in self.inputs if isinstance(i, str)]

    def to_meta(self) -> dict[str, Any]:
        """The op as stored in the workload meta."""
        return {"name": self.name, "op": self.op, "inputs": [_input_meta(i) for i in self.inputs],
                "attrs": dict(self.attrs), "shape": list(self.shape)}


def _input_meta(value: str | np.ndarray) -> Any:
    if isinstance(value, str):
        return value
    arr = np.asarray(value)
    dtype = "bool" if arr.dtype.kind == "b" else "int64" if arr.dtype.kind in "iu" else "float32"
    return {"const": arr.astype(dtype).tolist(), "dtype": dtype, "shape": list(arr.shape)}


def is_sequence(host_shape: tuple[int, ...]) -> bool:
    """True when a tensor of this host view is a token sequence for EIE (not (1, K) or (1, C, H, W))."""
    return not (host_shape[:1] == (1,) and len(host_shape) in (2, 4))


def eie_shape(host_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The EIE view's shape of a tensor whose host view is ``host_shape``."""
    if not is_sequence(host_shape):
        return tuple(host_shape[1:])
    return (host_shape[-1], 1, math.prod(host_shape[:-1]))


def to_eie(host_value: np.ndarray) -> np.ndarray:
    """A host-view array in its EIE view (``eie_shape``)."""
    x = np.asarray(host_value)
    if not is_sequence(x.shape):
        return x.reshape(x.shape[1:])
    width = x.shape[-1]
    return np.ascontiguousarray(x.reshape(-1, width).T.reshape(width, 1, -1))


def to_host(eie_value: np.ndarray, tokens: list[int] | None) -> np.ndarray:
    """An EIE-view array (a layer output or the network input) in its host view; ``tokens``: the leading
    dimensions of a token sequence (``TOKENS_KEY``), None for a (K,) or (C, H, W) tensor."""
    x = np.asarray(eie_value)
    if tokens:
        channels = x.shape[0]
        if x.size != channels * math.prod(tokens):
            raise WorkloadError(f"a token layer's output {list(x.shape)} does not hold {list(tokens)} tokens")
        return np.ascontiguousarray(x.reshape(channels, -1).T).reshape(*tokens, channels)
    return x[None]


@dataclass(frozen=True)
class HostGraph:
    """The host ops of a workload, by name in stored (topological) order."""

    ops: dict[str, HostOp]

    def to_meta(self) -> list[dict[str, Any]]:
        return [op.to_meta() for op in self.ops.values()]


def host_graph(extra: dict[str, Any], layer_names: list[str], source: str | Path | None = None) -> HostGraph | None:
    """The validated host graph of a workload's meta ``extra`` (None without ``host_ops``).

    Checks every record (a known operator, unique names that are not layer names, inputs
    that are the network input, a layer or an earlier host op, or well-formed constants of
    bounded size, a positive output shape). Whether the layers and host ops together form an
    acyclic graph is checked by ``eiesim.network.workload.infer_shapes``.
    """
    records = extra.get(HOST_OPS_KEY)
    if records is None:
        return None
    if not isinstance(records, list):
        raise WorkloadError(f"'{HOST_OPS_KEY}' must be a list of host ops", source)
    layers = set(layer_names)
    ops: dict[str, HostOp] = {}
    for i, rec in enumerate(records):
        ops_name = _record_name(rec, i, source)
        where = f"host op {i} ({ops_name!r})"
        if ops_name in layers or ops_name in ops or ops_name == _NETWORK_INPUT:
            raise WorkloadError(f"{where}: the name is already used by the network input, a layer or a host op", source)
        if rec.get("op") not in HOST_OPERATORS:
            raise WorkloadError(f"{where}: 'op' must be one of {list(HOST_OPERATORS)}, got {rec.get('op')!r}", source)
        attrs = rec.get("attrs", {})
        if not isinstance(attrs, dict):
            raise WorkloadError(f"{where}: 'attrs' must be an object", source)
        shape = rec.get("shape")
        if (not isinstance(shape, list) or not shape
                or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 1 << 24 for s in shape)):
            raise WorkloadError(f"{where}: 'shape' must be a non-empty list of positive integers, got {shape!r}",
                                source)
        raw = rec.get("inputs")
        if not isinstance(raw, list) or not raw:
            raise WorkloadError(f"{where}: 'inputs' must be a non-empty list", source)
        inputs: list[str | np.ndarray] = []
        for value in raw:
            if isinstance(value, str):
                if value != _NETWORK_INPUT and value not in layers and value not in ops:
                    raise WorkloadError(f"{where}: input {value!r} is not the network input, a layer or an earlier "
                                        "host op", source)
                inputs.append(value)
            else:
                inputs.append(_const(value, where, source))
        ops[ops_name] = HostOp(ops_name, rec["op"], tuple(inputs), attrs, tuple(shape))
    return HostGraph(ops)


def _record_name(rec: Any, i: int, source: str | Path | None) -> str:
    if not isinstance(rec, dict):
        raise WorkloadError(f"host op {i}: must be a JSON object", source)
    name = rec.get("name")
    if not isinstance(name, str) or not name:
        raise WorkloadError(f"host op {i}: 'name' must be a non-empty string", source)
    return name


def _const(value: Any, where: str, source: str | Path | None) -> np.ndarray:
    if not isinstance(value, dict) or value.get("dtype") not in _CONST_DTYPES or not isinstance(value.get("shape"), list):
        raise WorkloadError(f"{where}: a constant input must be {{'const', 'dtype' in {list(_CONST_DTYPES)}, "
                            "'shape'}", source)
    shape = value["shape"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape) \
            or math.prod(shape) > MAX_CONST_ELEMENTS:
        raise WorkloadError(f"{where}: constant shape {shape!r} must be non-negative integers, at most "
                            f"{MAX_CONST_ELEMENTS} elements", source)
    try:
        arr = np.asarray(value.get("const"), dtype=value["dtype"])
    except (TypeError, ValueError):
        raise WorkloadError(f"{where}: a constant does not hold {value['dtype']} values", source) from None
    if arr.size != math.prod(shape):
        raise WorkloadError(f"{where}: a constant holds {arr.size} values, its shape {shape} needs "
                            f"{math.prod(shape)}", source)
    arr = arr.reshape(shape)
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):  # -inf is a mask value (e.g. causal attention)
        raise WorkloadError(f"{where}: a constant holds NaN", source)
    return arr


def host_names(extra: dict[str, Any]) -> set[str]:
    """The names of the host ops in a workload meta ``extra`` (unvalidated; empty without host ops)."""
    records = extra.get(HOST_OPS_KEY)
    if not isinstance(records, list):
        return set()
    return {r["name"] for r in records if isinstance(r, dict) and isinstance(r.get("name"), str)}


def host_eie_shapes(extra: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Each host op's output shape in the EIE view (what a layer reading it sees; unvalidated meta)."""
    records = extra.get(HOST_OPS_KEY)
    if not isinstance(records, list):
        return {}
    return {r["name"]: eie_shape(tuple(r["shape"])) for r in records
            if isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("shape"), list)}


__all__ = ["HOST_OPERATORS", "HOST_OPS_KEY", "TOKENS_KEY", "HostGraph", "HostOp", "eie_shape",
           "host_eie_shapes", "host_graph", "host_names", "is_sequence", "to_eie", "to_host"]
