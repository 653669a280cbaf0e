"""Dense (uncompressed) models: the input of ``eiesim compress`` (docs/workload-format.md, "Dense models").

An ``.npz`` archive with ``format`` = "eiesim-dense", ``version`` = 1, ``meta`` =
one JSON string with the same keys as a workload's meta (name, source, input,
layers with the same layer keys), and per layer ``i``: ``L{i}.weight`` (float32,
shape (out_channels, in_channels, kh, kw)) and ``L{i}.bias`` (float32,
(out_channels,)); optional ``input``. Zeros in the weights are pruned weights.
Graph and shape rules are those of workload format v1.

``dense_from_workload`` decodes a workload into a dense model; ``to_workload`` is the way
back without pruning or re-clustering, for models whose weights are already shared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from eiesim.errors import ModelFileError, WorkloadError
from eiesim.inputs.npz import read_npz
from eiesim.inputs.text import parse_json
from eiesim.network.topologies import LayerSpec
from eiesim.network.workload import MAX_CODEBOOK, MAX_LAYERS, Layer, Workload, infer_shapes
from eiesim.network.workload_file import parse_layer_meta, savez_deterministic, scalar_string
from eiesim.outputs.commit import atomic_path

__all__ = ["DenseLayer", "DenseModel", "load_dense", "save_dense", "dense_from_workload", "to_workload",
           "DENSE_FORMAT_NAME"]

DENSE_FORMAT_NAME = "eiesim-dense"
DENSE_FORMAT_VERSION = 1


@dataclass
class DenseLayer:
    """A layer's graph attributes and its dense float32 weights (out, in, kh, kw) and bias."""

    spec: LayerSpec
    weight: np.ndarray
    bias: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DenseModel:
    """A dense network in topological order, with the same metadata as a workload."""

    name: str
    source: str
    input_shape: tuple[int, ...]
    preprocess: dict[str, Any] | None
    layers: list[DenseLayer]
    input: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def skeleton(self) -> Workload:
        """A workload with these layers' graph attributes and no weights (for shape checks)."""
        layers = [_empty_layer(dl) for dl in self.layers]
        return Workload(self.name, self.source, self.input_shape, self.preprocess, layers, self.input, dict(self.extra))


def _empty_layer(dl: DenseLayer) -> Layer:
    s = dl.spec
    return Layer(name=s.name, kind=s.kind, in_channels=s.in_channels, out_channels=s.out_channels, kernel=s.kernel,
                 stride=s.stride, padding=s.padding, inputs=s.inputs, relu=s.relu, pool=s.pool,
                 indptr=np.zeros(s.out_channels + 1, np.int64), indices=np.zeros(0, np.int32),
                 codes=np.zeros(0, np.uint8), codebook=np.ones(1, np.float32), bias=dl.bias, extra=dict(dl.extra))


def _spec_meta(dl: DenseLayer) -> dict[str, Any]:
    return _empty_layer(dl).to_meta()


def load_dense(path: str | Path) -> DenseModel:
    """Load and validate a dense model .npz (never unpickles); errors are ``ModelFileError``s naming the file."""
    path = Path(path)
    try:
        return _load_dense(path)
    except WorkloadError as exc:  # raised by the shared format helpers
        raise ModelFileError(exc.message, path) from None


