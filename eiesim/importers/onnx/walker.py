"""Read an ONNX model into eiesim's dense (uncompressed) layer graph.

EIE runs a network as a chain of M x V matrix-vector products, so an ONNX graph
is accepted when it reduces to that: every Conv / Gemm / MatMul becomes one layer
(``kind`` "conv" or "fc"), and the element-wise operators around it fold into the
layer's fields the way Caffe orders them (conv -> bias -> ReLU -> pool):

* ``Add`` of a constant after Conv / Gemm / MatMul -> the layer's bias;
* ``Relu`` -> ``relu = True``; ``MaxPool`` / ``AveragePool`` / ``GlobalAveragePool``
  -> ``pool`` (a pool after a channel ``Concat`` is attached to every branch, which
  is exact because pooling works channel by channel);
* ``Concat`` on the channel axis -> a consumer's ``inputs`` list (concat order);
* ``Flatten`` (axis 1), ``Reshape`` to (1, -1), ``Dropout`` and ``Identity`` change
  nothing in the layer graph; a final ``Softmax`` is dropped with a note.

Weights come from initializers or from constant producers (``Constant``,
``ConstantOfShape`` and small constant subgraphs), evaluated by ONNX's reference
runtime at the model's opset (``eiesim.importers.onnx.fold``).
``BatchNormalization`` folds into the layer's weights and bias, ``Clip`` to [0, inf) is a ReLU,
and an identity pool (kernel 1, stride 1) is dropped. A node eiesim cannot represent is recorded
as refused and the walk goes on, so the one ModelFileError at the end names every blocking node;
every node's fate is recorded in ``coverage`` (``eiesim.importers.onnx.coverage``), which the
model keeps as ``extra["onnx_coverage"]``.

This module is the walker: it visits the nodes in order and hands each one to its
operator's handler, one small function per operator in ``eiesim.importers.onnx.ops``
(the table ``OPS``; adding an operator touches only that package). The file is read by
``eiesim.importers.onnx.reader`` (a size cap before parsing, external tensor data only
from inside the model's own directory).

The result is an ``eiesim.network.dense.DenseModel`` (the input of ``eiesim
compress``); ``eiesim.network.dense.to_workload`` turns a model whose weights are already
shared into a workload without changing any weight.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from eiesim.errors import EiesimError, ModelFileError, UsageError
from eiesim.importers.onnx.coverage import CoverageRow, blockers_error, node_label, where_handled
from eiesim.importers.onnx.fold import FOLDABLE, fold_node, node_error, tensor_to_array
from eiesim.importers.onnx.graph_state import ComputedTensor, PendingLayer
from eiesim.importers.onnx.ops import OPS
from eiesim.importers.onnx.ops.host import HOST_FALLBACK, HOST_SIDE
from eiesim.importers.onnx.optional import require_onnx
from eiesim.importers.onnx.reader import read_model
from eiesim.inputs.text import parse_json
from eiesim.network.dense import DenseModel
from eiesim.network.host_graph import HOST_OPS_KEY, TOKENS_KEY
from eiesim.network.workload import NETWORK_INPUT, infer_shapes

#: Metadata key under which eiesim's exporter stores the workload's input preprocessing.
PREPROCESS_KEY = "eiesim.preprocess"

_WEIGHT_SUFFIXES = (".weight", "/weight", "_weight", "_w_0", "_W", "_w", "_kernel")


class GraphWalker:
    """Walks an ONNX graph in node order, folding each node into the layers under construction.

    Constants (initializers, folded constant subgraphs) are kept as arrays; every other
    tensor is a ``ComputedTensor``. Each node is either folded as a constant
    (``eiesim.importers.onnx.fold``) or handed to its operator's handler
    (``eiesim.importers.onnx.ops.OPS``); :meth:`run` returns the finished dense model.
    The methods below are the handlers' vocabulary.
    """

    def __init__(self, model: Any, path: Path, input_shape: tuple[int, ...] | None,
                 progress: Callable[[int, int, str], None] | None = None) -> None:
        self.onnx = require_onnx()
        self.model = model
        self.graph = model.graph
        self.path = path
        self.consts: dict[str, np.ndarray] = {}
        self.acts: dict[str, ComputedTensor] = {}
        self.layers: dict[str, PendingLayer] = {}
        self.version: dict[str, int] = {NETWORK_INPUT: 0}
        self.uses: list[tuple[str, ComputedTensor]] = []  # (user, tensor it read) -- checked at the end
        self.notes: list[str] = []
        self.logits_tensor: str | None = None  # set when a final Softmax is dropped
        #: Sigmoid output -> its input (to recognise x * Sigmoid(x), SiLU; eiesim.importers.onnx.ops.activations).
        self.sigmoid_of: dict[str, str] = {}
        #: One row per node: where it runs and why (``eiesim.importers.onnx.coverage``).
        self.coverage: list[CoverageRow] = []
        #: Tensor name -> the refused node it (transitively) comes from; nodes reading it are not checked.
        self.refused_from: dict[str, str] = {}
        self.override_shape = input_shape
        #: Called after each node as ``progress(done, total, node name)`` (a command's progress bar).
        self.progress = progress
        #: The default-domain opset, at which constant subgraphs are evaluated (eiesim.importers.onnx.fold).
        self.opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        #: Tensor name -> its host view (ONNX shape, batch 1) for tensors that are not a CNN's (C, H, W) or (K,):
        #: token sequences, token ids and host op outputs (eiesim.importers.onnx.ops.host).
        self.host_view: dict[str, tuple[int, ...]] = {}
        #: The host ops, as stored in the model meta (eiesim.network.host_graph), in node order.
        self.host_ops: dict[str, dict[str, Any]] = {}
        #: Layers applied per token -> the leading dimensions of their output's host view.
        self.token_layers: dict[str, tuple[int, ...]] = {}
        #: Each layer's output shape (after its pool), as the host receives it.
        self.layer_shapes: dict[str, tuple[int, ...]] = {}
        self.input_name = ""

    # -- the handlers' vocabulary
    def fail(self, message: str, node: Any | None = None) -> ModelFileError:
        """The ModelFileError to raise: ``message`` about ``node`` (or the graph) of this file."""
        return node_error(message, node, self.path)

    def attrs(self, node: Any) -> dict[str, Any]:
        """The node's attributes as Python values (strings decoded); control-flow subgraphs are refused."""
        out = {}
        for attr in node.attribute:
            if attr.type == self.onnx.AttributeProto.GRAPH or attr.type == self.onnx.AttributeProto.GRAPHS:
                raise self.fail("control-flow subgraphs are not supported", node)
            value = self.onnx.helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            out[attr.name] = value
        return out

    def state(self, source: str) -> tuple[Any, ...]:
        """How often ``source`` (a layer) has been changed by a fold so far (the network input, a host op: never)."""
        if source == NETWORK_INPUT or source in self.host_ops:
            return (0,)
        return (self.version[source],)

    def make_act(self, sources: tuple[str, ...], shape: tuple[int, ...]) -> ComputedTensor:
        """A computed tensor of ``sources``' outputs as they are now."""
        if len(shape) == 3 and all(s in self.layers for s in sources):  # a layer's (pooled) output map
            for s in sources:
                self.layer_shapes[s] = (int(self.layers[s].weight.shape[0]), *shape[1:])
        return ComputedTensor(sources, shape, tuple(self.state(s) for s in sources))

    def bump(self, layer: PendingLayer) -> None:
        """Record that a fold changed ``layer`` (tensors read before it no longer match the layer's output)."""
        self.version[layer.name] += 1

    def act(self, name: str, node: Any) -> ComputedTensor:
        """The computed tensor ``name`` that ``node`` reads (an error for a constant or an unknown tensor)."""
        if name not in self.acts:
            if name in self.consts:
                raise self.fail(f"input {name!r} is a constant where a computed tensor was expected", node)
            raise self.fail(f"input {name!r} is not produced by an earlier node (graph not topologically sorted?)", node)
        a = self.acts[name]
        if a.input_pool is not None and getattr(node, "op_type", None) != "Conv":
            raise self.fail(f"{name!r} is pooled from a tensor that is also used unpooled (or already pooled); such a "
                            "pool is applied as a Conv loads its input, so only a Conv may read it", node)
        return a

    def const(self, name: str, node: Any, what: str) -> np.ndarray:
        """The constant ``name`` that ``node`` reads as its ``what`` (an error if it is computed)."""
        if name not in self.consts:
            raise self.fail(f"{what} ({name!r}) must be a constant (initializer or constant subgraph)", node)
        return self.consts[name]

    def single_layer(self, a: ComputedTensor, node: Any, what: str) -> PendingLayer:
        """The one layer a tensor comes from, still without ReLU / pool (for bias-like folding)."""
        if len(a.sources) != 1 or a.sources[0] == NETWORK_INPUT:
            raise self.fail(f"{what} must follow a single Conv/Gemm/MatMul output", node)
        layer = self.layers[a.sources[0]]
        if layer.relu or layer.pool is not None or layer.activation is not None:
            raise self.fail(f"{what} after ReLU, an activation or pooling cannot be folded into layer "
                            f"{layer.name!r}", node)
        return layer

    def layer_name(self, node: Any, weight_name: str) -> str:
        """A new layer's name: its weight's name without the usual suffix, else the node's; made unique."""
        base = ""
        if weight_name in {t.name for t in self.graph.initializer} or weight_name in self.consts:
            for suffix in _WEIGHT_SUFFIXES:
                if weight_name.endswith(suffix) and len(weight_name) > len(suffix):
                    base = weight_name[: -len(suffix)]
                    break
        base = base or node.name or node.output[0]
        base = re.sub(r"\s+", "_", base).strip("/") or "layer"
        name, k = base, 2
        while name in self.layers or name in self.host_ops or name == NETWORK_INPUT:
            name, k = f"{base}_{k}", k + 1
        return name

    # -- graph input
    def network_input(self) -> tuple[str, tuple[int, ...]]:
        """The graph's one non-initializer input: its name and its shape without the batch axis."""
        init_names = {t.name for t in self.graph.initializer}
        inputs = [i for i in self.graph.input if i.name not in init_names]
        if len(inputs) != 1:
            raise self.fail(f"the graph must have exactly one (non-initializer) input, found {[i.name for i in inputs]}")
        inp = inputs[0]
        tt = inp.type.tensor_type
        floats = (self.onnx.TensorProto.FLOAT, self.onnx.TensorProto.FLOAT16, self.onnx.TensorProto.DOUBLE)
        ints = (self.onnx.TensorProto.INT64, self.onnx.TensorProto.INT32)
        dims: list[int | None] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if tt.elem_type not in floats and not (tt.elem_type in ints and len(dims) == 2):
            raise self.fail(f"input {inp.name!r} must be a float tensor (or (N, T) integer token ids)")
        if self.override_shape is not None:
            shape = tuple(int(s) for s in self.override_shape)
            if len(dims) not in (len(shape), len(shape) + 1):
                raise UsageError(f"--input-shape {list(shape)} does not match the graph input's rank {len(dims)}", self.path)
            if len(dims) == 3:  # a sequence: T,D (batch first) or the three sizes, carried flat
                full = shape if len(shape) == 3 else (1, *shape)
                self.host_view[inp.name] = full
                return inp.name, (math.prod(full),)
            if tt.elem_type in ints:
                self.host_view[inp.name] = (1, *shape[-1:])
            return inp.name, shape
        if len(dims) == 3:  # a sequence for recurrent layers: (T, N, I) or (N, T, I), carried flat (T x I)
            flat = self.sequence_input(inp.name, dims)
            # Transformers read it as a token sequence: its host view (docs/onnx.md, "Transformers").
            self.host_view[inp.name] = tuple(int(d) for d in dims)  # type: ignore[arg-type]  # static, checked
            return inp.name, flat
        if len(dims) not in (2, 4):
            raise self.fail(f"input {inp.name!r} must be (N, C, H, W), (N, K) or a sequence (T, N, I), got rank "
                            f"{len(dims)}")
        if dims[0] not in (None, 1):
            raise self.fail(f"input {inp.name!r} has batch size {dims[0]}; EIE runs batch 1")
        rest = dims[1:]
        if any(d is None or d < 1 for d in rest):
            raise self.fail(f"input {inp.name!r} has symbolic dimensions {dims}; give the shape explicitly (--input-shape C,H,W)")
        if tt.elem_type in ints:  # token ids: read by an embedding Gather on the host
            self.host_view[inp.name] = (1, *(int(d) for d in rest if d is not None))
        return inp.name, tuple(int(d) for d in rest)  # type: ignore[arg-type]  # no None left

    def sequence_input(self, name: str, dims: list[int | None]) -> tuple[int, ...]:
        """A rank-3 input as a flat time-major sequence: (T, 1, I) or (1, T, I), batch 1, static sizes."""
        if any(d is None or d < 1 for d in dims) or 1 not in (dims[0], dims[1]):
            raise self.fail(f"sequence input {name!r} must be (T, 1, I) or (1, T, I) with static sizes, got {dims}")
        sizes = [int(d) for d in dims if d is not None]  # every one, after the check above
        return (sizes[0] * sizes[1] * sizes[2],)

    # -- main loop
    def run(self) -> DenseModel:
        """Walk every node, check that no tensor was read before a later fold, and return the dense model."""
        for tensor in self.graph.initializer:
            self.consts[tensor.name] = tensor_to_array(tensor, f"initializer {tensor.name!r}", self.path)
        input_name, input_shape = self.network_input()
        self.input_name = input_name
        self.consts.pop(input_name, None)
        self.acts[input_name] = self.make_act((NETWORK_INPUT,), input_shape)
        nodes = list(self.graph.node)
        self.consumers: dict[str, int] = {}
        for node in nodes:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        outputs = [o.name for o in self.graph.output]
        for name in outputs:
            self.consumers[name] = self.consumers.get(name, 0) + 1
        self.graph_outputs = set(outputs)
        for done, node in enumerate(nodes, 1):
            self.visit(node)
            if self.progress is not None:
                self.progress(done, len(nodes), node_label(node))
        if any(row.where == "refused" for row in self.coverage):
            raise blockers_error(self.coverage, self.path)
        if len(outputs) != 1:
            raise self.fail(f"the graph must have exactly one output, found {outputs}")
        out = outputs[0]
        if out in self.consts:
            raise self.fail(f"the graph output {out!r} is a constant")
        final = self.act(out, None)
        if len(final.sources) != 1 or final.sources[0] == NETWORK_INPUT or final.sources[0] in self.host_ops:
            raise self.fail(f"the graph output {out!r} must be the output of one Conv/Gemm/MatMul layer")
        self.uses.append(("the graph output", final))
        for user, a in self.uses:
            for src, snap in zip(a.sources, a.snapshot):
                if self.state(src) != snap:
                    raise self.fail(
                        f"{user} reads layer {src!r}'s output before a later Add/ReLU/pool that eiesim folds "
                        "into that layer; the un-activated tensor cannot also be used")
        layers = list(self.layers.values())
        last = final.sources[0]
        if self.host_ops:
            layers = self.live(layers, last)
        used = {s for layer in layers for s in layer.inputs} | {layer.residual for layer in layers} | {last}
        dead = [layer.name for layer in layers if layer.name not in used and not self.host_reads(layer.name)]
        if dead:
            self.notes.append(f"dropped layers whose output is never used: {dead}")
            layers = [layer for layer in layers if layer.name in used or self.host_reads(layer.name)]
        if layers[-1].name != last:
            raise self.fail(f"the output layer {last!r} must come last in the graph")
        extra: dict[str, Any] = {"onnx_input": input_name, "onnx_output": self.logits_tensor or out,
                                 "import_notes": list(self.notes), "onnx_coverage": [r.to_meta() for r in self.coverage]}
        if self.host_ops:
            extra[HOST_OPS_KEY] = list(self.host_ops.values())
        dense_layers = [layer.to_dense() for layer in layers]
        for dl in dense_layers:
            if dl.spec.name in self.token_layers:
                dl.extra[TOKENS_KEY] = list(self.token_layers[dl.spec.name])
        model = DenseModel(
            name=self.path.stem, source=f"onnx:{self.path.name}", input_shape=input_shape,
            preprocess=self.preprocess(), layers=dense_layers, extra=extra,
        )
        infer_shapes(model.skeleton(), self.path)
        return model

    def host_reads(self, name: str) -> bool:
        """True when a host op reads layer (or host op) ``name``."""
        return any(src == name for rec in self.host_ops.values() for src in rec["inputs"] if isinstance(src, str))

    def live(self, layers: list[PendingLayer], last: str) -> list[PendingLayer]:
        """The layers (and, kept in ``host_ops``, the host ops) the output depends on; the others are dropped."""
        reads = {layer.name: list(layer.inputs) for layer in layers}
        reads.update((name, [s for s in rec["inputs"] if isinstance(s, str)]) for name, rec in self.host_ops.items())
        alive, todo = set(), [last]
        while todo:
            name = todo.pop()
            if name not in alive and name in reads:
                alive.add(name)
                todo.extend(reads[name])
        dead_host = [name for name in self.host_ops if name not in alive]
        if dead_host:
            self.notes.append(f"dropped host ops whose output is never used: {dead_host}")
            self.host_ops = {n: rec for n, rec in self.host_ops.items() if n in alive}
        dead = [layer.name for layer in layers if layer.name not in alive]
        if dead:
            self.notes.append(f"dropped layers whose output is never used: {dead}")
        return [layer for layer in layers if layer.name in alive]

    def preprocess(self) -> dict[str, Any] | None:
        """The preprocess dict eiesim's exporter stores in the model metadata, if any."""
        props = {p.key: p.value for p in self.model.metadata_props}
        if PREPROCESS_KEY not in props:
            return None
        value = parse_json(props[PREPROCESS_KEY], self.path, ModelFileError, f"metadata {PREPROCESS_KEY!r}")
        if not isinstance(value, dict):
            raise self.fail(f"metadata {PREPROCESS_KEY!r} must be a JSON object")
        return value

    def visit(self, node: Any) -> None:
        """One node, recorded in ``coverage``; a refused node does not stop the walk (every blocker is listed)."""
        label = node_label(node)
        blocked_by = next((self.refused_from[n] for n in node.input if n in self.refused_from), None)
        if blocked_by is not None:
            if (node.op_type not in OPS and node.op_type not in FOLDABLE and node.op_type not in HOST_SIDE
                    or node.domain not in ("", "ai.onnx")):
                self.refuse(node, "operator not supported by eiesim")
            else:
                self.refuse(node, f"not checked: reads the output of refused node {blocked_by!r}", blocker=False,
                            origin=blocked_by)
            return
        try:
            if node.domain not in ("", "ai.onnx"):
                raise self.fail(f"operator domain {node.domain!r} is not supported", node)
            before = len(self.coverage)
            self.step(node)
        except ModelFileError as exc:
            self.refuse(node, exc.message)
            return
        if len(self.coverage) == before:  # the handler did not record a row itself
            self.coverage.append(where_handled(node, OPS.get(node.op_type), folded_constant=node.op_type in FOLDABLE
                                               and all(n in self.consts for n in node.input if n)))

    def record(self, node: Any, where: str, why: str) -> None:
        """A handler's own coverage row for ``node`` (instead of the default of its operator's kind)."""
        self.coverage.append(CoverageRow(node_label(node), node.op_type, where, why))

    def refuse(self, node: Any, why: str, *, blocker: bool = True, origin: str | None = None) -> None:
        """Record ``node`` as refused (a blocker, or only not checked) and mark its outputs as unusable."""
        prefix = f"node {node_label(node)!r} ({node.op_type}): "
        why = why[len(prefix):] if why.startswith(prefix) else why
        self.coverage.append(CoverageRow(node_label(node), node.op_type, "refused" if blocker else "not checked", why))
        for out in node.output:
            if out:
                self.refused_from[out] = origin or node_label(node)

    def step(self, node: Any) -> None:
        """One node: folded when all its inputs are constants and it can be, else its operator's handler."""
        ins = [n for n in node.input]
        present = [n for n in ins if n]
        if node.op_type in FOLDABLE and all(n in self.consts for n in present):
            self.fold(node)
            return
        handler = OPS.get(node.op_type)
        host_handler = HOST_SIDE.get(node.op_type)
        reads_host = any(n in self.host_view for n in present)
        if host_handler is not None and (reads_host or handler is None):
            # A token sequence or a host op's output, or an operator only the host has (docs/onnx.md, "Host ops").
            self.call(host_handler, node)
            return
        if handler is None:
            if node.op_type in FOLDABLE:
                raise self.fail("only supported on constants (weights), not on computed tensors", node)
            raise self.fail("operator not supported by eiesim", node)
        try:
            self.call(handler, node)
        except ModelFileError as eie_refusal:
            if node.op_type not in HOST_FALLBACK or host_handler is None:
                raise
            # What the EIE mapping cannot take (e.g. an Add of two tensors that are not both layer outputs)
            # runs on the host; when the host cannot take it either, the EIE mapping's reason is the one to read.
            try:
                self.call(host_handler, node)
            except ModelFileError:
                raise eie_refusal from None
            return
        first = present[0] if present else None
        if first in self.host_view and first in self.acts:  # an element-wise op folded into a token layer
            for out in node.output:
                if (out in self.acts and out not in self.host_view and self.acts[out].shape == self.acts[first].shape
                        and self.acts[out].sources == self.acts[first].sources):
                    self.host_view[out] = self.host_view[first]

    def call(self, handler: Callable[[GraphWalker, Any], None], node: Any) -> None:
        """Run one handler; malformed nodes become the walker's ModelFileError."""
        try:
            handler(self, node)
        except EiesimError:
            raise
        except (IndexError, KeyError, ValueError, TypeError, AttributeError) as exc:
            # Missing inputs/attributes or impossible shapes in a malformed graph.
            raise self.fail(f"malformed node ({type(exc).__name__}: {exc})", node) from None

    def on_host(self, node: Any) -> None:
        """Hand ``node`` to its operator's host-side handler: for an EIE mapping that needs the host first (Gemm
        with transA = 1 reads A^T, which the host makes). Through the walker, so the EIE operator modules never
        import the host module, which imports them."""
        self.call(HOST_SIDE[node.op_type], node)

    def put(self, node: Any, a: ComputedTensor) -> None:
        """Record ``a`` as the node's (first) output."""
        self.acts[node.output[0]] = a

    # -- constant folding (eiesim.importers.onnx.fold)
    def fold(self, node: Any) -> None:
        """Evaluate a node whose inputs are all constants; its outputs become constants."""
        self.consts.update(fold_node(node, self.consts, self.attrs(node), self.path, self.opset))

    # -- layers
    def weights(self, name: str, node: Any, what: str) -> np.ndarray:
        """The constant ``name`` as finite float32 weights (``what`` names it in errors)."""
        w = self.const(name, node, what)
        if w.dtype.kind != "f":
            raise self.fail(f"{what} must hold floats, got {w.dtype}", node)
        w = w.astype(np.float32, copy=False)
        if not np.all(np.isfinite(w)):
            raise self.fail(f"{what} holds NaN or Inf", node)
        return w

    def add_layer(self, node: Any, layer: PendingLayer, a: ComputedTensor, out_shape: tuple[int, ...]) -> None:
        """Start ``layer``, which reads ``a``; the node's output is the layer's, of ``out_shape``."""
        self.layers[layer.name] = layer
        self.version[layer.name] = 0
        self.record(node, "EIE layer", f"{layer.kind} layer {layer.name!r}")
        self.uses.append((f"layer {layer.name!r}", a))
        self.put(node, self.make_act((layer.name,), out_shape))

    def bias_vector(self, c: np.ndarray, n: int, node: Any) -> np.ndarray:
        """A constant that broadcasts to one value per output (a scalar, (n,), (1, n), ...)."""
        if c.size == 1 or (c.size == n and c.shape[-1] == n):
            return np.broadcast_to(c.reshape(-1), (n,)).astype(np.float32)
        raise self.fail(f"bias of shape {c.shape} does not broadcast to {n} outputs", node)


