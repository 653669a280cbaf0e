"""Constant folding for the ONNX importer: evaluate constant subgraphs with numpy.

Exporters often compute weights instead of storing them: ``Constant`` and
``ConstantOfShape`` nodes, small chains of ``Reshape`` / ``Transpose`` / ``Mul``
..., and PyTorch's ``Shape -> Gather -> Unsqueeze -> Concat`` spelling of a
flatten. ``eiesim.onnx_import`` calls :func:`fold_node` for every node in
``FOLDABLE`` whose inputs are all constants, so that each Conv / Gemm / MatMul
sees plain numpy weights. Only the simple forms such subgraphs use are
implemented; anything else raises ModelFileError naming the node.

Every constant, decoded or folded, is capped at ``MAX_CONST_ELEMENTS`` so a small
hostile file cannot make the importer allocate without bound; a folded constant's size is
computed from its inputs' shapes *before* it is evaluated (a 200-byte ``Range(0, 2**29)``
is refused without allocating its 4 GiB).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.errors import EiesimError, ModelFileError
from eiesim.limits import check_memory

#: Largest tensor (elements) a constant may have, declared or folded.
MAX_CONST_ELEMENTS = 1 << 28

#: Operators evaluated with numpy when all their inputs are constants.
FOLDABLE = frozenset({
    "Constant", "ConstantOfShape", "Identity", "Cast", "Reshape", "Flatten", "Transpose", "Squeeze",
    "Unsqueeze", "Concat", "Add", "Sub", "Mul", "Div", "Neg", "Sqrt", "Reciprocal", "Gather", "Shape",
    "Dropout", "Range",
})


def node_error(message: str, node: Any | None, source: str | Path) -> ModelFileError:
    """A ModelFileError for ``source``, prefixed with the node's name and operator when ``node`` is given."""
    if node is not None:
        label = node.name or (node.output[0] if node.output else "?")
        message = f"node {label!r} ({node.op_type}): {message}"
    return ModelFileError(message, source)


def tensor_to_array(tensor: Any, where: str, source: str | Path) -> np.ndarray:
    """Decode an ONNX TensorProto (``where`` names it in errors); refuses oversized and string tensors."""
    from onnx import numpy_helper  # the caller has already required the onnx extra

    count = math.prod(tensor.dims) if tensor.dims else 1
    if count > MAX_CONST_ELEMENTS:
        raise node_error(f"{where}: constant of shape {list(tensor.dims)} is too large", None, source)
    try:
        arr = numpy_helper.to_array(tensor)
    except Exception as exc:
        raise node_error(f"{where}: cannot decode tensor data ({exc})", None, source) from None
    if arr.dtype == object:
        raise node_error(f"{where}: string tensors are not supported", None, source)
    return np.array(arr)


def fold_node(node: Any, consts: dict[str, np.ndarray], attrs: dict[str, Any],
              source: str | Path) -> dict[str, np.ndarray]:
    """Evaluate one node whose inputs are all in ``consts``; returns its named outputs.

    ``attrs`` are the node's decoded attributes. Raises ModelFileError (naming the
    node) for an unsupported form, a numpy failure on malformed constants, or a
    result larger than ``MAX_CONST_ELEMENTS``.
    """
    x = [consts[n] if n else None for n in node.input]
    try:
        expected = _expected_elements(node.op_type, x, attrs)
    except Exception:  # noqa: BLE001 -- malformed inputs: _evaluate reports them
        expected = None
    if expected is not None:
        if expected > MAX_CONST_ELEMENTS:
            raise node_error(f"would fold to a constant of {expected:,} elements, above the "
                             f"{MAX_CONST_ELEMENTS:,} allowed", node, source)
        check_memory(8 * expected, f"folding node {node.name or node.op_type!r} ({expected:,} elements)",
                     source, ModelFileError)
    try:
        outs = _evaluate(node.op_type, x, attrs, node, source)
    except EiesimError:
        raise
    except Exception as exc:  # numpy errors on malformed constant subgraphs
        raise node_error(f"cannot fold this constant operator ({type(exc).__name__}: {exc})", node, source) from None
    result = {}
    for name, value in zip(node.output, outs):
        if name:
            value = np.asarray(value)
            if value.size > MAX_CONST_ELEMENTS:
                raise node_error(f"folded constant of shape {value.shape} is too large", node, source)
            result[name] = value
    return result


#: Operators whose output has as many elements as their first input.
_SAME_SIZE = frozenset({"Identity", "Dropout", "Cast", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
                        "Neg", "Sqrt", "Reciprocal"})


