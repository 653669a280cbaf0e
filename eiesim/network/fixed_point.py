"""EIE's 16-bit fixed-point datapath, shared by the functional reference and both engines.

Format (docs/fixed-point.md): dynamic fixed point, per layer.

* Every tensor is signed ``bits``-bit (default 16) with ``frac`` fractional bits:
  value = integer / 2**frac. Rounding is round-half-up (add 2**(s-1), arithmetic
  shift right by s); conversion to ``bits`` bits saturates and the saturations are
  counted.
* A layer's codebook is quantized with ``weight_frac`` = the most fractional bits
  that keep max|codebook| representable.
* A layer's output uses ``out_frac`` = the most fractional bits that keep the
  largest float output (measured by the float pass on a calibration input)
  representable. Producers that are concatenated share one format (the smaller
  ``out_frac``), so a consumer sees one format per input tensor.
* The PE multiplies a ``bits``-bit weight by a ``bits``-bit activation and adds
  the product into an accumulator wide enough to be exact (guard bits); bias is
  added in accumulator format; the result is shifted to ``out_frac``, saturated to
  ``bits`` bits, then ReLU and pooling apply (with ReLU, only positive overflows
  count as saturations: negative ones become 0 exactly). Because accumulation is exact, the
  result does not depend on the order in which PEs process columns, so the
  engines and the reference agree bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from eiesim.network.activations import FixedFormat, apply_fixed
from eiesim.network.workload import Layer, Pool, conv_output_hw, layer_output_hw, pads_tlbr

#: Bounds on fractional bits (keeps shifts within int64).
MIN_FRAC, MAX_FRAC = -16, 30


@dataclass(frozen=True)
class LayerFormat:
    """Fixed-point formats of one layer: weights, its input tensor, its output tensor."""

    weight_frac: int
    in_frac: int
    out_frac: int
    bits: int = 16

    @property
    def acc_frac(self) -> int:
        """Fractional bits of the products and the accumulator."""
        return self.weight_frac + self.in_frac

    def to_dict(self) -> dict[str, int]:
        return {"weight_frac": self.weight_frac, "in_frac": self.in_frac, "out_frac": self.out_frac, "bits": self.bits}


def frac_bits_for(max_abs: float, bits: int = 16) -> int:
    """Most fractional bits such that ``max_abs`` fits a signed ``bits``-bit integer."""
    if not math.isfinite(max_abs) or max_abs <= 0:
        return MAX_FRAC if max_abs == 0 else 0
    int_bits = math.floor(math.log2(max_abs)) + 1  # bits left of the point, sign excluded
    frac = bits - 1 - int_bits
    # Rounding up to 2**int_bits exactly would overflow by one LSB; saturation handles that edge.
    return int(min(max(frac, MIN_FRAC), MAX_FRAC))


def limits(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def quantize(x: np.ndarray, frac: int, bits: int = 16) -> tuple[np.ndarray, int]:
    """Float -> fixed point (round half up, saturate). Returns (int64 array, saturations)."""
    lo, hi = limits(bits)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:  # a scalar: numpy's scalar arithmetic, and a numpy scalar back
        value = np.floor(arr * (2.0 ** frac) + 0.5)
        return np.clip(value, lo, hi).astype(np.int64), int(np.count_nonzero((value < lo) | (value > hi)))
    scaled = arr * (2.0 ** frac)  # a new array: the steps below work in place
    scaled += 0.5
    np.floor(scaled, out=scaled)
    if _within(scaled, lo, hi):  # nothing to saturate (the usual case): two reductions instead of four passes
        return scaled.astype(np.int64), 0
    sat = _outside(scaled, lo, hi)
    return np.clip(scaled, lo, hi, out=scaled).astype(np.int64), sat


def _within(v: np.ndarray, lo: int, hi: int) -> bool:
    """Whether ``v`` is not empty and every value lies in [lo, hi] (False with a NaN: it compares false)."""
    return bool(v.size) and bool(lo <= v.min()) and bool(v.max() <= hi)


def _outside(v: np.ndarray, lo: int, hi: int) -> int:
    """How many values of ``v`` lie below ``lo`` or above ``hi`` (two disjoint counts; NaN is in neither)."""
    return int(np.count_nonzero(v < lo)) + int(np.count_nonzero(v > hi))


def dequantize(q: np.ndarray, frac: int) -> np.ndarray:
    """Fixed point -> float32."""
    return (np.asarray(q, dtype=np.float64) / (2.0 ** frac)).astype(np.float32)


def shift_round(v: np.ndarray, shift: int) -> np.ndarray:
    """Arithmetic right shift by ``shift`` with round-half-up (left shift when negative)."""
    v = np.asarray(v, dtype=np.int64)
    if shift > 0:
        return (v + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)
    return v << np.int64(-shift)


def saturate(v: np.ndarray, bits: int = 16) -> tuple[np.ndarray, int]:
    lo, hi = limits(bits)
    if isinstance(v, np.ndarray) and v.dtype == np.int64 and _within(v, lo, hi):  # np.clip would copy v unchanged
        return v.copy(), 0
    return _clip(v, lo, hi), _outside(v, lo, hi)


def _clip(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``np.clip(v, lo, hi)``; int64 arrays through maximum and minimum: the same values at half np.clip's cost."""
    if isinstance(v, np.ndarray) and v.dtype == np.int64:  # (bounds of other dtypes may not fit them)
        return np.minimum(np.maximum(v, lo), hi)
    return np.clip(v, lo, hi)


