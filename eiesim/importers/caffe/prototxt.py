"""A small reader for Caffe deploy prototxt files (the protobuf text-format subset they use).

Two steps: ``parse_prototxt`` turns the text into nested dicts (``name { ... }``
blocks, ``key: value`` pairs, every key mapping to a list because keys repeat),
and ``topology_from_prototxt`` turns a deploy net into eiesim ``LayerSpec``s.

Supported layer types: Convolution, InnerProduct (become layers), ReLU (sets
``relu`` on the producers of its blob), Pooling (becomes the producers' ``pool``),
Concat (a blob made of several producers, in bottom order), Dropout and Softmax
(identity at inference / left to the reader of the output). Anything else, or a
structure the workload format cannot express (a pooled blob that is also
consumed unpooled, a second pool on one layer), is a ``ModelFileError``.

Fields are checked against Caffe's schema (``caffe.proto``: NetParameter,
LayerParameter and the parameter messages of the supported layers): a field the
schema does not have is an error naming it (``strid: 2`` is refused, not read as the
default stride 1), and so is a known field that would change the layer in a way
eiesim does not model (non-square pooling parameters, floor rounding, a leaky ReLU's
negative slope, an axis other than the channels). Fields that cannot change the
topology (fillers, learning-rate multipliers, engines) are accepted and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eiesim.errors import ModelFileError
from eiesim.inputs.text import read_text
from eiesim.network.topologies import LayerSpec
from eiesim.network.workload import NETWORK_INPUT, Pool, conv_output_hw

__all__ = ["parse_prototxt", "topology_from_prototxt", "read_prototxt"]

#: Largest prototxt accepted (bytes); deploy files are a few tens of KB.
MAX_PROTOTXT_BYTES = 16 * 1024 * 1024

_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}:;,])
  | (?P<word>[A-Za-z0-9_.+\-]+)
""", re.VERBOSE)


def _tokens(text: str, source: str | Path | None) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ModelFileError(f"line {line}: unexpected character {text[pos]!r}", source)
        kind = m.lastgroup
        tok = m.group()
        if kind == "str":
            try:
                value = bytes(tok[1:-1], "utf-8").decode("unicode_escape")
            except UnicodeDecodeError as exc:
                raise ModelFileError(f"line {line}: bad escape sequence in the string {tok[:40]!r} ({exc.reason})",
                                     source) from None
            out.append(("value", value, line))
        elif kind == "punct":
            out.append((tok, tok, line))
        elif kind == "word":
            out.append(("word", tok, line))
        line += tok.count("\n")
        pos = m.end()
    return out


def _scalar(word: str) -> Any:
    """A bare protobuf text value: int, float, true/false, or an enum name kept as a string."""
    if re.fullmatch(r"[+-]?\d+", word):
        if len(word.lstrip("+-")) > 19:  # beyond int64: no prototxt field holds such a number
            raise ValueError(f"the integer {word[:24]}... is out of range")
        return int(word)
    if word in ("true", "True"):
        return True
    if word in ("false", "False"):
        return False
    try:
        return float(word)
    except ValueError:
        return word


