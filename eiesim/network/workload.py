"""Workload format v1: compressed networks as CSR layers with codebook indices.

A workload is one ``.npz`` archive (documented in docs/workload-format.md):

* ``format`` = "eiesim-workload", ``version`` = 1, ``meta`` = one JSON string
  describing the network (name, source, input, layers in topological order);
* per layer ``i``: ``L{i}.indptr``, ``L{i}.indices``, ``L{i}.codes``,
  ``L{i}.codebook``, ``L{i}.bias`` -- the layer's M x V matrix (rows = output
  channels, columns = flattened (in_channels, kh, kw)) in CSR form, each stored
  entry a real non-zero given as an index into the layer's codebook;
* optionally ``input``, the network's first-layer input.

This module loads (validating everything), saves (atomically) and describes
workloads; the network graph is a networkx DiGraph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp

from eiesim.errors import WorkloadError
from eiesim.inputs.npz import read_npz
from eiesim.inputs.text import parse_json
from eiesim.outputs.commit import atomic_path

FORMAT_NAME = "eiesim-workload"
FORMAT_VERSION = 1
#: Name used in ``inputs`` for the network's own input.
NETWORK_INPUT = "input"
#: Bounds on declared sizes (checked before anything is allocated).
MAX_DIM = 1 << 24
MAX_LAYERS = 10_000
MAX_CODEBOOK = 1 << 16

_LAYER_KEYS = ("name", "kind", "in_channels", "out_channels", "kernel", "stride", "padding", "inputs", "relu", "pool")
_POOL_KINDS = ("max", "avg", "global_avg")


@dataclass(frozen=True)
class Pool:
    """Pooling applied to a layer's output after its ReLU (Caffe order: conv, relu, pool)."""

    kind: str  # "max" | "avg" | "global_avg"
    kernel: int = 0
    stride: int = 1
    ceil_mode: bool = True

    def to_meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "kernel": self.kernel, "stride": self.stride, "ceil_mode": self.ceil_mode}

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """Spatial output size of this pool on an h x w map (Caffe's rule in ceil mode)."""
        if self.kind == "global_avg":
            return 1, 1
        return _pool_out(h, self.kernel, self.stride, self.ceil_mode), _pool_out(w, self.kernel, self.stride, self.ceil_mode)


def _pool_out(n: int, k: int, s: int, ceil_mode: bool) -> int:
    if ceil_mode:
        out = -(-(n - k) // s) + 1
        # Caffe: the last window must start inside the input.
        if (out - 1) * s >= n:
            out -= 1
        return max(out, 1)
    return (n - k) // s + 1


@dataclass
class Layer:
    """One compressed layer: graph attributes plus its CSR matrix with codebook indices."""

    name: str
    kind: str  # "conv" | "fc"
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    inputs: tuple[str, ...]
    relu: bool
    pool: Pool | None
    indptr: np.ndarray
    indices: np.ndarray
    codes: np.ndarray
    codebook: np.ndarray
    bias: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """M: output channels."""
        return self.out_channels

    @property
    def cols(self) -> int:
        """V: flattened (in_channels, kh, kw)."""
        return self.in_channels * self.kernel[0] * self.kernel[1]

    @property
    def nnz(self) -> int:
        return int(self.indices.shape[0])

    @property
    def density(self) -> float:
        return self.nnz / (self.rows * self.cols) if self.rows * self.cols else 0.0

    @property
    def codebook_bits(self) -> int:
        """Bits needed to index this layer's codebook."""
        return max(1, math.ceil(math.log2(max(len(self.codebook), 2))))

    def weights_csr(self) -> sp.csr_matrix:
        """The decoded (shared-weight) M x V matrix, float32."""
        data = np.asarray(self.codebook, dtype=np.float32)[self.codes]
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.rows, self.cols))

    def dense_weights(self) -> np.ndarray:
        """Decoded weights as (out_channels, in_channels, kh, kw) float32."""
        return self.weights_csr().toarray().reshape(self.out_channels, self.in_channels, *self.kernel)

    def to_meta(self) -> dict[str, Any]:
        meta = dict(self.extra)
        meta.update(
            name=self.name, kind=self.kind, in_channels=self.in_channels, out_channels=self.out_channels,
            kernel=list(self.kernel), stride=list(self.stride), padding=list(self.padding),
            inputs=list(self.inputs), relu=self.relu, pool=self.pool.to_meta() if self.pool else None,
        )
        return meta