def _load_dense(path: Path) -> DenseModel:
    arrays = read_npz(path, ModelFileError)
    fmt = scalar_string(arrays, "format", path)
    if fmt != DENSE_FORMAT_NAME:
        raise ModelFileError(f"'format' is {fmt!r}, expected {DENSE_FORMAT_NAME!r}", path)
    if "version" not in arrays or arrays["version"].size != 1 or arrays["version"].dtype.kind not in "iu":
        raise ModelFileError("missing or non-integer member 'version'", path)
    if int(arrays["version"].reshape(())) != DENSE_FORMAT_VERSION:
        raise ModelFileError(f"dense format version {int(arrays['version'].reshape(()))} is not supported "
                             f"(this eiesim reads version {DENSE_FORMAT_VERSION})", path)
    meta = parse_json(scalar_string(arrays, "meta", path), path, ModelFileError, "'meta'")
    if not isinstance(meta, dict) or not all(k in meta for k in ("name", "source", "input", "layers")):
        raise ModelFileError("'meta' must be a JSON object with name, source, input and layers", path)
    inp = meta["input"]
    shape = inp.get("shape") if isinstance(inp, dict) else None
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)):
        raise ModelFileError(f"'meta.input.shape' must be [C, H, W] or [K] of positive integers, got {shape!r}", path)
    preprocess = inp.get("preprocess")
    if preprocess is not None and not isinstance(preprocess, dict):
        raise ModelFileError("'meta.input.preprocess' must be an object or null", path)
    metas = meta["layers"]
    if not isinstance(metas, list) or not 1 <= len(metas) <= MAX_LAYERS:
        raise ModelFileError(f"'meta.layers' must be a list of 1..{MAX_LAYERS} layers", path)
    layers = []
    names: set[str] = set()
    for i, lm in enumerate(metas):
        info = parse_layer_meta(lm, i, path)
        if info["name"] in names:
            raise ModelFileError(f"layer {i}: duplicate name {info['name']!r}", path)
        names.add(info["name"])
        extra = info.pop("extra")
        spec = LayerSpec(**info)
        where = f"layer {i} ({spec.name!r})"
        for key in ("weight", "bias"):
            if f"L{i}.{key}" not in arrays:
                raise ModelFileError(f"{where}: missing member 'L{i}.{key}'", path)
        w, b = arrays[f"L{i}.weight"], arrays[f"L{i}.bias"]
        if w.dtype.kind != "f" or b.dtype.kind != "f":
            raise ModelFileError(f"{where}: L{i}.weight and L{i}.bias must hold floats", path)
        if w.shape != spec.weight_shape:
            raise ModelFileError(f"{where}: L{i}.weight has shape {w.shape}, expected (out, in, kh, kw) = "
                                 f"{spec.weight_shape}", path)
        if b.shape != (spec.out_channels,):
            raise ModelFileError(f"{where}: L{i}.bias has shape {b.shape}, expected ({spec.out_channels},)", path)
        if w.size == 0:
            raise ModelFileError(f"{where}: L{i}.weight has shape {w.shape}, no elements; a layer needs at least "
                                 "one output and one input", path)
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ModelFileError(f"{where}: weights or bias hold NaN or Inf", path)
        layers.append(DenseLayer(spec, w.astype(np.float32), b.astype(np.float32), extra))
    network_input = None
    if "input" in arrays:
        network_input = arrays["input"]
        if network_input.dtype.kind not in "fiu" or tuple(network_input.shape) != tuple(shape):
            raise ModelFileError(f"member 'input' must be numeric with shape {tuple(shape)}", path)
        network_input = network_input.astype(np.float32)
        if not np.all(np.isfinite(network_input)):
            raise ModelFileError("member 'input' holds NaN or Inf", path)
    model = DenseModel(str(meta["name"]), str(meta["source"]), tuple(shape), preprocess, layers, network_input,
                       {k: v for k, v in meta.items() if k not in ("name", "source", "input", "layers")})
    infer_shapes(model.skeleton(), path)
    return model


def save_dense(model: DenseModel, path: str | Path) -> Path:
    """Write a dense model atomically; identical content gives identical bytes."""
    meta = dict(model.extra)
    meta.update(name=model.name, source=model.source,
                input={"shape": list(model.input_shape), "preprocess": model.preprocess},
                layers=[_spec_meta(dl) for dl in model.layers])
    members: dict[str, np.ndarray] = {
        "format": np.array(DENSE_FORMAT_NAME),
        "version": np.array(DENSE_FORMAT_VERSION, dtype=np.int64),
        "meta": np.array(json.dumps(meta, sort_keys=True)),
    }
    for i, dl in enumerate(model.layers):
        members[f"L{i}.weight"] = np.asarray(dl.weight, dtype=np.float32).reshape(dl.spec.weight_shape)
        members[f"L{i}.bias"] = np.asarray(dl.bias, dtype=np.float32)
    if model.input is not None:
        members["input"] = np.asarray(model.input, dtype=np.float32)
    path = Path(path)
    with atomic_path(path, suffix=".npz") as tmp:
        savez_deterministic(tmp, members)
    return path


def dense_from_workload(wl: Workload) -> DenseModel:
    """Decode every layer of a workload to dense weights (codebook values at the stored positions)."""
    layers = []
    for layer in wl.layers:
        pair = cast("Callable[[Any], tuple[int, int]]", tuple)  # kernel, stride, padding: (h, w)
        spec = LayerSpec(layer.name, layer.kind, layer.in_channels, layer.out_channels, pair(layer.kernel),
                         pair(layer.stride), pair(layer.padding), tuple(layer.inputs), layer.relu, layer.pool)
        layers.append(DenseLayer(spec, layer.dense_weights(), layer.bias.copy(), dict(layer.extra)))
    return DenseModel(wl.name, wl.source, tuple(wl.input_shape), wl.preprocess, layers, wl.input,
                      dict(wl.extra))


