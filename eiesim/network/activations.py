"""Activation functions of the PEs' write-back path, in float32 and in 16-bit fixed point (docs/fixed-point.md).

One definition per function, shared by the functional reference, both engines and every other
user (an LSTM's gates, issue 24). The API is two plain functions:

* ``apply_float(name, x, params)``: the mathematical function in float (float64 inside,
  float32 out), what the float reference and onnxruntime compute;
* ``apply_fixed(name, q, fmt, params)``: what the hardware computes on 16-bit values ``q``
  with ``fmt.frac`` fractional bits; the result has the same format. Returns
  (int64 values, saturations counted).

How each one is built in hardware (docs/timing-model.md, "Activations"; priced in
docs/cost-model.md) and its fixed-point rule:

* ``relu``: max(q, 0) (EIE's own).
* ``clip`` (``min``, ``max``; ReLU6 is clip [0, 6]): two comparisons; the bounds are rounded
  half up to the format and limited to the 16-bit range. Exact up to that rounding.
* ``leaky_relu`` (``alpha``), ``prelu`` (``slope``: one value, or one per channel, channel axis
  0): a comparison, and for negative values a multiply by the coefficient quantized to 16 bits
  (``coef_frac`` = the most fractional bits that hold it), shifted back rounding half up.
* ``sigmoid``, ``tanh``: a 256-entry lookup table per PE, indexed by the input's top bits:
  sigmoid over [-8, 8) in steps of 1/16, tanh over [-4, 4) in steps of 1/32 (the index is
  below the table gives the lower limit, above it the upper one: 0 or -1, and 32767); each entry
  is the function at the centre of its bin, 16 bits at frac 15 (1.0 saturates to 32767), then
  shifted to the output format. Bound against float (on the same 16-bit input): |error| <=
  max slope x half a bin + 2^-16 (entry) + half an output LSB, that is
  ``LUT_ERROR_BOUND[name] + 2 ** -(frac + 1)`` (outside the table's range the limits are within
  it too: 1 - sigmoid(8) = 3.4e-4 < 1/128, 1 - tanh(4) = 6.7e-4 < 1/64).
* ``hard_sigmoid`` (``alpha``, ``beta``: ONNX's max(0, min(1, alpha x + beta))): a multiply
  and an add give the gate at frac 15, clamped to [0, 32767].
* ``hard_swish`` (x * hard_sigmoid(x) with alpha 1/6, beta 1/2) and ``silu`` (x * sigmoid(x),
  the sigmoid from the table): the gate at frac 15 times ``q``, shifted back by 15 (one more
  multiply).

Every result is saturated to 16 bits and the saturations are counted (only possible for
coefficients above 1 or ``q`` near the range limit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from eiesim.errors import WorkloadError

#: Activation names the write-back path knows (``relu`` is also a layer's plain ``relu`` flag).
ACTIVATIONS = ("relu", "clip", "leaky_relu", "prelu", "sigmoid", "tanh", "hard_sigmoid", "hard_swish", "silu")
#: Fractional bits of a gate (a value in [0, 1]) or a table entry: 16-bit signed, 1.0 -> 32767.
GATE_FRAC = 15
#: Lookup tables: entries, and the input range [lo, lo + entries * step) they cover.
LUT_ENTRIES = 256
LUT_RANGE = {"sigmoid": (-8.0, 1.0 / 16), "tanh": (-4.0, 1.0 / 32)}
#: Bound against float, plus half an output LSB: max slope x half a bin + one entry rounding (silu: max |x
#: sigmoid'(x)| < 0.25, and |x| < 8 inside the table). Beyond the table the limits are within it.
LUT_ERROR_BOUND = {"sigmoid": 0.25 * (1.0 / 32) + 2.0 ** -16, "tanh": 1.0 * (1.0 / 64) + 2.0 ** -16,
                   "silu": 0.25 * (1.0 / 32) + 8 * 2.0 ** -16}
#: Hard-swish's gate: ONNX HardSwish is x * max(0, min(1, x / 6 + 1 / 2)).
HARD_SWISH_GATE = {"alpha": 1.0 / 6.0, "beta": 0.5}
#: What the hardware does per output element, by activation (docs/timing-model.md, "Activations").
UNIT_OPS: dict[str, dict[str, int]] = {
    "relu": {},
    "clip": {"activation_compares": 2},
    "leaky_relu": {"activation_compares": 1, "activation_mults": 1},
    "prelu": {"activation_compares": 1, "activation_mults": 1},
    "sigmoid": {"activation_lut_reads": 1},
    "tanh": {"activation_lut_reads": 1},
    "hard_sigmoid": {"activation_compares": 2, "activation_mults": 1},
    "hard_swish": {"activation_compares": 2, "activation_mults": 2},
    "silu": {"activation_lut_reads": 1, "activation_mults": 1},
}


@dataclass(frozen=True)
class FixedFormat:
    """A 16-bit (``bits``) fixed-point format: value = integer / 2**frac."""

    frac: int
    bits: int = 16


def _limits(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _shift(v: np.ndarray, s: int) -> np.ndarray:
    """Arithmetic shift right by ``s`` rounding half up (left shift when ``s`` < 0), int64."""
    v = np.asarray(v, dtype=np.int64)
    if s > 0:
        return (v + (np.int64(1) << np.int64(s - 1))) >> np.int64(s)
    return v << np.int64(-s)


def _round_to(value: float, frac: int) -> int:
    return int(math.floor(value * 2.0 ** frac + 0.5))


def _coef(value: float, bits: int = 16) -> tuple[int, int]:
    """A coefficient as (16-bit integer, its frac): the most fractional bits that hold |value|."""
    mag = abs(value)
    if mag >= 2.0 ** (bits - 1):
        raise WorkloadError(f"activation coefficient {value} does not fit a {bits}-bit multiplier operand")
    frac = bits - 1 if mag == 0 else min(bits - 1, bits - 1 - (math.floor(math.log2(mag)) + 1))
    q = _round_to(value, frac)
    lo, hi = _limits(bits)
    return int(min(max(q, lo), hi)), frac


# -- parameters ------------------------------------------------------------------------------

def check_params(name: str, params: Mapping[str, Any] | None, channels: int | None = None,
                 where: str = "activation") -> dict[str, Any]:
    """``params`` of activation ``name`` checked and completed with defaults; WorkloadError if bad."""
    if name not in ACTIVATIONS:
        raise WorkloadError(f"{where}: unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    p = dict(params or {})

    def number(key: str, default: float | None) -> float | None:
        v = p.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise WorkloadError(f"{where}: {name} parameter {key!r} must be a finite number, got {v!r}")
        return float(v)

    if name == "clip":
        lo, hi = number("min", None), number("max", None)
        if lo is not None and hi is not None and lo > hi:
            raise WorkloadError(f"{where}: clip min {lo} is above max {hi}")
        return {"min": lo, "max": hi}
    if name == "leaky_relu":
        return {"alpha": number("alpha", 0.01)}
    if name == "hard_sigmoid":
        return {"alpha": number("alpha", 0.2), "beta": number("beta", 0.5)}
    if name == "prelu":
        slope = p.get("slope")
        if (not isinstance(slope, list) or not slope or any(isinstance(v, bool) or not isinstance(v, (int, float))
                                                             or not math.isfinite(v) for v in slope)):
            raise WorkloadError(f"{where}: prelu needs 'slope', a non-empty list of finite numbers")
        if channels is not None and len(slope) not in (1, channels):
            raise WorkloadError(f"{where}: prelu has {len(slope)} slopes for {channels} channels")
        return {"slope": [float(v) for v in slope]}
    if p:
        raise WorkloadError(f"{where}: {name} takes no parameters, got {sorted(p)}")
    return {}


def _per_channel(values: list[float], shape: tuple[int, ...]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v.reshape((-1,) + (1,) * (len(shape) - 1)) if v.size > 1 else v.reshape(())


# -- float ----------------------------------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow


def apply_float(name: str, x: np.ndarray, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """Activation ``name`` of float ``x`` (channels on axis 0 for ``prelu``), float64 inside, float32 out."""
    p = check_params(name, params)
    v = np.asarray(x, dtype=np.float64)
    if name == "relu":
        y = np.maximum(v, 0.0)
    elif name == "clip":
        y = np.clip(v, -np.inf if p["min"] is None else p["min"], np.inf if p["max"] is None else p["max"])
    elif name == "leaky_relu":
        y = np.where(v >= 0, v, p["alpha"] * v)
    elif name == "prelu":
        y = np.where(v >= 0, v, _per_channel(p["slope"], v.shape) * v)
    elif name == "sigmoid":
        y = _sigmoid(v)
    elif name == "tanh":
        y = np.tanh(v)
    elif name == "hard_sigmoid":
        y = np.clip(p["alpha"] * v + p["beta"], 0.0, 1.0)
    elif name == "hard_swish":
        y = v * np.clip(v * HARD_SWISH_GATE["alpha"] + HARD_SWISH_GATE["beta"], 0.0, 1.0)
    else:  # silu
        y = v * _sigmoid(v)
    return y.astype(np.float32)


# -- fixed point ------------------------------------------------------------------------------------

def lut(name: str) -> np.ndarray:
    """The 256 entries of ``name``'s table (sigmoid or tanh), 16-bit at frac 15."""
    lo, step = LUT_RANGE[name]
    centres = lo + (np.arange(LUT_ENTRIES) + 0.5) * step
    values = _sigmoid(centres) if name == "sigmoid" else np.tanh(centres)
    q = np.floor(values * 2.0 ** GATE_FRAC + 0.5)
    return np.clip(q, *_limits(16)).astype(np.int64)


