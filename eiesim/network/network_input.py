"""The network input of a workload: its stored input, an array, a ``.npy`` file or a preprocessed image.

The image readers and the preprocessing live in ``eiesim.inputs.images``; this module
applies them to a workload (its input shape and ``input.preprocess``), after checking
that one inference of the workload fits the memory budget.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eiesim.errors import InputDataError
from eiesim.inputs.images import BUNDLED_PHOTOS, load_image, preprocess
from eiesim.inputs.npz import read_npy
from eiesim.network.memory import check_workload_memory
from eiesim.network.workload import Workload


def prepare_input(workload: Workload, spec: str | Path | np.ndarray | None = None) -> np.ndarray:
    """The network input (float32, the workload's input shape) from ``spec``.

    ``None``: the workload's stored input. An array of the input shape: used as is.
    A ``.npy`` path: loaded (no pickles) and shape-checked. Anything else: an image
    (path, bundled photo name or H x W x 3 array), preprocessed as the workload says.
    """
    shape = tuple(workload.input_shape)
    check_workload_memory(workload)  # before the input (or anything else) is allocated
    if spec is None:
        if workload.input is None:
            raise InputDataError(f"workload {workload.name!r} has no stored input; give an image with --image NAME|PATH "
                                 f"(bundled photos: {', '.join(BUNDLED_PHOTOS[:6])}, ...)")
        return np.asarray(workload.input, dtype=np.float32)
    if isinstance(spec, np.ndarray) and tuple(spec.shape) == shape:
        return _finite(spec.astype(np.float32), None)
    if isinstance(spec, str | Path) and str(spec).endswith(".npy") and Path(spec).is_file():
        arr = read_npy(spec)
        if arr.dtype.kind not in "fiu" or tuple(arr.shape) != shape:
            raise InputDataError(f"array has shape {arr.shape} ({arr.dtype}); the workload takes {list(shape)} numbers", spec)
        return _finite(arr.astype(np.float32), spec)
    if len(shape) != 3 or shape[0] != 3:
        raise InputDataError(f"workload {workload.name!r} takes a {list(shape)} input, not an image; "
                             "give a .npy array of that shape")
    return preprocess(load_image(spec), workload.preprocess, shape)


def _finite(x: np.ndarray, source: str | Path | None) -> np.ndarray:
    if not np.all(np.isfinite(x)):
        raise InputDataError("input holds NaN or Inf", source)
    return x
