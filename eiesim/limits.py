"""How much memory an input may make eiesim use, checked before anything is allocated.

Every loader estimates the bytes an input will need from what its headers or shapes
declare (an npz member's header, an image's dimensions, a workload's layer shapes, an
ONNX constant's shape) and calls :func:`check_memory` before allocating. A small file
that declares a huge tensor is therefore refused with one clear line instead of
exhausting the machine.

The limit is ``EIESIM_MEMORY_LIMIT`` (bytes, or with a binary suffix -- K, M, G, T are
powers of 1024, with or without ``iB``/``B``: ``512M``, ``8G``, ``16GiB``, ``4k`` = 4096)
when set, else :data:`DEFAULT_MEMORY_LIMIT_BYTES` (4 GiB); library code can also call
:func:`set_memory_limit`. An input may use exactly the limit; one byte more is refused.
The estimates are deliberately simple upper bounds of the largest arrays involved, not
exact peak usage.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from eiesim.errors import EiesimError, InputDataError

if TYPE_CHECKING:
    from eiesim.workload import Workload

#: Default memory budget of one input (bytes): well below a laptop's RAM, far above any real network.
DEFAULT_MEMORY_LIMIT_BYTES = 4 * 1024**3
#: Environment variable that overrides the default.
MEMORY_LIMIT_ENV = "EIESIM_MEMORY_LIMIT"

_OVERRIDE: int | None = None
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(text: str) -> int:
    """``"4096"``, ``"512M"``, ``"8G"``, ``"16GiB"``, ``"2.5g"`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if m is None:
        raise ValueError(text)
    value = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(value) or value < 1:
        raise ValueError(text)
    return int(value)


def memory_limit_bytes() -> int:
    """The current budget in bytes (``set_memory_limit``, else ``EIESIM_MEMORY_LIMIT``, else the default)."""
    if _OVERRIDE is not None:
        return _OVERRIDE
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_MEMORY_LIMIT_BYTES
    try:
        return parse_bytes(raw)
    except ValueError:
        raise EiesimError(f"{MEMORY_LIMIT_ENV}={raw!r}: expected a size such as 8G, 512M or 4294967296") from None


def set_memory_limit(nbytes: int | None) -> None:
    """Use ``nbytes`` as the budget from now on in this process (None: back to the environment/default)."""
    global _OVERRIDE
    if nbytes is not None and (not isinstance(nbytes, int) or nbytes < 1):
        raise EiesimError(f"memory limit must be a positive number of bytes, got {nbytes!r}")
    _OVERRIDE = nbytes


def format_bytes(nbytes: float) -> str:
    """1536 -> '1.5 KiB'; readable sizes for error messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} EiB"  # pragma: no cover - unreachable


def check_memory(nbytes: int | float, what: str, source: str | Path | None = None,
                 error: type[EiesimError] = InputDataError) -> None:
    """Raise ``error`` if ``what`` would need more than the memory budget.

    ``nbytes`` is an estimate from declared shapes, computed before any allocation.
    """
    limit = memory_limit_bytes()
    if nbytes > limit:
        raise error(f"{what} would need about {format_bytes(nbytes)} of memory, above the "
                    f"{format_bytes(limit)} limit (set {MEMORY_LIMIT_ENV}, e.g. {MEMORY_LIMIT_ENV}=16G, "
                    "if this input is really meant)", source)


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
    from eiesim.fixed_point import DENSE_EXACT_CHUNK_VALUES  # not at the top: fixed_point imports workload
    from eiesim.workload import conv_output_hw  # not at the top: workload imports safe_npz, which imports this

    shapes = workload.output_shapes()
    kept = 0
    peak = 0
    for layer in workload.layers:
        out_elems = math.prod(shapes[layer.name])
        kept += 8 * out_elems
        in_shape = workload.input_shape_of(layer)
        pixels = math.prod(shapes[layer.name][1:]) if layer.kind == "conv" else 1
        if layer.kind == "conv" and layer.pool is not None:  # the accumulators are before pooling
            pixels = math.prod(conv_output_hw(*in_shape[1:], layer.kernel, layer.stride, layer.padding))
        patches = pixels * layer.cols
        step = (8 * patches + 8 * min(patches, DENSE_EXACT_CHUNK_VALUES) * (layer.kind == "conv")
                + 8 * layer.rows * layer.cols + 16 * pixels * layer.rows + 12 * math.prod(in_shape))
        peak = max(peak, step)
    return 2 * kept + peak + 24 * math.prod(workload.input_shape)


def check_workload_memory(workload: Workload, source: str | Path | None = None) -> None:
    """Refuse a workload whose declared shapes need more memory than the budget for one inference."""
    from eiesim.errors import WorkloadError

    if not hasattr(workload, "output_shapes") and hasattr(workload, "skeleton"):  # a DenseModel
        workload = workload.skeleton()
    source = source if source is not None else (getattr(workload, "_path", None) or workload.source)
    check_memory(workload_run_bytes(workload), f"one inference of workload {workload.name!r} (input "
                 f"{'x'.join(map(str, workload.input_shape))}, {len(workload.layers)} layers)", source, WorkloadError)


__all__ = [
    "DEFAULT_MEMORY_LIMIT_BYTES", "MEMORY_LIMIT_ENV", "check_memory", "check_workload_memory", "format_bytes",
    "memory_limit_bytes", "parse_bytes", "set_memory_limit", "workload_run_bytes",
]
