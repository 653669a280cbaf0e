"""The coverage report of an ONNX import: every node, where it runs on EIE and why.

The walker records one :class:`CoverageRow` per node. ``where`` is one of

* ``EIE layer``: the node becomes a layer the PEs run (Conv, Gemm, MatMul);
* ``folded``: folded into a layer (bias, ReLU, pool, BatchNorm) or a constant evaluated at import;
* ``dropped``: computes nothing on EIE (Flatten, Identity, Dropout, an identity pool, a final Softmax)
  or only routes tensors (Concat becomes the consumer's input list);
* ``host``: runs on the host between EIE layers, counted and reported (``eiesim.importers.onnx.ops.host``);
* ``refused``: eiesim cannot represent it; the import fails and the error names every such node;
* ``not checked``: reads the output of a refused node, so it could not be mapped (not a blocker itself
  unless its operator is unsupported, in which case it is ``refused``).

The walker does not stop at the first refused node: :func:`blockers_error` builds the one error
that names every operator (and its nodes) that blocks the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eiesim.errors import ModelFileError

#: The places a node can end up, in the order the report explains them.
WHERE = ("EIE layer", "folded", "dropped", "host", "refused", "not checked")

#: Handler module (the op table's kinds) -> where its nodes run when the handler records nothing itself.
_WHERE_BY_MODULE = {"layers": "EIE layer", "folded": "folded", "plumbing": "dropped"}

#: How many node names the blockers error shows per operator before "...".
_NAMES_SHOWN = 3


@dataclass(frozen=True)
class CoverageRow:
    """One node of the graph: its name, operator, where it runs and why."""

    node: str
    op: str
    where: str
    why: str

    def to_meta(self) -> dict[str, str]:
        """The row as stored in a model's ``extra["onnx_coverage"]``."""
        return asdict(self)


def node_label(node: Any) -> str:
    """A node's name, or its first output when it has none."""
    return str(node.name or (node.output[0] if node.output else "?"))


def where_handled(node: Any, handler: Callable[..., None] | None, *, folded_constant: bool) -> CoverageRow:
    """The default row of a node its handler (or the constant folder) accepted without recording one."""
    if folded_constant or handler is None:
        return CoverageRow(node_label(node), node.op_type, "folded", "constant (weights), evaluated at import")
    kind = handler.__module__.rsplit(".", 1)[-1]
    summary = (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else ""
    return CoverageRow(node_label(node), node.op_type, _WHERE_BY_MODULE.get(kind, "dropped"), summary.rstrip("."))


def blockers_error(rows: list[CoverageRow], source: str | Path) -> ModelFileError:
    """One error naming every refused operator, with its nodes and the first node's reason."""
    by_op: dict[str, list[CoverageRow]] = {}
    for row in rows:
        if row.where == "refused":
            by_op.setdefault(row.op, []).append(row)
    count = sum(len(v) for v in by_op.values())
    parts = []
    for op, refused in by_op.items():
        first, others = refused[0], refused[1:]
        part = f"node {first.node!r} ({op}): {first.why}"
        if others:
            names = ", ".join(repr(r.node) for r in others[:_NAMES_SHOWN])
            more = f", ... {len(others) - _NAMES_SHOWN} more" if len(others) > _NAMES_SHOWN else ""
            part += f" (also {op} {names}{more})"
        parts.append(part)
    blocked = sum(1 for r in rows if r.where == "not checked")
    tail = f"; {blocked} later node{'s' if blocked != 1 else ''} not checked" if blocked else ""
    ops = ", ".join(by_op)
    return ModelFileError(f"cannot import: {count} node{'s' if count != 1 else ''} refused, blocking operator"
                          f"{'s' if len(by_op) != 1 else ''} {ops}: " + "; ".join(parts) + tail
                          + " (eiesim import-onnx MODEL --report lists every node)", source)


def coverage_counts(rows: list[dict[str, str]] | list[CoverageRow]) -> dict[str, int]:
    """How many nodes went where, in ``WHERE`` order (only the places that occur)."""
    wheres = [r["where"] if isinstance(r, dict) else r.where for r in rows]
    return {w: wheres.count(w) for w in WHERE if w in wheres}


__all__ = ["WHERE", "CoverageRow", "blockers_error", "coverage_counts", "node_label", "where_handled"]
