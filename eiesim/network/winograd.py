"""Winograd F(2x2, 3x3) convolution as EIE runs it (docs/timing-model.md, "Winograd convolution").

A stride-1 3 x 3 conv layer is cut into 2 x 2 output tiles; tile (ty, tx) reads the 4 x 4
input tile at padded-input rows 2 ty .. 2 ty + 3 and columns 2 tx .. 2 tx + 3. With the
matrices of Lavin & Gray (2016)

    V = B^T d B          (input transform: 32 adds per tile and input channel)
    U = G g G^T          (weight transform: offline, once per kernel)
    M_xn = U_xn V_xn     (16 M x V, one per tile position xn = 4 xi + nu: C_out x C_in each)
    Y = A^T M A          (output transform: 24 adds per tile and output channel)

the 2 x 2 outputs Y equal the direct (cross-correlation) convolution. EIE runs the 16 M x V
of a tile as one M x V of the block-diagonal matrix diag(U_0 .. U_15): the *Winograd layer*
(``winograd_layer``), a 1 x 1 conv over the tile grid with 16 C_in inputs and 16 C_pad
outputs (row ``xn * C_pad + o``, column ``xn * C_in + c``; C_pad = C_out rounded up to a
multiple of the chip's PEs, so that one PE holds all 16 accumulators of each of its output
channels and the output transform stays inside the PE).

Fixed point (docs/fixed-point.md, "Winograd layers"): the transformed weights are
re-shared with one k-means codebook per layer of the layer's own size (``weight_frac`` of
that codebook); the transformed input is the integer B^T d B shifted right by
``INPUT_SHIFT`` = 2 bits with rounding (format ``in_frac - 2``: |V| <= 4 max |d|, so it
saturates only at +2^15, reached by a tile mixing -32768 and +-full-scale values, never by
a non-negative (post-ReLU) input); the output transform is exact integer adds; the result is aligned to the
layer's accumulator format ``weight_frac + in_frac`` with one more round-half-up shift
(``align_shift``), then finished like every layer (bias, requantize, ReLU, pool).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eiesim.network.fixed_point import (LayerFormat, accumulate_reference, quantize, saturate, shift_round,
                                        weight_format)
from eiesim.network.workload import Layer, layer_output_hw

#: B^T of F(2x2, 3x3): the input transform's row mixes (entries 0, +1, -1: adds only).
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.int64)
#: G: the weight transform (entries 0, 1, +-1/2).
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
#: A^T: the output transform (entries 0, +1, -1: adds only).
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.int64)
#: Tile positions per tile (4 x 4) and outputs per tile (2 x 2).
POSITIONS = 16
TILE_OUTPUTS = 4
#: Adds of one tile's input transform per input channel (B^T d: 16, then (B^T d) B: 16).
INPUT_ADDS_PER_CHANNEL = 32
#: Adds of one tile's output transform per output channel (A^T M: 16, then (A^T M) A: 8).
OUTPUT_ADDS_PER_CHANNEL = 24
#: The tile position whose product reaches every output of the tile with coefficient +1:
#: (xi, nu) = (1, 1). The bias is added there, once per output (A^T[:, 1] = A^T[:, 1] = (1, 1)).
BIAS_POSITION = 5
#: Bits the transformed input drops: |B^T d B| <= 4 max |d| needs two more integer bits.
INPUT_SHIFT = 2


def is_winograd_conv(layer: Layer) -> bool:
    """Whether F(2x2, 3x3) applies: a conv layer with a 3 x 3 kernel, stride 1, dilation 1 and symmetric padding.

    A dilated or asymmetrically padded 3 x 3 conv runs as im2col (the tile transforms assume
    adjacent taps and the same padding on both sides).
    """
    return (layer.kind == "conv" and tuple(layer.kernel) == (3, 3) and tuple(layer.stride) == (1, 1)
            and layer.dilation == (1, 1) and len(layer.conv_padding) == 2)


def tile_grid(in_shape: tuple[int, ...], layer: Layer) -> tuple[int, int, int, int]:
    """(OH, OW, TH, TW): the layer's output size and its grid of 2 x 2 output tiles (edges padded)."""
    _, h, w = in_shape
    oh, ow = layer_output_hw(layer, h, w)
    return oh, ow, -(-oh // 2), -(-ow // 2)


def padded_rows(out_channels: int, num_pes: int) -> int:
    """C_pad: the Winograd layer's rows per tile position (C_out rounded up to a multiple of the PEs)."""
    return -(-out_channels // num_pes) * num_pes


def transform_weights(g: np.ndarray) -> np.ndarray:
    """U = G g G^T for every (o, c): (C_out, C_in, 3, 3) -> (16, C_out, C_in) float64, position xn = 4 xi + nu."""
    u = np.einsum("ik,ockl,jl->ijoc", G, np.asarray(g, dtype=np.float64), G)
    return u.reshape(POSITIONS, *u.shape[2:])


def transform_input(x: np.ndarray, layer: Layer) -> np.ndarray:
    """B^T d B of every tile: (C, H, W) -> (16, C, TH, TW), exactly (integers stay integers).

    The input is zero-padded by the layer's padding and, at the bottom and right, up to the
    tile grid's 2 TH + 2 rows and 2 TW + 2 columns (outputs beyond OH x OW are discarded).
    """
    x = np.asarray(x)
    c, h, w = x.shape
    _, _, th, tw = tile_grid(x.shape, layer)
    ph, pw = layer.padding
    xp = np.zeros((c, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    rows, cols = min(h, 2 * th + 2 - ph), min(w, 2 * tw + 2 - pw)
    xp[:, ph:ph + rows, pw:pw + cols] = x[:, :rows, :cols]
    tiles = np.lib.stride_tricks.sliding_window_view(xp, (4, 4), axis=(1, 2))[:, ::2, ::2]  # (C, TH, TW, 4, 4)
    bt = BT if np.issubdtype(x.dtype, np.integer) else BT.astype(np.float64)
    v = np.einsum("ik,cyxkl,jl->ijcyx", bt, tiles, bt)  # B^T d B: (4, 4, C, TH, TW)
    return v.reshape(POSITIONS, c, th, tw)


def inverse_transform(m: np.ndarray, out_hw: tuple[int, int], magnitudes: bool = False) -> np.ndarray:
    """A^T M A of every tile: (16, C, TH, TW) -> (C, OH, OW) (exact for integers; edge tiles cropped).

    ``magnitudes``: |A^T| M |A| instead (every term added, none subtracted: for error bounds).
    """
    m = np.asarray(m)
    _, c, th, tw = m.shape
    at = np.abs(AT) if magnitudes else AT
    at = at if np.issubdtype(m.dtype, np.integer) else at.astype(np.float64)
    y = np.einsum("ik,kl...,jl->...ij", at, m.reshape(4, 4, c, th, tw), at)  # (C, TH, TW, 2, 2)
    y = y.transpose(0, 1, 3, 2, 4).reshape(c, 2 * th, 2 * tw)
    return y[:, :out_hw[0], :out_hw[1]]


def winograd_conv_float(x: np.ndarray, layer: Layer, u: np.ndarray | None = None) -> np.ndarray:
    """The layer's conv (no bias) computed the Winograd way in float64: (C, H, W) -> (C_out, OH, OW).

    ``u``: transformed weights (16, C_out, C_in); default the exact G g G^T of the layer's weights.
    """
    u = transform_weights(layer.dense_weights()) if u is None else u
    v = transform_input(np.asarray(x, dtype=np.float64), layer)
    m = np.einsum("poc,pcyx->poyx", u, v)
    oh, ow, _, _ = tile_grid(np.shape(x), layer)
    return inverse_transform(m, (oh, ow))


@dataclass(frozen=True)
class WinogradLayer:
    """A 3 x 3 layer's Winograd form: the block-diagonal layer EIE stores and runs, and its shape.

    ``matrix`` is the Winograd layer (``Layer``, a 1 x 1 conv: 16 C_pad rows, 16 C_in columns,
    one codebook); ``u_shared`` the transformed weights after sharing, (16, C_out, C_in) float64
    (0 where not stored); ``rows_per_position`` C_pad; ``repruned`` whether the transformed
    weights were pruned (``winograd_layer``'s ``density``).
    """

    layer: Layer
    matrix: Layer
    u_shared: np.ndarray
    rows_per_position: int
    repruned: bool = False

    @property
    def in_channels(self) -> int:
        return self.layer.in_channels

    @property
    def out_channels(self) -> int:
        return self.layer.out_channels

    def input_shape(self, in_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """The Winograd layer's input: (16 C_in, TH, TW)."""
        _, _, th, tw = tile_grid(in_shape, self.layer)
        return POSITIONS * self.in_channels, th, tw

    def weight_density(self) -> float:
        """Stored entries of the 16 transformed matrices over 16 C_out C_in (padding rows excluded)."""
        return float(self.matrix.nnz) / (POSITIONS * self.out_channels * self.in_channels)

    def weight_frac(self, bits: int = 16) -> int:
        """``weight_frac`` of the shared transformed weights (the usual rule on their codebook)."""
        return weight_format(self.matrix, bits)

    def matrix_format(self, fmt: LayerFormat) -> LayerFormat:
        """The Winograd layer's formats: its codebook's ``weight_frac``, the input at ``in_frac - 2``."""
        return LayerFormat(self.weight_frac(fmt.bits), fmt.in_frac - INPUT_SHIFT, fmt.out_frac, fmt.bits)

    def align_shift(self, fmt: LayerFormat) -> int:
        """Right shift from the Winograd accumulator (its ``acc_frac``) to the layer's ``fmt.acc_frac``."""
        return self.matrix_format(fmt).acc_frac - fmt.acc_frac

    def input_q(self, x_q: np.ndarray, fmt: LayerFormat) -> np.ndarray:
        """The Winograd layer's fixed-point input: B^T d B of every tile, rounded to ``in_frac - 2``.

        (C_in, H, W) int at ``fmt.in_frac`` -> (16 C_in, TH, TW) int64, channel ``xn * C_in + c``.
        """
        v = transform_input(np.asarray(x_q, dtype=np.int64), self.layer)
        v, _ = saturate(shift_round(v, INPUT_SHIFT), fmt.bits)  # only -32768 in a +-full-scale tile reaches 2^15
        return v.reshape(POSITIONS * self.in_channels, *v.shape[2:])

    def finish_accumulators(self, acc: np.ndarray, out_hw: tuple[int, int], fmt: LayerFormat) -> np.ndarray:
        """The Winograd layer's accumulators (16 C_pad, TH, TW) -> the layer's (C_out, OH, OW) at ``fmt.acc_frac``.

        The output transform (exact integer adds), then the alignment shift (round half up).
        """
        acc = np.asarray(acc, dtype=np.int64)
        m = acc.reshape(POSITIONS, self.rows_per_position, *acc.shape[1:])[:, :self.out_channels]
        return shift_round(inverse_transform(m, out_hw), self.align_shift(fmt))


def winograd_layer(layer: Layer, num_pes: int, density: float | None = None) -> WinogradLayer:
    """The Winograd form of a 3 x 3 stride-1 conv layer for a chip of ``num_pes`` PEs.

    The transformed weights G g G^T (of the layer's shared weights) that are not exactly 0 are
    stored; they are re-shared by k-means (``compress.kmeans_share``) into one codebook of the
    layer's own size (2^codebook_bits entries), as EIE stores any layer. The bias sits in the
    rows of position ``BIAS_POSITION``. ``density``: prune the transformed weights first, keeping
    the largest |U| down to this fraction of the 16 C_out C_in (pruning in the Winograd domain,
    without retraining; ``prune_to_density``).
    """
    from eiesim.network.compress import kmeans_share, prune_to_density  # only Winograd mappings need them

    c_out, c_in = layer.out_channels, layer.in_channels
    c_pad = padded_rows(c_out, num_pes)
    u = transform_weights(layer.dense_weights())  # (16, C_out, C_in)
    if density is not None:
        u = np.where(prune_to_density(u, density), u, 0.0)
    pos, o, c = np.nonzero(u)
    codebook, codes = kmeans_share(u[pos, o, c], layer.codebook_bits)
    rows = pos * c_pad + o
    cols = pos * c_in + c
    order = np.lexsort((cols, rows))
    rows, cols, codes = rows[order], cols[order], codes[order]
    shape = (POSITIONS * c_pad, POSITIONS * c_in)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    bias = np.zeros(shape[0], np.float32)
    bias[BIAS_POSITION * c_pad:BIAS_POSITION * c_pad + c_out] = layer.bias
    matrix = Layer(name=layer.name, kind="conv", in_channels=shape[1], out_channels=shape[0], kernel=(1, 1),
                   stride=(1, 1), padding=(0, 0), inputs=layer.inputs, relu=False, pool=None, indptr=indptr,
                   indices=cols.astype(np.int32), codes=codes, codebook=codebook, bias=bias,
                   extra={"winograd_of": layer.name})
    shared = np.zeros_like(u)
    shared[pos[order], o[order], c[order]] = codebook[codes]
    return WinogradLayer(layer, matrix, shared, c_pad, repruned=density is not None)


def accumulate_winograd(wl: WinogradLayer, x_q: np.ndarray, fmt: LayerFormat) -> np.ndarray:
    """The fixed-point Winograd reference: the layer's accumulators (C_out, OH, OW) at ``fmt.acc_frac``.

    Input transform and rounding (``input_q``), the Winograd layer's exact integer M x V
    (``accumulate_reference``: scipy / BLAS, no engine code), output transform and alignment.
    """
    fmt_w = wl.matrix_format(fmt)
    acc = accumulate_reference(wl.matrix, wl.input_q(x_q, fmt), fmt_w)
    oh, ow, _, _ = tile_grid(np.shape(x_q), wl.layer)
    return wl.finish_accumulators(acc, (oh, ow), fmt)


def fixed_point_error_bound(wl: WinogradLayer, x_q: np.ndarray, fmt: LayerFormat) -> np.ndarray:
    """Bound on |Winograd accumulator - direct accumulator| (both at ``fmt.acc_frac``, in LSBs), per output.

    The direct path computes sum g_q d exactly; by the Winograd identity that equals
    A^T[(G g_q G^T) . (B^T d B)]A exactly. The Winograd path differs by (1) the shared
    transformed weights U_s instead of U = G g_q G^T (|U_s - U| at most the codebook
    rounding, both at weight_frac_U), (2) the input rounding (|V_q 4 - V| <= 2 LSBs of
    ``in_frac``) and (3) the alignment (half an accumulator LSB). With |A| entries 0 / 1,
    per output y = sum over positions with coefficient +-1 of sum_c (U_s V_q - U V):

        |err| <= sum_xn |a_xn| sum_c (|U_s - U| |V| + |U_s| |V_q 4 - V|) + 1/2 (in accumulator LSBs)

    where every term is taken at the Winograd accumulator's scale and converted. Returned
    as float64 (C_out, OH, OW), already in LSBs of ``fmt.acc_frac``.
    """
    fmt_w = wl.matrix_format(fmt)
    wf = fmt.weight_frac
    g_q = quantize(wl.layer.dense_weights(), wf, fmt.bits)[0].astype(np.float64) / 2.0 ** wf
    u_exact = transform_weights(g_q)
    u_s = quantize(wl.u_shared, fmt_w.weight_frac, fmt.bits)[0].astype(np.float64) / 2.0 ** fmt_w.weight_frac
    v_int = transform_input(np.asarray(x_q, dtype=np.int64), wl.layer)  # exact, at in_frac
    v = v_int / 2.0 ** fmt.in_frac
    v_err = np.abs(shift_round(v_int, INPUT_SHIFT) * (1 << INPUT_SHIFT) - v_int) / 2.0 ** fmt.in_frac
    per_pos = (np.einsum("poc,pcyx->poyx", np.abs(u_s - u_exact), np.abs(v))
               + np.einsum("poc,pcyx->poyx", np.abs(u_s), v_err))
    oh, ow, _, _ = tile_grid(np.shape(x_q), wl.layer)
    bound = inverse_transform(per_pos, (oh, ow), magnitudes=True)
    return bound * 2.0 ** fmt.acc_frac + 0.5


def input_density(v_q: np.ndarray) -> float:
    """Non-zero fraction of a (transformed) input."""
    return float(np.count_nonzero(v_q)) / v_q.size if v_q.size else 0.0


def winograd_reference(winograd: dict[str, WinogradLayer]):  # noqa: ANN201 (an Accumulate)
    """An ``accumulate`` for ``functional.run_fixed``: the Winograd reference for the layers in ``winograd``
    (by name), the direct ``accumulate_reference`` for every other layer."""

    def accumulate(layer: Layer, x_q: np.ndarray, fmt: LayerFormat) -> np.ndarray:
        wl = winograd.get(layer.name)
        return accumulate_reference(layer, x_q, fmt) if wl is None else accumulate_winograd(wl, x_q, fmt)

    return accumulate


def real_multiplies(wl: WinogradLayer, v_q: np.ndarray) -> int:
    """The real multiplies EIE does for the Winograd layer on a transformed input (16 C_in, TH, TW):
    for every column, its stored entries times the tiles in which its input is non-zero."""
    per_column = np.diff(wl.matrix.weights_csr().tocsc().indptr)
    return int(per_column @ np.count_nonzero(v_q.reshape(v_q.shape[0], -1), axis=1))