@dataclass
class Workload:
    """A compressed network: layers in topological order plus its input description."""

    name: str
    source: str
    input_shape: tuple[int, ...]
    preprocess: dict[str, Any] | None
    layers: list[Layer]
    input: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._shapes: dict[str, tuple[int, ...]] | None = None
        self._path: Path | None = None  # the file it was loaded from (for error messages)

    # -- structure ---------------------------------------------------------
    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def graph(self) -> nx.MultiDiGraph:
        """The network graph (``network_graph``), each node with its output ``shape``."""
        g = network_graph(self.layers)
        g.nodes[NETWORK_INPUT]["shape"] = tuple(self.input_shape)
        for name, shape in self.output_shapes().items():
            g.nodes[name]["shape"] = shape
        return g

    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every layer's output after ReLU and pooling: (C, H, W) or (K,)."""
        if self._shapes is None:
            self._shapes = infer_shapes(self)
        return self._shapes

    def input_shape_of(self, layer: Layer) -> tuple[int, ...]:
        """Shape of the tensor a layer consumes (its inputs concatenated along channels)."""
        shapes = self.output_shapes()
        return concat_shape([self.input_shape if s == NETWORK_INPUT else shapes[s] for s in layer.inputs])

    def consumers(self) -> dict[str, list[str]]:
        """Every tensor's consumers, once per input position that reads it (graph successors, in layer order)."""
        g = network_graph(self.layers)
        return {name: [v for _, v in g.out_edges(name)] for name in g}

    @property
    def output_layer(self) -> Layer:
        """The last layer (the network's output)."""
        return self.layers[-1]

    @property
    def nnz(self) -> int:
        return sum(layer.nnz for layer in self.layers)

    def to_meta(self) -> dict[str, Any]:
        meta = dict(self.extra)
        meta.update(
            name=self.name, source=self.source,
            input={"shape": list(self.input_shape), "preprocess": self.preprocess},
            layers=[layer.to_meta() for layer in self.layers],
        )
        return meta


# -- shape inference ----------------------------------------------------------

