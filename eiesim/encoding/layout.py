"""The per-PE encoding of a layer: interleaved rows, per-PE CSC, relative indices, padding, packing.

Row i of the M x V matrix lives in PE ``i mod N``; matrices taller than the
destination registers (cap = N x act_regs_per_pe rows) are cut into row blocks
encoded independently. Each PE stores, per block, its entries column by column
with a relative row index of ``rel_index_bits`` bits; zero runs longer than the
index can say are bridged by padding entries (weight 0). The rules are in
docs/timing-model.md section 1.

Two levels, one set of rules:

* ``layout_layer`` -> ``ColumnLayout``: every PE's column pointers, its padding and
  its storage. That is all timing depends on (how many entries each PE holds for
  each column and where they sit in its Spmat words), and it is what the fast engine
  uses. One pass over the CSR (``eiesim.encoding.kernels.count_entries_*``).
* ``encode_layer`` -> ``EncodedLayer``: the layout plus the entries themselves
  (row, codebook index, relative index), as the Spmat SRAM holds them. The event
  engine walks these entries; ``eiesim.encoding.kernels.encode_fill`` writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from eiesim.config.arch import ArchConfig
from eiesim.encoding import kernels
from eiesim.errors import WorkloadError
from eiesim.jit.cache_guard import call
from eiesim.jit.threads import run_ranges
from eiesim.network.workload import Layer

#: Largest block height (local rows per PE) the bit-mask counting kernel handles.
MASK_KERNEL_MAX_ROWS = 64
#: Stream positions must stay below this (the fast engine's word arithmetic relies on it).
MAX_ENTRIES_PER_PE = 1 << 30


@dataclass(frozen=True)
class ColumnLayout:
    """Where each PE's entries of each column sit: pointers, padding and storage of one layer.

    Each block stores ``stored_cols`` = V' columns: the layer's V, plus the bias column
    (index V) when the architecture broadcasts the bias as a column (``ccu.bias:
    column``; docs/timing-model.md section 1). ``pe_ptr`` (N, B*V' + 1) int32:
    ``pe_ptr[p, b*V' + j]`` is the position, in PE p's stream of entries, of column j
    of block b; the stream runs through the blocks in order, so the next position ends
    the column and ``pe_ptr[p, B*V']`` is the PE's total. ``padding_per_pe`` (N) counts
    each PE's padding entries and ``col_pad`` (B*V') each column's, summed over the PEs.
    """

    name: str
    rows: int
    cols: int
    num_pes: int
    cap: int
    num_blocks: int
    entries_per_word: int
    pe_ptr: np.ndarray
    padding_per_pe: np.ndarray
    col_pad: np.ndarray
    spmat_bytes_per_word: int
    pointer_bits: int
    stored_cols: int

    @property
    def has_bias_column(self) -> bool:
        """True when each block stores the bias as column V (``ccu.bias: column``)."""
        return self.stored_cols > self.cols

    @cached_property
    def ptr(self) -> np.ndarray:
        """The pointer arrays block by block, shape (B, V'+1, N): ``ptr[b, j, p]`` starts column j of
        block b in PE p's stream and ``ptr[b, V', p]`` ends the block (the hardware's V'+1 pointers)."""
        idx = np.arange(self.num_blocks)[:, None] * self.stored_cols + np.arange(self.stored_cols + 1)[None, :]
        return np.ascontiguousarray(self.pe_ptr[:, idx].transpose(1, 2, 0)).astype(np.int64)

    @property
    def entries_per_pe(self) -> np.ndarray:
        """Entries (real + padding) stored by each PE."""
        return self.pe_ptr[:, -1].astype(np.int64)

    @property
    def spmat_bytes_per_pe(self) -> np.ndarray:
        """Spmat SRAM bytes each PE needs: whole words, entries never straddle words."""
        words = -(-self.entries_per_pe // self.entries_per_word)
        return words * self.spmat_bytes_per_word

    @property
    def ptr_bytes_per_pe(self) -> np.ndarray:
        """Pointer SRAM bytes each PE needs: V' + 1 pointers of ``pointer_bits`` per row block."""
        nbytes = math.ceil(self.num_blocks * (self.stored_cols + 1) * self.pointer_bits / 8)
        return np.full(self.num_pes, nbytes, dtype=np.int64)

    @property
    def pointer_bits_needed(self) -> int:
        """Bits a pointer needs to address every entry of the fullest PE: its pointers run 0 .. its total."""
        return int(self.entries_per_pe.max()).bit_length() if self.num_pes else 0

    def column_counts(self, block: int, cols: np.ndarray) -> np.ndarray:
        """Entries each PE holds for the given columns of ``block``, shape (len(cols), N) (V = the bias)."""
        c = block * self.stored_cols + np.asarray(cols, dtype=np.int64)
        return (self.pe_ptr[:, c + 1] - self.pe_ptr[:, c]).T.astype(np.int64)


@dataclass(frozen=True)
class EncodedLayer(ColumnLayout):
    """A layer in EIE's per-PE storage format: its ``ColumnLayout`` plus the entries.

    The entries of all PEs are concatenated PE by PE: PE p's stream is
    ``[pe_base[p], pe_base[p+1])`` of ``row``/``code``/``z`` and is ordered by
    (block, column, row). ``row`` is each entry's matrix row (-1 for a padding entry),
    ``code`` its codebook index (0 for padding and for bias entries, whose value the
    output path adds) and ``z`` its relative row index.
    """

    pe_base: np.ndarray = None  # type: ignore[assignment]
    row: np.ndarray = None  # type: ignore[assignment]
    code: np.ndarray = None  # type: ignore[assignment]
    z: np.ndarray = None  # type: ignore[assignment]

    def column_span(self, pe: int, block: int, col: int) -> tuple[int, int]:
        """Index range [start, stop) of PE ``pe``'s entries for column ``col`` of ``block``."""
        g = int(self.pe_base[pe])
        c = block * self.stored_cols + col
        return g + int(self.pe_ptr[pe, c]), g + int(self.pe_ptr[pe, c + 1])

    def column_entries(self, pe: int, block: int, col: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, codes, z) of the entries PE ``pe`` stores for column ``col`` of ``block``."""
        s, t = self.column_span(pe, block, col)
        return self.row[s:t], self.code[s:t], self.z[s:t]

    def pe_stream(self, pe: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PE ``pe``'s whole stream (rows, codes, z) in (block, column, row) order."""
        s, t = int(self.pe_base[pe]), int(self.pe_base[pe + 1])
        return self.row[s:t], self.code[s:t], self.z[s:t]


def csr_arrays(layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, codes) as the kernels take them: contiguous, indices unsigned.

    Checks what the kernels' memory safety rests on, cheaply (O(rows)): indptr starts
    at 0, never decreases and ends at nnz. Column indices are checked by the counting
    pass itself (``layout_layer``), which every simulation runs first.
    """
    indptr = np.ascontiguousarray(layer.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(layer.indices)
    if indices.dtype not in (np.int32, np.int64, np.uint32, np.uint64):
        indices = indices.astype(np.int64)
    indices = indices.view(np.uint32 if indices.itemsize == 4 else np.uint64)
    codes = np.ascontiguousarray(layer.codes)
    if codes.dtype not in (np.uint8, np.uint16):
        codes = codes.astype(np.int64).view(np.uint64)
    nnz = indices.shape[0]
    if (indptr.shape[0] != layer.rows + 1 or indptr[0] != 0 or indptr[-1] != nnz or codes.shape[0] != nnz
            or np.any(indptr[1:] < indptr[:-1])):
        raise WorkloadError(f"layer {layer.name!r}: indptr/indices/codes do not form a valid CSR matrix")
    return indptr, indices, codes


def _pointer_bits(arch: ArchConfig) -> int:
    """The configured pointer width; 0 until ``pointer_bits: auto`` is resolved over the whole workload."""
    bits = arch.ptr_sram.pointer_bits
    return 0 if bits == "auto" else int(bits)


def bias_rows(layer: Layer, arch: ArchConfig) -> np.ndarray:
    """Rows with an entry in the bias column (uint8, 1 = non-zero bias); empty when there is no bias column."""
    if arch.ccu.bias != "column":
        return np.zeros(0, dtype=np.uint8)
    bias = np.asarray(layer.bias).reshape(-1)
    if bias.shape[0] != layer.rows:
        raise WorkloadError(f"layer {layer.name!r}: bias has {bias.shape[0]} values for {layer.rows} rows")
    return np.ascontiguousarray(bias != 0, dtype=np.uint8)


def layout_layer(layer: Layer, arch: ArchConfig) -> ColumnLayout:
    """Every PE's column pointers, padding and storage for ``arch`` (no entries written)."""
    n = arch.num_pes
    cap = arch.act_capacity
    m, v = layer.rows, layer.cols
    blocks = max(1, -(-m // cap))
    indptr, indices, _ = csr_arrays(layer)
    if indices.shape[0] and int(indices.max()) >= v:
        raise WorkloadError(f"layer {layer.name!r}: column indices must lie in [0, {v})")
    biased = bias_rows(layer, arch)
    stride = v + 1 if biased.shape[0] else v
    nbv = blocks * stride
    ptr = np.empty((n, nbv + 1), dtype=np.int32)
    pe_pad = np.zeros(n, dtype=np.int64)
    pe_total = np.zeros(n, dtype=np.int64)
    # The bit-mask kernel spends O(N x B*V) per layer to save O(nnz): it pays on dense-enough layers.
    masked = arch.act_regs_per_pe <= MASK_KERNEL_MAX_ROWS and indices.shape[0] >= 2 * n * nbv
    kernel = kernels.count_entries_masked if masked else kernels.count_entries_packed

    def count_pes(lo: int, hi: int) -> np.ndarray:  # PEs lo..hi-1; padding per column: this chunk's share
        col_pad = np.zeros(nbv, dtype=np.int64)
        call(kernel, indptr, indices, biased, m, v, stride, n, cap, blocks, arch.rel_index_bits, lo, hi, ptr,
             col_pad, pe_pad, pe_total)
        return col_pad

    col_pad = np.sum(run_ranges(count_pes, n, work=indices.shape[0] + n * nbv), axis=0)  # over the PE ranges
    if n and int(pe_total.max()) >= MAX_ENTRIES_PER_PE:
        raise WorkloadError(f"layer {layer.name!r}: a PE would hold {int(pe_total.max())} entries; "
                            f"eiesim supports fewer than {MAX_ENTRIES_PER_PE} per PE and layer")
    return ColumnLayout(
        name=layer.name, rows=m, cols=v, num_pes=n, cap=cap, num_blocks=blocks,
        entries_per_word=arch.entries_per_word, pe_ptr=ptr, padding_per_pe=pe_pad,
        col_pad=col_pad, spmat_bytes_per_word=arch.spmat_sram.width_bits // 8,
        pointer_bits=_pointer_bits(arch), stored_cols=stride)


def encode_layer(layer: Layer, arch: ArchConfig) -> EncodedLayer:
    """Encode one layer for ``arch``: its ``ColumnLayout`` plus every PE's entries."""
    lay = layout_layer(layer, arch)
    indptr, indices, codes = csr_arrays(layer)
    n, nbv = lay.num_pes, lay.num_blocks * lay.stored_cols
    totals = lay.pe_ptr[:, -1].astype(np.int64)
    pe_base = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(totals, out=pe_base[1:])
    cursor = np.ascontiguousarray((lay.pe_ptr[:, :nbv] + pe_base[:-1, None]).reshape(-1), dtype=np.int64)
    total = int(pe_base[-1])
    ent_row = np.empty(total, dtype=np.int32)
    ent_code = np.empty(total, dtype=np.uint16)
    ent_z = np.empty(total, dtype=np.uint16)
    call(kernels.encode_fill, indptr, indices, codes, bias_rows(layer, arch), lay.rows, lay.cols, lay.stored_cols,
         n, lay.cap, lay.num_blocks, arch.rel_index_bits, cursor, ent_row, ent_code, ent_z)
    fields = {f: getattr(lay, f) for f in ColumnLayout.__dataclass_fields__}
    return EncodedLayer(**fields, pe_base=pe_base, row=ent_row, code=ent_code, z=ent_z)