def quantized_codebook(layer: Layer, fmt: LayerFormat) -> np.ndarray:
    """The layer's codebook as ``bits``-bit integers (int64)."""
    q, _ = quantize(layer.codebook, fmt.weight_frac, fmt.bits)
    return q


def weight_format(layer: Layer, bits: int = 16) -> int:
    """``weight_frac`` for a layer's codebook."""
    return frac_bits_for(float(np.max(np.abs(layer.codebook))) if layer.codebook.size else 0.0, bits)


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: Sequence[int],
           pixels: tuple[int, int] | None = None, dilation: tuple[int, int] = (1, 1)) -> np.ndarray:
    """(C, H, W) -> (C*kh*kw, P): column p is output pixel p's input patch, rows in (c, dy, dx) order.

    The one place the im2col index arithmetic is written: patch row j = (c, dy, dx) of
    output pixel (oy, ox) reads input (c, oy*sh - top + dy*dh, ox*sw - left + dx*dw), and a
    position in the zero padding reads 0. ``padding`` is (pad_h, pad_w) for both sides or
    (top, left, bottom, right); ``dilation`` (dh, dw) spaces the taps (the matrix keeps its
    C*kh*kw columns). Rows match the layer matrix's column order (flattened (in_channels,
    kh, kw)); output pixels are in row-major (oy, ox) order.
    ``pixels`` = (lo, hi) gives only the columns of output pixels lo .. hi - 1 (the
    fast engine works through a layer a range of pixels at a time). Every path uses
    it: the fixed-point reference, both engines, the event-engine estimate, the trace.
    A 1 x 1 kernel with stride 1 and no padding returns a view of ``x``.
    """
    c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, left, bottom, right = pads_tlbr(padding)
    oh, ow = conv_output_hw(h, w, kernel, stride, padding, dilation)
    lo, hi = (0, oh * ow) if pixels is None else pixels
    if (kh, kw, sh, sw) == (1, 1, 1, 1) and not any((top, left, bottom, right)):
        return x.reshape(c, h * w)[:, lo:hi]
    if hi <= lo:
        return np.empty((c * kh * kw, 0), dtype=x.dtype)
    y0, y1 = lo // ow, -(-hi // ow)  # the output rows the range touches
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right))) if any((top, left, bottom, right)) else x
    rows = y1 - y0
    cols = np.empty((c, kh, kw, rows, ow), dtype=x.dtype)
    for dy in range(kh):
        row0 = y0 * sh + dy * dh
        for dx in range(kw):
            col0 = dx * dw
            cols[:, dy, dx] = xp[:, row0:row0 + sh * (rows - 1) + 1:sh, col0:col0 + sw * (ow - 1) + 1:sw]
    out = cols.reshape(c * kh * kw, rows * ow)
    first = lo - y0 * ow
    return out if (first, hi - lo) == (0, rows * ow) else out[:, first:first + hi - lo]


def layer_matrix_q(layer: Layer, fmt: LayerFormat) -> sp.csr_matrix:
    """The layer's M x V matrix with quantized weights (int64 CSR)."""
    cb = quantized_codebook(layer, fmt)
    return sp.csr_matrix((cb[layer.codes.astype(np.int64)], layer.indices, layer.indptr), shape=(layer.rows, layer.cols))


#: Largest dense weight matrix (M x V values, 32 MB) the exact float64 path of ``accumulate_reference`` builds.
DENSE_EXACT_MAX_VALUES = 1 << 22
#: Patch values converted to float64 at a time by that path (16 MB): its buffers stay small.
DENSE_EXACT_CHUNK_VALUES = 1 << 21
#: Integers float64 represents exactly: every product and partial sum must stay below this.
FLOAT64_EXACT_BELOW = 1 << 53


