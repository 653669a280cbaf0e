"""Deep Compression's steps on dense weights, and what the result costs to store.

Han, Mao & Dally, "Deep Compression" (ICLR 2016): magnitude pruning to a target
density, then per-layer 1-D k-means weight sharing (linear initialisation
between the smallest and largest weight, which the paper found best), then
relative indexing with padding entries for long zero runs, then Huffman coding.

Storage model (``storage_report``), the layout of the authors' released files:
each stored entry is a ``code_bits`` codebook index plus an ``index_bits``
relative index (zeros since the previous entry, the layer flattened in
(out, in, kh, kw) order). A run of ``gap`` zeros longer than 2**index_bits - 1
needs ``gap // 2**index_bits`` padding entries (weight 0) in front of the real
entry. Codebooks and biases are 32-bit floats. With 4-bit indices this rule
gives exactly the 6,162 padding entries of the released SqueezeNet file, and the
byte count of that file.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, cast

import numpy as np

from eiesim.errors import UsageError
from eiesim.network.balance import prune_balanced, prune_balanced_columns
from eiesim.network.workload import NETWORK_INPUT, Layer, Pool, Workload

__all__ = ["prune_to_density", "kmeans_share", "compress_layer", "padding_entries", "relative_index_streams",
           "huffman_code_lengths", "storage_report", "storage_summary", "KMEANS_ITERS"]

#: Lloyd iterations of ``kmeans_share`` (1-D k-means converges in a few tens).
KMEANS_ITERS = 30
#: Bytes per stored layer in the Deep Compression container (its uint32 entry count).
DC_HEADER_BYTES_PER_LAYER = 4


def prune_to_density(w: np.ndarray, density: float) -> np.ndarray:
    """Mask keeping exactly ``round(density * w.size)`` largest-magnitude weights.

    Ties in |w| are broken by flat position (the earlier position is kept), so the
    mask is deterministic.
    """
    if not 0.0 <= density <= 1.0 or not math.isfinite(density):
        raise UsageError(f"density must be in [0, 1], got {density}")
    # |w| in the weights' own float type (float32 for float32 weights): exact, so the same order as in
    # float64, at half the memory and time on VGG-sized layers.
    arr = np.asarray(w)
    flat = np.abs(arr.astype(np.result_type(arr.dtype, np.float32), copy=False)).ravel()
    keep = int(round(density * flat.size))
    mask = np.zeros(flat.size, dtype=bool)
    if keep:
        # The keep-th largest magnitude by selection (O(n), where a full sort took ~100 s on VGG's
        # fc6): everything above it is kept, and of the values equal to it the earliest positions,
        # which is what a stable sort by decreasing magnitude keeps.
        threshold = np.partition(flat, flat.size - keep)[flat.size - keep]
        above = flat > threshold
        mask |= above
        ties = np.flatnonzero(flat == threshold)
        mask[ties[:keep - int(np.count_nonzero(above))]] = True
    return mask.reshape(np.shape(w))


def kmeans_share(values: np.ndarray, bits: int, iters: int = KMEANS_ITERS) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means weight sharing: ``(codebook float32 [2**bits], codes)`` for non-zero ``values``.

    Centroids start evenly spaced between min and max (linear initialisation);
    each Lloyd step assigns every value to its nearest centroid (a value exactly
    half-way goes to the upper one) and moves each centroid to its members' mean.
    An empty cluster keeps its centroid. Sorting once turns every step into
    O(k log n) with prefix sums. A codebook entry that is exactly 0.0 but used is
    replaced by its member closest to zero, so every code names a real non-zero.
    """
    if not 1 <= bits <= 16:
        raise UsageError(f"bits must be in [1, 16], got {bits}")
    k = 1 << bits
    v = np.asarray(values, dtype=np.float32).ravel()
    code_dtype = np.uint8 if k <= 256 else np.uint16
    if v.size == 0:
        return np.zeros(k, np.float32), np.zeros(0, code_dtype)
    if not np.all(np.isfinite(v)) or np.any(v == 0):
        raise UsageError("k-means weight sharing needs finite, non-zero values")
    s = np.sort(v.astype(np.float64))
    prefix = np.concatenate([[0.0], np.cumsum(s)])
    centroids = np.linspace(s[0], s[-1], k)
    for _ in range(iters):
        bounds = np.searchsorted(s, (centroids[:-1] + centroids[1:]) / 2, side="left")
        edges = np.concatenate([[0], bounds, [s.size]])
        counts = np.diff(edges)
        sums = prefix[edges[1:]] - prefix[edges[:-1]]
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.array_equal(new, centroids):
            break
        centroids = new
    codebook = centroids.astype(np.float32)
    # Nearest centroid of each value; ties (exactly half-way) go up, as in the loop above.
    mids = (centroids[:-1] + centroids[1:]) / 2
    codes = np.searchsorted(mids, v.astype(np.float64), side="right").astype(code_dtype)
    used = np.zeros(k, dtype=bool)
    used[codes] = True
    for c in np.flatnonzero(used & (codebook == 0.0)):
        members = v[codes == c]
        codebook[c] = members[np.argmin(np.abs(members))]
    return codebook, codes


