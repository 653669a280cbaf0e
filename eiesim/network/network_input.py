"""The network input of a workload: its stored input, an array, a ``.npy`` file or a preprocessed image.

The image readers and the preprocessing live in ``eiesim.inputs.images``; this module
applies them to a workload (its input shape and ``input.preprocess``), after checking
that one inference of the workload fits the memory budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eiesim.errors import InputDataError
from eiesim.inputs.images import load_image, preprocess
from eiesim.inputs.npz import read_npy
from eiesim.network.memory import check_workload_memory
from eiesim.network.workload import Workload

if TYPE_CHECKING:
    from eiesim.network.dense import DenseModel


#: The bundled photo simulated when no input is given and the workload stores none (the one default input rule).
DEFAULT_PHOTO = "chelsea"


def default_input(workload: Workload | DenseModel, spec: str | Path | np.ndarray | None) -> str | Path | np.ndarray | None:
    """The input used for ``spec``: ``spec`` itself, or for None the workload's stored input (None)
    or, when the workload stores none but takes an RGB image, the bundled photo ``DEFAULT_PHOTO``.

    Every command (``run``, ``sweep``, ``trace``, ...) and every library call (``simulate``,
    ``simulate_images``, ``sweep``) applies this one rule, so they simulate the same input.
    """
    if spec is None and workload.input is None and _takes_image(tuple(workload.input_shape)):
        return DEFAULT_PHOTO
    return spec


def _takes_image(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3 and shape[0] == 3


def prepare_input(workload: Workload | DenseModel, spec: str | Path | np.ndarray | None = None) -> np.ndarray:
    """The network input (float32, the workload's input shape) from ``spec``.

    ``None``: the workload's stored input, else (an image network) the bundled photo
    ``DEFAULT_PHOTO`` (``default_input``). An array of the input shape: used as is.
    ``workload`` may also be a dense model (``DenseModel``: the same input attributes).
    A ``.npy`` path: loaded (no pickles) and shape-checked. Anything else: an image
    (path, bundled photo name or H x W x 3 array), preprocessed as the workload says.
    """
    shape = tuple(workload.input_shape)
    check_workload_memory(workload)  # before the input (or anything else) is allocated
    spec = default_input(workload, spec)
    if spec is None:
        if workload.input is None:
            raise InputDataError(f"workload {workload.name!r} has no stored input and takes a {list(shape)} input, "
                                 "not an image; give an array of that shape (or a .npy file)")
        return np.asarray(workload.input, dtype=np.float32)
    if isinstance(spec, np.ndarray) and tuple(spec.shape) == shape:
        if spec.dtype.kind not in "fiu":  # complex, object, strings, booleans: never cast silently
            raise InputDataError(f"the input array holds {spec.dtype} values; give real numbers (float or integer)")
        return _finite(spec.astype(np.float32), None)
    if isinstance(spec, str | Path) and str(spec).endswith(".npy") and Path(spec).is_file():
        arr = read_npy(spec)
        if arr.dtype.kind not in "fiu" or tuple(arr.shape) != shape:
            raise InputDataError(f"array has shape {arr.shape} ({arr.dtype}); the workload takes {list(shape)} numbers", spec)
        return _finite(arr.astype(np.float32), spec)
    if not _takes_image(shape):
        raise InputDataError(f"workload {workload.name!r} takes a {list(shape)} input, not an image; "
                             "give a .npy array of that shape")
    return preprocess(load_image(spec), workload.preprocess, shape)


def _finite(x: np.ndarray, source: str | Path | None) -> np.ndarray:
    if not np.all(np.isfinite(x)):
        raise InputDataError("input holds NaN or Inf", source)
    return x
