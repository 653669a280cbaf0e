"""Recurrent layers (LSTM, GRU) on EIE: one fused sparse M x V per time step, then an element-wise cell.

A recurrent layer (workload kinds ``lstm`` and ``gru``, docs/workload-format.md) holds one
M x V matrix over the step vector v_t = [x_t; h_{t-1}] (V = I + H: I inputs, H hidden
units) with M = 4H rows, plus the bias (broadcast as the bias column, as for fc):

* ``lstm``: rows in ONNX's gate order i, o, f, c (H rows each). The cell:
  i, o, f = sigmoid, g = tanh of the gate pre-activations; c_t = f c_{t-1} + i g;
  h_t = o tanh(c_t).
* ``gru``: rows z, r, n_x, n_h: the update and reset gates over all of v_t, then the
  candidate's input part (only x columns, bias ONNX's Wb_h) and its recurrent part (only h
  columns, bias Rb_h), kept apart because ONNX's ``linear_before_reset = 1`` (PyTorch's
  GRU) multiplies the reset gate into the recurrent part after the product:
  n = tanh(a_nx + r a_nh); h_t = (1 - z) n + z h_{t-1}.

The layer's input is the whole sequence x_1 .. x_T flattened (T x I values, any T); its
output is h_1 .. h_T flattened (T x H). Initial states are zero.

Fixed point (docs/fixed-point.md, "Recurrent layers"): x and h share the layer's in_frac =
out_frac F (they are one broadcast vector); the accumulators and bias are at
weight_frac + F like any layer's; sigmoid and tanh are piecewise linear over a 65-entry
table (``sigmoid_fixed``, ``tanh_fixed``) from inputs in Q.12 to gate values in Q.14;
the cell state c is 16-bit with ``CELL_FRAC`` = 11 fractional bits (range +-16); c and h
saturate to 16 bits and every saturation is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from eiesim.errors import WorkloadError
from eiesim.network.fixed_point import LayerFormat, quantize, saturate, shift_round
from eiesim.network.workload import RECURRENT_KINDS

__all__ = ["RECURRENT_KINDS", "GATES", "GATE_FRAC", "ACT_IN_FRAC", "CELL_FRAC", "hidden_size", "input_size",
           "steps_of", "sigmoid_fixed", "tanh_fixed", "recurrent_float", "recurrent_fixed"]

#: The gate blocks of a recurrent layer's rows (H rows each, in order), by kind (``RECURRENT_KINDS``).
GATES = {"lstm": ("i", "o", "f", "c"), "gru": ("z", "r", "n_x", "n_h")}
#: Fractional bits of gate values (sigmoid, tanh outputs: 1.0 = 2**14 fits 16 bits).
GATE_FRAC = 14
#: Fractional bits of the non-linearities' input (16 bits: the table covers |x| < 8).
ACT_IN_FRAC = 12
#: Fractional bits of the LSTM cell state c (16 bits: |c| < 16).
CELL_FRAC = 11
#: The piecewise-linear table: ``SEGMENTS`` equal segments over [0, ``DOMAIN``), both functions odd-symmetric
#: around 0 (sigmoid(-x) = 1 - sigmoid(x), tanh(-x) = -tanh(x)).
DOMAIN = 8
SEGMENTS = 64
_SEG_SHIFT = ACT_IN_FRAC + 3 - 6  # log2((DOMAIN << ACT_IN_FRAC) / SEGMENTS) = 12 + 3 - 6 = 9
_ONE = 1 << GATE_FRAC


def _table(fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The function at the SEGMENTS + 1 breakpoints k * DOMAIN / SEGMENTS, rounded to Q.14 (computed once)."""
    x = np.arange(SEGMENTS + 1, dtype=np.float64) * DOMAIN / SEGMENTS
    return np.floor(fn(x) * _ONE + 0.5).astype(np.int64)


_SIGMOID_TABLE = _table(lambda x: 1.0 / (1.0 + np.exp(-x)))
_TANH_TABLE = _table(np.tanh)