def compress_layer(
    name: str, weights: np.ndarray, bias: np.ndarray | None, *, density: float, bits: int, kind: str = "conv",
    stride: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0), inputs: tuple[str, ...] = (NETWORK_INPUT,),
    relu: bool = True, pool: Pool | None = None, balance_pes: int | None = None, balance_columns: bool = False,
) -> Layer:
    """Prune ``weights`` ((out, in, kh, kw) or (out, in)) to ``density``, share them with ``bits``-bit k-means.

    Weights that are already exactly zero are never stored, even if the density
    would keep them (stored entries are real non-zeros). With ``balance_pes`` = N the
    pruning is load-balance-aware (``eiesim.network.balance``, ESE): each of the N PEs
    (row r on PE r mod N) keeps the same number of weights (+-1); with ``balance_columns`` too,
    the same number in every column (each column keeps as many as magnitude pruning keeps in it).
    """
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim == 2:
        w = w[:, :, None, None]
    if w.ndim != 4:
        raise UsageError(f"layer {name!r}: weights must be (out, in, kh, kw) or (out, in), got shape {w.shape}")
    out_c, in_c, kh, kw = w.shape
    if balance_pes is None:
        keep = prune_to_density(w, density) & (w != 0)
    elif balance_columns:
        keep = prune_balanced_columns(w, prune_to_density(w, density), balance_pes)
    else:
        keep = prune_balanced(w, density, balance_pes)
    flat_keep = keep.reshape(out_c, -1)
    rows, cols = np.nonzero(flat_keep)  # row-major: canonical CSR order
    values = w.reshape(out_c, -1)[rows, cols]
    codebook, codes = kmeans_share(values, bits)
    indptr = np.zeros(out_c + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=out_c), out=indptr[1:])
    b = np.zeros(out_c, np.float32) if bias is None else np.asarray(bias, dtype=np.float32).ravel()
    if b.shape != (out_c,):
        raise UsageError(f"layer {name!r}: bias must have {out_c} entries, got shape "
                         f"{np.shape(bias) if bias is not None else None}")
    return Layer(name=name, kind=kind, in_channels=in_c, out_channels=out_c, kernel=(kh, kw),
                 stride=cast("tuple[int, int]", tuple(stride)), padding=cast("tuple[int, int]", tuple(padding)),
                 inputs=tuple(inputs), relu=relu, pool=pool, indptr=indptr,
                 indices=cols.astype(np.int32), codes=codes, codebook=codebook, bias=b)


# -- storage ---------------------------------------------------------------------

def _flat_positions(layer: Layer) -> np.ndarray:
    rows = np.repeat(np.arange(layer.rows, dtype=np.int64), np.diff(layer.indptr))
    return rows * layer.cols + layer.indices.astype(np.int64)


def _gaps(layer: Layer) -> np.ndarray:
    """Zeros before each stored non-zero, the layer flattened in (out, in, kh, kw) order."""
    pos = _flat_positions(layer)
    return np.diff(pos, prepend=-1) - 1


def padding_entries(layer: Layer, index_bits: int = 4) -> int:
    """Padding entries Deep Compression's relative indexing needs: sum of gap // 2**index_bits."""
    return int((_gaps(layer) >> index_bits).sum())


