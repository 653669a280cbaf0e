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
Anything else raises ModelFileError naming the operator and the node.

The model is read defensively: a size cap before parsing, and external tensor
data only from files inside the model's own directory, within their size.

The result is an ``eiesim.network.dense.DenseModel`` (the input of ``eiesim
compress``); :func:`to_workload` turns a model whose weights are already shared
into a workload without changing any weight.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp

from eiesim.errors import EiesimError, ModelFileError, UsageError
from eiesim.importers.onnx.fold import FOLDABLE, MAX_CONST_ELEMENTS, fold_node, node_error, shape_of, tensor_to_array
from eiesim.inputs.memory import check_memory
from eiesim.network.dense import DenseLayer, DenseModel
from eiesim.network.topologies import LayerSpec
from eiesim.network.workload import MAX_CODEBOOK, NETWORK_INPUT, Layer, Pool, Workload, conv_output_hw, infer_shapes

#: Install hint shared by every command that needs the optional extra.
INSTALL_HINT = "install the onnx extra: pip install 'eiesim[onnx]'"
#: Largest .onnx file read (protobuf itself cannot parse more than 2 GiB).
MAX_MODEL_BYTES = 2 * 1024**3 - 1

#: Metadata key under which eiesim's exporter stores the workload's input preprocessing.
PREPROCESS_KEY = "eiesim.preprocess"

_WEIGHT_SUFFIXES = (".weight", "/weight", "_weight", "_w_0", "_W", "_w", "_kernel")


# -- optional dependency ------------------------------------------------------

