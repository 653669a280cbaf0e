"""Checks of objects built in code before they reach the engines.

``load_workload`` validates everything it reads from a file, but a ``Workload`` or
``Layer`` built in Python (``layer_from_dense``, a user's own constructor call, an edited
array) skips the loader. ``checked_workload`` applies the loader's own rules to such an
object, so that a code beyond the codebook, a non-monotone ``indptr`` or a wrong shape is
a ``WorkloadError`` naming the layer instead of an IndexError deep inside an engine.
The checks are linear in the number of stored entries (milliseconds for SqueezeNet). A caller
may pass ``check_arrays`` to decide whether a layer's array rules must run again: ``simulate``
skips them for a layer whose content digest was already checked in the process
(``eiesim.run.content_cache``: the digest covers its attributes and every byte of its arrays).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from eiesim.errors import UsageError, WorkloadError
from eiesim.network.host_graph import host_names
from eiesim.network.workload import MAX_LAYERS, NETWORK_INPUT, Layer, Workload, infer_shapes
from eiesim.network.workload_file import layer_arrays, parse_layer_meta

_ARRAYS = ("indptr", "indices", "codes", "codebook", "bias")


#: ``check_arrays(layer, rules)``: run ``rules()`` (the loader's array rules for ``layer``, which
#: raise WorkloadError) or know they hold for this content.
ArrayCheck = Callable[[Layer, Callable[[], object]], None]


def _run_rules(layer: Layer, rules: Callable[[], object]) -> None:
    rules()


def checked_workload(workload: Any, check_arrays: ArrayCheck = _run_rules) -> Workload:
    """``workload`` if it is a consistent Workload; WorkloadError/UsageError naming the problem otherwise."""
    if not isinstance(workload, Workload):
        raise UsageError(f"the workload must be an eiesim Workload (from eiesim.load_workload), "
                         f"got {type(workload).__name__}")
    source = f"workload {workload.name!r}"
    layers = workload.layers
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise WorkloadError(f"needs a list of 1..{MAX_LAYERS} layers", source)
    shape = tuple(workload.input_shape) if isinstance(workload.input_shape, (tuple, list)) else None
    if (shape is None or len(shape) not in (1, 3)
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape)):
        raise WorkloadError(f"input_shape must be (C, H, W) or (K,) of positive integers, got {workload.input_shape!r}",
                            source)
    names: set[str] = set()
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise WorkloadError(f"layer {i} is a {type(layer).__name__}, not an eiesim Layer", source)
        try:
            info = parse_layer_meta(layer.to_meta(), i, source)  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError) as exc:
            raise WorkloadError(f"layer {i}: malformed attributes ({exc})", source) from None
        if info["name"] in names:
            raise WorkloadError(f"layer {i}: duplicate name {info['name']!r}", source)
        names.add(info["name"])
        arrays = {}
        for key in _ARRAYS:
            try:
                arrays[f"L{i}.{key}"] = np.asarray(getattr(layer, key))
            except (TypeError, ValueError) as exc:
                raise WorkloadError(f"layer {i} ({layer.name!r}): {key} is not an array ({exc})", source) from None
        check_arrays(layer, lambda: layer_arrays(arrays, i, info, source))  # type: ignore[arg-type]  # the loader's rules
    if workload.input is not None:
        x = np.asarray(workload.input)
        if x.dtype.kind not in "fiu" or tuple(x.shape) != shape:
            raise WorkloadError(f"the stored input must be numeric with shape {list(shape)}, got {x.dtype} "
                                f"{list(x.shape)}", source)
        if not np.all(np.isfinite(x)):
            raise WorkloadError("the stored input holds NaN or Inf", source)
    host = host_names(workload.extra)
    for layer in layers:
        bad = [s for s in layer.inputs if s != NETWORK_INPUT and s not in names and s not in host]
        if bad:
            raise WorkloadError(f"layer {layer.name!r}: input {bad[0]!r} is not the network input, a layer or a "
                                "host op", source)
    infer_shapes(workload, source)
    return workload