def _expected_elements(op: str, x: list[Any], at: dict[str, Any]) -> int | None:
    """Elements the folded output will have, computed from the inputs' shapes before evaluating
    (None: not known in advance, e.g. Constant, whose tensor is size-checked when decoded)."""
    if op in _SAME_SIZE:
        return int(np.asarray(x[0]).size)
    if op == "Range":
        start, limit, delta = (float(np.asarray(v).reshape(())) for v in x[:3])
        if delta == 0 or not all(math.isfinite(v) for v in (start, limit, delta)):
            return None
        return max(math.ceil((limit - start) / delta), 0)
    if op == "ConstantOfShape":
        return math.prod(int(v) for v in np.asarray(x[0]).reshape(-1))
    if op == "Concat":
        return sum(int(np.asarray(v).size) for v in x if v is not None)
    if op in ("Add", "Sub", "Mul", "Div"):
        return math.prod(np.broadcast_shapes(np.shape(x[0]), np.shape(x[1])))
    if op == "Gather":
        data, indices = np.asarray(x[0]), np.asarray(x[1])
        axis = int(at.get("axis", 0)) % max(data.ndim, 1)
        return int(indices.size) * math.prod(data.shape[:axis] + data.shape[axis + 1:])
    return None


def _axes(x: list[Any], at: dict[str, Any], idx: int) -> list[int] | None:
    """Axes from input ``idx`` (opset >= 13) or from the ``axes`` attribute (older opsets)."""
    if len(x) > idx and x[idx] is not None:
        return [int(v) for v in np.asarray(x[idx]).reshape(-1)]
    return [int(v) for v in at["axes"]] if "axes" in at else None


def _evaluate(op: str, x: list[Any], at: dict[str, Any], node: Any, source: str | Path) -> list[np.ndarray]:
    """One constant operator with numpy (only the simple forms that weight subgraphs use)."""
    if op == "Constant":
        if "value" in at:
            return [tensor_to_array(at["value"], f"Constant {node.name or node.output[0]!r}", source)]
        for key in ("value_float", "value_int"):
            if key in at:
                return [np.array(at[key], np.float32 if key == "value_float" else np.int64)]
        for key in ("value_floats", "value_ints"):
            if key in at:
                return [np.array(at[key], np.float32 if key == "value_floats" else np.int64)]
        raise node_error("Constant without a supported value attribute", node, source)
    if op == "ConstantOfShape":
        shape = [int(v) for v in np.asarray(x[0]).reshape(-1)]
        if any(s < 0 for s in shape) or math.prod(shape) > MAX_CONST_ELEMENTS:
            raise node_error(f"ConstantOfShape of shape {shape} is negative or too large", node, source)
        value = (tensor_to_array(at["value"], "ConstantOfShape value", source) if "value" in at
                 else np.zeros(1, np.float32))
        return [np.full(shape, value.reshape(-1)[0], dtype=value.dtype)]
    if op in ("Identity", "Dropout"):
        return [x[0], np.ones_like(x[0], dtype=bool)]
    if op == "Cast":
        from onnx import helper

        return [x[0].astype(helper.tensor_dtype_to_np_dtype(int(at["to"])))]
    if op == "Reshape":
        shape = [int(v) for v in x[1].reshape(-1)]
        shape = [x[0].shape[i] if v == 0 and not at.get("allowzero", 0) else v for i, v in enumerate(shape)]
        return [x[0].reshape(shape)]
    if op == "Flatten":
        axis = int(at.get("axis", 1))
        axis = axis + x[0].ndim if axis < 0 else axis
        return [x[0].reshape(math.prod(x[0].shape[:axis]), -1)]
    if op == "Transpose":
        return [np.transpose(x[0], at.get("perm"))]
    if op == "Squeeze":
        axes = _axes(x, at, 1)
        return [np.squeeze(x[0], axis=tuple(axes)) if axes else np.squeeze(x[0])]
    if op == "Unsqueeze":
        out = x[0]
        axes = _axes(x, at, 1) or []
        rank = out.ndim + len(axes)
        for a in sorted(v + rank if v < 0 else v for v in axes):
            out = np.expand_dims(out, a)
        return [out]
    if op == "Concat":
        return [np.concatenate([v for v in x if v is not None], axis=int(at["axis"]))]
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = x
        if op == "Div" and a.dtype.kind in "iu" and b.dtype.kind in "iu":
            return [np.trunc(a / b).astype(np.result_type(a, b))]
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        return [fn(a, b).astype(np.result_type(a, b))]
    if op == "Neg":
        return [np.negative(x[0])]
    if op == "Sqrt":
        return [np.sqrt(x[0])]
    if op == "Reciprocal":
        return [np.reciprocal(x[0])]
    if op == "Gather":
        return [np.take(x[0], x[1].astype(np.int64), axis=int(at.get("axis", 0)))]
    if op == "Shape":
        return [np.array(x[0].shape, dtype=np.int64)]
    if op == "Range":
        return [np.arange(x[0].reshape(()), x[1].reshape(()), x[2].reshape(()))]
    raise node_error("cannot fold this operator", node, source)


__all__ = ["FOLDABLE", "MAX_CONST_ELEMENTS", "fold_node", "node_error", "tensor_to_array"]
