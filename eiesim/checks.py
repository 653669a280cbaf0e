"""Checks of objects built in code before they reach the engines.

``load_workload`` validates everything it reads from a file, but a ``Workload`` or
``Layer`` built in Python (``layer_from_dense``, a user's own constructor call, an edited
array) skips the loader. ``checked_workload`` applies the loader's own rules to such an
object, so that a code beyond the codebook, a non-monotone ``indptr`` or a wrong shape is
a ``WorkloadError`` naming the layer instead of an IndexError deep inside an engine.
The checks are linear in the number of stored entries (milliseconds for SqueezeNet); a
layer whose content digest was already checked in this process is not checked again
(``eiesim.content_cache``: the digest covers its attributes and every byte of its arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eiesim.errors import UsageError, WorkloadError
from eiesim.workload import MAX_LAYERS, NETWORK_INPUT, Layer, Workload, infer_shapes, parse_layer_meta

_ARRAYS = ("indptr", "indices", "codes", "codebook", "bias")


def checked_workload(workload: Any) -> Workload:
    """``workload`` if it is a consistent Workload; WorkloadError/UsageError naming the problem otherwise."""
    checked_layer_digests(workload)
    return workload


def checked_layer_digests(workload: Any) -> list[str]:
    """Check ``workload`` as ``checked_workload`` does; return each layer's content digest, in order."""
    from eiesim.content_cache import VALIDATED_LAYERS, layer_digest
    from eiesim.workload import _layer_arrays  # the loader's array rules, reused as they are

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
    digests: list[str] = []
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
        if all(a.dtype.kind in "iuf" for a in arrays.values()):
            digest = layer_digest(layer)
            # The digest names the layer's content, not its position: the array rules are the
            # same at any index, and an error found there is raised before anything is cached.
            VALIDATED_LAYERS.get_or_compute(digest, lambda: bool(_layer_arrays(arrays, i, info, source)))
            digests.append(digest)
        else:
            _layer_arrays(arrays, i, info, source)  # type: ignore[arg-type]  # raises: not numeric
    if workload.input is not None:
        x = np.asarray(workload.input)
        if x.dtype.kind not in "fiu" or tuple(x.shape) != shape:
            raise WorkloadError(f"the stored input must be numeric with shape {list(shape)}, got {x.dtype} "
                                f"{list(x.shape)}", source)
        if not np.all(np.isfinite(x)):
            raise WorkloadError("the stored input holds NaN or Inf", source)
    for layer in layers:
        bad = [s for s in layer.inputs if s != NETWORK_INPUT and s not in names]
        if bad:
            raise WorkloadError(f"layer {layer.name!r}: input {bad[0]!r} is not the network input or a layer", source)
    infer_shapes(workload, source)
    return digests