def parse_prototxt(text: str, source: str | Path | None = None) -> dict[str, list[Any]]:
    """Parse protobuf text format into ``{key: [value, ...]}``; block values are nested dicts."""
    toks = _tokens(text, source)
    stack: list[dict[str, list[Any]]] = [{}]
    i = 0
    while i < len(toks):
        kind, tok, line = toks[i]
        if kind == "}":
            if len(stack) == 1:
                raise ModelFileError(f"line {line}: '}}' without a matching '{{'", source)
            stack.pop()
            i += 1
            continue
        if kind in (";", ","):
            i += 1
            continue
        if kind != "word":
            raise ModelFileError(f"line {line}: expected a field name, got {tok!r}", source)
        key = tok
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if nxt is not None and nxt[0] == ":":
            nxt = toks[i + 2] if i + 2 < len(toks) else None
            i += 1
        if nxt is None:
            raise ModelFileError(f"line {line}: field {key!r} has no value", source)
        if nxt[0] == "{":
            block: dict[str, list[Any]] = {}
            stack[-1].setdefault(key, []).append(block)
            stack.append(block)
            i += 2
        elif nxt[0] in ("word", "value"):
            try:
                value = _scalar(nxt[1]) if nxt[0] == "word" else nxt[1]
            except ValueError as exc:
                raise ModelFileError(f"line {nxt[2]}: {exc}", source) from None
            stack[-1].setdefault(key, []).append(value)
            i += 2
        else:
            raise ModelFileError(f"line {nxt[2]}: expected a value or '{{' after {key!r}, got {nxt[1]!r}", source)
    if len(stack) != 1:
        raise ModelFileError("unbalanced braces: a '{' is never closed", source)
    return stack[0]


def read_prototxt(path: str | Path) -> dict[str, list[Any]]:
    """Read and parse a prototxt file (size-limited, UTF-8)."""
    path = Path(path)
    text = read_text(path, ModelFileError, "prototxt", MAX_PROTOTXT_BYTES)  # regular files only, bounded
    return parse_prototxt(text, path)


@dataclass
class _Blob:
    """A named tensor during the walk: which layers produce it and its shape."""

    producers: tuple[str, ...]
    shape: tuple[int, ...]
    pooled: bool = False
    consumed: list[str] = field(default_factory=list)


#: The fields of the Caffe messages eiesim reads (caffe.proto, BVLC Caffe 1.0), for ``_check_fields``.
_LAYER_PARAMS = (
    "accuracy_param", "argmax_param", "batch_norm_param", "bias_param", "clip_param", "concat_param",
    "contrastive_loss_param", "convolution_param", "crop_param", "data_param", "dropout_param", "dummy_data_param",
    "eltwise_param", "elu_param", "embed_param", "exp_param", "flatten_param", "hdf5_data_param",
    "hdf5_output_param", "hinge_loss_param", "image_data_param", "infogain_loss_param", "inner_product_param",
    "input_param", "log_param", "lrn_param", "memory_data_param", "mvn_param", "parameter_param", "pooling_param",
    "power_param", "prelu_param", "python_param", "recurrent_param", "reduction_param", "relu_param",
    "reshape_param", "scale_param", "sigmoid_param", "softmax_param", "spp_param", "slice_param", "swish_param",
    "tanh_param", "threshold_param", "tile_param", "window_data_param",
)
_FILLER = ("type", "value", "min", "max", "mean", "std", "sparse", "variance_norm")
_FIELDS: dict[str, tuple[str, ...]] = {
    "net": ("name", "input", "input_shape", "input_dim", "force_backward", "state", "debug_info", "layer", "layers"),
    "input_shape": ("dim",),
    "layer": ("name", "type", "bottom", "top", "phase", "loss_weight", "param", "blobs", "propagate_down", "include",
              "exclude", "transform_param", "loss_param", *_LAYER_PARAMS),
    "convolution_param": ("num_output", "bias_term", "pad", "kernel_size", "stride", "dilation", "pad_h", "pad_w",
                          "kernel_h", "kernel_w", "stride_h", "stride_w", "group", "weight_filler", "bias_filler",
                          "engine", "axis", "force_nd_im2col"),
    "inner_product_param": ("num_output", "bias_term", "weight_filler", "bias_filler", "axis", "transpose"),
    "pooling_param": ("pool", "pad", "pad_h", "pad_w", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h",
                      "stride_w", "engine", "global_pooling", "round_mode"),
    "concat_param": ("axis", "concat_dim"),
    "relu_param": ("negative_slope", "engine"),
    "dropout_param": ("dropout_ratio", "scale_train"),
    "softmax_param": ("engine", "axis"),
    "weight_filler": _FILLER,
    "bias_filler": _FILLER,
}


