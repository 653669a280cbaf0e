"""Workload format v1: compressed networks as CSR layers with codebook indices.

A workload is one ``.npz`` archive (documented in docs/workload-format.md):

* ``format`` = "eiesim-workload", ``version`` = 1, ``meta`` = one JSON string
  describing the network (name, source, input, layers in topological order);
* per layer ``i``: ``L{i}.indptr``, ``L{i}.indices``, ``L{i}.codes``,
  ``L{i}.codebook``, ``L{i}.bias`` -- the layer's M x V matrix (rows = output
  channels, columns = flattened (in_channels, kh, kw)) in CSR form, each stored
  entry a real non-zero given as an index into the layer's codebook;
* optionally ``input``, the network's first-layer input.

This module describes workloads in memory (layers, pools, shape inference over the
layer graph with plain dicts, the network graph as a networkx graph on request);
``eiesim.network.workload_file`` loads them (validating everything) and saves them
(deterministically, atomically).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eiesim.errors import WorkloadError
from eiesim.network.host_graph import TOKENS_KEY, host_eie_shapes, host_graph

if TYPE_CHECKING:  # imported where used: loading or simulating a workload needs neither
    import networkx as nx
    import scipy.sparse as sp

#: Name used in ``inputs`` for the network's own input.
NETWORK_INPUT = "input"
#: Layer kinds that are recurrent (``eiesim.network.recurrent``): one M x V round per time step.
RECURRENT_KINDS = ("lstm", "gru")
#: Bounds on declared sizes (checked before anything is allocated).
MAX_DIM = 1 << 24
MAX_LAYERS = 10_000
MAX_CODEBOOK = 1 << 16
#: Optional layer key: the earlier layer whose output is added on this layer's write-back path, before
#: its ReLU and pool (a residual connection; docs/workload-format.md). Absent: no residual.
RESIDUAL_KEY = "residual"
#: Optional layer key: an activation other than ReLU applied on the write-back path, ``{"kind": name, params...}``
#: (``eiesim.network.activations``; docs/workload-format.md). Absent: the layer's ``relu`` flag alone.
ACTIVATION_KEY = "activation"
#: Optional layer key of a conv layer: a pool applied to its input as the load phase gathers it (a pooled
#: tensor that is also read unpooled, e.g. GoogLeNet's inception branch 4; docs/workload-format.md).
INPUT_POOL_KEY = "input_pool"
#: Optional layer key of a conv layer: asymmetric zero padding ``[top, left, bottom, right]`` (ONNX ``pads`` with
#: begin != end, or ``auto_pad`` SAME_*). Written only when asymmetric; then ``padding`` is ``[top, left]`` and
#: this key decides. Absent: ``padding`` pads both sides (docs/workload-format.md).
PADS_KEY = "pads"
#: Optional layer key of a conv layer: the kernel dilation ``[dh, dw]`` (tap ``(dy, dx)`` reads input offset
#: ``(dy * dh, dx * dw)``). Written only when not ``[1, 1]``; absent: no dilation.
DILATION_KEY = "dilation"


@dataclass(frozen=True)
class Pool:
    """Pooling applied to a layer's output after its ReLU (Caffe order: conv, relu, pool)."""

    kind: str  # "max" | "avg" | "global_avg"
    kernel: int = 0
    stride: int = 1
    ceil_mode: bool = True
    #: Zero-area border on every side (0 <= pad <= kernel // 2): a max ignores it; an average
    #: divides by the values inside the map, or with ``count_include_pad`` by the window
    #: clipped to the padded map (ONNX's and PyTorch's rule).
    pad: int = 0
    count_include_pad: bool = False

    def to_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"kind": self.kind, "kernel": self.kernel, "stride": self.stride,
                                "ceil_mode": self.ceil_mode}
        if self.pad:  # unpadded pools keep the format's original keys (files byte-identical)
            meta["pad"] = self.pad
        if self.count_include_pad:
            meta["count_include_pad"] = True
        return meta

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """Spatial output size of this pool on an h x w map (Caffe's rule in ceil mode)."""
        if self.kind == "global_avg":
            return 1, 1
        return (_pool_out(h, self.kernel, self.stride, self.ceil_mode, self.pad),
                _pool_out(w, self.kernel, self.stride, self.ceil_mode, self.pad))


