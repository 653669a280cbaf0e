"""Agreement of a compressed workload with the uncompressed model it came from.

After Deep Compression (prune + k-means share) a user wants to know how far the
compressed network drifted from the original: do the top-1 classes still agree,
and how large is each layer's output error? This module computes that report
(no printing; ``eiesim compress`` prints it) and reads the per-layer density
profile that drives the compression.

The reference is onnxruntime on the original ONNX file when one is given and
onnxruntime is installed (an independent implementation), else eiesim's own
float32 forward pass on the dense weights. Per-layer errors always compare
eiesim's compressed and dense forward passes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.errors import EiesimError, UsageError
from eiesim.importers.onnx.optional import onnxruntime_available
from eiesim.importers.onnx.runtime import onnxruntime_forward
from eiesim.network.dense import DenseModel, to_workload
from eiesim.network.functional import forward, token_count, top1_per_token
from eiesim.network.network_input import prepare_input
from eiesim.network.workload import Workload


def load_density_profile(path: str | Path, layer_names: list[str]) -> dict[str, float]:
    """Read a density profile: a YAML or JSON mapping layer name -> density in [0, 1].

    Every key must name a layer of the model (``layer_names``); raises UsageError
    (with the file as source) for a missing or unreadable file, a non-mapping,
    unknown layers, or a density that is not a number in [0, 1].
    """
    from eiesim.inputs.text import load_yaml

    path = Path(path)
    data = load_yaml(path, UsageError, "density profile")  # JSON is YAML
    if not isinstance(data, dict) or not data:
        raise UsageError("a density profile must map layer names to densities (e.g. 'conv1: 0.85')", path)
    unknown = [k for k in data if k not in layer_names]
    if unknown:
        raise UsageError(f"layers {unknown} are not in the model; its layers: {', '.join(layer_names)}", path)
    out = {}
    for name, value in data.items():
        number = not isinstance(value, bool) and isinstance(value, int | float)
        if not number or not (math.isfinite(value) and 0 <= value <= 1):
            raise UsageError(f"layer {name!r}: density must be a number in [0, 1], got {value!r}", path)
        out[str(name)] = float(value)
    return out


def max_rel_error(y: np.ndarray, ref: np.ndarray) -> float:
    """max |y - ref| / max |ref|: the error relative to the output's range.

    0 when both are all zeros; inf when only ``ref`` is.
    """
    scale = float(np.max(np.abs(ref), initial=0.0))
    diff = float(np.max(np.abs(np.asarray(y, np.float64) - np.asarray(ref, np.float64)), initial=0.0))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def agreement_inputs(model: DenseModel, images: tuple[str, ...], seed: int) -> list[tuple[str, np.ndarray]]:
    """The (label, input) pairs of the report: the given images, else the model's stored input,
    else one random input in [0, 1) from ``seed``."""
    from eiesim.network.memory import check_workload_memory

    check_workload_memory(model)  # before any input of the model's declared shape is allocated
    if images:
        return [(spec, prepare_input(model, spec)) for spec in images]
    if model.input is not None:
        return [("stored input", np.asarray(model.input, np.float32))]
    rng = np.random.default_rng(seed)
    return [(f"random (seed {seed})", rng.random(model.input_shape, dtype=np.float32))]


def agreement_report(compressed: Workload, dense: DenseModel, inputs: list[tuple[str, np.ndarray]],
                     onnx_path: Path | None = None) -> dict[str, Any]:
    """Compare the compressed workload's float forward pass with the uncompressed model on ``inputs``.

    The reference output is onnxruntime's on ``onnx_path`` (the ONNX file ``dense``
    was read from) when given and onnxruntime is installed, else eiesim's float
    reference on the dense weights. Per-layer errors always compare eiesim's
    compressed and dense forward passes (the layer outputs after ReLU and
    pooling); a layer's ``max_rel_error`` is :func:`max_rel_error` maximised over
    all inputs. Top-1 ties resolve to the lower class index.

    Returns ``{"reference", "inputs": [{"input", "top1_compressed", "top1_reference",
    "agree", "output_max_rel_error"}], "top1_agreement", "layers": [{"name",
    "max_rel_error"}]}`` plus ``"import_check_max_rel_error"`` (eiesim's dense pass
    vs onnxruntime) when onnxruntime was used. For a token output (an LM head) top-1 is
    per token (``_top1_entry``) and ``top1_agreement`` the fraction of tokens that agree.
    """
    use_ort = onnx_path is not None and onnxruntime_available()
    reference = to_workload(dense, strict=False)
    per_image: list[dict[str, Any]] = []
    layer_err = {layer.name: 0.0 for layer in compressed.layers}
    ort_vs_dense = 0.0
    for label, x in inputs:
        rc = forward(compressed, x)
        rd = forward(reference, x)
        for name in layer_err:
            layer_err[name] = max(layer_err[name], max_rel_error(rc.outputs[name], rd.outputs[name]))
        ref_logits = rd.logits
        if use_ort and onnx_path is not None:  # (use_ort implies the path)
            ref_logits = onnxruntime_forward(onnx_path, x, dense.extra.get("onnx_output"))
            if ref_logits.shape != rd.logits.shape:
                raise EiesimError(f"onnxruntime gives {ref_logits.size} outputs, eiesim's import {rd.logits.size}",
                                  onnx_path)
            ort_vs_dense = max(ort_vs_dense, max_rel_error(rd.logits, ref_logits))
        per_image.append(_top1_entry(compressed, label, rc.logits, ref_logits))
    tokens = sum(p.get("tokens", 1) for p in per_image)
    report: dict[str, Any] = {
        "reference": "onnxruntime" if use_ort else "eiesim float reference on the dense weights",
        "inputs": per_image,
        "top1_agreement": (sum(p.get("tokens_agree", int(p["agree"])) for p in per_image) / tokens
                           if per_image else None),
        "layers": [{"name": n, "max_rel_error": e} for n, e in layer_err.items()],
    }
    if use_ort:
        report["import_check_max_rel_error"] = ort_vs_dense
    return report


def _top1_entry(compressed: Workload, label: str, logits: np.ndarray, ref_logits: np.ndarray) -> dict[str, Any]:
    """One input's row of the report: top-1 of the compressed output and of the reference, and whether they agree.

    For a token output (T rows of V logits, e.g. a transformer's LM head) top-1 is taken per token: the lists of
    each token's class, ``tokens`` (T) and ``tokens_agree`` (how many tokens agree); ``agree`` when all do. The
    report's ``top1_agreement`` is then the fraction of all tokens that agree, not one argmax of the flattened
    (T x V) output.
    """
    error = max_rel_error(logits, ref_logits)
    if token_count(compressed) is None:
        top_c, top_r = int(np.argmax(logits)), int(np.argmax(ref_logits))
        return {"input": label, "top1_compressed": top_c, "top1_reference": top_r, "agree": top_c == top_r,
                "output_max_rel_error": error}
    per_c, per_r = top1_per_token(compressed, logits), top1_per_token(compressed, ref_logits)
    agree = int(np.count_nonzero(per_c == per_r))
    return {"input": label, "top1_compressed": [int(v) for v in per_c], "top1_reference": [int(v) for v in per_r],
            "agree": agree == per_c.size, "tokens": int(per_c.size), "tokens_agree": agree,
            "output_max_rel_error": error}


__all__ = ["agreement_inputs", "agreement_report", "load_density_profile", "max_rel_error"]