def _check_fields(block: dict[str, list[Any]], message: str, where: str, source: Path) -> None:
    """Refuse a field ``message`` does not have, naming it; then check the nested messages eiesim knows."""
    known = _FIELDS[message]
    for key, values in block.items():
        if key not in known:
            raise ModelFileError(f"{where}: {message if message != 'net' else 'the net'} has no field {key!r} "
                                 f"(a typo? its fields: {', '.join(sorted(known))})", source)
        if key in _FIELDS and key != "layer":
            for value in values:
                if not isinstance(value, dict):
                    raise ModelFileError(f"{where}: {key!r} must be a block {{ ... }}, got {value!r}", source)
                _check_fields(value, key, where, source)


def _refuse(block: dict[str, list[Any]], where: str, source: Path, **unsupported: str) -> None:
    """Refuse the fields of ``block`` that eiesim does not model (``key=why``)."""
    for key, why in unsupported.items():
        if key in block:
            raise ModelFileError(f"{where}: {key!r} is not supported ({why})", source)


def _one(block: dict[str, list[Any]], key: str, default: Any, where: str, source: Path) -> Any:
    values = block.get(key, [])
    if len(values) > 1:
        raise ModelFileError(f"{where}: {key!r} given {len(values)} times", source)
    return values[0] if values else default


def _int_field(block: dict, key: str, default: int | None, where: str, source: Path, lo: int = 0) -> int:
    value = _one(block, key, default, where, source)
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ModelFileError(f"{where}: {key!r} must be an integer >= {lo}, got {value!r}", source)
    return value


def _pair(block: dict, key: str, default: int | None, where: str, source: Path, lo: int) -> tuple[int, int]:
    """A Caffe (h, w) parameter given as ``key`` (``kernel_size`` for kernels) or ``key_h``/``key_w``."""
    if f"{key}_h" in block or f"{key}_w" in block:
        return (_int_field(block, f"{key}_h", None, where, source, lo),
                _int_field(block, f"{key}_w", None, where, source, lo))
    base = _int_field(block, "kernel_size" if key == "kernel" else key, default, where, source, lo)
    return base, base


def _input_shape(net: dict[str, list[Any]], source: Path) -> tuple[str, tuple[int, ...]]:
    names = net.get("input", [])
    dims = net.get("input_dim", [])
    if not dims and net.get("input_shape"):
        dims = net["input_shape"][0].get("dim", [])
    if len(names) != 1:
        raise ModelFileError(f"expected exactly one 'input' blob, found {len(names)}", source)
    if len(dims) not in (2, 4) or not all(isinstance(d, int) and d > 0 for d in dims):
        raise ModelFileError(f"'input_dim' must be 2 or 4 positive integers (N, C[, H, W]), got {dims}", source)
    return str(names[0]), tuple(int(d) for d in dims[1:])


