"""Per-PE encoding of a layer: interleaved rows, per-PE CSC, relative indices, padding, packing.

Row i of the M x V matrix lives in PE ``i mod N``; matrices taller than the
destination registers (cap = N x act_regs_per_pe rows) are cut into row blocks
encoded independently. Each PE stores, per block, its entries column by column
with a relative row index of ``rel_index_bits`` bits; zero runs longer than the
index can say are bridged by padding entries (weight 0). The rules are in
docs/timing-model.md section 1; the work is done by the Numba kernels
``encode_count`` / ``encode_fill`` in ``eiesim.timing.kernels``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eiesim.arch import ArchConfig
from eiesim.timing import kernels
from eiesim.timing.cache_guard import call
from eiesim.workload import Layer


@dataclass(frozen=True)
class EncodedLayer:
    """One layer in EIE's per-PE storage format.

    The entries of all PEs are concatenated PE by PE: PE p's stream is
    ``[pe_base[p], pe_base[p+1])`` of ``row``/``code``/``z`` and is ordered by
    (block, column, row). ``ptr[b, j, p]`` (shape (B, V+1, N)) is the position of
    column j of block b within PE p's stream; ``ptr[b, V, p]`` ends the block.
    ``row`` is each entry's matrix row (-1 for a padding entry), ``code`` its codebook
    index (0 for padding) and ``z`` its relative row index.

    ``pe_counts`` (N, B, V) holds each PE's entries per column (its pointer array as
    differences, in the PE's own order). Tables derived once for the simulators, all
    (B, V, N): ``ncount`` entries of the
    column in the PE, ``first_word``/``last_word`` the Spmat words they span; and per
    column of a block (B*V): ``col_entries`` and ``col_pad`` summed over the PEs.
    """

    name: str
    rows: int
    cols: int
    num_pes: int
    cap: int
    num_blocks: int
    entries_per_word: int
    pe_base: np.ndarray
    ptr: np.ndarray
    row: np.ndarray
    code: np.ndarray
    z: np.ndarray
    padding_per_pe: np.ndarray
    pe_counts: np.ndarray
    ncount: np.ndarray
    first_word: np.ndarray
    last_word: np.ndarray
    col_entries: np.ndarray
    col_pad: np.ndarray
    spmat_bytes_per_word: int
    pointer_bits: int

    @property
    def entries_per_pe(self) -> np.ndarray:
        """Entries (real + padding) stored by each PE."""
        return np.diff(self.pe_base)

    @property
    def spmat_bytes_per_pe(self) -> np.ndarray:
        """Spmat SRAM bytes each PE needs: whole words, entries never straddle words."""
        words = -(-self.entries_per_pe // self.entries_per_word)
        return words * self.spmat_bytes_per_word

    @property
    def ptr_bytes_per_pe(self) -> np.ndarray:
        """Pointer SRAM bytes each PE needs: (V + 1) pointers per row block."""
        nbytes = math.ceil(self.num_blocks * (self.cols + 1) * self.pointer_bits / 8)
        return np.full(self.num_pes, nbytes, dtype=np.int64)

    def column_span(self, pe: int, block: int, col: int) -> tuple[int, int]:
        """Index range [start, stop) of PE ``pe``'s entries for column ``col`` of ``block``."""
        g = int(self.pe_base[pe])
        return g + int(self.ptr[block, col, pe]), g + int(self.ptr[block, col + 1, pe])

    def column_entries(self, pe: int, block: int, col: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, codes, z) of the entries PE ``pe`` stores for column ``col`` of ``block``."""
        s, t = self.column_span(pe, block, col)
        return self.row[s:t], self.code[s:t], self.z[s:t]

    def pe_stream(self, pe: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """PE ``pe``'s whole stream (rows, codes, z) in (block, column, row) order."""
        s, t = int(self.pe_base[pe]), int(self.pe_base[pe + 1])
        return self.row[s:t], self.code[s:t], self.z[s:t]


def _index_array(a: np.ndarray) -> np.ndarray:
    """Contiguous integer array, converted only when the dtype is not one the kernels take as is."""
    a = np.ascontiguousarray(a)
    return a if a.dtype in (np.int32, np.int64) else a.astype(np.int64)


def encode_layer(layer: Layer, arch: ArchConfig) -> EncodedLayer:
    """Encode one layer for ``arch`` (interleaving, blocks, relative indices, padding, pointers)."""
    n = arch.num_pes
    cap = arch.act_capacity
    m, v = layer.rows, layer.cols
    blocks = max(1, -(-m // cap))
    bits = arch.rel_index_bits
    indptr = _index_array(layer.indptr)
    indices = _index_array(layer.indices)
    codes = np.ascontiguousarray(layer.codes)
    if codes.dtype not in (np.uint8, np.uint16, np.int32, np.int64):
        codes = codes.astype(np.int64)
    size = n * blocks * v
    counts = np.zeros(size, dtype=np.int64)
    pad_pe = np.zeros(n, dtype=np.int64)
    col_pad = np.zeros(blocks * v, dtype=np.int64)
    col_entries = np.zeros(blocks * v, dtype=np.int64)
    call(
        kernels.encode_count, indptr, indices, m, v, n, cap, blocks, bits, counts, pad_pe, col_pad)
    ptr = np.empty((blocks, v + 1, n), dtype=np.int64)
    ncount = np.empty((blocks, v, n), dtype=np.int32)
    first_word = np.empty((blocks, v, n), dtype=np.int32)
    last_word = np.empty((blocks, v, n), dtype=np.int32)
    pe_base = np.empty(n + 1, dtype=np.int64)
    call(
        kernels.local_pointers, counts, n, blocks, v, arch.entries_per_word, ptr, ncount, first_word, last_word,
        pe_base, col_entries)
    cursor = np.empty(size, dtype=np.int64)
    if size:
        cursor[0] = 0
        np.cumsum(counts[:-1], out=cursor[1:])
    total = int(pe_base[-1])
    ent_row = np.empty(total, dtype=np.int32)
    ent_code = np.empty(total, dtype=np.uint16)
    ent_z = np.empty(total, dtype=np.uint16)
    call(
        kernels.encode_fill, indptr, indices, codes, m, v, n, cap, blocks, bits, cursor, ent_row, ent_code, ent_z)
    return EncodedLayer(
        name=layer.name, rows=m, cols=v, num_pes=n, cap=cap, num_blocks=blocks,
        entries_per_word=arch.entries_per_word, pe_base=pe_base, ptr=ptr, row=ent_row, code=ent_code, z=ent_z,
        padding_per_pe=pad_pe, pe_counts=counts.reshape(n, blocks, v), ncount=ncount, first_word=first_word,
        last_word=last_word,
        col_entries=col_entries, col_pad=col_pad, spmat_bytes_per_word=arch.spmat_sram.width_bits // 8,
        pointer_bits=arch.ptr_sram.pointer_bits,
    )