def _lut_read(name: str, q: np.ndarray, frac: int) -> np.ndarray:
    """The table entry of each ``q`` (x = q / 2**frac): index floor((x - lo) / step) by shifts; below the
    table the function's lower limit (0, or -1 = -32768), above it its upper one (32767)."""
    lo, step = LUT_RANGE[name]
    step_bits = -int(math.log2(step))  # 4 for sigmoid, 5 for tanh
    scaled = np.asarray(q, dtype=np.int64)  # floor(x * 2**step_bits) = floor(q * 2**(step_bits - frac))
    s = frac - step_bits
    idx = ((scaled >> np.int64(s)) if s >= 0 else (scaled << np.int64(-s))) - int(lo * 2 ** step_bits)
    low, high = (0 if name == "sigmoid" else _limits(16)[0]), _limits(16)[1]
    entries = lut(name)[np.clip(idx, 0, LUT_ENTRIES - 1)]
    return np.where(idx < 0, low, np.where(idx >= LUT_ENTRIES, high, entries))


def _gate_fixed(name: str, q: np.ndarray, frac: int, p: Mapping[str, Any]) -> np.ndarray:
    """A value in [0, 1] at ``GATE_FRAC``: the sigmoid table, or a hard sigmoid's multiply-add and clamp."""
    if name == "sigmoid":
        return _lut_read("sigmoid", q, frac)
    c, c_frac = _coef(p["alpha"])
    t = _shift(np.asarray(q, dtype=np.int64) * c, frac + c_frac - GATE_FRAC) + _round_to(p["beta"], GATE_FRAC)
    return np.clip(t, 0, _limits(16)[1])