def import_onnx(path: str | Path, *, input_shape: tuple[int, ...] | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> DenseModel:
    """Read an ONNX file into a dense eiesim model (float32 weights, Caffe-ordered ReLU / pool).

    ``input_shape`` (without batch, e.g. (3, 224, 224)) overrides the graph input's
    shape, for models exported with symbolic dimensions. Raises ModelFileError for
    unreadable files and for any operator or pattern eiesim cannot represent. What
    was dropped or rewritten is listed in ``model.extra["import_notes"]``; the ONNX
    input's name is ``model.extra["onnx_input"]``. ``progress(done, total, node)`` is
    called after each node.
    """
    path = Path(path)
    model = read_model(path)
    return check_nonempty(GraphWalker(model, path, input_shape, progress).run(), path)


def check_nonempty(dense: DenseModel, path: Path) -> DenseModel:
    """``dense``, or a ModelFileError for a zero-size layer (it computes nothing and divides by zero downstream)."""
    for dl in dense.layers:
        if dl.weight.size == 0:
            raise ModelFileError(f"layer {dl.spec.name!r}: its weight has shape {tuple(dl.weight.shape)}, no "
                                 "elements; a layer needs at least one output and one input", path)
    return dense


def import_onnx_report(path: str | Path, *, input_shape: tuple[int, ...] | None = None,
                       progress: Callable[[int, int, str], None] | None = None
                       ) -> tuple[DenseModel | None, list[CoverageRow], ModelFileError | None]:
    """Like :func:`import_onnx`, but a refused model still gives its coverage report.

    Returns (the model or None, one row per node visited, the error or None). Errors that
    come before any node is visited (unreadable file, missing extra, bad input) are raised.
    """
    path = Path(path)
    walker = GraphWalker(read_model(path), path, input_shape, progress)
    try:
        return check_nonempty(walker.run(), path), walker.coverage, None
    except ModelFileError as exc:
        if not walker.coverage:
            raise
        return None, walker.coverage, exc
