"""I/O mode: the DRAM traffic of a layer while the PEs are idle (docs/timing-model.md section 2).

A layer's input is read from DRAM when it does not fit on chip (or is the network
input, or comes back from the host), its output written when it does not fit (or is the
network's output, or a host op reads it: docs/timing-model.md, "Host work"), and
streamed weights (``contract.storage``) add their bytes; the transfer takes
``ceil(bytes / dram_bytes_per_cycle)`` cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eiesim.config.arch import ArchConfig
from eiesim.network.host_graph import HOST_OPS_KEY, host_names
from eiesim.network.workload import Layer, Workload
from eiesim.timing.contract.params import ACT_BYTES


@dataclass(frozen=True)
class LayerIo:
    """I/O-mode traffic of one layer (docs/timing-model.md, section 2)."""

    bytes_read: int
    bytes_written: int
    weight_bytes: int
    cycles: int


def layer_io(workload: Workload, layer: Layer, arch: ArchConfig, weight_bytes: int) -> LayerIo:
    """DRAM traffic of ``layer``: input/output (and residual) tensors that do not fit on chip, streamed weights."""
    cap = arch.act_capacity
    on_chip_bytes = arch.num_pes * arch.act_sram.size_bytes
    in_vals = math.prod(workload.gathered_shape_of(layer))  # as stored, before an input pool
    out_vals = math.prod(workload.output_shapes()[layer.name])
    host = host_names(workload.extra) if HOST_OPS_KEY in workload.extra else set()
    from_network = any(src == "input" or src in host for src in layer.inputs)
    in_fits = (layer.kind == "fc" and layer.cols <= cap) or ACT_BYTES * in_vals <= on_chip_bytes
    out_fits = (layer.kind == "fc" and layer.rows <= cap) or ACT_BYTES * out_vals <= on_chip_bytes
    is_last = layer is workload.output_layer or (bool(host) and _read_by_host(workload, layer.name))
    read = (ACT_BYTES * in_vals if (from_network or not in_fits) else 0) + weight_bytes
    if layer.residual is not None:  # the skip operand: read from DRAM when its tensor does not fit on chip
        skip_vals = math.prod(workload.output_shapes()[layer.residual])
        if ACT_BYTES * skip_vals > on_chip_bytes:
            read += ACT_BYTES * skip_vals
    written = ACT_BYTES * out_vals if (is_last or not out_fits) else 0
    cycles = math.ceil((read + written) / arch.dram_bytes_per_cycle) if read + written else 0
    return LayerIo(read, written, weight_bytes, cycles)


def _read_by_host(workload: Workload, name: str) -> bool:
    """True when a host op reads layer ``name``'s output (it leaves the chip through DRAM)."""
    return any(isinstance(src, str) and src == name
               for rec in workload.extra.get(HOST_OPS_KEY, []) for src in rec.get("inputs", []))