def accumulate_reference(layer: Layer, x_q: np.ndarray, fmt: LayerFormat) -> np.ndarray:
    """Exact integer M x V products of one layer, before bias: (M, OH, OW) for conv, (M,) for fc.

    ``x_q`` is the layer's input in fixed point (``fmt.in_frac``): (C, H, W) or (K,).
    This is what every engine's PEs must accumulate, bit for bit. A conv layer is one
    matrix product of the quantized weights with the im2col patches: in float64 through
    BLAS when that is exact (every product and every partial sum an integer below 2**53,
    checked from the largest row of |weights| times the largest |input|; then any
    summation order gives the same integers), else in int64 with scipy. It shares no
    arithmetic with the engines' kernels.
    """
    w = layer_matrix_q(layer, fmt)
    if layer.kind == "fc":
        return np.asarray(w @ np.asarray(x_q, dtype=np.int64).reshape(-1), dtype=np.int64)
    _, h, wd = x_q.shape
    cols = im2col(np.asarray(x_q, dtype=np.int64), layer.kernel, layer.stride, layer.conv_padding,
                  dilation=layer.dilation)
    oh, ow = layer_output_hw(layer, h, wd)
    if _float64_is_exact(w, cols):
        dense = w.toarray().astype(np.float64)
        acc = np.empty((layer.rows, cols.shape[1]), dtype=np.int64)
        step = max(1, DENSE_EXACT_CHUNK_VALUES // max(1, cols.shape[0]))
        for lo in range(0, cols.shape[1], step):
            acc[:, lo:lo + step] = dense @ cols[:, lo:lo + step].astype(np.float64)
    else:
        acc = np.asarray(w @ cols, dtype=np.int64)
    return acc.reshape(layer.rows, oh, ow)


def _float64_is_exact(w: sp.csr_matrix, cols: np.ndarray) -> bool:
    """Whether W @ cols in float64 is exact: max_i sum_j |w_ij| x max |cols| < 2**53 (and W is small enough)."""
    if w.shape[0] * w.shape[1] > DENSE_EXACT_MAX_VALUES or not w.nnz or not cols.size:
        return False
    row_abs = int(np.max(abs(w).sum(axis=1)))
    x_abs = max(abs(int(cols.max())), abs(int(cols.min())))
    return row_abs * x_abs < FLOAT64_EXACT_BELOW


def align_residual(skip_q: np.ndarray, skip_frac: int, out_frac: int) -> np.ndarray:
    """A residual operand in ``skip_frac`` moved to the layer's ``out_frac`` (docs/fixed-point.md, "Residual").

    The alignment shift is ``skip_frac - out_frac``: a right shift rounding half up when the
    operand has more fractional bits, else an exact left shift. The result is not saturated here:
    it is added to the requantized sum, and the sum is saturated once.
    """
    return shift_round(np.asarray(skip_q, dtype=np.int64), skip_frac - out_frac)


def finish_layer(acc: np.ndarray, layer: Layer, fmt: LayerFormat,
                 residual: tuple[np.ndarray, int] | None = None) -> tuple[np.ndarray, int]:
    """Bias, requantize to ``out_frac``, add the residual, saturate, ReLU, pool. Returns (int64 output, saturations).

    ``acc`` holds exact accumulators (``fmt.acc_frac``) shaped (M, OH, OW) or (M,).
    ``residual`` = (the skip operand's 16-bit values, its frac) for a layer with a residual:
    aligned to ``out_frac`` (``align_residual``) and added to the requantized value before
    the one saturation to ``bits`` bits, which is counted like any other.
    """
    bias_q, sat_b = quantize(layer.bias, fmt.acc_frac, 64 - 2)
    shape = (-1,) + (1,) * (acc.ndim - 1)
    out = shift_round(acc + bias_q.reshape(shape), fmt.acc_frac - fmt.out_frac)
    if residual is not None:
        out = out + align_residual(residual[0], residual[1], fmt.out_frac).reshape(out.shape)
    if layer.activation is not None:  # the 16-bit value enters the activation unit (eiesim.network.activations)
        out, sat = saturate(out, fmt.bits)
        out, sat_a = apply_fixed(layer.activation, out, FixedFormat(fmt.out_frac, fmt.bits), layer.activation_params)
        if layer.pool is not None:
            out = pool_fixed(out, layer.pool)
        return out, sat + sat_a + sat_b
    if layer.relu:
        # ReLU follows the write-back: a negative value clipped to the range would be
        # zeroed anyway, so only positive overflows lose information (and are counted).
        hi = limits(fmt.bits)[1]
        if out.size and out.max() <= hi:  # (int64) no positive overflow: the clip is the ReLU alone
            sat = 0
            out = np.maximum(out, 0)
        else:
            sat = int(np.count_nonzero(out > hi))
            out = _clip(out, 0, hi)
    else:
        out, sat = saturate(out, fmt.bits)
    if layer.pool is not None:
        out = pool_fixed(out, layer.pool)
    return out, sat + sat_b


def pool_fixed(x: np.ndarray, pool: Pool) -> np.ndarray:
    """Pooling on integers (max exact; averages rounded half up), Caffe window rules."""
    c, h, w = x.shape
    if pool.kind == "global_avg":
        n = h * w
        s = x.reshape(c, -1).sum(axis=1)
        return ((2 * s + n) // (2 * n)).reshape(c, 1, 1)
    return _pool_windows(x, pool, integer=True)


def pool_float(x: np.ndarray, pool: Pool) -> np.ndarray:
    """Float pooling with the same window rules (Caffe)."""
    if pool.kind == "global_avg":
        return x.reshape(x.shape[0], -1).mean(axis=1).reshape(x.shape[0], 1, 1).astype(x.dtype)
    return _pool_windows(x, pool, integer=False)


def _pool_windows(x: np.ndarray, pool: Pool, integer: bool) -> np.ndarray:
    """Max or average over each window (clipped at the map's edge, Caffe's ceil mode).

    Max pooling and integer averages are taken over all windows at once, one shifted
    strided view per window offset (exact in any order; the map is padded with the
    lowest value for max, zeros for sums). Float averages keep numpy's own mean of each
    window, so that their rounding is that of ``np.mean``.
    """
    c, h, w = x.shape
    oh, ow = pool.output_hw(h, w)
    k, s, p = pool.kernel, pool.stride, pool.pad
    if pool.kind == "avg" and not integer:
        return _float_avg_windows(x, pool, oh, ow)
    # The map with ``p`` on the top / left and enough on the bottom / right for the last window.
    ph, pw = max(0, (oh - 1) * s + k - h - p), max(0, (ow - 1) * s + k - w - p)
    if pool.kind == "max":
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = np.pad(x, ((0, 0), (p, ph), (p, pw)), constant_values=fill) if (p or ph or pw) else x
        out = xp[:, 0:s * (oh - 1) + 1:s, 0:s * (ow - 1) + 1:s].copy()  # the window's first tap
        for dy in range(k):
            for dx in range(k):
                if dy or dx:
                    np.maximum(out, xp[:, dy:dy + s * (oh - 1) + 1:s, dx:dx + s * (ow - 1) + 1:s], out=out)
        return out
    xp = np.pad(x, ((0, 0), (p, ph), (p, pw))) if (p or ph or pw) else x
    total = np.zeros((c, oh, ow), dtype=np.int64)
    for dy in range(k):
        for dx in range(k):
            total += xp[:, dy:dy + s * (oh - 1) + 1:s, dx:dx + s * (ow - 1) + 1:s]
    n = _avg_divisor(pool, h, oh)[:, None] * _avg_divisor(pool, w, ow)[None, :]
    return ((2 * total + n) // (2 * n)).astype(x.dtype)


def _avg_divisor(pool: Pool, n: int, out: int) -> np.ndarray:
    """Per output position along one axis: how many values an average window divides by.

    Without ``count_include_pad``: the window's positions inside the map; with it: the window
    clipped to the padded map (n + pad on the far side), as ONNX and PyTorch count.
    """
    starts = np.arange(out) * pool.stride - pool.pad
    if pool.count_include_pad:
        return np.minimum(starts + pool.kernel, n + pool.pad) - starts
    return np.minimum(starts + pool.kernel, n) - np.maximum(starts, 0)


def _float_avg_windows(x: np.ndarray, pool: Pool, oh: int, ow: int) -> np.ndarray:
    c, h, w = x.shape
    k, s, p = pool.kernel, pool.stride, pool.pad
    ny, nx = _avg_divisor(pool, h, oh), _avg_divisor(pool, w, ow)
    out = np.empty((c, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        y0, y1 = max(oy * s - p, 0), min(oy * s - p + k, h)
        for ox in range(ow):
            x0, x1 = max(ox * s - p, 0), min(ox * s - p + k, w)
            window = x[:, y0:y1, x0:x1].reshape(c, -1)
            if pool.count_include_pad and ny[oy] * nx[ox] != window.shape[1]:
                out[:, oy, ox] = window.sum(axis=1) / (ny[oy] * nx[ox])
            else:
                out[:, oy, ox] = window.mean(axis=1)
    return out
