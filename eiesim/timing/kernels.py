"""All Numba kernels of eiesim: per-PE encoding, the fast engine's rounds and its arithmetic.

* Encoding: ``count_entries_masked`` / ``count_entries_packed`` (two algorithms, one
  result: every PE's column pointers and paddings, straight from the CSR) and
  ``encode_fill`` (the entries themselves, for the event engine and for inspection).
* Fast engine: ``transpose_pointers`` (the pointer table column by column),
  ``run_layer_rounds`` (the timing recurrence over every round of a layer) and
  ``accumulate_fc`` / ``accumulate_conv`` (exact integer arithmetic).
* The heavy kernels release the GIL (``nogil=True``) and take the range of their outer
  loop, so that ``eiesim.timing.threads`` can split them over threads.

Kernels take arrays and plain numbers only (no globals: Numba's on-disk cache freezes
them) and are compiled with ``cache=True``. They are private: call them through the
validating wrappers in ``eiesim.encoding`` and ``eiesim.timing.fast``. The rules they
implement are written out in docs/timing-model.md; the slow, obvious versions live in
the tests and in the SimPy engine (``eiesim.timing.event``). Loops over CSR entries
use unsigned indices: Numba then skips its negative-index wraparound test, which
otherwise costs about half the time of these memory-bound loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

# Indices into the ``counters`` array filled by ``run_layer_rounds``.
C_COMPUTE_CYCLES = 0
C_ROUNDS_RUN = 1
C_NONZERO_ACTS = 2
C_ENTRIES = 3
C_PADDING = 4
C_SPMAT_READS = 5
C_BCAST_STALL = 6
C_BROADCASTS = 7
C_POPS = 8
N_COUNTERS = 9


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


@njit(cache=True, nogil=True)
def transpose_pointers(ptr, out):
    """``out[c, p] = ptr[p, c]``, in column tiles (both arrays' cache lines are reused; numpy's
    strided copy is about 1.5x slower on the (N, B*V + 1) pointer tables)."""
    n, m = ptr.shape
    for c0 in range(0, m, 64):
        c1 = min(m, c0 + 64)
        for p in range(n):
            row = ptr[p]
            for c in range(c0, c1):
                out[c, p] = row[c]


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


@njit(cache=True)
def run_layer_rounds(x, kh, kw, sh, sw, ph, pw, out_h, out_w, pix_lo, pix_hi, rows, cols, stride, num_pes, cap,
                     num_blocks, fifo_depth, latency, pipe_depth, writeback, empty_cycles, finder_rows, ptr_cols,
                     word_mul, word_shift, first_word, last_word, col_pad, busy, empty, starved, stalled, drain,
                     counters):
    """Every round of one layer: the timing recurrence and its statistics (docs/timing-model.md section 3).

    ``x`` is the layer input as int64 (C, H, W) (an fc input is (V, 1, 1) with a 1x1
    kernel). For each output pixel ``pix_lo .. pix_hi - 1`` (row-major; rounds are
    independent, so threads can take pixel ranges), for each row block, for each input
    batch of ``cap`` columns, the non-zeros of the im2col patch (then, in a block's last
    batch, the bias column when ``stride > cols``) are broadcast, and the recurrence of
    ``contract.round_timeline`` is applied in O(K*N): the finder's reach R_k (per
    register row when ``finder_rows``), credits, pops and ends; then the round's length
    C, and, only when some PE cannot handle its last activations before C, a replay of
    the last D + Z + 2 activations from a snapshot to drop them (section 3.3).
    ``ptr_cols`` (B*stride + 1, N, contiguous) holds every PE's column pointers (row
    b*stride + j: where column j of block b starts in the PE's stream; the next row is
    where it ends), the transpose of the encoding's (N, B*stride + 1) table. The Spmat
    words a column spans come from ``first_word``/``last_word`` (B*stride, N) when they
    have B*stride rows (worth building for conv layers, which revisit every column per
    pixel; pass 0 rows otherwise), else from the pointers: word of position s =
    ``(s * word_mul) >> word_shift`` (= s // entries_per_word, see
    ``fast.word_divider``). ``col_pad`` (B*stride) counts each column's padding entries
    over all PEs. Per-PE cycle arrays and ``counters`` (see C_* indices) are accumulated
    in place. The arithmetic is done separately (``accumulate_fc``, ``accumulate_conv``).
    """
    khw = kh * kw
    in_h = x.shape[1]
    in_w = x.shape[2]
    num_batches = (cols + cap - 1) // cap
    bias = stride > cols
    min_cycles = latency + 1 + pipe_depth + writeback
    window = fifo_depth + empty_cycles + 2
    mul32 = np.uint64(word_mul) & np.uint64(0xFFFFFFFF)
    shift = np.uint64(word_shift)
    tables = first_word.shape[0] == num_blocks * stride
    word_lo = np.empty(num_pes, np.int32)
    word_hi = np.empty(num_pes, np.int32)
    nz_j = np.empty(cols, np.int64)
    batch_start = np.empty(num_batches + 1, np.int64)
    fin = np.zeros(num_pes, np.int64)
    buffered = np.empty(num_pes, np.int64)
    ring = np.zeros(max(fifo_depth, 1), np.int64)
    r_starved = np.zeros(num_pes, np.int64)
    r_empties = np.zeros(num_pes, np.int64)
    r_pops = np.zeros(num_pes, np.int64)
    snap_fin = np.zeros(num_pes, np.int64)
    snap_starved = np.zeros(num_pes, np.int64)
    snap_empties = np.zeros(num_pes, np.int64)
    snap_pops = np.zeros(num_pes, np.int64)
    alive = np.zeros(num_pes, np.bool_)
    tail_b = np.zeros(window, np.int64)
    tail_col = np.zeros(window, np.int64)
    reads = 0
    c_compute = 0
    c_rounds = 0
    c_acts = 0
    c_entries = 0
    c_padding = 0
    c_bstall = 0
    c_bcast = 0
    c_pops = 0
    for pix in range(pix_lo, pix_hi):
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
            if x[c, iy, ix] != 0:
                nz_j[k_all] = j
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
                has_b = bias and bt == num_batches - 1
                kt = kk + (1 if has_b else 0)
                c_acts += kk
                if kt == 0 and not finder_rows:
                    continue  # skip_zeros: nothing to broadcast, no round
                col_lo = bt * cap
                reg_rows = (min(cols, col_lo + cap) - col_lo + num_pes - 1) // num_pes
                fin[:] = 0
                buffered[:] = -1
                r_starved[:] = 0
                r_empties[:] = 0
                r_pops[:] = 0
                tail = kt - window if kt > window else 0
                b_prev = 0
                pos_prev = 0
                b_bias = 0
                last_real = 0
                c_done = 0
                if kk == 0:
                    c_done = reg_rows if finder_rows else 0
                col = 0
                for k in range(kt):
                    if k < kk:
                        j = nz_j[k0 + k]
                        pos = j - col_lo
                        if not finder_rows:
                            ready = 0 if k == 0 else b_prev + 1
                        elif k == 0:
                            ready = pos // num_pes
                        else:
                            r = pos // num_pes
                            r0 = pos_prev // num_pes
                            if r == r0:
                                ready = b_prev + 1
                            else:
                                ready = b_prev + 1 + (1 if pos_prev - r0 * num_pes != num_pes - 1 else 0) + (r - r0 - 1)
                        col = b * stride + j
                    else:
                        ready = c_done
                        col = b * stride + cols
                    b_k = ready
                    if k >= fifo_depth:
                        credit = ring[k % fifo_depth]
                        if credit > b_k:
                            b_k = credit
                    c_bstall += b_k - ready
                    if k == tail:
                        snap_fin[:] = fin
                        snap_starved[:] = r_starved
                        snap_empties[:] = r_empties
                        snap_pops[:] = r_pops
                    if k >= tail:
                        tail_b[k - tail] = b_k
                        tail_col[k - tail] = col
                    arrive = b_k + latency
                    max_s = 0
                    starts = ptr_cols[col]
                    ends = ptr_cols[col + 1]
                    if tables:
                        wfs = first_word[col]
                        wls = last_word[col]
                    else:  # 32 x 32 -> 64-bit products (one vector instruction on AVX2)
                        for p in range(num_pes):
                            word_lo[p] = np.int32((np.uint64(np.uint32(starts[p])) * mul32) >> shift)
                            word_hi[p] = np.int32((np.uint64(np.uint32(ends[p] - 1)) * mul32) >> shift)
                        wfs = word_lo
                        wls = word_hi
                    # Branch-free over PEs so that LLVM can vectorize this loop.
                    for p in range(num_pes):
                        f = fin[p]
                        s = max(f, arrive)
                        r_starved[p] += s - f
                        max_s = max(max_s, s)
                        lo_p = np.int64(starts[p])
                        hi_p = np.int64(ends[p])
                        n = hi_p - lo_p
                        none = n == 0
                        f_new = s + (empty_cycles if none else n)
                        fin[p] = f_new
                        last_real = max(last_real, 0 if none else f_new)
                        busy[p] += n
                        c_entries += n
                        r_empties[p] += none
                        r_pops[p] += 1
                        w0 = np.int64(wfs[p])
                        w1 = np.int64(wls[p])
                        old = buffered[p]
                        reads += 0 if none else w1 - w0 + (w0 != old)
                        buffered[p] = old if none else w1
                    ring[k % fifo_depth] = max_s
                    c_padding += col_pad[col]
                    if k < kk:
                        b_prev = b_k
                        pos_prev = pos
                        if k == kk - 1:  # the finder is done in the cycle it reaches the next row
                            if finder_rows:
                                rl = pos // num_pes
                                c_done = b_k + 1 + (1 if pos - rl * num_pes != num_pes - 1 else 0) + (reg_rows - 1 - rl)
                            else:
                                c_done = b_k + 1
                    else:
                        b_bias = b_k
                cycles = c_done + 1
                if last_real > 0 and last_real + pipe_depth + writeback > cycles:
                    cycles = last_real + pipe_depth + writeback
                if min_cycles > cycles:
                    cycles = min_cycles
                c_bcast += kk + (1 if has_b and b_bias + 1 < cycles else 0)
                # Can every PE handle its last activation before the end? Then nothing is dropped.
                drop = False
                if kt > 0:
                    starts = ptr_cols[col]
                    ends = ptr_cols[col + 1]
                    for p in range(num_pes):
                        n = np.int64(ends[p]) - np.int64(starts[p])
                        s_last = fin[p] - (empty_cycles if n == 0 else n)
                        if s_last >= cycles or fin[p] > cycles:
                            drop = True
                if drop:  # replay the tail from the snapshot, dropping what does not fit (section 3.3)
                    fin[:] = snap_fin
                    r_starved[:] = snap_starved
                    r_empties[:] = snap_empties
                    r_pops[:] = snap_pops
                    alive[:] = True
                    for q in range(kt - tail):
                        arrive = tail_b[q] + latency
                        starts = ptr_cols[tail_col[q]]
                        ends = ptr_cols[tail_col[q] + 1]
                        for p in range(num_pes):
                            if alive[p]:
                                f = fin[p]
                                s = max(f, arrive)
                                n = np.int64(ends[p]) - np.int64(starts[p])
                                f_new = s + (empty_cycles if n == 0 else n)
                                if s < cycles and f_new <= cycles:
                                    r_starved[p] += s - f
                                    r_empties[p] += n == 0
                                    r_pops[p] += 1
                                    fin[p] = f_new
                                else:
                                    alive[p] = False
                e_all = 0
                for p in range(num_pes):
                    if fin[p] > e_all:
                        e_all = fin[p]
                for p in range(num_pes):
                    starved[p] += r_starved[p]
                    empty[p] += empty_cycles * r_empties[p]
                    stalled[p] += e_all - fin[p]
                    drain[p] += cycles - e_all
                    c_pops += r_pops[p]
                c_compute += cycles
                c_rounds += 1
    counters[C_COMPUTE_CYCLES] += c_compute
    counters[C_ROUNDS_RUN] += c_rounds
    counters[C_NONZERO_ACTS] += c_acts
    counters[C_ENTRIES] += c_entries
    counters[C_PADDING] += c_padding
    counters[C_SPMAT_READS] += reads
    counters[C_BCAST_STALL] += c_bstall
    counters[C_BROADCASTS] += c_bcast
    counters[C_POPS] += c_pops


@njit(cache=True, nogil=True)
def accumulate_fc(x, indptr, indices, codes, codebook_q, row_lo, row_hi, acc):
    """Exact arithmetic of an fc layer straight from its CSR: acc[i] = sum codebook_q[code] * x[j].

    Rows ``row_lo .. row_hi - 1``. The PEs add the same products in another order;
    integer sums do not depend on it.
    ``indices`` are unsigned and below len(x) (checked by the encoding pass, which
    always runs first); ``codebook_q`` has an entry for every possible code.
    """
    for i in range(row_lo, row_hi):
        s = 0
        for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
            s += codebook_q[codes[t]] * x[indices[t]]
        acc[i] = s


@njit(cache=True, nogil=True)
def accumulate_conv(x, kh, kw, sh, sw, ph, pw, out_h, out_w, pix_lo, pix_hi, rows, cols, tile, indptr, indices,
                    codes, codebook_q, acc_out):
    """Exact arithmetic of a conv layer from its CSR, ``tile`` output pixels at a time.

    Output pixels ``pix_lo .. pix_hi - 1``. For each tile the im2col patch (cols x tile) is built once; then every row's
    entries whose patch column is not all zero in the tile are applied to the whole
    tile (the inner loop vectorizes). ``x`` is (C, H, W) int64; ``acc_out`` is
    (pixels, M) int64. Same contract on ``indices``/``codebook_q`` as ``accumulate_fc``.
    """
    n_pix = out_h * out_w
    khw = kh * kw
    in_h = x.shape[1]
    in_w = x.shape[2]
    tile = max(1, min(tile, n_pix))
    patch = np.zeros((cols, tile), np.int64)
    live = np.zeros(cols, np.bool_)
    acc = np.zeros(tile, np.int64)
    for t0 in range(pix_lo, pix_hi, tile):
        tn = min(tile, pix_hi - t0)
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
            live[j] = any_nz
        for i in range(rows):
            acc[:] = 0
            for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
                j = indices[t]
                if live[j]:
                    w = codebook_q[codes[t]]
                    prow = patch[j]
                    for u in range(tn):
                        acc[u] += w * prow[u]
            for u in range(tn):
                acc_out[t0 + u, i] = acc[u]