def topology_from_prototxt(path: str | Path) -> tuple[tuple[int, ...], list[LayerSpec]]:
    """Read a Caffe deploy prototxt into (input shape without batch, layer specs in file order)."""
    path = Path(path)
    net = read_prototxt(path)
    _check_fields(net, "net", "prototxt", path)
    input_name, input_shape = _input_shape(net, path)
    blobs: dict[str, _Blob] = {input_name: _Blob((NETWORK_INPUT,), input_shape)}
    specs: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for index, layer in enumerate(net.get("layer", []) or net.get("layers", [])):
        name = str(_one(layer, "name", f"#{index}", f"layer {index}", path))
        where = f"layer {name!r}"
        if "layer" in net:  # V1 ``layers`` blocks have other fields; their enum types are refused below
            _check_fields(layer, "layer", where, path)
        ltype = _one(layer, "type", None, where, path)
        bottoms = [str(b) for b in layer.get("bottom", [])]
        tops = [str(t) for t in layer.get("top", [])]
        for b in bottoms:
            if b not in blobs:
                raise ModelFileError(f"{where}: bottom {b!r} is not produced by an earlier layer", path)
        if ltype in ("Convolution", "InnerProduct"):
            if len(bottoms) != 1 or len(tops) != 1:
                raise ModelFileError(f"{where}: needs exactly one bottom and one top", path)
            src = blobs[bottoms[0]]
            if name in specs or name == NETWORK_INPUT:
                raise ModelFileError(f"{where}: duplicate or reserved layer name", path)
            src.consumed.append(name)
            if ltype == "Convolution":
                p = _one(layer, "convolution_param", {}, where, path)
                if len(src.shape) != 3:
                    raise ModelFileError(f"{where}: a convolution needs a (C, H, W) input, got {src.shape}", path)
                if _int_field(p, "group", 1, where, path, 1) != 1 or p.get("dilation"):
                    raise ModelFileError(f"{where}: grouped or dilated convolutions are not supported", path)
                if _int_field(p, "axis", 1, where, path, 0) != 1:
                    raise ModelFileError(f"{where}: 'axis' must be 1 (the channels)", path)
                kernel = _pair(p, "kernel", None, where, path, 1)
                stride = _pair(p, "stride", 1, where, path, 1)
                padding = _pair(p, "pad", 0, where, path, 0)
                out_c = _int_field(p, "num_output", None, where, path, 1)
                c, h, w = src.shape
                oh, ow = conv_output_hw(h, w, kernel, stride, padding)
                if oh < 1 or ow < 1:
                    raise ModelFileError(f"{where}: kernel {list(kernel)} does not fit a {h}x{w} input", path)
                specs[name] = dict(name=name, kind="conv", in_channels=c, out_channels=out_c, kernel=kernel,
                                   stride=stride, padding=padding, inputs=src.producers, relu=False, pool=None)
                blobs[tops[0]] = _Blob((name,), (out_c, oh, ow))
            else:
                p = _one(layer, "inner_product_param", {}, where, path)
                if _int_field(p, "axis", 1, where, path, 0) != 1 or _one(p, "transpose", False, where, path):
                    raise ModelFileError(f"{where}: only 'axis: 1' without 'transpose' is supported", path)
                out_c = _int_field(p, "num_output", None, where, path, 1)
                flat = 1
                for d in src.shape:
                    flat *= d
                specs[name] = dict(name=name, kind="fc", in_channels=flat, out_channels=out_c, inputs=src.producers,
                                   relu=False, pool=None)
                blobs[tops[0]] = _Blob((name,), (out_c,))
            order.append(name)
        elif ltype == "ReLU":
            if _one(_one(layer, "relu_param", {}, where, path), "negative_slope", 0, where, path) != 0:
                raise ModelFileError(f"{where}: a leaky ReLU (negative_slope != 0) is not supported", path)
            src = _single_inplace(bottoms, tops, blobs, where, path)
            for prod in src.producers:
                if prod == NETWORK_INPUT:
                    raise ModelFileError(f"{where}: ReLU on the network input is not supported", path)
                spec = specs[prod]
                if spec["pool"] is not None and spec["pool"].kind != "max":
                    raise ModelFileError(f"{where}: ReLU after an average pool is not supported", path)
                spec["relu"] = True
        elif ltype == "Pooling":
            if len(bottoms) != 1 or len(tops) != 1:
                raise ModelFileError(f"{where}: needs exactly one bottom and one top", path)
            src = blobs[bottoms[0]]
            if src.pooled or NETWORK_INPUT in src.producers or len(src.shape) != 3:
                raise ModelFileError(f"{where}: pooling must follow a convolution (one pool per layer)", path)
            if src.consumed:
                raise ModelFileError(f"{where}: blob {bottoms[0]!r} is used unpooled by {src.consumed[0]!r} too; "
                                     "the workload format stores the pool on the producing layer", path)
            pool, shape = _pool(_one(layer, "pooling_param", {}, where, path), src.shape, where, path)
            for prod in src.producers:
                specs[prod]["pool"] = pool
            src.consumed.append(name)
            blobs[tops[0]] = _Blob(src.producers, shape, pooled=True)
        elif ltype == "Concat":
            if len(tops) != 1 or not bottoms:
                raise ModelFileError(f"{where}: needs one top and at least one bottom", path)
            p = _one(layer, "concat_param", {}, where, path)
            if _int_field(p, "axis", 1, where, path, 0) != 1 or _int_field(p, "concat_dim", 1, where, path, 0) != 1:
                raise ModelFileError(f"{where}: only channel concatenation (axis 1) is supported", path)
            parts = [blobs[b] for b in bottoms]
            if len({pt.shape[1:] for pt in parts}) != 1 or any(len(pt.shape) != 3 for pt in parts):
                raise ModelFileError(f"{where}: concatenated blobs differ in spatial size", path)
            for b in bottoms:
                blobs[b].consumed.append(name)
            producers = tuple(p for pt in parts for p in pt.producers)
            shape = (sum(pt.shape[0] for pt in parts), *parts[0].shape[1:])
            blobs[tops[0]] = _Blob(producers, shape, pooled=any(pt.pooled for pt in parts))
        elif ltype in ("Dropout", "Softmax"):
            if len(bottoms) != 1 or len(tops) != 1:
                raise ModelFileError(f"{where}: needs exactly one bottom and one top", path)
            if tops[0] != bottoms[0]:
                same = blobs[bottoms[0]]
                blobs[tops[0]] = _Blob(same.producers, same.shape, same.pooled)
        else:
            raise ModelFileError(f"{where}: layer type {ltype!r} is not supported "
                                 "(supported: Convolution, InnerProduct, ReLU, Pooling, Concat, Dropout, Softmax)", path)
    if not order:
        raise ModelFileError("no Convolution or InnerProduct layers found", path)
    layers = [LayerSpec(**specs[n]) for n in order]
    return input_shape, layers