def relative_index_streams(layer: Layer, index_bits: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(code symbols, index symbols) of every stored entry including padding entries.

    Padding entries have code symbol -1 and relative index 2**index_bits - 1; a real
    entry after ``n`` padding entries has index ``gap - n * 2**index_bits``.
    """
    gaps = _gaps(layer)
    span = 1 << index_bits
    n_pad = gaps >> index_bits
    real_index = gaps - n_pad * span
    total_pad = int(n_pad.sum())
    codes = np.concatenate([layer.codes.astype(np.int64), np.full(total_pad, -1, np.int64)])
    index = np.concatenate([real_index, np.full(total_pad, span - 1, np.int64)])
    return codes, index


def huffman_code_lengths(freqs: dict[Any, int]) -> dict[Any, int]:
    """Code length of each symbol in an optimal (Huffman) prefix code for ``freqs``.

    Built with a heap of (weight, tie-break, symbols); a lone symbol gets length 1.
    """
    items = [(f, i, [sym]) for i, (sym, f) in enumerate(sorted(freqs.items(), key=lambda kv: repr(kv[0]))) if f > 0]
    lengths = {sym: 0 for _, _, (sym,) in items}
    if len(items) == 1:
        return {items[0][2][0]: 1}
    heapq.heapify(items)
    counter = len(items)
    while len(items) > 1:
        f1, _, s1 = heapq.heappop(items)
        f2, _, s2 = heapq.heappop(items)
        for sym in s1 + s2:
            lengths[sym] += 1
        heapq.heappush(items, (f1 + f2, counter, s1 + s2))
        counter += 1
    return lengths


def _huffman_bits(symbols: np.ndarray) -> int:
    if symbols.size == 0:
        return 0
    values, counts = np.unique(symbols, return_counts=True)
    freqs = dict(zip(values.tolist(), counts.tolist()))
    lengths = huffman_code_lengths(freqs)
    return sum(freqs[s] * lengths[s] for s in freqs)


def storage_report(layer: Layer, index_bits: int = 4) -> dict[str, Any]:
    """Storage of one layer as Deep Compression stores it (see module docstring); sizes in bits and bytes.

    ``total_bytes`` = code bytes + index bytes (each stream rounded up to whole
    bytes) + codebook + bias. ``huffman_total_bytes`` replaces the two streams by
    their Huffman-coded sizes (the Huffman tables themselves are not counted).
    """
    if not 1 <= index_bits <= 16:
        raise UsageError(f"index_bits must be in [1, 16], got {index_bits}")
    codes, index = relative_index_streams(layer, index_bits)
    stored = int(codes.size)
    code_bits = layer.codebook_bits
    codes_stream_bits = stored * code_bits
    index_stream_bits = stored * index_bits
    codebook_bits_total = 32 * len(layer.codebook)
    bias_bits = 32 * layer.rows
    huff_codes = _huffman_bits(codes)
    huff_index = _huffman_bits(index)
    fixed_bytes = (codebook_bits_total + bias_bits) // 8
    total_bytes = math.ceil(codes_stream_bits / 8) + math.ceil(index_stream_bits / 8) + fixed_bytes
    huffman_total = math.ceil(huff_codes / 8) + math.ceil(huff_index / 8) + fixed_bytes
    dense_bytes = 4 * (layer.rows * layer.cols + layer.rows)
    return {
        "name": layer.name,
        "weights": layer.rows * layer.cols,
        "nnz": layer.nnz,
        "density": layer.density,
        "padding_entries": stored - layer.nnz,
        "stored_entries": stored,
        "index_bits": index_bits,
        "code_bits": code_bits,
        "codebook_entries": int(len(layer.codebook)),
        "codes_stream_bits": codes_stream_bits,
        "index_stream_bits": index_stream_bits,
        "codebook_bits": codebook_bits_total,
        "bias_bits": bias_bits,
        "total_bytes": total_bytes,
        "huffman_codes_bits": huff_codes,
        "huffman_index_bits": huff_index,
        "huffman_total_bytes": huffman_total,
        "dense_bytes": dense_bytes,
        "compression_ratio": dense_bytes / total_bytes if total_bytes else math.inf,
        "huffman_compression_ratio": dense_bytes / huffman_total if huffman_total else math.inf,
    }


def storage_summary(workload: Workload, index_bits: int = 4) -> dict[str, Any]:
    """Per-layer ``storage_report``s and their totals for a whole workload.

    ``container_bytes`` is the Deep Compression file's per-layer entry count (4
    bytes per layer); ``file_bytes`` = layers' ``total_bytes`` + that header, the
    size of a .net file holding this model.
    """
    layers = [storage_report(layer, index_bits) for layer in workload.layers]
    keys = ("weights", "nnz", "padding_entries", "stored_entries", "codes_stream_bits", "index_stream_bits",
            "codebook_bits", "bias_bits", "total_bytes", "huffman_codes_bits", "huffman_index_bits",
            "huffman_total_bytes", "dense_bytes")
    totals: dict[str, Any] = {k: sum(r[k] for r in layers) for k in keys}
    totals["density"] = totals["nnz"] / totals["weights"] if totals["weights"] else 0.0
    totals["container_bytes"] = DC_HEADER_BYTES_PER_LAYER * len(layers)
    totals["file_bytes"] = totals["total_bytes"] + totals["container_bytes"]
    totals["compression_ratio"] = totals["dense_bytes"] / totals["total_bytes"] if totals["total_bytes"] else math.inf
    totals["huffman_compression_ratio"] = (totals["dense_bytes"] / totals["huffman_total_bytes"]
                                           if totals["huffman_total_bytes"] else math.inf)
    return {"workload": workload.name, "index_bits": index_bits, "layers": layers, "totals": totals}