def _pool_out(n: int, k: int, s: int, ceil_mode: bool, pad: int = 0) -> int:
    if ceil_mode:
        out = -(-(n + 2 * pad - k) // s) + 1
        # Caffe (and ONNX, PyTorch): the last window must start inside the input or its left padding.
        if (out - 1) * s >= n + pad:
            out -= 1
        return max(out, 1)
    return (n + 2 * pad - k) // s + 1


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
    def residual(self) -> str | None:
        """The earlier layer whose output this layer adds before its ReLU (``RESIDUAL_KEY``), or None."""
        value = self.extra.get(RESIDUAL_KEY)
        return value if isinstance(value, str) else None

    @property
    def input_pool(self) -> Pool | None:
        """The pool applied to this layer's gathered input before its M x V (``INPUT_POOL_KEY``), or None."""
        value = self.extra.get(INPUT_POOL_KEY)
        if not isinstance(value, dict) or value.get("kind") not in ("max", "avg"):
            return None
        return Pool(value["kind"], int(value["kernel"]), int(value["stride"]), bool(value.get("ceil_mode", True)),
                    int(value.get("pad", 0)), bool(value.get("count_include_pad", False)))

    @property
    def conv_padding(self) -> tuple[int, int] | tuple[int, int, int, int]:
        """The zero padding a conv reads: ``padding`` (both sides), or ``(top, left, bottom, right)`` (``PADS_KEY``)."""
        value = self.extra.get(PADS_KEY)
        if isinstance(value, (list, tuple)) and len(value) == 4:
            top, left, bottom, right = (int(v) for v in value)
            return top, left, bottom, right
        return self.padding

    @property
    def dilation(self) -> tuple[int, int]:
        """The kernel dilation (dh, dw) (``DILATION_KEY``); (1, 1) when absent."""
        value = self.extra.get(DILATION_KEY)
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return int(value[0]), int(value[1])
        return 1, 1

    @property
    def activation(self) -> str | None:
        """The write-back activation's name (``ACTIVATION_KEY``), or None (then ``relu`` decides)."""
        value = self.extra.get(ACTIVATION_KEY)
        return value.get("kind") if isinstance(value, dict) else None

    @property
    def activation_params(self) -> dict[str, Any]:
        """The write-back activation's parameters (the ``ACTIVATION_KEY`` object without ``kind``)."""
        value = self.extra.get(ACTIVATION_KEY)
        return {k: v for k, v in value.items() if k != "kind"} if isinstance(value, dict) else {}

    @property
    def density(self) -> float:
        return self.nnz / (self.rows * self.cols) if self.rows * self.cols else 0.0

    @property
    def codebook_bits(self) -> int:
        """Bits needed to index this layer's codebook."""
        return max(1, math.ceil(math.log2(max(len(self.codebook), 2))))

    def weights_csr(self) -> sp.csr_matrix:
        """The decoded (shared-weight) M x V matrix, float32, with arrays of its own: scipy's in-place
        methods (``eliminate_zeros``, ``sort_indices``, ...) change the matrix, never the layer (whose
        arrays are read-only when it was loaded from a file)."""
        data = np.asarray(self.codebook, dtype=np.float32)[self.codes]
        import scipy.sparse as sp

        return sp.csr_matrix((data, np.array(self.indices), np.array(self.indptr)), shape=(self.rows, self.cols))

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

    def gathered_shape_of(self, layer: Layer) -> tuple[int, ...]:
        """Shape of a layer's inputs concatenated along channels, as they are stored (before an input pool)."""
        shapes = self.output_shapes()
        host = host_eie_shapes(self.extra) if any(s not in shapes and s != NETWORK_INPUT for s in layer.inputs) else {}
        return concat_shape([self.input_shape if s == NETWORK_INPUT else shapes[s] if s in shapes else host[s]
                             for s in layer.inputs])

    def input_shape_of(self, layer: Layer) -> tuple[int, ...]:
        """Shape of the tensor a layer's M x V consumes: its inputs concatenated along channels, input-pooled."""
        return input_pooled_shape(layer, self.gathered_shape_of(layer))

    def consumers(self) -> dict[str, list[str]]:
        """Every tensor's consumers, once per input position that reads it (graph successors, in layer order).

        Keys: the network input, every layer and every other name a layer reads, in order of first mention.
        """
        found: dict[str, list[str]] = {NETWORK_INPUT: []}
        for layer in self.layers:
            found.setdefault(layer.name, [])
            for src in layer.inputs:
                found.setdefault(src, []).append(layer.name)
        return found

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

def pads_tlbr(padding: Sequence[int]) -> tuple[int, int, int, int]:
    """Zero padding as (top, left, bottom, right): a (pad_h, pad_w) pair pads both sides."""
    if len(padding) == 2:
        ph, pw = (int(v) for v in padding)
        return ph, pw, ph, pw
    top, left, bottom, right = (int(v) for v in padding)
    return top, left, bottom, right


def conv_output_hw(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: Sequence[int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    """Spatial output of a convolution before pooling: ``(n + pad_begin + pad_end - span) // stride + 1`` per axis.

    ``span = dilation * (k - 1) + 1`` is the kernel's extent on the input. ``padding`` is
    (pad_h, pad_w) for both sides or (top, left, bottom, right). The one place this formula
    is written (Caffe's and ONNX's rule); shape inference, the im2col patches, the timing
    geometry and the model importers all use it.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, left, bottom, right = pads_tlbr(padding)
    return (h + top + bottom - dh * (kh - 1) - 1) // sh + 1, (w + left + right - dw * (kw - 1) - 1) // sw + 1


def layer_output_hw(layer: Layer, h: int, w: int) -> tuple[int, int]:
    """A conv layer's spatial output on an h x w input, with its padding and dilation."""
    return conv_output_hw(h, w, layer.kernel, layer.stride, layer.conv_padding, layer.dilation)


def network_graph(layers: Sequence[Layer]) -> nx.MultiDiGraph:
    """The network as a networkx multigraph: a node per layer (attributes ``index``, ``layer``) and the input.

    Each entry of a layer's ``inputs`` is one edge producer -> layer whose key is its
    position, the concatenation order (a tensor read twice gives two edges). A name
    that is neither a layer nor the network input becomes a node without attributes.
    A graph for the user to analyse or export (networkx, imported here); shape inference and
    the simulation walk the layer list itself.
    """
    import networkx as nx

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

    The stored order must itself be topological (every input is the network input, a host
    op or an earlier layer: the layer loops run in it). The layers before the first one that
    breaks that rule are propagated in stored order (a topological order of theirs), so the
    first problem in stored order is the one reported. Layer names are unique (the loaders
    and ``checked_workload`` refuse duplicates before calling this).
    """
    index = {layer.name: i for i, layer in enumerate(wl.layers)}
    index[NETWORK_INPUT] = -1
    host = _checked_host(wl, source)
    bad = next(((i, src) for i, layer in enumerate(wl.layers) for src in layer.inputs
                if src not in host and index.get(src, i) >= i), None)
    shapes: dict[str, tuple[int, ...]] = {NETWORK_INPUT: tuple(wl.input_shape), **host}
    for layer in wl.layers[:bad[0] if bad else len(wl.layers)]:
        shapes[layer.name] = _output_shape(layer, [shapes[src] for src in layer.inputs], source)
    if bad is not None:
        raise WorkloadError(f"layer {wl.layers[bad[0]].name!r}: input {bad[1]!r} is not the network input or an "
                            "earlier layer", source)
    _check_residuals(wl.layers, shapes, source)
    del shapes[NETWORK_INPUT]
    for name in host:
        del shapes[name]
    return shapes


def _checked_host(wl: Workload, source: str | Path | None) -> dict[str, tuple[int, ...]]:
    """The EIE-view shapes of the workload's host ops (docs/workload-format.md, "Host ops"), after checking
    the host graph's records and that layers and host ops together form no cycle (empty without host ops)."""
    for layer in wl.layers:
        tokens = layer.extra.get(TOKENS_KEY)
        if tokens is not None and (
                not isinstance(tokens, list) or not tokens
                or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in tokens)
                or layer.kind != "conv" or layer.kernel != (1, 1) or math.prod(tokens) > MAX_DIM):
            raise WorkloadError(f"layer {layer.name!r}: {TOKENS_KEY!r} must be a list of positive integers (the "
                                "leading dimensions of a 1 x 1 conv's token sequence)", source)
    graph = host_graph(wl.extra, [layer.name for layer in wl.layers], source)
    if graph is None:
        return {}
    reads: dict[str, list[str]] = {}  # every layer and host op -> the tensors it reads
    for layer in wl.layers:
        reads.setdefault(layer.name, []).extend(layer.inputs)
    for op in graph.ops.values():
        reads.setdefault(op.name, []).extend(op.sources)
    if _has_cycle(reads):
        raise WorkloadError("the layers and host ops form a cycle", source)
    index = {layer.name: i for i, layer in enumerate(wl.layers)}
    for i, layer in enumerate(wl.layers):  # the layer loops run in stored order
        later = [a for a in _ancestors(reads, layer.name) if index.get(a, -1) >= i]
        if later:
            raise WorkloadError(f"layer {layer.name!r} reads (through host ops) the output of the later layer "
                                f"{min(later, key=index.__getitem__)!r}", source)
    return host_eie_shapes(wl.extra)


def _has_cycle(reads: dict[str, list[str]]) -> bool:
    """Whether the graph with an edge src -> name for every ``src in reads[name]`` has a directed cycle
    (Kahn's algorithm: a graph is acyclic exactly when repeatedly removing nodes without inputs removes all)."""
    nodes = set(reads).union(*reads.values())
    readers: dict[str, list[str]] = {}
    pending = dict.fromkeys(nodes, 0)  # each node's inputs not yet removed (one per edge)
    for name, srcs in reads.items():
        for src in srcs:
            readers.setdefault(src, []).append(name)
            pending[name] += 1
    ready = [n for n, count in pending.items() if count == 0]
    removed = 0
    while ready:
        node = ready.pop()
        removed += 1
        for reader in readers.get(node, ()):
            pending[reader] -= 1
            if pending[reader] == 0:
                ready.append(reader)
    return removed < len(nodes)


def _ancestors(reads: dict[str, list[str]], name: str) -> set[str]:
    """Every tensor ``name`` depends on, directly or through other layers and host ops."""
    seen: set[str] = set()
    stack = list(reads.get(name, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(reads.get(node, ()))
    return seen
def input_pooled_shape(layer: Layer, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` (C, H, W) after the layer's input pool, if it has one."""
    pool = layer.input_pool
    if pool is None or len(shape) != 3:
        return tuple(shape)
    return (shape[0], *pool.output_hw(shape[1], shape[2]))


def pre_pool_shape(layer: Layer, in_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``layer``'s output before its pool (what its write-back path produces): (M, OH, OW) or (M,)."""
    if layer.kind == "fc":
        return (layer.out_channels,)
    return (layer.out_channels, *layer_output_hw(layer, in_shape[1], in_shape[2]))


def _check_residuals(layers: Sequence[Layer], shapes: dict[str, tuple[int, ...]], source: str | Path | None) -> None:
    """Each ``residual`` names an earlier layer whose output has this layer's shape before pooling."""
    index = {layer.name: i for i, layer in enumerate(layers)}
    for i, layer in enumerate(layers):
        if RESIDUAL_KEY not in layer.extra:
            continue
        skip = layer.extra[RESIDUAL_KEY]
        where = f"layer {layer.name!r}"
        if not isinstance(skip, str) or skip == NETWORK_INPUT:
            raise WorkloadError(f"{where}: 'residual' must name an earlier layer (the network input cannot be added "
                                f"on the write-back path: it is not in the PEs' activation SRAM), got {skip!r}", source)
        if index.get(skip, i) >= i:
            raise WorkloadError(f"{where}: residual {skip!r} is not an earlier layer", source)
        gathered = concat_shape([shapes[s] for s in layer.inputs])
        want = pre_pool_shape(layer, input_pooled_shape(layer, gathered))
        if tuple(shapes[skip]) != want:
            raise WorkloadError(f"{where}: residual {skip!r} has shape {list(shapes[skip])} but the layer's output "
                                f"before pooling has shape {list(want)}", source)


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
        if layer.input_pool is not None:
            k, span = layer.input_pool.kernel, 2 * layer.input_pool.pad
            if k > h + span or k > w + span:
                raise WorkloadError(f"{where}: input pool kernel {k} larger than the {h}x{w} input", source)
            h, w = layer.input_pool.output_hw(h, w)
        if c != layer.in_channels:
            raise WorkloadError(f"{where}: inputs give {c} channels but in_channels is {layer.in_channels}", source)
        oh, ow = layer_output_hw(layer, h, w)
        if oh < 1 or ow < 1:
            raise WorkloadError(f"{where}: kernel {list(layer.kernel)} does not fit a {h}x{w} input", source)
        if layer.pool is not None:
            span = 2 * layer.pool.pad
            if layer.pool.kind != "global_avg" and (layer.pool.kernel > oh + span or layer.pool.kernel > ow + span):
                raise WorkloadError(f"{where}: pool kernel {layer.pool.kernel} larger than the {oh}x{ow} map", source)
            oh, ow = layer.pool.output_hw(oh, ow)
        return (layer.out_channels, oh, ow)
    flat = sum(int(np.prod(p)) for p in parts)
    if layer.kind in RECURRENT_KINDS:
        return (_recurrent_steps(layer, flat, source) * layer.extra["hidden"],)
    if flat != layer.in_channels:
        raise WorkloadError(f"{where}: inputs flatten to {flat} values but in_channels is {layer.in_channels}", source)
    if layer.pool is not None:
        raise WorkloadError(f"{where}: an fc layer cannot have a pool", source)
    return (layer.out_channels,)


def _recurrent_steps(layer: Layer, flat: int, source: str | Path | None) -> int:
    """T of a recurrent layer reading ``flat`` values (T x I, I = V - H); WorkloadError if they are not whole steps."""
    where = f"layer {layer.name!r}"
    hidden = layer.extra.get("hidden")
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise WorkloadError(f"{where}: a {layer.kind} layer needs a positive integer 'hidden', got {hidden!r}", source)
    step_inputs = layer.in_channels - hidden
    if layer.out_channels != 4 * hidden or step_inputs < 1 or layer.kernel != (1, 1):
        raise WorkloadError(f"{where}: a {layer.kind} layer with {hidden} hidden units needs out_channels "
                            f"{4 * hidden}, in_channels = inputs + {hidden} (inputs >= 1) and a 1 x 1 kernel", source)
    if layer.relu or layer.pool is not None:
        raise WorkloadError(f"{where}: a recurrent layer has no ReLU and no pool", source)
    if flat < step_inputs or flat % step_inputs:
        raise WorkloadError(f"{where}: inputs flatten to {flat} values, not a sequence of {step_inputs}-value steps",
                            source)
    return flat // step_inputs


def recurrent_step_view(layer: Layer) -> Layer:
    """The recurrent layer as the PEs see its rounds: a 1 x 1 conv over the step vectors.

    Step t's vector [x_t; h_{t-1}] is "pixel" t of a (V, T, 1) map, so the engines run one
    round per time step with the layer's matrix, bias column and encoding unchanged.
    """
    return Layer(name=layer.name, kind="conv", in_channels=layer.in_channels, out_channels=layer.out_channels,
                 kernel=(1, 1), stride=(1, 1), padding=(0, 0), inputs=layer.inputs, relu=False, pool=None,
                 indptr=layer.indptr, indices=layer.indices, codes=layer.codes, codebook=layer.codebook,
                 bias=layer.bias, extra=dict(layer.extra))


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
    import scipy.sparse as sp

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