def conv_output_hw(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int]) -> tuple[int, int]:
    """Spatial output of a convolution before pooling: ``(n + 2 pad - k) // stride + 1`` per axis.

    The one place this formula is written (Caffe's and ONNX's rule for symmetric zero
    padding); shape inference, the im2col patches, the timing geometry and the model
    importers all use it.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def network_graph(layers: Sequence[Layer]) -> nx.MultiDiGraph:
    """The network as a networkx multigraph: a node per layer (attributes ``index``, ``layer``) and the input.

    Each entry of a layer's ``inputs`` is one edge producer -> layer whose key is its
    position, the concatenation order (a tensor read twice gives two edges). A name
    that is neither a layer nor the network input becomes a node without attributes.
    """
    g = nx.MultiDiGraph()
    g.add_node(NETWORK_INPUT, index=-1)
    for i, layer in enumerate(layers):
        g.add_node(layer.name, index=i, layer=layer)
        for pos, src in enumerate(layer.inputs):
            g.add_edge(src, layer.name, key=pos)
    return g


def producers(g: nx.MultiDiGraph, name: str) -> list[str]:
    """The tensors layer ``name`` reads, in concatenation order (its in-edges by key)."""
    return [u for u, _, _ in sorted(g.in_edges(name, keys=True), key=lambda edge: edge[2])]


def concat_shape(parts: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """Shape of tensors concatenated along channels: (sum C, H, W), or (sum K,) for vectors."""
    if len(parts[0]) == 1:
        return (sum(p[0] for p in parts),)
    return (sum(p[0] for p in parts), *parts[0][1:])


def infer_shapes(wl: Workload, source: str | Path | None = None) -> dict[str, tuple[int, ...]]:
    """Propagate shapes along the graph in topological order, checking that every layer fits its inputs.

    The stored order must itself be topological (every input is the network input or an
    earlier layer: the layer loops run in it). The layers before the first one that breaks
    that rule are propagated in the topological order networkx gives, ties broken by
    position (which is the stored order), so the first problem in stored order is the one
    reported.
    """
    g = network_graph(wl.layers)
    bad = next(((i, src) for i, layer in enumerate(wl.layers) for src in producers(g, layer.name)
                if g.nodes[src].get("index", i) >= i), None)
    valid = g.subgraph([NETWORK_INPUT, *(layer.name for layer in wl.layers[:bad[0] if bad else len(wl.layers)])])
    shapes: dict[str, tuple[int, ...]] = {NETWORK_INPUT: tuple(wl.input_shape)}
    for name in nx.lexicographical_topological_sort(valid, key=lambda n: g.nodes[n]["index"]):
        if name != NETWORK_INPUT:
            shapes[name] = _output_shape(g.nodes[name]["layer"], [shapes[src] for src in producers(g, name)], source)
    if bad is not None:
        raise WorkloadError(f"layer {wl.layers[bad[0]].name!r}: input {bad[1]!r} is not the network input or an "
                            "earlier layer", source)
    del shapes[NETWORK_INPUT]
    return shapes


def _output_shape(layer: Layer, parts: list[tuple[int, ...]], source: str | Path | None) -> tuple[int, ...]:
    """The output shape of ``layer`` reading tensors of shapes ``parts``, or a WorkloadError saying why not."""
    where = f"layer {layer.name!r}"
    if layer.kind == "conv":
        if any(len(p) != 3 for p in parts):
            raise WorkloadError(f"{where}: a conv layer needs (C, H, W) inputs, got {parts}", source)
        hw = {p[1:] for p in parts}
        if len(hw) != 1:
            raise WorkloadError(f"{where}: concatenated inputs have different spatial sizes {sorted(hw)}", source)
        c, h, w = concat_shape(parts)
        if c != layer.in_channels:
            raise WorkloadError(f"{where}: inputs give {c} channels but in_channels is {layer.in_channels}", source)
        oh, ow = conv_output_hw(h, w, layer.kernel, layer.stride, layer.padding)
        if oh < 1 or ow < 1:
            raise WorkloadError(f"{where}: kernel {list(layer.kernel)} does not fit a {h}x{w} input", source)
        if layer.pool is not None:
            if layer.pool.kind != "global_avg" and (layer.pool.kernel > oh or layer.pool.kernel > ow):
                raise WorkloadError(f"{where}: pool kernel {layer.pool.kernel} larger than the {oh}x{ow} map", source)
            oh, ow = layer.pool.output_hw(oh, ow)
        return (layer.out_channels, oh, ow)
    flat = sum(int(np.prod(p)) for p in parts)
    if flat != layer.in_channels:
        raise WorkloadError(f"{where}: inputs flatten to {flat} values but in_channels is {layer.in_channels}", source)
    if layer.pool is not None:
        raise WorkloadError(f"{where}: an fc layer cannot have a pool", source)
    return (layer.out_channels,)


# -- loading --------------------------------------------------------------------

def scalar_string(arrays: dict[str, np.ndarray], key: str, path: Path) -> str:
    if key not in arrays:
        raise WorkloadError(f"missing member {key!r}; is this an eiesim workload?", path)
    arr = arrays[key]
    if arr.dtype.kind not in "US" or arr.size != 1:
        raise WorkloadError(f"member {key!r} must be a single string", path)
    value = arr.reshape(())[()]
    return value.decode() if isinstance(value, bytes) else str(value)


def _int_pair(value: Any, key: str, where: str, path: Path, minimum: int) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise WorkloadError(f"{where}: {key!r} must be a list of two integers, got {value!r}", path)
    if any(v < minimum or v > MAX_DIM for v in value):
        raise WorkloadError(f"{where}: {key!r} values must be in [{minimum}, {MAX_DIM}], got {value!r}", path)
    return int(value[0]), int(value[1])


def _positive_int(value: Any, key: str, where: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DIM:
        raise WorkloadError(f"{where}: {key!r} must be an integer in [1, {MAX_DIM}], got {value!r}", path)
    return value


def _parse_pool(value: Any, where: str, path: Path) -> Pool | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("kind") not in _POOL_KINDS:
        raise WorkloadError(f"{where}: 'pool' must be null or an object with kind in {list(_POOL_KINDS)}, got {value!r}", path)
    if value["kind"] == "global_avg":
        return Pool("global_avg", 0, 1, False)
    kernel = value.get("kernel")
    stride = value.get("stride", kernel)
    ceil_mode = value.get("ceil_mode", True)
    for key, v in (("kernel", kernel), ("stride", stride)):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1024:
            raise WorkloadError(f"{where}: pool {key!r} must be an integer in [1, 1024], got {v!r}", path)
    if not isinstance(ceil_mode, bool):
        raise WorkloadError(f"{where}: pool 'ceil_mode' must be true or false", path)
    return Pool(value["kind"], kernel, stride, ceil_mode)


def parse_layer_meta(meta: Any, index: int, path: Path) -> dict[str, Any]:
    where = f"layer {index}"
    if not isinstance(meta, dict):
        raise WorkloadError(f"{where}: must be a JSON object", path)
    missing = [k for k in _LAYER_KEYS if k not in meta]
    if missing:
        raise WorkloadError(f"{where}: missing keys {missing}", path)
    name = meta["name"]
    if not isinstance(name, str) or not name or name == NETWORK_INPUT:
        raise WorkloadError(f"{where}: 'name' must be a non-empty string other than {NETWORK_INPUT!r}", path)
    where = f"layer {index} ({name!r})"
    kind = meta["kind"]
    if kind not in ("conv", "fc"):
        raise WorkloadError(f"{where}: 'kind' must be 'conv' or 'fc', got {kind!r}", path)
    inputs = meta["inputs"]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(s, str) for s in inputs):
        raise WorkloadError(f"{where}: 'inputs' must be a non-empty list of layer names or 'input'", path)
    if not isinstance(meta["relu"], bool):
        raise WorkloadError(f"{where}: 'relu' must be true or false", path)
    parsed = dict(
        name=name, kind=kind,
        in_channels=_positive_int(meta["in_channels"], "in_channels", where, path),
        out_channels=_positive_int(meta["out_channels"], "out_channels", where, path),
        kernel=_int_pair(meta["kernel"], "kernel", where, path, 1),
        stride=_int_pair(meta["stride"], "stride", where, path, 1),
        padding=_int_pair(meta["padding"], "padding", where, path, 0),
        inputs=tuple(inputs), relu=meta["relu"], pool=_parse_pool(meta["pool"], where, path),
        extra={k: v for k, v in meta.items() if k not in _LAYER_KEYS},
    )
    if kind == "fc" and (parsed["kernel"] != (1, 1) or parsed["stride"] != (1, 1) or parsed["padding"] != (0, 0)):
        raise WorkloadError(f"{where}: an fc layer has kernel [1, 1], stride [1, 1], padding [0, 0]", path)
    return parsed


def _layer_arrays(arrays: dict[str, np.ndarray], i: int, info: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    where = f"layer {i} ({info['name']!r})"
    out = {}
    for key in ("indptr", "indices", "codes", "codebook", "bias"):
        member = f"L{i}.{key}"
        if member not in arrays:
            raise WorkloadError(f"{where}: missing member {member!r}", path)
        arr = arrays[member]
        if arr.ndim != 1:
            raise WorkloadError(f"{where}: {member!r} must be one-dimensional, got shape {arr.shape}", path)
        out[key] = arr
    for key in ("indptr", "indices", "codes"):
        if out[key].dtype.kind not in "iu":
            raise WorkloadError(f"{where}: L{i}.{key} must hold integers, got {out[key].dtype}", path)
    for key in ("codebook", "bias"):
        if out[key].dtype.kind != "f":
            raise WorkloadError(f"{where}: L{i}.{key} must hold floats, got {out[key].dtype}", path)
    rows = info["out_channels"]
    cols = info["in_channels"] * info["kernel"][0] * info["kernel"][1]
    indptr = out["indptr"].astype(np.int64)
    indices, codes = out["indices"], out["codes"]
    codebook = out["codebook"].astype(np.float32)
    bias = out["bias"].astype(np.float32)
    if indptr.shape[0] != rows + 1:
        raise WorkloadError(f"{where}: L{i}.indptr has {indptr.shape[0]} entries, expected out_channels + 1 = {rows + 1}", path)
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise WorkloadError(f"{where}: L{i}.indptr must start at 0 and never decrease", path)
    nnz = int(indptr[-1])
    if indices.shape[0] != nnz or codes.shape[0] != nnz:
        raise WorkloadError(
            f"{where}: indptr ends at {nnz} but there are {indices.shape[0]} indices and {codes.shape[0]} codes", path)
    if nnz > rows * cols:
        raise WorkloadError(f"{where}: {nnz} stored entries exceed the {rows}x{cols} matrix", path)
    if nnz:
        if int(indices.min()) < 0 or int(indices.max()) >= cols:
            raise WorkloadError(f"{where}: L{i}.indices must lie in [0, {cols}) (columns = in_channels*kh*kw)", path)
        # Strictly increasing column indices within each row (canonical CSR, no duplicates).
        step = np.diff(indices.astype(np.int64))
        row_start = np.zeros(nnz, dtype=bool)
        row_start[indptr[:-1][indptr[:-1] < nnz]] = True
        if np.any((step <= 0) & ~row_start[1:]):
            raise WorkloadError(f"{where}: L{i}.indices must be strictly increasing within each row", path)
    if not 1 <= codebook.shape[0] <= MAX_CODEBOOK:
        raise WorkloadError(f"{where}: L{i}.codebook must have 1..{MAX_CODEBOOK} entries", path)
    if nnz and (int(codes.min()) < 0 or int(codes.max()) >= codebook.shape[0]):
        raise WorkloadError(f"{where}: L{i}.codes must be < codebook size {codebook.shape[0]}", path)
    if not np.all(np.isfinite(codebook)):
        raise WorkloadError(f"{where}: L{i}.codebook holds NaN or Inf", path)
    if nnz and np.any(codebook[codes.astype(np.int64)] == 0.0):
        raise WorkloadError(
            f"{where}: stored entries must be real non-zeros, but some codes point to a zero codebook value "
            "(padding entries are derived by the simulator, not stored)", path)
    if bias.shape[0] != rows:
        raise WorkloadError(f"{where}: L{i}.bias has {bias.shape[0]} entries, expected out_channels = {rows}", path)
    if not np.all(np.isfinite(bias)):
        raise WorkloadError(f"{where}: L{i}.bias holds NaN or Inf", path)
    code_dtype = np.uint8 if codebook.shape[0] <= 256 else np.uint16
    return dict(indptr=indptr, indices=indices.astype(np.int32), codes=codes.astype(code_dtype),
                codebook=codebook, bias=bias)


def load_workload(path: str | Path) -> Workload:
    """Load and fully validate a workload .npz (never unpickles anything)."""
    if not isinstance(path, (str, Path)):
        raise WorkloadError(f"a workload path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    arrays = read_npz(path, WorkloadError)
    fmt = scalar_string(arrays, "format", path)
    if fmt != FORMAT_NAME:
        raise WorkloadError(f"'format' is {fmt!r}, expected {FORMAT_NAME!r}", path)
    if "version" not in arrays or arrays["version"].size != 1 or arrays["version"].dtype.kind not in "iu":
        raise WorkloadError("missing or non-integer member 'version'", path)
    version = int(arrays["version"].reshape(()))
    if version != FORMAT_VERSION:
        raise WorkloadError(f"format version {version} is not supported (this eiesim reads version {FORMAT_VERSION})", path)
    meta = parse_json(scalar_string(arrays, "meta", path), path, WorkloadError, "'meta'")
    if not isinstance(meta, dict):
        raise WorkloadError("'meta' must be a JSON object", path)
    for key in ("name", "source", "input", "layers"):
        if key not in meta:
            raise WorkloadError(f"'meta' is missing {key!r}", path)
    inp = meta["input"]
    if not isinstance(inp, dict) or "shape" not in inp:
        raise WorkloadError("'meta.input' must be an object with 'shape'", path)
    shape = inp["shape"]
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_DIM for s in shape)):
        raise WorkloadError(f"'meta.input.shape' must be [C, H, W] or [K] of positive integers, got {shape!r}", path)
    if inp.get("preprocess") is not None and not isinstance(inp["preprocess"], dict):
        raise WorkloadError("'meta.input.preprocess' must be an object or null", path)
    layer_metas = meta["layers"]
    if not isinstance(layer_metas, list) or not 1 <= len(layer_metas) <= MAX_LAYERS:
        raise WorkloadError(f"'meta.layers' must be a list of 1..{MAX_LAYERS} layers", path)
    layers = []
    names: set[str] = set()
    for i, lm in enumerate(layer_metas):
        info = parse_layer_meta(lm, i, path)
        if info["name"] in names:
            raise WorkloadError(f"layer {i}: duplicate name {info['name']!r}", path)
        names.add(info["name"])
        layers.append(Layer(**info, **_layer_arrays(arrays, i, info, path)))
    network_input = None
    if "input" in arrays:
        network_input = arrays["input"]
        if network_input.dtype.kind not in "fiu":
            raise WorkloadError(f"member 'input' must be numeric, got {network_input.dtype}", path)
        if tuple(network_input.shape) != tuple(shape):
            raise WorkloadError(f"member 'input' has shape {network_input.shape}, expected {tuple(shape)}", path)
        network_input = network_input.astype(np.float32)
        if not np.all(np.isfinite(network_input)):
            raise WorkloadError("member 'input' holds NaN or Inf", path)
    wl = Workload(
        name=str(meta["name"]), source=str(meta["source"]), input_shape=tuple(shape),
        preprocess=inp.get("preprocess"), layers=layers, input=network_input,
        extra={k: v for k, v in meta.items() if k not in ("name", "source", "input", "layers")},
    )
    wl._shapes = infer_shapes(wl, path)
    wl._path = path
    return wl


def save_workload(wl: Workload, path: str | Path) -> Path:
    """Write a workload atomically (compressed npz); returns the path written."""
    if not isinstance(wl, Workload):
        raise WorkloadError(f"save_workload needs a Workload, got {type(wl).__name__}")
    path = Path(path)
    members: dict[str, np.ndarray] = {
        "format": np.array(FORMAT_NAME),
        "version": np.array(FORMAT_VERSION, dtype=np.int64),
        "meta": np.array(json.dumps(wl.to_meta(), sort_keys=True)),
    }
    for i, layer in enumerate(wl.layers):
        idx_dtype = np.uint16 if layer.cols <= 1 << 16 else np.int32
        members[f"L{i}.indptr"] = np.asarray(layer.indptr, dtype=np.int64)
        members[f"L{i}.indices"] = np.asarray(layer.indices, dtype=idx_dtype)
        members[f"L{i}.codes"] = np.asarray(layer.codes, dtype=np.uint8 if len(layer.codebook) <= 256 else np.uint16)
        members[f"L{i}.codebook"] = np.asarray(layer.codebook, dtype=np.float32)
        members[f"L{i}.bias"] = np.asarray(layer.bias, dtype=np.float32)
    if wl.input is not None:
        members["input"] = np.asarray(wl.input, dtype=np.float32)
    with atomic_path(path, suffix=".npz") as tmp:
        savez_deterministic(tmp, members)
    return path


def savez_deterministic(path: Path, members: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-identical for identical content (fixed zip timestamps)."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(members):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(members[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def layer_from_dense(
    name: str, weights: np.ndarray, codes_dense: np.ndarray | None = None, codebook: np.ndarray | None = None,
    bias: np.ndarray | None = None, *, kind: str = "conv", stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0), inputs: tuple[str, ...] = (NETWORK_INPUT,), relu: bool = True,
    pool: Pool | None = None, extra: dict[str, Any] | None = None,
) -> Layer:
    """Build a Layer from a dense code tensor (0 = pruned) or from dense weights plus codebook.

    ``codes_dense`` has the weight tensor's shape (out, in, kh, kw) or (out, in); a
    stored entry is every position whose *weight* is non-zero. When only ``weights``
    are given, ``codebook`` must contain each distinct non-zero value.
    """
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 2:
        w = w[:, :, None, None]
    if w.ndim != 4:
        raise WorkloadError(f"layer {name!r}: weights must be (out, in) or (out, in, kh, kw), got shape {w.shape}")
    out_c, in_c, kh, kw = w.shape
    flat = w.reshape(out_c, -1)
    csr = sp.csr_matrix(flat)
    csr.sort_indices()
    if codes_dense is None:
        if codebook is None:
            raise WorkloadError(f"layer {name!r}: give codes_dense or codebook (the shared weights)")
        cb = np.asarray(codebook, dtype=np.float32)
        order = np.argsort(cb)
        pos = np.searchsorted(cb[order], csr.data)
        codes = order[np.clip(pos, 0, len(cb) - 1)]
    else:
        cflat = np.asarray(codes_dense).reshape(out_c, -1)
        rows = np.repeat(np.arange(out_c), np.diff(csr.indptr))
        codes = cflat[rows, csr.indices]
        cb = np.asarray(codebook, dtype=np.float32)
    return Layer(
        name=name, kind=kind, in_channels=in_c, out_channels=out_c, kernel=(kh, kw), stride=stride,
        padding=padding, inputs=tuple(inputs), relu=relu, pool=pool,
        indptr=csr.indptr.astype(np.int64), indices=csr.indices.astype(np.int32),
        codes=np.asarray(codes, dtype=np.uint8 if len(cb) <= 256 else np.uint16), codebook=cb,
        bias=np.zeros(out_c, np.float32) if bias is None else np.asarray(bias, dtype=np.float32),
        extra=dict(extra or {}),
    )