def apply_fixed(name: str, q: np.ndarray, fmt: FixedFormat | int, params: Mapping[str, Any] | None = None
                ) -> tuple[np.ndarray, int]:
    """Activation ``name`` of 16-bit values ``q`` in format ``fmt`` (a FixedFormat or its frac); same format out.

    Returns (int64 values, saturations). The rules are the module docstring's.
    """
    p = check_params(name, params)
    f = fmt if isinstance(fmt, FixedFormat) else FixedFormat(int(fmt))
    v = np.asarray(q, dtype=np.int64)
    lo, hi = _limits(f.bits)
    if name == "relu":
        y = np.maximum(v, 0)
    elif name == "clip":
        a = lo if p["min"] is None else min(max(_round_to(p["min"], f.frac), lo), hi)
        b = hi if p["max"] is None else min(max(_round_to(p["max"], f.frac), lo), hi)
        y = np.clip(v, a, b)
    elif name in ("leaky_relu", "prelu"):
        coefs = [p["alpha"]] if name == "leaky_relu" else p["slope"]
        pairs = [_coef(c) for c in coefs]
        cq = np.array([c for c, _ in pairs], dtype=np.int64).reshape((-1,) + (1,) * (v.ndim - 1))
        cf = np.array([c for _, c in pairs], dtype=np.int64).reshape(cq.shape)
        if len(pairs) == 1:
            cq, cf = cq.reshape(()), cf.reshape(())
        prod = v * cq
        neg = (prod + np.where(cf > 0, np.int64(1) << np.maximum(cf - 1, 0), 0)) >> cf
        y = np.where(v >= 0, v, neg)
    elif name in ("sigmoid", "hard_sigmoid"):
        y = _shift(_gate_fixed(name, v, f.frac, p), GATE_FRAC - f.frac)
    elif name == "tanh":
        y = _shift(_lut_read("tanh", v, f.frac), GATE_FRAC - f.frac)
    else:  # hard_swish, silu: q times a gate
        gate = _gate_fixed("sigmoid" if name == "silu" else "hard_sigmoid", v, f.frac,
                           HARD_SWISH_GATE if name == "hard_swish" else p)
        y = _shift(v * gate, GATE_FRAC)
    sat = int(np.count_nonzero((y < lo) | (y > hi)))
    return np.clip(y, lo, hi).astype(np.int64), sat


def lut_error_bound(name: str, frac: int) -> float:
    """The stated bound on |apply_fixed - apply_float| (same 16-bit input) of a table-based activation.

    sigmoid, tanh: ``LUT_ERROR_BOUND[name]`` + half an output LSB. silu: also the gate's
    1.0 -> 32767 (|x| 2^-15 <= one output LSB), so + 1.5 output LSB.
    """
    lsb = 2.0 ** -frac
    return LUT_ERROR_BOUND[name] + (1.5 * lsb if name == "silu" else 0.5 * lsb)


def unit_ops(name: str | None, elements: int) -> dict[str, int]:
    """The write-back unit operations ``elements`` outputs of activation ``name`` cost (``UNIT_OPS``)."""
    return {op: n * elements for op, n in UNIT_OPS.get(name or "relu", {}).items()}