def _pwl(u: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``table`` at |x| = ``u`` (Q.12, clipped to the domain), integers only."""
    top = (DOMAIN << ACT_IN_FRAC)
    u = np.minimum(u, top)
    k = np.minimum(u >> _SEG_SHIFT, SEGMENTS - 1)
    frac = u - (k << _SEG_SHIFT)
    return table[k] + shift_round((table[k + 1] - table[k]) * frac, _SEG_SHIFT)


def sigmoid_fixed(x_q: np.ndarray) -> np.ndarray:
    """Piecewise-linear sigmoid: Q.12 input (int64) -> Q.14 output in [0, 2**14]."""
    x = np.asarray(x_q, dtype=np.int64)
    y = _pwl(np.abs(x), _SIGMOID_TABLE)
    return np.where(x < 0, _ONE - y, y)


def tanh_fixed(x_q: np.ndarray) -> np.ndarray:
    """Piecewise-linear tanh: Q.12 input (int64) -> Q.14 output in [-2**14, 2**14]."""
    x = np.asarray(x_q, dtype=np.int64)
    y = _pwl(np.abs(x), _TANH_TABLE)
    return np.where(x < 0, -y, y)


# -- the layer's sizes ------------------------------------------------------------------

def hidden_size(layer: Any) -> int:
    """H, the layer's hidden units (``extra["hidden"]``)."""
    h = layer.extra.get("hidden")
    if not isinstance(h, int) or isinstance(h, bool) or h < 1:
        raise WorkloadError(f"layer {layer.name!r}: a {layer.kind} layer needs a positive integer 'hidden', got {h!r}")
    return h


def input_size(layer: Any) -> int:
    """I = V - H, the inputs of one time step."""
    return int(layer.cols) - hidden_size(layer)


def steps_of(layer: Any, values: int) -> int:
    """T: how many time steps an input of ``values`` values is (``values`` = T x I)."""
    i = input_size(layer)
    if i < 1 or values < 1 or values % i:
        raise WorkloadError(f"layer {layer.name!r}: {values} input values are not a sequence of {i}-value steps")
    return values // i


def check_shape(layer: Any) -> None:
    """Raise WorkloadError unless the layer is a consistent recurrent layer (M = 4H, V = I + H, 1 x 1, no ReLU)."""
    h = hidden_size(layer)
    where = f"layer {layer.name!r}"
    if layer.kind not in RECURRENT_KINDS:
        raise WorkloadError(f"{where}: kind must be one of {list(RECURRENT_KINDS)}, got {layer.kind!r}")
    if layer.rows != 4 * h:
        raise WorkloadError(f"{where}: a {layer.kind} layer with {h} hidden units has {4 * h} rows, got {layer.rows}")
    if layer.cols <= h:
        raise WorkloadError(f"{where}: in_channels ({layer.cols}) must be inputs + hidden ({h}) with inputs >= 1")
    if tuple(layer.kernel) != (1, 1) or layer.relu or layer.pool is not None:
        raise WorkloadError(f"{where}: a recurrent layer has a 1 x 1 kernel, no ReLU and no pool")


# -- float reference ---------------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def recurrent_float(layer: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The layer on a flat float sequence: (h_1 .. h_T flattened float32, gate pre-activations (T, M)).

    Exact sigmoid and tanh in float32 (ONNX's definition), zero initial states.
    """
    h_n = hidden_size(layer)
    i_n = input_size(layer)
    steps = steps_of(layer, int(np.size(x)))
    w = layer.weights_csr()
    xs = np.asarray(x, dtype=np.float32).reshape(steps, i_n)
    h = np.zeros(h_n, np.float32)
    c = np.zeros(h_n, np.float32)
    out = np.empty((steps, h_n), np.float32)
    pre_all = np.empty((steps, layer.rows), np.float32)
    for t in range(steps):
        pre = (w @ np.concatenate([xs[t], h]) + layer.bias).astype(np.float32)
        pre_all[t] = pre
        a, b, e, d = (pre[k * h_n:(k + 1) * h_n] for k in range(4))
        if layer.kind == "lstm":  # i, o, f, c
            c = _sigmoid(e) * c + _sigmoid(a) * np.tanh(d)
            h = (_sigmoid(b) * np.tanh(c)).astype(np.float32)
        else:  # z, r, n_x, n_h
            z, r = _sigmoid(a), _sigmoid(b)
            n = np.tanh(e + r * d)
            h = ((1 - z) * n + z * h).astype(np.float32)
        c = np.asarray(c, np.float32)
        out[t] = h
    return out.reshape(-1), pre_all


# -- fixed point -------------------------------------------------------------------------

#: ``step_products(t, v_q) -> acc``: the exact integer M x V product of step t's vector (before bias).
StepProducts = Callable[[int, np.ndarray], np.ndarray]


def recurrent_fixed(layer: Any, x_q: np.ndarray, fmt: LayerFormat,
                    step_products: StepProducts) -> tuple[np.ndarray, int, np.ndarray]:
    """The fixed-point recurrence: (h_1 .. h_T flattened int64, saturations, step vectors (V, T) int64).

    ``x_q``: the flat input sequence at ``fmt.in_frac``; h is kept at ``fmt.out_frac``,
    which must equal in_frac (x and h are one broadcast vector). ``step_products`` gives
    each step's accumulators: the reference's exact product, or an engine's.
    """
    if fmt.in_frac != fmt.out_frac:
        raise WorkloadError(f"layer {layer.name!r}: a recurrent layer's in_frac ({fmt.in_frac}) and out_frac "
                            f"({fmt.out_frac}) must be equal (x and h share the broadcast vector)")
    h_n, i_n = hidden_size(layer), input_size(layer)
    steps = steps_of(layer, int(np.size(x_q)))
    xs = np.asarray(x_q, dtype=np.int64).reshape(steps, i_n)
    f_h = fmt.out_frac
    acc_frac = fmt.acc_frac
    bias_q, sat = quantize(layer.bias, acc_frac, 64 - 2)
    h = np.zeros(h_n, np.int64)
    c = np.zeros(h_n, np.int64)
    out = np.empty((steps, h_n), np.int64)
    vectors = np.empty((layer.cols, steps), np.int64)

    def act_in(v: np.ndarray, frac: int) -> np.ndarray:
        return shift_round(v, frac - ACT_IN_FRAC)

    for t in range(steps):
        v = np.concatenate([xs[t], h])
        vectors[:, t] = v
        pre = np.asarray(step_products(t, v), dtype=np.int64).reshape(-1) + bias_q
        a, b, e, d = (pre[k * h_n:(k + 1) * h_n] for k in range(4))
        if layer.kind == "lstm":  # i, o, f, c
            gi, go, gf = sigmoid_fixed(act_in(a, acc_frac)), sigmoid_fixed(act_in(b, acc_frac)), \
                sigmoid_fixed(act_in(e, acc_frac))
            gg = tanh_fixed(act_in(d, acc_frac))
            c, s1 = saturate(shift_round(gf * c, GATE_FRAC) + shift_round(gi * gg, 2 * GATE_FRAC - CELL_FRAC))
            tc = tanh_fixed(act_in(c, CELL_FRAC))
            h, s2 = saturate(shift_round(go * tc, 2 * GATE_FRAC - f_h), fmt.bits)
        else:  # z, r, n_x, n_h
            gz, gr = sigmoid_fixed(act_in(a, acc_frac)), sigmoid_fixed(act_in(b, acc_frac))
            n = tanh_fixed(act_in(e + shift_round(gr * d, GATE_FRAC), acc_frac))
            s1 = 0
            h, s2 = saturate(shift_round((_ONE - gz) * n, 2 * GATE_FRAC - f_h) + shift_round(gz * h, GATE_FRAC),
                             fmt.bits)
        sat += s1 + s2
        out[t] = h
    return out.reshape(-1), sat, vectors
