"""Constant folding for the ONNX importer: constant subgraphs evaluated by ONNX's own reference runtime.

Exporters often compute weights instead of storing them: ``Constant`` and
``ConstantOfShape`` nodes, small chains of ``Reshape`` / ``Transpose`` / ``Mul``
..., and PyTorch's ``Shape -> Gather -> Unsqueeze -> Concat`` spelling of a
flatten. ``eiesim.importers.onnx.walker`` calls :func:`fold_node` for every node in
``FOLDABLE`` whose inputs are all constants, so that each Conv / Gemm / MatMul
sees plain numpy weights. The node is evaluated by ``onnx.reference.ReferenceEvaluator``
at the model's opset, so every operator has the semantics the ONNX specification
gives it (``Shape``'s start and end, integer ``Div`` truncating exactly, ``Reshape``'s
``allowzero``, ...); an evaluation failure is a ModelFileError naming the node.

Every constant, decoded or folded, is capped at ``MAX_CONST_ELEMENTS`` so a small
hostile file cannot make the importer allocate without bound; a folded constant's size is
computed from its inputs *before* it is evaluated (a 200-byte ``Range(0, 2**29)`` is
refused without allocating its 4 GiB), and checked again after.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.errors import EiesimError, ModelFileError
from eiesim.inputs.memory import check_memory

#: Largest tensor (elements) a constant may have, declared or folded.
MAX_CONST_ELEMENTS = 1 << 28

#: Operators evaluated with numpy when all their inputs are constants.
FOLDABLE = frozenset({
    "Constant", "ConstantOfShape", "Identity", "Cast", "Reshape", "Flatten", "Transpose", "Squeeze",
    "Unsqueeze", "Concat", "Add", "Sub", "Mul", "Div", "Neg", "Sqrt", "Reciprocal", "Gather", "Shape",
    "Dropout", "Range", "Expand",
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


def fold_node(node: Any, consts: dict[str, np.ndarray], attrs: dict[str, Any], source: str | Path,
              opset: int | None = None) -> dict[str, np.ndarray]:
    """Evaluate one node whose inputs are all in ``consts``; returns its named outputs.

    ``attrs`` are the node's decoded attributes (for the size pre-checks); ``opset`` is
    the model's default-domain opset (default: the newest the installed onnx knows).
    Raises ModelFileError (naming the node) for a result larger than
    ``MAX_CONST_ELEMENTS``, known before evaluating or after, for string tensors, and
    for anything the reference runtime refuses.
    """
    x = [consts[n] if n else None for n in node.input]
    _check_declared(node, x, attrs, source)
    try:
        expected = _expected_elements(node.op_type, x, attrs)
    except Exception:  # noqa: BLE001 -- malformed inputs: the evaluation reports them
        expected = None
    if expected is not None:
        if expected > MAX_CONST_ELEMENTS:
            raise node_error(f"would fold to a constant of {expected:,} elements, above the "
                             f"{MAX_CONST_ELEMENTS:,} allowed", node, source)
        check_memory(8 * expected, f"folding node {node.name or node.op_type!r} ({expected:,} elements)",
                     source, ModelFileError)
    outs = _evaluate(node, {n: consts[n] for n in node.input if n}, opset, source)
    result = {}
    for name, value in zip(node.output, outs):
        if name:
            value = np.asarray(value)
            if value.dtype == object:
                raise node_error("string tensors are not supported", node, source)
            if value.size > MAX_CONST_ELEMENTS:
                raise node_error(f"folded constant of shape {value.shape} is too large", node, source)
            result[name] = value
    return result


def shape_of(node: Any, shape: tuple[int, ...], opset: int | None, source: str | Path) -> np.ndarray:
    """The output of a ``Shape`` node reading a computed tensor of static ``shape`` (batch included).

    Evaluated by the reference runtime on a zero-stride view of that shape (no memory), so a
    computed tensor's ``Shape`` and a constant's (folded by ``fold_node``) follow the same
    specification: ``start`` and ``end`` included.
    """
    dummy = np.broadcast_to(np.zeros((), np.float32), shape)
    return _evaluate(node, {node.input[0]: dummy}, opset, source)[0]


def _check_declared(node: Any, x: list[Any], at: dict[str, Any], source: str | Path) -> None:
    """Refuse, before evaluating, a Constant tensor or a ConstantOfShape shape that is negative or too large,
    and a Dropout in training mode (it would zero constants at random: the import would change from run to run)."""
    if node.op_type == "Constant" and "value" in at:
        dims = list(at["value"].dims)
        if (math.prod(dims) if dims else 1) > MAX_CONST_ELEMENTS:
            raise node_error(f"Constant {node.name or node.output[0]!r}: constant of shape {dims} is too large",
                             None, source)
    if node.op_type == "ConstantOfShape" and x and x[0] is not None:
        shape = [int(v) for v in np.asarray(x[0]).reshape(-1)]
        if any(v < 0 for v in shape) or math.prod(shape) > MAX_CONST_ELEMENTS:
            raise node_error(f"ConstantOfShape of shape {shape} is negative or too large", node, source)
    if node.op_type == "Dropout" and len(x) > 2 and x[2] is not None and np.any(x[2]):
        raise node_error("Dropout in training mode is not supported", node, source)


def _evaluate(node: Any, feeds: dict[str, np.ndarray], opset: int | None, source: str | Path) -> list[np.ndarray]:
    """Run one node through ``onnx.reference.ReferenceEvaluator`` (the specification's semantics)."""
    import onnx  # the caller has already required the onnx extra
    from onnx.reference import ReferenceEvaluator

    untyped = onnx.TypeProto()  # the runtime takes the feeds' own types
    graph = onnx.helper.make_graph(
        [node], "fold", [onnx.helper.make_value_info(n, untyped) for n in feeds],
        [onnx.helper.make_value_info(n, untyped) for n in node.output if n])
    model = onnx.helper.make_model(graph, opset_imports=[
        onnx.helper.make_opsetid("", opset or onnx.defs.onnx_opset_version())])  # the operator version of the opset
    try:
        runtime = ReferenceEvaluator(model)
        return list(runtime.run(None, feeds))
    except EiesimError:
        raise
    except Exception as exc:  # the runtime's errors on malformed constant subgraphs
        raise node_error(f"cannot fold this constant operator ({type(exc).__name__}: {exc})", node, source) from None


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
    if op == "Expand":  # PyTorch's zero initial states of nn.LSTM / nn.GRU: zeros expanded to (layers, 1, H)
        shape = tuple(int(v) for v in np.asarray(x[1]).reshape(-1))
        if any(v < 0 for v in shape):
            return None
        return math.prod(np.broadcast_shapes(np.shape(x[0]), shape))
    if op == "Gather":
        data, indices = np.asarray(x[0]), np.asarray(x[1])
        axis = int(at.get("axis", 0)) % max(data.ndim, 1)
        return int(indices.size) * math.prod(data.shape[:axis] + data.shape[axis + 1:])
    return None


__all__ = ["FOLDABLE", "MAX_CONST_ELEMENTS", "fold_node", "node_error", "shape_of", "tensor_to_array"]
