"""The Numba kernels of the per-PE encoding (docs/timing-model.md section 1).

* ``count_entries_masked`` / ``count_entries_packed``: two algorithms, one result:
  every PE's column pointers and paddings, straight from the CSR (the first for
  blocks of at most 64 local rows, the second for any).
* ``encode_fill``: the entries themselves (row, codebook index, relative index), for
  the event engine and for inspection.

The counting kernels release the GIL (``nogil=True``) and take a range of PEs, so that
``eiesim.jit.threads`` can split them over threads. Kernels take arrays and plain numbers
only (no globals: Numba's on-disk cache freezes them) and are compiled with
``cache=True``. They are private: call them through ``eiesim.encoding.layout``
(``layout_layer``, ``encode_layer``), which validates their inputs. The tests hold the two
counting kernels to each other and to the entries ``encode_fill`` writes. Loops over CSR
entries use unsigned indices: Numba then skips its negative-index wraparound test, which
otherwise costs about half the time of these memory-bound loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

@intrinsic
def _popcount(typingctx, x):  # noqa: ARG001 (Numba's intrinsic signature)
    """Number of set bits of a uint64 (LLVM's ctpop; one instruction on current CPUs)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.ctpop(args[0])

    return sig, codegen


@njit(cache=True, nogil=True)
def _pointer_prefix(p, count, pads, nbv, ptr, col_pad, pe_pad, pe_total):
    """PE p's pointers from its per-column entry counts: ptr[p, c] = entries before column c."""
    pos = 0
    tot = 0
    prow = ptr[p]
    for c in range(nbv):
        prow[c] = pos
        pos += count[c]
        tot += pads[c]
    prow[nbv] = pos
    for c in range(nbv):
        col_pad[c] += pads[c]
    pe_pad[p] = tot
    pe_total[p] = pos


@njit(cache=True, nogil=True)
def _row_mask(g0, g1, g2, g3):
    """A column's 64-bit local-row mask from its four 16-row groups."""
    return (np.uint64(g0) | (np.uint64(g1) << np.uint64(16)) | (np.uint64(g2) << np.uint64(32))
            | (np.uint64(g3) << np.uint64(48)))


@njit(cache=True, nogil=True)
def _spread(mk, d1, d2, d4, d8, d16):
    """Rows with a set bit of ``mk`` among the ``span`` rows below them: OR of mk << 1 .. mk << span.

    ``d1 .. d16`` are the doubling steps below span (a step of 0 is a no-op)."""
    t = mk | (mk << d1)
    t |= t << d2
    t |= t << d4
    t |= t << d8
    t |= t << d16
    return t << np.uint64(1)


@njit(cache=True, nogil=True)
def count_entries_masked(indptr, indices, biased, rows, cols, stride, num_pes, cap, num_blocks, rel_bits, pe_lo,
                         pe_hi, ptr, col_pad, pe_pad, pe_total):
    """Pointers and padding of every PE column, for blocks of at most 64 local rows.

    Same result as ``count_entries_packed`` (the tests check it), faster: PE by PE, a
    bit per (local row, column) is set (rows in groups of 16, so the scratch being
    written stays in L1), then each column's 64-bit row mask gives its entries
    without visiting them again. A real entry at row q needs floor(g / 2^bits)
    paddings, g = q - (previous row of the column, or -1) - 1; summed over the
    column that is sum over k >= 1 of #{set bits q >= k*2^bits with no set bit in
    [q - k*2^bits, q - 1]}: a few shifts and popcounts per column, branch-free so
    that the column loop vectorizes (k = 1..3 in that loop, k >= 4 only for
    indices of 3 bits or fewer, in extra passes).

    ``indices`` must be unsigned (the wrapper views them so) and below ``cols``. Each
    block has ``stride`` columns: ``cols``, plus the bias column (index ``cols``) when
    ``biased`` (uint8 per row, 1 = an entry in the bias column) is not empty. PEs
    ``pe_lo .. pe_hi - 1`` are done (one thread's share): ``ptr`` (N, B*stride + 1)
    receives each PE's pointers (position in the PE's stream, which runs through the
    blocks in order), ``col_pad`` (B*stride, zeroed) the paddings of each column of a
    block summed over PEs, ``pe_pad`` (N) those of each PE and ``pe_total`` (N, int64)
    each PE's entries (``ptr`` may be int32: the wrapper checks the totals fit).
    """
    nbv = num_blocks * stride
    has_bias = biased.shape[0] > 0
    scratch = np.empty((4, nbv), np.uint16)  # local rows 16g .. 16g+15 set bits in row g
    count = np.empty(nbv, np.int64)
    pads = np.empty(nbv, np.int64)
    span = 1 << rel_bits
    kmax = 63 >> rel_bits  # a gap of at most 63 rows needs at most this many paddings
    extra = kmax > 3
    mask = np.empty(nbv if extra else 0, np.uint64)
    spread = np.empty(nbv if extra else 0, np.uint64)
    seen_all = np.empty(nbv if extra else 0, np.uint64)
    one = np.uint64(1)
    zero = np.uint64(0)
    # Doubling steps that OR a mask with itself shifted by 0 .. span-1 (a 0 shift is a no-op).
    d1 = np.uint64(1 if span > 1 else 0)
    d2 = np.uint64(2 if span > 2 else 0)
    d4 = np.uint64(4 if span > 4 else 0)
    d8 = np.uint64(8 if span > 8 else 0)
    d16 = np.uint64(16 if span > 16 else 0)
    w1 = np.uint64(min(span, 63))
    w2 = np.uint64(min(2 * span, 63))
    w3 = np.uint64(min(3 * span, 63))
    h1 = ~((one << w1) - one) if kmax >= 1 else zero  # rows that can have k paddings before them
    h2 = ~((one << w2) - one) if kmax >= 2 else zero
    h3 = ~((one << w3) - one) if kmax >= 3 else zero
    for p in range(pe_lo, pe_hi):
        scratch[:, :] = 0
        for i in range(p, rows, num_pes):
            r = (i % cap) // num_pes
            srow = scratch[r >> 4]
            bit = np.uint16(1 << (r & 15))
            off = np.uint64((i // cap) * stride)
            for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
                srow[off + indices[t]] |= bit
            if has_bias and biased[i]:
                srow[off + np.uint64(cols)] |= bit
        g0 = scratch[0]
        g1 = scratch[1]
        g2 = scratch[2]
        g3 = scratch[3]
        for c in range(nbv):
            mk = _row_mask(g0[c], g1[c], g2[c], g3[c])
            s1 = _spread(mk, d1, d2, d4, d8, d16)
            seen = s1
            pd = _popcount(mk & ~seen & h1)
            seen |= s1 << w1
            pd += _popcount(mk & ~seen & h2)
            seen |= s1 << w2
            pd += _popcount(mk & ~seen & h3)
            count[c] = np.int64(_popcount(mk) + pd)
            pads[c] = np.int64(pd)
        if extra:  # 1-, 2- and 3-bit indices: more than three paddings can precede an entry
            for c in range(nbv):
                mk = _row_mask(g0[c], g1[c], g2[c], g3[c])
                s1 = _spread(mk, d1, d2, d4, d8, d16)
                mask[c] = mk
                spread[c] = s1
                seen_all[c] = s1 | (s1 << w1) | (s1 << w2) | (s1 << w3)
            for k in range(4, kmax + 1):
                width = np.uint64(k * span)
                high = ~((one << width) - one)
                for c in range(nbv):
                    extra_pads = np.int64(_popcount(mask[c] & ~seen_all[c] & high))
                    pads[c] += extra_pads
                    count[c] += extra_pads
                    seen_all[c] |= spread[c] << width
        _pointer_prefix(p, count, pads, nbv, ptr, col_pad, pe_pad, pe_total)


@njit(cache=True, nogil=True)
def count_entries_packed(indptr, indices, biased, rows, cols, stride, num_pes, cap, num_blocks, rel_bits, pe_lo,
                         pe_hi, ptr, col_pad, pe_pad, pe_total):
    """Pointers and padding of every PE column, any block height (the general, slower path).

    PE by PE, the PE's rows are visited in increasing order; each column of a block
    keeps one int64 with three 21-bit fields: its last local row + 1 (0: none yet),
    its entries and its paddings. An entry z rows after the previous one adds
    ``z >> bits`` paddings. Same arguments and results as ``count_entries_masked``.
    """
    nbv = num_blocks * stride
    has_bias = biased.shape[0] > 0
    low = (1 << 21) - 1
    state = np.empty(nbv, np.int64)
    count = np.empty(nbv, np.int64)
    pads = np.empty(nbv, np.int64)
    for p in range(pe_lo, pe_hi):
        state[:] = 0
        for i in range(p, rows, num_pes):
            r1 = (i % cap) // num_pes + 1
            off = np.uint64((i // cap) * stride)
            for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
                c = off + indices[t]
                s = state[c]
                last1 = s & low
                pd = (r1 - last1 - 1) >> rel_bits
                state[c] = s - last1 + r1 + ((pd + 1) << 21) + (pd << 42)
            if has_bias and biased[i]:
                c = off + np.uint64(cols)
                s = state[c]
                last1 = s & low
                pd = (r1 - last1 - 1) >> rel_bits
                state[c] = s - last1 + r1 + ((pd + 1) << 21) + (pd << 42)
        for c in range(nbv):
            s = state[c]
            count[c] = (s >> 21) & low
            pads[c] = s >> 42
        _pointer_prefix(p, count, pads, nbv, ptr, col_pad, pe_pad, pe_total)


@njit(cache=True)
def encode_fill(indptr, indices, codes, biased, rows, cols, stride, num_pes, cap, num_blocks, rel_bits, cursor,
                ent_row, ent_code, ent_z):
    """Write every entry (real and padding) at its position in its PE's stream.

    PE by PE, the PE's rows are visited in increasing order, so a column's zero run z
    (the PE's rows skipped since its previous entry in the column) is the distance to
    the last local row seen, kept in a scratch array. ``cursor`` (N*B*V) starts at each
    column's global stream position (the layout's pointers plus the PE's base) and is
    advanced in place. Padding entries get row -1, code 0 and z = 2^bits - 1; real
    entries get their matrix row, codebook index and z mod 2^bits; bias entries (column
    ``cols`` of a block, rows with ``biased[i]``) get their row, code 0 and z mod 2^bits.
    """
    zmax = (1 << rel_bits) - 1
    has_bias = biased.shape[0] > 0
    last = np.empty(num_blocks * stride, np.int32)
    for p in range(num_pes):
        last[:] = -1
        base = p * num_blocks * stride
        for i in range(p, rows, num_pes):
            b = i // cap
            r = (i % cap) // num_pes
            for t in range(indptr[i], indptr[i + 1] + (1 if has_bias and biased[i] else 0)):
                bias_entry = t == indptr[i + 1]
                col = b * stride + (cols if bias_entry else indices[t])
                z = r - last[col] - 1
                last[col] = r
                pos = cursor[base + col]
                for _ in range(z >> rel_bits):
                    ent_row[pos] = -1
                    ent_code[pos] = 0
                    ent_z[pos] = zmax
                    pos += 1
                ent_row[pos] = i
                ent_code[pos] = 0 if bias_entry else codes[t]
                ent_z[pos] = z & zmax
                cursor[base + col] = pos + 1
