"""All Numba kernels of eiesim: per-PE encoding and the fast engine's layer rounds.

Kernels take arrays and plain numbers only (no globals: Numba's on-disk cache freezes
them) and are compiled with ``cache=True``. They are private: call them through the
validating wrappers in ``eiesim.encoding`` and ``eiesim.timing.fast``. The rules they
implement are written out in docs/timing-model.md; the slow, obvious versions live in
the tests and in the SimPy engine (``eiesim.timing.event``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Indices into the ``counters`` array filled by ``run_layer_rounds``.
C_COMPUTE_CYCLES = 0
C_ROUNDS_NONEMPTY = 1
C_NONZERO_ACTS = 2
C_ENTRIES = 3
C_PADDING = 4
C_SPMAT_READS = 5
C_BCAST_STALL = 6
N_COUNTERS = 7


@njit(cache=True)
def encode_count(indptr, indices, rows, cols, num_pes, cap, num_blocks, rel_bits, counts, pad_pe, col_pad):
    """Pass 1 of the per-PE encoding: entries (real + padding) per (PE, block, column).

    PE by PE, the PE's rows are visited in increasing order, so a column's zero run
    z (the PE's rows skipped since its previous entry in the column) is the
    distance to the last local row seen, kept in a per-PE scratch array.
    ``counts`` (N*B*V, zeroed) receives the counts at ``(p*B + b)*V + j``; ``pad_pe``
    (N) and ``col_pad`` (B*V) the padding per PE and per column of a block.
    """
    last = np.empty(num_blocks * cols, np.int32)
    for p in range(num_pes):
        last[:] = -1
        base = p * num_blocks * cols
        for i in range(p, rows, num_pes):
            b = i // cap
            r = (i % cap) // num_pes
            for t in range(indptr[i], indptr[i + 1]):
                col = b * cols + indices[t]
                z = r - last[col] - 1
                last[col] = r
                pads = z >> rel_bits
                counts[base + col] += pads + 1
                if pads:
                    pad_pe[p] += pads
                    col_pad[col] += pads


@njit(cache=True)
def encode_fill(indptr, indices, codes, rows, cols, num_pes, cap, num_blocks, rel_bits, cursor,
                ent_row, ent_code, ent_z):
    """Pass 2: write every entry at its position in its PE's stream (same visiting order as pass 1).

    ``cursor`` (N*B*V) starts as the exclusive prefix sum of the counts (PE-major, so
    each PE's entries are contiguous and ordered by (block, column, row)) and is
    advanced in place. Padding entries get row -1, code 0 and z = 2^bits - 1; real
    entries get their matrix row, codebook index and z mod 2^bits.
    """
    zmax = (1 << rel_bits) - 1
    last = np.empty(num_blocks * cols, np.int32)
    for p in range(num_pes):
        last[:] = -1
        base = p * num_blocks * cols
        for i in range(p, rows, num_pes):
            b = i // cap
            r = (i % cap) // num_pes
            for t in range(indptr[i], indptr[i + 1]):
                col = b * cols + indices[t]
                z = r - last[col] - 1
                last[col] = r
                pos = cursor[base + col]
                for _ in range(z >> rel_bits):
                    ent_row[pos] = -1
                    ent_code[pos] = 0
                    ent_z[pos] = zmax
                    pos += 1
                ent_row[pos] = i
                ent_code[pos] = codes[t]
                ent_z[pos] = z & zmax
                cursor[base + col] = pos + 1


@njit(cache=True)
def local_pointers(counts, num_pes, num_blocks, cols, entries_per_word, ptr, ncount, first_word, last_word,
                   pe_base, col_entries):
    """Column pointers into each PE's stream and the per-(block, column, PE) tables the rounds read.

    ``ptr[b, j, p]`` (shape (B, V+1, N)) is column j's position in PE p's stream and
    ``ptr[b, V, p]`` ends block b; ``ncount``/``first_word``/``last_word`` (B, V, N)
    are the column's entries and the Spmat words it spans (words of
    ``entries_per_word`` entries; meaningless when the count is 0); ``pe_base`` (N+1)
    the global start of each PE's stream; ``col_entries`` (B*V, zeroed) the entries of
    each column of a block over all PEs.
    """
    g = 0
    for p in range(num_pes):
        pe_base[p] = g
        local = 0
        for b in range(num_blocks):
            for j in range(cols):
                n = counts[(p * num_blocks + b) * cols + j]
                ptr[b, j, p] = local
                ncount[b, j, p] = n
                col_entries[b * cols + j] += n
                first_word[b, j, p] = local // entries_per_word
                last_word[b, j, p] = (local + n - 1) // entries_per_word if n > 0 else -1
                local += n
            ptr[b, cols, p] = local
        g += local
    pe_base[num_pes] = g


@njit(cache=True)
def run_layer_rounds(x, kh, kw, sh, sw, ph, pw, out_h, out_w, rows, cols, num_pes, cap, num_blocks,
                     fifo_depth, latency, pipe_depth, empty_cycles,
                     counts, first_word, last_word_of, col_entries, col_pad,
                     busy, empty, starved, stalled, counters):
    """Every round of one layer: the timing recurrence and its statistics.

    ``x`` is the layer input as int64 (C, H, W) (an fc input is (V, 1, 1) with a 1x1
    kernel). For each output pixel (row-major), for each row block, for each input
    batch of ``cap`` columns, the non-zeros of the im2col patch are broadcast and the
    recurrence of docs/timing-model.md section 3 is applied in O(K*N).
    Per (block, column, PE), arrays of shape (B, V, N): ``counts`` entries, and
    ``first_word``/``last_word_of`` the Spmat words the column spans.
    Per column of a block (index b*V + j): ``col_entries`` and ``col_pad`` count its
    entries and padding entries over all PEs. Per-PE cycle arrays and
    ``counters`` (see C_* indices) are accumulated in place. The arithmetic is done
    separately by ``accumulate_layer`` (same entries, vectorized over pixels).
    """
    n_pix = out_h * out_w
    khw = kh * kw
    in_h = x.shape[1]
    in_w = x.shape[2]
    num_batches = (cols + cap - 1) // cap
    nz_j = np.empty(cols, np.int64)
    nz_a = np.empty(cols, np.int64)
    batch_start = np.empty(num_batches + 1, np.int64)
    fin = np.zeros(num_pes, np.int64)
    buffered = np.empty(num_pes, np.int64)
    ring = np.zeros(max(fifo_depth, 1), np.int64)
    empty_cols = np.zeros(num_pes, np.int64)
    reads = 0
    c_compute = 0
    c_rounds = 0
    c_acts = 0
    c_entries = 0
    c_padding = 0
    c_bstall = 0
    for pix in range(n_pix):
        oy = pix // out_w
        ox = pix - oy * out_w
        # Non-zeros of this pixel's patch, in increasing column index (c, dy, dx).
        k_all = 0
        for j in range(cols):
            c = j // khw
            rem = j - c * khw
            dy = rem // kw
            dx = rem - dy * kw
            iy = oy * sh - ph + dy
            ix = ox * sw - pw + dx
            if iy < 0 or iy >= in_h or ix < 0 or ix >= in_w:
                continue
            a = x[c, iy, ix]
            if a != 0:
                nz_j[k_all] = j
                nz_a[k_all] = a
                k_all += 1
        t = 0
        for bt in range(num_batches):
            lo = bt * cap
            while t < k_all and nz_j[t] < lo:
                t += 1
            batch_start[bt] = t
        batch_start[num_batches] = k_all
        for b in range(num_blocks):
            for bt in range(num_batches):
                k0 = batch_start[bt]
                kk = batch_start[bt + 1] - k0
                if kk == 0:
                    continue
                c_rounds += 1
                c_acts += kk
                fin[:] = 0
                buffered[:] = -1
                b_prev = 0
                for k in range(kk):
                    j = nz_j[k0 + k]
                    a = nz_a[k0 + k]
                    if k == 0:
                        b_k = 0
                    else:
                        b_k = b_prev + 1
                        if k >= fifo_depth:
                            credit = ring[k % fifo_depth] + 1
                            if credit > b_k:
                                b_k = credit
                        c_bstall += b_k - b_prev - 1
                    arrive = b_k + latency
                    max_s = 0
                    cnt = counts[b, j]
                    w0s = first_word[b, j]
                    w1s = last_word_of[b, j]
                    # Branch-free over PEs so that LLVM can vectorize this loop.
                    for p in range(num_pes):
                        f = fin[p]
                        s = max(f, arrive)
                        starved[p] += s - f
                        max_s = max(max_s, s)
                        n = cnt[p]
                        none = n == 0
                        fin[p] = s + (empty_cycles if none else n)
                        busy[p] += n
                        empty_cols[p] += none
                        w0 = w0s[p]
                        w1 = w1s[p]
                        old = buffered[p]
                        reads += 0 if none else w1 - w0 + (w0 != old)
                        buffered[p] = old if none else w1
                    ring[k % fifo_depth] = max_s
                    b_prev = b_k
                    col = b * cols + j
                    c_entries += col_entries[col]
                    c_padding += col_pad[col]
                end = 0
                for p in range(num_pes):
                    if fin[p] > end:
                        end = fin[p]
                for p in range(num_pes):
                    stalled[p] += end - fin[p]
                c_compute += end + pipe_depth - 1
    counters[C_COMPUTE_CYCLES] += c_compute
    counters[C_ROUNDS_NONEMPTY] += c_rounds
    counters[C_NONZERO_ACTS] += c_acts
    counters[C_ENTRIES] += c_entries
    counters[C_PADDING] += c_padding
    counters[C_SPMAT_READS] += reads
    for p in range(num_pes):
        empty[p] += empty_cycles * empty_cols[p]
    counters[C_BCAST_STALL] += c_bstall


@njit(cache=True)
def accumulate_layer(x, kh, kw, sh, sw, ph, pw, out_h, out_w, rows, cols, num_pes, num_blocks, tile,
                     pe_base, ptr, ent_row, ent_code, codebook_q, acc_out):
    """Exact arithmetic of a layer from its encoded entries: acc[row] += codebook_q[code] * a.

    For each tile of ``tile`` output pixels, PE by PE and block by block, the columns
    whose patch values are not all zero in the tile are visited in increasing order and
    the column's entries ``pe_base[p] + ptr[b, j, p] .. pe_base[p] + ptr[b, j + 1, p]``
    are applied to the whole tile at once (the inner loop vectorizes). Padding entries
    (row < 0) add nothing. Integer arithmetic is exact, so this order gives the same
    result as the PEs' own. ``acc_out`` is (pixels, M) int64.
    """
    n_pix = out_h * out_w
    khw = kh * kw
    in_h = x.shape[1]
    in_w = x.shape[2]
    tile = max(1, min(tile, n_pix))
    patch = np.zeros((cols, tile), np.int64)
    live = np.empty(cols, np.int64)
    acc = np.zeros((rows, tile), np.int64)
    for t0 in range(0, n_pix, tile):
        tn = min(tile, n_pix - t0)
        n_live = 0
        for j in range(cols):
            c = j // khw
            rem = j - c * khw
            dy = rem // kw
            dx = rem - dy * kw
            prow = patch[j]
            any_nz = False
            for u in range(tn):
                pix = t0 + u
                oy = pix // out_w
                ox = pix - oy * out_w
                iy = oy * sh - ph + dy
                ix = ox * sw - pw + dx
                v = 0
                if iy >= 0 and iy < in_h and ix >= 0 and ix < in_w:
                    v = x[c, iy, ix]
                prow[u] = v
                any_nz = any_nz or v != 0
            if any_nz:
                live[n_live] = j
                n_live += 1
        acc[:, :] = 0
        for p in range(num_pes):  # PE by PE: each PE's stream is read in order (memory locality)
            base = pe_base[p]
            for b in range(num_blocks):
                for k in range(n_live):
                    j = live[k]
                    for e in range(base + ptr[b, j, p], base + ptr[b, j + 1, p]):
                        r = ent_row[e]
                        if r < 0:
                            continue
                        w = codebook_q[ent_code[e]]
                        for u in range(tn):
                            acc[r, u] += w * patch[j, u]
        for u in range(tn):
            for r in range(rows):
                acc_out[t0 + u, r] = acc[r, u]
