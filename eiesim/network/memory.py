"""How much memory one inference of a workload needs, checked before anything is allocated.

The estimate (:func:`workload_run_bytes`) is an upper bound from the layer shapes the
workload declares; :func:`check_workload_memory` refuses a workload above the budget of
``eiesim.inputs.memory`` (``EIESIM_MEMORY_LIMIT``) with one line naming it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from eiesim.errors import WorkloadError
from eiesim.inputs.memory import check_memory
from eiesim.network.fixed_point import DENSE_EXACT_CHUNK_VALUES
from eiesim.network.host_graph import HOST_OPS_KEY
from eiesim.network.workload import Workload, layer_output_hw

if TYPE_CHECKING:
    from eiesim.network.dense import DenseModel


def workload_run_bytes(workload: Workload) -> int:
    """Upper bound of the memory one inference of ``workload`` needs (simulation or forward pass).

    Every layer's output is kept (int64 fixed point or float32), twice in a simulation:
    its functional check recomputes every output with the reference while the simulated
    ones are still held. One layer at a time needs its input patches (im2col, int64 in
    the fixed-point reference), its dense weights and a chunk of its patches (float64 in
    the reference's exact product, ``fixed_point.accumulate_reference``) and its
    accumulators (int64); the float pass needs at most that; the network input is
    prepared from a float64 image of the same size. Left out: the encoded pointers of the
    simulation (N x columns per layer, which depend on the architecture).
    """
    shapes = workload.output_shapes()
    kept = 0
    peak = 0
    for layer in workload.layers:
        out_elems = math.prod(shapes[layer.name])
        kept += 8 * out_elems
        in_shape = workload.input_shape_of(layer)
        pixels = math.prod(shapes[layer.name][1:]) if layer.kind == "conv" else 1
        if layer.kind == "conv" and layer.pool is not None:  # the accumulators are before pooling
            pixels = math.prod(layer_output_hw(layer, in_shape[1], in_shape[2]))
        patches = pixels * layer.cols
        step = (8 * patches + 8 * min(patches, DENSE_EXACT_CHUNK_VALUES) * (layer.kind == "conv")
                + 8 * layer.rows * layer.cols + 16 * pixels * layer.rows + 12 * math.prod(in_shape))
        peak = max(peak, step)
    # Host ops (a transformer's attention, norms, ...): every output kept in float32 in each of the
    # three passes (float calibration, simulation, reference), plus a float64 temporary of the largest.
    host = [math.prod(shape) for shape in _host_shapes(workload)]
    host_bytes = 3 * 4 * sum(host) + 8 * max(host, default=0)
    return 2 * kept + peak + 24 * math.prod(workload.input_shape) + host_bytes


def _host_shapes(workload: Workload) -> list[tuple[int, ...]]:
    """The declared output shapes of the workload's host ops (docs/workload-format.md, "Host ops")."""
    records = workload.extra.get(HOST_OPS_KEY)
    if not isinstance(records, list):
        return []
    return [tuple(r["shape"]) for r in records if isinstance(r, dict) and isinstance(r.get("shape"), list)]


def check_workload_memory(workload: Workload | DenseModel, source: str | Path | None = None) -> None:
    """Refuse a workload (or a dense model) whose declared shapes need more memory than the budget for one inference."""
    if not isinstance(workload, Workload):  # a DenseModel: its graph without the weights
        workload = workload.skeleton()
    source = source if source is not None else (getattr(workload, "_path", None) or workload.source)
    check_memory(workload_run_bytes(workload), f"one inference of workload {workload.name!r} (input "
                 f"{'x'.join(map(str, workload.input_shape))}, {len(workload.layers)} layers)", source, WorkloadError)


__all__ = ["check_workload_memory", "workload_run_bytes"]
