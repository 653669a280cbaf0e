"""The operator table: ONNX operator name -> the handler that turns such a node into eiesim's layer graph.

A handler is ``handler(walker, node)``: it reads the node's inputs from the walker (computed
tensors and constants), changes the layers under construction, and records the node's
output. ``@handles("Op")`` registers one; ``listed_as`` is how the operator is named in the
"not supported" message (None: not named there, e.g. ``Shape``, which only feeds constants).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eiesim.importers.onnx.walker import GraphWalker

OpHandler = Callable[["GraphWalker", Any], None]

#: ONNX operator type -> its handler (filled by ``@handles`` in the modules of ``eiesim.importers.onnx.ops``).
OPS: dict[str, OpHandler] = {}
#: ONNX operator type -> its name in the "not supported" message (None: not listed there).
LISTED_AS: dict[str, str | None] = {}

_AS_IS = object()


def handles(op_type: str, listed_as: Any = _AS_IS) -> Callable[[OpHandler], OpHandler]:
    """Register the decorated function as the handler of ``op_type`` (each operator once)."""
    def register(handler: OpHandler) -> OpHandler:
        if op_type in OPS:
            raise ValueError(f"two handlers for the ONNX operator {op_type}")
        OPS[op_type] = handler
        LISTED_AS[op_type] = op_type if listed_as is _AS_IS else listed_as
        return handler

    return register


def listed_in(module: ModuleType) -> list[str]:
    """The listed names of the operators ``module`` handles, in the order it defines their handlers."""
    return [LISTED_AS[op] for op, handler in OPS.items()
            if handler.__module__ == module.__name__ and LISTED_AS[op] is not None]