@dataclass
class _Csr:
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


def _csr_of(matrix: np.ndarray) -> _Csr:
    """The non-zeros of a 2-D array in CSR order (rows, then columns ascending).

    The same arrays as scipy's ``csr_matrix`` with zeros eliminated and indices sorted, without
    its COO detour (35 s for VGG's 102M-weight fc6).
    """
    rows, cols = matrix.shape
    nonzero = matrix != 0
    indptr = np.zeros(rows + 1, np.int64)
    np.cumsum(np.count_nonzero(nonzero, axis=1), out=indptr[1:])
    values = np.ascontiguousarray(matrix).reshape(-1)
    if 2 * indptr[-1] >= matrix.size:  # mostly non-zero (an unpruned float model): every column of every row,
        columns = np.tile(np.arange(cols, dtype=np.int32), rows)  # less the zeros if any, without a search
        if indptr[-1] == matrix.size:
            return _Csr(indptr, columns, values)
        keep = nonzero.reshape(-1)
        return _Csr(indptr, columns[keep], values[keep])
    positions = np.flatnonzero(nonzero)  # row-major: rows, then columns ascending
    return _Csr(indptr, (positions % max(cols, 1)).astype(np.int32), values[positions])


def to_workload(model: DenseModel, *, strict: bool = True) -> Workload:
    """A dense model as a workload WITHOUT any pruning or re-clustering (lossless).

    Each layer's distinct non-zero weights become its codebook, so the decoded
    weights equal the dense weights bit for bit: the way back for models whose
    weights are already shared (e.g. exported by ``eiesim export-onnx``). With
    ``strict`` a layer with more than ``MAX_CODEBOOK`` distinct values is an
    error (the workload format could not store it: compress the model instead);
    ``strict=False`` allows it for an in-memory float reference of a dense model
    (such a workload cannot be saved; its codebooks may be views of the dense
    model's weights, not copies: read them, do not change them).
    """
    layers = []
    for dl in model.layers:
        s = dl.spec
        flat = _csr_of(np.asarray(dl.weight, np.float32).reshape(s.out_channels, -1))
        if not strict and flat.data.size > MAX_CODEBOOK:
            # A float reference only (it cannot be saved): every weight its own entry, decoding to
            # the same weights without np.unique's sort, which took minutes on VGG-sized layers.
            # (Without copies: the codebook is the CSR's data itself, the codes 32-bit while they fit.)
            wide = np.int32 if flat.data.size < np.iinfo(np.int32).max else np.int64
            codebook, codes = flat.data.astype(np.float32, copy=False), np.arange(flat.data.size, dtype=wide)
        else:
            codebook, codes = np.unique(flat.data.astype(np.float32), return_inverse=True)
        if strict and codebook.size > MAX_CODEBOOK:
            raise ModelFileError(
                f"layer {s.name!r} has {codebook.size} distinct weights, more than a workload codebook holds "
                f"({MAX_CODEBOOK}); compress the model (eiesim compress) instead of converting it as is", model.source)
        if codebook.size == 0:
            codebook = np.ones(1, np.float32)
        code_dtype = np.uint8 if codebook.size <= 256 else np.uint16 if codebook.size <= 1 << 16 else codes.dtype
        layers.append(Layer(
            name=s.name, kind=s.kind, in_channels=s.in_channels, out_channels=s.out_channels, kernel=s.kernel,
            stride=s.stride, padding=s.padding, inputs=s.inputs, relu=s.relu, pool=s.pool,
            indptr=flat.indptr.astype(np.int64, copy=False), indices=flat.indices.astype(np.int32, copy=False),
            codes=codes.reshape(-1).astype(code_dtype, copy=False), codebook=codebook.astype(np.float32, copy=False),
            bias=np.asarray(dl.bias, np.float32), extra=dict(dl.extra),
        ))
    wl = Workload(name=model.name, source=model.source, input_shape=tuple(model.input_shape),
                  preprocess=model.preprocess, layers=layers, input=model.input, extra=dict(model.extra))
    wl._shapes = infer_shapes(wl, model.source)
    return wl