def _single_inplace(bottoms: list[str], tops: list[str], blobs: dict[str, _Blob], where: str, path: Path) -> _Blob:
    if len(bottoms) != 1 or len(tops) != 1:
        raise ModelFileError(f"{where}: needs exactly one bottom and one top", path)
    src = blobs[bottoms[0]]
    if tops[0] != bottoms[0]:
        blobs[tops[0]] = _Blob(src.producers, src.shape, src.pooled)
    return src


def _pool(p: dict[str, list[Any]], shape: tuple[int, ...], where: str, path: Path) -> tuple[Pool, tuple[int, ...]]:
    _refuse(p, where, path, **{k: "square pools only: use kernel_size, stride, pad"
                               for k in ("kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w")})
    if _one(p, "round_mode", "CEIL", where, path) != "CEIL":
        raise ModelFileError(f"{where}: 'round_mode' must be CEIL (Caffe's default, which eiesim models)", path)
    method = _one(p, "pool", "MAX", where, path)
    if method not in ("MAX", "AVE"):
        raise ModelFileError(f"{where}: pool method {method!r} is not supported (MAX or AVE)", path)
    c, h, w = shape
    if _one(p, "global_pooling", False, where, path):
        if method == "AVE":
            return Pool("global_avg", 0, 1, False), (c, 1, 1)
        if h != w:
            raise ModelFileError(f"{where}: global max pooling of a non-square {h}x{w} map is not supported", path)
        return Pool("max", h, h, True), (c, 1, 1)
    kernel = _int_field(p, "kernel_size", None, where, path, 1)
    stride = _int_field(p, "stride", 1, where, path, 1)
    if _int_field(p, "pad", 0, where, path, 0) != 0:
        raise ModelFileError(f"{where}: padded pooling is not supported", path)
    if kernel > h or kernel > w:
        raise ModelFileError(f"{where}: pool kernel {kernel} larger than the {h}x{w} map", path)
    # Caffe pools in ceil mode.
    pool = Pool("max" if method == "MAX" else "avg", kernel, stride, True)
    return pool, (c, *pool.output_hw(h, w))