def require_onnx() -> ModuleType:
    """Return the ``onnx`` module, or raise EiesimError naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise EiesimError(f"this needs the 'onnx' package; {INSTALL_HINT}") from None
    return onnx


def require_onnxruntime() -> ModuleType:
    """Return the ``onnxruntime`` module, or raise EiesimError naming the extra to install."""
    try:
        import onnxruntime
    except ImportError:
        raise EiesimError(f"this needs the 'onnxruntime' package; {INSTALL_HINT}") from None
    return onnxruntime


def onnxruntime_available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# -- layers under construction ---------------------------------------------------

@dataclass
class _PendingLayer:
    """A layer being built: ReLU, pool and bias are folded in as later nodes are read."""

    name: str
    kind: str  # "conv" | "fc"
    weight: np.ndarray  # (out, in, kh, kw) float32
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    inputs: tuple[str, ...] = (NETWORK_INPUT,)
    relu: bool = False
    pool: Pool | None = None

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    def to_dense(self) -> DenseLayer:
        spec = LayerSpec(self.name, self.kind, int(self.weight.shape[1]), int(self.weight.shape[0]), self.kernel,
                         self.stride, self.padding, self.inputs, self.relu, self.pool)
        return DenseLayer(spec, np.ascontiguousarray(self.weight, dtype=np.float32), self.bias.astype(np.float32))


# -- reading the file -----------------------------------------------------------

def read_model(path: str | Path) -> Any:
    """Parse an .onnx file (size-checked) and load its external data safely; returns a ModelProto."""
    onnx = require_onnx()
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("no such file", path)
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{size} bytes is above the {MAX_MODEL_BYTES}-byte protobuf limit", path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, RuntimeError, ... depending on the version
        raise ModelFileError(f"not a readable ONNX model ({type(exc).__name__}: {exc})", path) from None
    if not model.HasField("graph") or not model.graph.node:
        raise ModelFileError("the ONNX model has no graph nodes", path)
    for tensor in _all_tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            _load_external(tensor, path)
    return model


def _all_tensors(graph: Any) -> list[Any]:
    tensors = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                tensors.append(attr.t)
            tensors.extend(attr.tensors)
    return tensors


def _load_external(tensor: Any, model_path: Path) -> None:
    """Read one tensor's external data, refusing files outside the model's directory."""
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    base = model_path.resolve().parent
    where = f"tensor {tensor.name!r}: external data {location!r}"
    if not location or Path(location).is_absolute():
        raise ModelFileError(f"{where} must be a path relative to the model's directory", model_path)
    target = (base / location).resolve()
    if not target.is_relative_to(base):
        raise ModelFileError(f"{where} lies outside the model's directory; refusing to read it", model_path)
    if not target.is_file():
        raise ModelFileError(f"{where} does not exist", model_path)
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else target.stat().st_size - offset
    except ValueError:
        raise ModelFileError(f"{where} has a non-integer offset or length", model_path) from None
    file_size = target.stat().st_size
    if offset < 0 or length < 0 or offset + length > file_size:
        raise ModelFileError(f"{where}: bytes [{offset}, {offset + length}) exceed the file's {file_size} bytes", model_path)
    if length > MAX_CONST_ELEMENTS * 8:
        raise ModelFileError(f"{where}: {length} bytes is too large", model_path)
    with open(target, "rb") as fh:
        fh.seek(offset)
        tensor.raw_data = fh.read(length)
    tensor.data_location = 0  # TensorProto.DEFAULT
    del tensor.external_data[:]


# -- the converter ----------------------------------------------------------------

@dataclass
class _Act:
    """A non-constant tensor: the channel concatenation of some layers' (or the input's) outputs."""

    sources: tuple[str, ...]
    shape: tuple[int, ...]  # without the batch axis: (C, H, W) or (K,)
    snapshot: tuple[Any, ...]  # state of each source when this tensor was made

    @property
    def flat(self) -> bool:
        return len(self.shape) == 1


class _Converter:
    def __init__(self, model: Any, path: Path, input_shape: tuple[int, ...] | None) -> None:
        self.onnx = require_onnx()
        self.model = model
        self.graph = model.graph
        self.path = path
        self.consts: dict[str, np.ndarray] = {}
        self.acts: dict[str, _Act] = {}
        self.layers: dict[str, _PendingLayer] = {}
        self.version: dict[str, int] = {NETWORK_INPUT: 0}
        self.uses: list[tuple[str, _Act]] = []  # (user, tensor it read) -- checked at the end
        self.notes: list[str] = []
        self.logits_tensor: str | None = None  # set when a final Softmax is dropped
        self.override_shape = input_shape
        #: The default-domain opset, at which constant subgraphs are evaluated (onnx_fold).
        self.opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)

    # -- helpers
    def fail(self, message: str, node: Any | None = None) -> ModelFileError:
        return node_error(message, node, self.path)

    def attrs(self, node: Any) -> dict[str, Any]:
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
        if source == NETWORK_INPUT:
            return (0,)
        return (self.version[source],)

    def make_act(self, sources: tuple[str, ...], shape: tuple[int, ...]) -> _Act:
        return _Act(sources, shape, tuple(self.state(s) for s in sources))

    def bump(self, layer: _PendingLayer) -> None:
        self.version[layer.name] += 1

    def act(self, name: str, node: Any) -> _Act:
        if name not in self.acts:
            if name in self.consts:
                raise self.fail(f"input {name!r} is a constant where a computed tensor was expected", node)
            raise self.fail(f"input {name!r} is not produced by an earlier node (graph not topologically sorted?)", node)
        return self.acts[name]

    def const(self, name: str, node: Any, what: str) -> np.ndarray:
        if name not in self.consts:
            raise self.fail(f"{what} ({name!r}) must be a constant (initializer or constant subgraph)", node)
        return self.consts[name]

    def single_layer(self, a: _Act, node: Any, what: str) -> _PendingLayer:
        """The one layer a tensor comes from, still without ReLU / pool (for bias-like folding)."""
        if len(a.sources) != 1 or a.sources[0] == NETWORK_INPUT:
            raise self.fail(f"{what} must follow a single Conv/Gemm/MatMul output", node)
        layer = self.layers[a.sources[0]]
        if layer.relu or layer.pool is not None:
            raise self.fail(f"{what} after ReLU or pooling cannot be folded into layer {layer.name!r}", node)
        return layer

    def layer_name(self, node: Any, weight_name: str) -> str:
        base = ""
        if weight_name in {t.name for t in self.graph.initializer} or weight_name in self.consts:
            for suffix in _WEIGHT_SUFFIXES:
                if weight_name.endswith(suffix) and len(weight_name) > len(suffix):
                    base = weight_name[: -len(suffix)]
                    break
        base = base or node.name or node.output[0]
        base = re.sub(r"\s+", "_", base).strip("/") or "layer"
        name, k = base, 2
        while name in self.layers or name == NETWORK_INPUT:
            name, k = f"{base}_{k}", k + 1
        return name

    # -- graph input
    def network_input(self) -> tuple[str, tuple[int, ...]]:
        init_names = {t.name for t in self.graph.initializer}
        inputs = [i for i in self.graph.input if i.name not in init_names]
        if len(inputs) != 1:
            raise self.fail(f"the graph must have exactly one (non-initializer) input, found {[i.name for i in inputs]}")
        inp = inputs[0]
        tt = inp.type.tensor_type
        if tt.elem_type not in (self.onnx.TensorProto.FLOAT, self.onnx.TensorProto.FLOAT16, self.onnx.TensorProto.DOUBLE):
            raise self.fail(f"input {inp.name!r} must be a float tensor")
        dims: list[int | None] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if self.override_shape is not None:
            shape = tuple(int(s) for s in self.override_shape)
            if len(dims) not in (len(shape), len(shape) + 1):
                raise UsageError(f"--input-shape {list(shape)} does not match the graph input's rank {len(dims)}", self.path)
            return inp.name, shape
        if len(dims) not in (2, 4):
            raise self.fail(f"input {inp.name!r} must be (N, C, H, W) or (N, K), got rank {len(dims)}")
        if dims[0] not in (None, 1):
            raise self.fail(f"input {inp.name!r} has batch size {dims[0]}; EIE runs batch 1")
        rest = dims[1:]
        if any(d is None or d < 1 for d in rest):
            raise self.fail(f"input {inp.name!r} has symbolic dimensions {dims}; give the shape explicitly (--input-shape C,H,W)")
        return inp.name, tuple(int(d) for d in rest)

    # -- main loop
    def run(self) -> DenseModel:
        for tensor in self.graph.initializer:
            self.consts[tensor.name] = tensor_to_array(tensor, f"initializer {tensor.name!r}", self.path)
        input_name, input_shape = self.network_input()
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
        for node in nodes:
            if node.domain not in ("", "ai.onnx"):
                raise self.fail(f"operator domain {node.domain!r} is not supported", node)
            self.step(node)
        if len(outputs) != 1:
            raise self.fail(f"the graph must have exactly one output, found {outputs}")
        out = outputs[0]
        if out in self.consts:
            raise self.fail(f"the graph output {out!r} is a constant")
        final = self.act(out, None)
        if len(final.sources) != 1 or final.sources[0] == NETWORK_INPUT:
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
        used = {s for layer in layers for s in layer.inputs} | {last}
        dead = [layer.name for layer in layers if layer.name not in used]
        if dead:
            self.notes.append(f"dropped layers whose output is never used: {dead}")
            layers = [layer for layer in layers if layer.name in used]
        if layers[-1].name != last:
            raise self.fail(f"the output layer {last!r} must come last in the graph")
        model = DenseModel(
            name=self.graph.name or self.path.stem, source=f"onnx:{self.path.name}", input_shape=input_shape,
            preprocess=self.preprocess(), layers=[layer.to_dense() for layer in layers],
            extra={"onnx_input": input_name, "onnx_output": self.logits_tensor or out,
                   "import_notes": list(self.notes)},
        )
        infer_shapes(model.skeleton(), self.path)
        return model

    def preprocess(self) -> dict[str, Any] | None:
        """The preprocess dict eiesim's exporter stores in the model metadata, if any."""
        props = {p.key: p.value for p in self.model.metadata_props}
        if PREPROCESS_KEY not in props:
            return None
        from eiesim.inputs.text import parse_json

        value = parse_json(props[PREPROCESS_KEY], self.path, ModelFileError, f"metadata {PREPROCESS_KEY!r}")
        if not isinstance(value, dict):
            raise self.fail(f"metadata {PREPROCESS_KEY!r} must be a JSON object")
        return value

    def step(self, node: Any) -> None:
        ins = [n for n in node.input]
        present = [n for n in ins if n]
        if node.op_type in FOLDABLE and all(n in self.consts for n in present):
            self.fold(node)
            return
        handler = getattr(self, f"op_{node.op_type}", None)
        if handler is None:
            if node.op_type in FOLDABLE:
                raise self.fail("only supported on constants (weights), not on computed tensors", node)
            raise self.fail(
                "operator not supported by eiesim (supported: Conv, Gemm, MatMul, Add as bias, Relu, MaxPool, "
                "AveragePool, GlobalAveragePool, Concat, Flatten, Reshape as flatten, Dropout, Identity, final Softmax)",
                node)
        try:
            handler(node)
        except EiesimError:
            raise
        except (IndexError, KeyError, ValueError, TypeError, AttributeError) as exc:
            # Missing inputs/attributes or impossible shapes in a malformed graph.
            raise self.fail(f"malformed node ({type(exc).__name__}: {exc})", node) from None

    def put(self, node: Any, a: _Act) -> None:
        self.acts[node.output[0]] = a

    # -- constant folding (eiesim.importers.onnx.fold)
    def fold(self, node: Any) -> None:
        self.consts.update(fold_node(node, self.consts, self.attrs(node), self.path, self.opset))

    # -- layers
    def weights(self, name: str, node: Any, what: str) -> np.ndarray:
        w = self.const(name, node, what)
        if w.dtype.kind != "f":
            raise self.fail(f"{what} must hold floats, got {w.dtype}", node)
        w = w.astype(np.float32)
        if not np.all(np.isfinite(w)):
            raise self.fail(f"{what} holds NaN or Inf", node)
        return w

    def add_layer(self, node: Any, layer: _PendingLayer, a: _Act, out_shape: tuple[int, ...]) -> None:
        self.layers[layer.name] = layer
        self.version[layer.name] = 0
        self.uses.append((f"layer {layer.name!r}", a))
        self.put(node, self.make_act((layer.name,), out_shape))

    def op_Conv(self, node: Any) -> None:
        at = self.attrs(node)
        a = self.act(node.input[0], node)
        if len(a.shape) != 3:
            raise self.fail(f"Conv needs a (N, C, H, W) input, got shape {a.shape} (without batch)", node)
        w = self.weights(node.input[1], node, "Conv weight")
        if w.ndim != 4:
            raise self.fail(f"only 2-D convolutions are supported (weight shape {w.shape})", node)
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            raise self.fail(f"dilations {at['dilations']} are not supported (EIE layers have dilation 1)", node)
        group = int(at.get("group", 1))
        c, h, wd = a.shape
        out_c, in_per_group, kh, kw = w.shape
        if group < 1 or c != in_per_group * group or out_c % group:
            raise self.fail(f"weight {w.shape} with group {group} does not fit {c} input channels", node)
        if "kernel_shape" in at and list(at["kernel_shape"]) != [kh, kw]:
            raise self.fail(f"kernel_shape {at['kernel_shape']} disagrees with weight shape {w.shape}", node)
        if group > 1:
            # A grouped conv is a dense conv whose weight is block-diagonal over channel groups.
            check_memory(4 * out_c * c * kh * kw, f"the dense weight of grouped conv {node.name or node.output[0]!r} "
                         f"({out_c}x{c}x{kh}x{kw})", self.path, ModelFileError)
            full = np.zeros((out_c, c, kh, kw), np.float32)
            per_out = out_c // group
            for g in range(group):
                full[g * per_out:(g + 1) * per_out, g * in_per_group:(g + 1) * in_per_group] = w[g * per_out:(g + 1) * per_out]
            w = full
            self.notes.append(f"{node.name or node.output[0]}: grouped conv (group={group}) stored as a block-diagonal dense conv")
        stride = tuple(int(s) for s in at.get("strides", [1, 1]))
        pads = self.conv_pads(node, at, (h, wd), (kh, kw), stride)
        bias = np.zeros(out_c, np.float32)
        if len(node.input) > 2 and node.input[2]:
            bias = self.weights(node.input[2], node, "Conv bias").reshape(-1)
            if bias.shape != (out_c,):
                raise self.fail(f"bias has {bias.size} values for {out_c} output channels", node)
        oh, ow = conv_output_hw(h, wd, (kh, kw), stride, pads)
        if oh < 1 or ow < 1:
            raise self.fail(f"kernel {kh}x{kw} does not fit the {h}x{wd} input", node)
        layer = _PendingLayer(self.layer_name(node, node.input[1]), "conv", w, bias, stride=stride, padding=pads,
                           inputs=a.sources)
        self.add_layer(node, layer, a, (out_c, oh, ow))

    def conv_pads(self, node: Any, at: dict[str, Any], hw: tuple[int, int], k: tuple[int, int],
                  stride: tuple[int, ...]) -> tuple[int, int]:
        if len(stride) != 2 or min(stride) < 1:
            raise self.fail(f"strides {list(stride)} must be two positive integers", node)
        auto = at.get("auto_pad", "NOTSET")
        if auto in ("NOTSET", "VALID"):
            pads = [0, 0, 0, 0] if auto == "VALID" else [int(p) for p in at.get("pads", [0, 0, 0, 0])]
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = [0, 0, 0, 0]
            for i in range(2):
                out = -(-hw[i] // stride[i])
                total = max((out - 1) * stride[i] + k[i] - hw[i], 0)
                small, big = total // 2, total - total // 2
                pads[i], pads[i + 2] = (small, big) if auto == "SAME_UPPER" else (big, small)
        else:
            raise self.fail(f"auto_pad {auto!r} is not supported", node)
        if len(pads) != 4:
            raise self.fail(f"pads {pads} must have 4 values for a 2-D conv", node)
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise self.fail(f"asymmetric pads {pads} (begin != end) are not supported; EIE layers pad symmetrically", node)
        if min(pads) < 0:
            raise self.fail(f"negative pads {pads}", node)
        return pads[0], pads[1]

    def fc_input(self, node: Any, name: str) -> _Act:
        a = self.act(name, node)
        if not a.flat:
            raise self.fail(f"{node.op_type} needs a flattened (N, K) input; got shape {a.shape} (add a Flatten)", node)
        return a

    def op_Gemm(self, node: Any) -> None:
        at = self.attrs(node)
        a = self.fc_input(node, node.input[0])
        if int(at.get("transA", 0)):
            raise self.fail("transA=1 is not supported (the activation must be the left operand)", node)
        b = self.weights(node.input[1], node, "Gemm weight B")
        if b.ndim != 2:
            raise self.fail(f"weight B must be 2-D, got {b.shape}", node)
        w = (b.T if not int(at.get("transB", 0)) else b) * np.float32(at.get("alpha", 1.0))
        out_k, in_k = w.shape
        if in_k != a.shape[0]:
            raise self.fail(f"weight takes {in_k} inputs but the input has {a.shape[0]} values", node)
        bias = np.zeros(out_k, np.float32)
        if len(node.input) > 2 and node.input[2]:
            c = self.weights(node.input[2], node, "Gemm bias C") * np.float32(at.get("beta", 1.0))
            bias = self.bias_vector(c, out_k, node)
        layer = _PendingLayer(self.layer_name(node, node.input[1]), "fc", np.ascontiguousarray(w)[:, :, None, None],
                           bias, inputs=a.sources)
        self.add_layer(node, layer, a, (out_k,))

    def op_MatMul(self, node: Any) -> None:
        a = self.fc_input(node, node.input[0])
        b = self.weights(node.input[1], node, "MatMul weight")
        if b.ndim != 2 or b.shape[0] != a.shape[0]:
            raise self.fail(f"weight {b.shape} does not take the {a.shape[0]}-value input", node)
        w = np.ascontiguousarray(b.T)
        layer = _PendingLayer(self.layer_name(node, node.input[1]), "fc", w[:, :, None, None],
                           np.zeros(w.shape[0], np.float32), inputs=a.sources)
        self.add_layer(node, layer, a, (w.shape[0],))

    def bias_vector(self, c: np.ndarray, n: int, node: Any) -> np.ndarray:
        """A constant that broadcasts to one value per output (a scalar, (n,), (1, n), ...)."""
        if c.size == 1 or (c.size == n and c.shape[-1] == n):
            return np.broadcast_to(c.reshape(-1), (n,)).astype(np.float32)
        raise self.fail(f"bias of shape {c.shape} does not broadcast to {n} outputs", node)

    def op_Add(self, node: Any) -> None:
        names = list(node.input)
        if len(names) != 2:
            raise self.fail("Add needs two inputs", node)
        const_side = [n for n in names if n in self.consts]
        if len(const_side) != 1:
            raise self.fail("only Add of a constant bias is supported (no residual / element-wise adds of two tensors)", node)
        a = self.act(next(n for n in names if n not in self.consts), node)
        layer = self.single_layer(a, node, "a bias Add")
        c = self.weights(const_side[0], node, "Add bias").astype(np.float32)
        out_c = layer.weight.shape[0]
        if layer.kind == "conv":
            # Broadcast against (N, C, H, W): the constant must vary along channels only.
            shape = (1,) * (4 - c.ndim) + c.shape if c.ndim <= 4 else None
            if shape is None or shape[0] != 1 or shape[2:] != (1, 1) or shape[1] not in (1, out_c):
                raise self.fail(f"constant of shape {c.shape} is not a per-channel bias for {out_c} channels", node)
        b = self.bias_vector(c.reshape(-1), out_c, node) if layer.kind == "conv" else self.bias_vector(c, out_c, node)
        layer.bias = (layer.bias + b).astype(np.float32)
        self.bump(layer)
        self.put(node, self.make_act(a.sources, a.shape))

    def op_Relu(self, node: Any) -> None:
        a = self.act(node.input[0], node)
        for src in a.sources:
            if src == NETWORK_INPUT:
                raise self.fail("a ReLU on the network input cannot be folded into a layer", node)
            layer = self.layers[src]
            if layer.relu:
                continue  # ReLU is idempotent: the tensor does not change
            if layer.pool is not None and layer.pool.kind != "max":
                raise self.fail(f"ReLU after average pooling of layer {src!r} cannot be folded "
                                "(EIE applies ReLU before pooling)", node)
            layer.relu = True  # ReLU commutes with max pooling
            self.bump(layer)
        self.put(node, self.make_act(a.sources, a.shape))

    def attach_pool(self, node: Any, pool: Pool) -> None:
        a = self.act(node.input[0], node)
        if len(a.shape) != 3:
            raise self.fail(f"pooling needs a (N, C, H, W) input, got shape {a.shape} (without batch)", node)
        if NETWORK_INPUT in a.sources:
            raise self.fail("pooling of the network input cannot be attached to a layer", node)
        owners = [self.layers[s] for s in a.sources]
        for layer in owners:
            if layer.pool is not None:
                raise self.fail(f"layer {layer.name!r} already has a pool; two pools in a row cannot be attached "
                                "to a single producer", node)
            if layer.kind != "conv":
                raise self.fail(f"layer {layer.name!r} is fully connected; pooling attaches to conv layers only", node)
        c, h, w = a.shape
        if pool.kind != "global_avg" and (pool.kernel > h or pool.kernel > w):
            raise self.fail(f"pool kernel {pool.kernel} is larger than the {h}x{w} map", node)
        for layer in owners:
            layer.pool = pool
            self.bump(layer)
        oh, ow = pool.output_hw(h, w)
        if len(owners) > 1:
            self.notes.append(f"{node.name or node.output[0]}: {pool.kind} pool after a concat attached to each branch "
                              f"{[layer.name for layer in owners]}")
        self.put(node, self.make_act(a.sources, (c, oh, ow)))

    def window_pool(self, node: Any, kind: str) -> None:
        at = self.attrs(node)
        if len(node.output) > 1 and node.output[1]:
            raise self.fail("the Indices output of MaxPool is not supported", node)
        k = [int(v) for v in at.get("kernel_shape", [])]
        s = [int(v) for v in at.get("strides", [1] * len(k))]
        pads = [int(v) for v in at.get("pads", [0] * 2 * len(k))]
        if len(k) != 2 or k[0] != k[1] or len(s) != 2 or s[0] != s[1]:
            raise self.fail(f"only square 2-D pools are supported (kernel {k}, strides {s})", node)
        if any(d != 1 for d in at.get("dilations", [1, 1])):
            raise self.fail("pool dilations are not supported", node)
        auto = at.get("auto_pad", "NOTSET")
        if auto not in ("NOTSET", "VALID") or any(pads):
            raise self.fail(f"padded pooling (pads {pads}, auto_pad {auto}) is not supported; EIE pools without padding", node)
        ceil_mode = bool(int(at.get("ceil_mode", 0)))
        self.attach_pool(node, Pool(kind, k[0], s[0], ceil_mode))

    def op_MaxPool(self, node: Any) -> None:
        self.window_pool(node, "max")

    def op_AveragePool(self, node: Any) -> None:
        self.window_pool(node, "avg")

    def op_GlobalAveragePool(self, node: Any) -> None:
        self.attach_pool(node, Pool("global_avg", 0, 1, False))

    def op_Concat(self, node: Any) -> None:
        at = self.attrs(node)
        parts = [self.act(n, node) for n in node.input if n]
        if any(n in self.consts for n in node.input):
            raise self.fail("Concat of a constant with computed tensors is not supported", node)
        rank = len(parts[0].shape) + 1
        axis = int(at.get("axis", 1))
        axis = axis + rank if axis < 0 else axis
        if axis != 1:
            raise self.fail(f"only concatenation along the channel axis (1) is supported, got axis {at.get('axis')}", node)
        if any(len(p.shape) + 1 != rank for p in parts) or len({p.shape[1:] for p in parts}) != 1:
            raise self.fail(f"inputs of shapes {[p.shape for p in parts]} cannot be concatenated on channels", node)
        sources = tuple(s for p in parts for s in p.sources)
        snapshot = tuple(x for p in parts for x in p.snapshot)
        shape = (sum(p.shape[0] for p in parts), *parts[0].shape[1:])
        self.put(node, _Act(sources, shape, snapshot))

    def flatten_to(self, node: Any, a: _Act) -> None:
        self.put(node, _Act(a.sources, (math.prod(a.shape),), a.snapshot))

    def op_Flatten(self, node: Any) -> None:
        at = self.attrs(node)
        if int(at.get("axis", 1)) != 1:
            raise self.fail(f"only Flatten with axis 1 is supported, got {at.get('axis')}", node)
        self.flatten_to(node, self.act(node.input[0], node))

    def op_Reshape(self, node: Any) -> None:
        a = self.act(node.input[0], node)
        target = self.const(node.input[1], node, "Reshape's shape").astype(np.int64).reshape(-1).tolist()
        total = math.prod(a.shape)
        full = [1, *a.shape]
        resolved = [full[i] if v == 0 and i < len(full) else v for i, v in enumerate(target)]
        if resolved.count(-1) == 1:
            known = math.prod(v for v in resolved if v != -1)
            resolved = [total // known if v == -1 else v for v in resolved] if known else resolved
        if resolved not in ([1, total], [total]) and not (resolved == full):
            raise self.fail(f"Reshape to {target} is not a flatten of the {full} tensor; only flattening is supported", node)
        if resolved == full:
            self.put(node, a)
        else:
            self.flatten_to(node, a)

    def op_Dropout(self, node: Any) -> None:
        if len(node.output) > 1 and node.output[1] and self.consumers.get(node.output[1], 0):
            raise self.fail("the mask output of Dropout is used; eiesim treats Dropout as the identity", node)
        if len(node.input) > 2 and node.input[2] and node.input[2] in self.consts and bool(self.consts[node.input[2]]):
            raise self.fail("Dropout in training mode is not supported", node)
        self.put(node, self.act(node.input[0], node))

    def op_Shape(self, node: Any) -> None:
        # Shapes of computed tensors are static here (batch 1), so Shape becomes a constant;
        # this is how exporters spell ``x.view(x.size(0), -1)``. The same evaluation as a constant's Shape.
        a = self.act(node.input[0], node)
        self.consts[node.output[0]] = shape_of(node, (1, *a.shape), self.opset, self.path)

    def op_Identity(self, node: Any) -> None:
        self.put(node, self.act(node.input[0], node))

    def op_Softmax(self, node: Any) -> None:
        out = node.output[0]
        if out not in self.graph_outputs or self.consumers.get(out, 0) != 1:
            raise self.fail("Softmax is supported only as the very last operator (it is dropped)", node)
        self.notes.append(f"final Softmax {node.name or out!r} dropped: eiesim's output is the last layer's logits "
                          "(the forward pass applies softmax itself for top-5)")
        self.logits_tensor = node.input[0]
        self.put(node, self.act(node.input[0], node))


# -- public API ---------------------------------------------------------------------

def import_onnx(path: str | Path, *, input_shape: tuple[int, ...] | None = None) -> DenseModel:
    """Read an ONNX file into a dense eiesim model (float32 weights, Caffe-ordered ReLU / pool).

    ``input_shape`` (without batch, e.g. (3, 224, 224)) overrides the graph input's
    shape, for models exported with symbolic dimensions. Raises ModelFileError for
    unreadable files and for any operator or pattern eiesim cannot represent. What
    was dropped or rewritten is listed in ``model.extra["import_notes"]``; the ONNX
    input's name is ``model.extra["onnx_input"]``.
    """
    path = Path(path)
    model = read_model(path)
    return _Converter(model, path, input_shape).run()


def to_workload(model: DenseModel, *, strict: bool = True) -> Workload:
    """A dense model as a workload WITHOUT any pruning or re-clustering (lossless).

    Each layer's distinct non-zero weights become its codebook, so the decoded
    weights equal the dense weights bit for bit: the way back for models whose
    weights are already shared (e.g. exported by ``eiesim export-onnx``). With
    ``strict`` a layer with more than ``MAX_CODEBOOK`` distinct values is an
    error (the workload format could not store it: compress the model instead);
    ``strict=False`` allows it for an in-memory float reference of a dense model
    (such a workload cannot be saved).
    """
    layers = []
    for dl in model.layers:
        s = dl.spec
        flat = sp.csr_matrix(np.asarray(dl.weight, np.float32).reshape(s.out_channels, -1))
        flat.eliminate_zeros()
        flat.sort_indices()
        codebook, codes = np.unique(flat.data.astype(np.float32), return_inverse=True)
        if strict and codebook.size > MAX_CODEBOOK:
            raise ModelFileError(
                f"layer {s.name!r} has {codebook.size} distinct weights, more than a workload codebook holds "
                f"({MAX_CODEBOOK}); compress the model (eiesim compress) instead of converting it as is", model.source)
        if codebook.size == 0:
            codebook = np.ones(1, np.float32)
        code_dtype = np.uint8 if codebook.size <= 256 else np.uint16 if codebook.size <= 1 << 16 else np.int64
        layers.append(Layer(
            name=s.name, kind=s.kind, in_channels=s.in_channels, out_channels=s.out_channels, kernel=s.kernel,
            stride=s.stride, padding=s.padding, inputs=s.inputs, relu=s.relu, pool=s.pool,
            indptr=flat.indptr.astype(np.int64), indices=flat.indices.astype(np.int32),
            codes=codes.reshape(-1).astype(code_dtype), codebook=codebook.astype(np.float32),
            bias=np.asarray(dl.bias, np.float32), extra=dict(dl.extra),
        ))
    wl = Workload(name=model.name, source=model.source, input_shape=tuple(model.input_shape),
                  preprocess=model.preprocess, layers=layers, input=model.input, extra=dict(model.extra))
    wl._shapes = infer_shapes(wl, model.source)
    return wl


def onnxruntime_forward(path: str | Path, x: np.ndarray, output: str | None = None) -> np.ndarray:
    """Run the ONNX model at ``path`` with onnxruntime on one input (batch 1); returns one output flattened.

    ``x`` is the input without the batch axis (the dense model's input shape).
    ``output`` names the tensor to return (default: the first graph output); an
    inner tensor is fetched by adding it to the graph outputs -- how the logits
    before a dropped final Softmax (``model.extra["onnx_output"]``) are compared.
    """
    ort = require_onnxruntime()
    onnx = require_onnx()
    path = Path(path)
    model = read_model(path)
    if output is not None and output not in {o.name for o in model.graph.output}:
        model.graph.output.append(onnx.ValueInfoProto(name=output))
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        init_names = {t.name for t in model.graph.initializer}
        feeds = [f for f in session.get_inputs() if f.name not in init_names]
        if len(feeds) != 1:
            raise ModelFileError(f"onnxruntime sees {len(feeds)} inputs; expected one", path)
        names = [output] if output is not None else None
        out = session.run(names, {feeds[0].name: np.asarray(x, np.float32)[None]})[0]
    except EiesimError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelFileError(f"onnxruntime could not run the model ({type(exc).__name__}: {exc})", path) from None
    return np.asarray(out, dtype=np.float32).reshape(-1)
