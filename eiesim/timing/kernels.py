"""The Numba kernels of the fast engine: the rounds of a layer and its exact arithmetic.

* ``transpose_pointers``: the encoding's pointer table column by column.
* ``run_layer_rounds``: the timing recurrence (docs/timing-model.md section 3) over
  every round of a layer, with its statistics.
* ``accumulate_fc`` / ``accumulate_conv``: exact integer arithmetic straight from the CSR.
* The heavy kernels release the GIL (``nogil=True``) and take the range of their outer
  loop, so that ``eiesim.jit.threads`` can split them over threads.

The per-PE encoding's kernels live with the encoding (``eiesim.encoding.kernels``).
Kernels take arrays and plain numbers only (no globals: Numba's on-disk cache freezes
them) and are compiled with ``cache=True``. They are private: call them through the
validating wrapper ``eiesim.timing.fast``. The rules they implement are written out in
docs/timing-model.md and stated as code in ``eiesim.timing.contract``; the slow, obvious
versions live there (``round_timeline``), in the tests and in the SimPy engine
(``eiesim.timing.event``). Loops over CSR entries use unsigned indices: Numba then skips
its negative-index wraparound test, which otherwise costs about half the time of these
memory-bound loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
# PE cycles of PEs holding no rows of the round's block, by class (starved + empty, stalled, drain).
C_IDLE_STARVED_EMPTY = 9
C_IDLE_STALLED = 10
C_IDLE_DRAIN = 11
N_COUNTERS = 12


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


@njit(cache=True, nogil=True)
def run_layer_rounds(patches, rows, cols, stride, num_pes, cap, num_blocks, fifo_depth, latency, pipe_depth,
                     writeback, empty_cycles, finder_rows, ptr_cols, word_mul, word_shift, first_word, last_word,
                     col_pad, lane, busy, empty, starved, stalled, drain, counters):
    """Every round of some output pixels of a layer: the timing recurrence and its statistics (section 3).

    ``patches`` (cols, P) holds the input patch of each of the P output pixels, as
    ``fixed_point.im2col`` builds it (an fc layer: its input as one column). Rounds are
    independent, so the caller may hand different pixel ranges to different threads.
    For each pixel, for each row block, for each input batch of ``cap`` columns, the
    patch's non-zeros (then, in a block's last batch, the bias column when ``stride >
    cols``) are broadcast, and the recurrence of ``contract.round_timeline`` is applied
    in O(K*N): the finder's reach R_k (per register row when ``finder_rows``), credits,
    pops and ends; then the round's length C, and, only when some PE cannot handle its
    last activations before C, a replay of the last D + Z + 2 activations from a
    snapshot to drop them (section 3.3).

    Per activation, only what depends on the order of events is updated for every PE:
    its end F and its buffered Spmat word. The other statistics follow from sums: a PE's
    busy cycles and empty columns from how often each column was broadcast (a dropped
    activation is always a column the PE holds nothing for), its word reads from the
    words each broadcast column spans less the buffered-word hits, and its starved
    cycles from F = the sum of its waits and costs (each handled activation is a wait
    for the FIFO head and then n entries or Z cycles). The PEs that hold no entry of a row
    block (the last ones of a block with fewer rows than PEs: squeeze layers, any layer on
    many PEs) all evolve alike, F = max(F, arrival) + Z, and share one scalar state.

    ``ptr_cols`` (B*stride + 1, N, contiguous) holds every PE's column pointers (row
    b*stride + j: where column j of block b starts in the PE's stream; the next row is
    where it ends), the transpose of the encoding's (N, B*stride + 1) table. The Spmat
    words a column spans come from ``first_word``/``last_word`` (B*stride, N) when they
    have B*stride rows (worth building for conv layers, which revisit every column per
    pixel; pass 0 rows otherwise), else from the pointers: word of position s =
    ``(s * word_mul) >> word_shift`` (= s // entries_per_word, see
    ``fast.word_divider``). ``col_pad`` (B*stride) counts each column's padding entries
    over all PEs. ``lane`` (an empty array) gives the dtype of the per-PE state of a
    round: int32 doubles the PEs per vector instruction, and is exact when no timestamp
    of a round reaches 2**30 (``fast.round_lane_dtype`` checks it); int64 otherwise.
    Per-PE cycle arrays and ``counters`` (see C_* indices) are accumulated in place. The
    arithmetic is done separately (``accumulate_fc``, ``accumulate_conv``).
    """
    num_batches = (cols + cap - 1) // cap
    bias = stride > cols
    min_cycles = latency + 1 + pipe_depth + writeback
    window = fifo_depth + empty_cycles + 2
    mul32 = np.uint64(word_mul) & np.uint64(0xFFFFFFFF)
    shift = np.uint64(word_shift)
    tables = first_word.shape[0] == num_blocks * stride
    nz_j = np.empty(cols, np.int64)
    # Register row of each column, and whether it is the row's last position (cap is a multiple of N, so a
    # column's row inside its batch is its row here minus the batch's first row): no division per activation.
    reg_row = np.empty(cols, np.int64)
    row_end = np.empty(cols, np.bool_)
    for j in range(cols):
        reg_row[j] = j // num_pes
        row_end[j] = j - reg_row[j] * num_pes == num_pes - 1
    batch_start = np.empty(num_batches + 1, np.int64)
    # Per-PE state of a round, in the lanes of ``lane``'s dtype (int32 when the caller has checked that no
    # timestamp of a round can reach 2**30: twice the PEs per vector instruction). Only what depends on the
    # order of events is updated per activation (F, the buffered Spmat word); the rest follows at the end:
    # busy and empty columns from how often each column was broadcast (``sent``; an activation a PE drops is
    # always a column it holds nothing for), starved cycles from F = sum of (waits + costs) (section 3.2).
    lane_t = lane.dtype.type
    # One array for the three rows updated per activation (fewer pointers for LLVM's run-time alias checks,
    # which run once per activation): F, the buffered Spmat word, the words found in the buffer.
    state = np.zeros((3, num_pes), lane.dtype)
    fin = state[0]
    buffered = state[1]
    r_reuse = state[2]
    snap_fin = np.zeros(num_pes, lane.dtype)
    empty_lane = lane_t(empty_cycles)
    zero_lane = lane_t(0)
    ring = np.zeros(max(fifo_depth, 1), np.int64)
    r_pops = np.zeros(num_pes, np.int64)
    sent = np.zeros(num_blocks * stride, np.int64)  # broadcasts of each column of each block
    fin_sum = np.zeros(num_pes, np.int64)           # sum over rounds of F_p, the end of PE p's last activation
    reuses = np.zeros(num_pes, np.int64)            # Spmat words a PE found in its buffer
    dropped = np.zeros(num_pes, np.int64)           # activations a PE dropped unread (all empty columns)
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
    c_idle_se = 0
    c_idle_st = 0
    c_idle_dr = 0
    # What an activation of column ``col`` costs each PE, as one (3, N) row of lanes: [0] its cycles (the
    # column's entries, or Z when the PE holds none of it), [1] its first Spmat word, or -2 when it holds none
    # (never equal to a buffered word, which is >= -1), [2] its last word, or -1 when it holds none. Along the
    # broadcasts of a round a PE's words never decrease (columns go up, and a PE stores a block's columns in
    # order), so the buffered word after an activation is max(buffered, [2]) and a hit is [1] == buffered.
    # A conv layer revisits every column per pixel: the rows are tabulated once (``per_col``); an fc layer
    # broadcasts each column at most once per round: its row is computed when it is broadcast (``one_col``).
    per_col = np.empty((num_blocks * stride if tables else 0, 3, num_pes), lane.dtype)
    for c in range(per_col.shape[0]):
        starts = ptr_cols[c]
        ends = ptr_cols[c + 1]
        for p in range(num_pes):
            held = ends[p] != starts[p]
            per_col[c, 0, p] = lane_t(ends[p] - starts[p]) if held else empty_lane
            per_col[c, 1, p] = lane_t(first_word[c, p]) if held else lane_t(-2)
            per_col[c, 2, p] = lane_t(last_word[c, p]) if held else lane_t(-1)
    one_col = np.empty((3, num_pes), lane.dtype)
    for pix in range(patches.shape[1]):
        # Non-zeros of this pixel's patch, in increasing column index.
        k_all = 0
        for j in range(cols):  # branch-free: always write, advance on a non-zero (no mispredicted branch)
            nz_j[k_all] = j
            k_all += patches[j, pix] != 0
        t = 0
        for bt in range(num_batches):
            lo = bt * cap
            while t < k_all and nz_j[t] < lo:
                t += 1
            batch_start[bt] = t
        batch_start[num_batches] = k_all
        for b in range(num_blocks):
            # PEs n_act..N-1 hold no entry of this block (interleaved rows: a block of fewer than N rows
            # leaves the last PEs without any): for every broadcast each of them costs Z cycles and reads no
            # word, so they share one state, ``idle_fin``, kept as a scalar (exact; their F is written back
            # into ``fin`` where the round's end and the snapshot read it).
            n_act = 0
            for p in range(num_pes - 1, -1, -1):
                if ptr_cols[b * stride, p] != ptr_cols[(b + 1) * stride, p]:
                    n_act = p + 1
                    break
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
                row_lo = col_lo // num_pes
                slot = 0  # k mod D: activation k's slot in the credit ring
                fin[:] = 0
                buffered[:] = -1
                r_reuse[:] = 0
                idle_fin = zero_lane
                tail = kt - window if kt > window else 0
                b_prev = 0
                j_prev = 0
                b_bias = 0
                last_real = 0
                c_done = 0
                if kk == 0:
                    c_done = reg_rows if finder_rows else 0
                col = 0
                for k in range(kt):
                    if k < kk:
                        j = nz_j[k0 + k]
                        if not finder_rows:
                            ready = 0 if k == 0 else b_prev + 1
                        elif k == 0:
                            ready = reg_row[j] - row_lo
                        else:
                            r = reg_row[j]
                            r0 = reg_row[j_prev]
                            if r == r0:
                                ready = b_prev + 1
                            else:
                                ready = b_prev + 1 + (0 if row_end[j_prev] else 1) + (r - r0 - 1)
                        col = b * stride + j
                    else:
                        ready = c_done
                        col = b * stride + cols
                    b_k = ready
                    if k >= fifo_depth:
                        credit = ring[slot]
                        if credit > b_k:
                            b_k = credit
                    c_bstall += b_k - ready
                    if k == tail:
                        snap_fin[:n_act] = fin[:n_act]
                        snap_fin[n_act:] = idle_fin
                    if k >= tail:
                        tail_b[k - tail] = b_k
                        tail_col[k - tail] = col
                    arrive = b_k + latency
                    if tables:
                        cost = per_col[col]
                    else:  # 32 x 32 -> 64-bit products (one vector instruction on AVX2)
                        starts = ptr_cols[col]
                        ends = ptr_cols[col + 1]
                        for p in range(n_act):
                            held = ends[p] != starts[p]
                            w0 = np.int32((np.uint64(np.uint32(starts[p])) * mul32) >> shift)
                            w1 = np.int32((np.uint64(np.uint32(ends[p] - 1)) * mul32) >> shift)
                            one_col[0, p] = lane_t(ends[p] - starts[p]) if held else empty_lane
                            one_col[1, p] = lane_t(w0) if held else lane_t(-2)
                            one_col[2, p] = lane_t(w1) if held else lane_t(-1)
                        cost = one_col
                    # Branch-free over PEs, in lanes, so that LLVM vectorizes this loop (8 PEs per AVX2
                    # instruction with int32 lanes): every value stays in the lane type (Numba widens int32 +
                    # int32 to int64, which halves the PEs per instruction; the sum is a timestamp of the
                    # round, below 2**30 when the lanes are int32), every load is unconditional (a load under
                    # a condition is a masked load), and a PE's state and its column's row are each one array.
                    arrive_lane = lane_t(arrive)
                    max_lane = zero_lane
                    last_lane = zero_lane
                    if n_act < num_pes:  # the PEs without entries: F = max(F, arrival) + Z, no word read
                        max_lane = max(idle_fin, arrive_lane)
                        idle_fin = lane_t(max_lane + empty_lane)
                    for p in range(n_act):
                        s = max(state[0, p], arrive_lane)
                        max_lane = max(max_lane, s)
                        f_new = lane_t(s + cost[0, p])
                        state[0, p] = f_new
                        last = cost[2, p]
                        last_lane = max(last_lane, f_new if last >= zero_lane else zero_lane)  # a held column's end
                        old = state[1, p]
                        state[2, p] += lane_t(cost[1, p] == old)
                        state[1, p] = max(old, last)
                    max_s = np.int64(max_lane)
                    if last_lane > last_real:
                        last_real = np.int64(last_lane)
                    sent[col] += 1
                    ring[slot] = max_s
                    slot += 1
                    if slot == fifo_depth:
                        slot = 0
                    c_padding += col_pad[col]
                    if k < kk:
                        b_prev = b_k
                        j_prev = j
                        if k == kk - 1:  # the finder is done in the cycle it reaches the next row
                            if finder_rows:
                                rl = reg_row[j] - row_lo
                                c_done = b_k + 1 + (0 if row_end[j] else 1) + (reg_rows - 1 - rl)
                            else:
                                c_done = b_k + 1
                    else:
                        b_bias = b_k
                fin[n_act:] = idle_fin
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
                    r_pops[:] = tail  # every PE popped every activation before the tail
                    alive[:] = True
                    for q in range(kt - tail):
                        arrive = tail_b[q] + latency
                        starts = ptr_cols[tail_col[q]]
                        ends = ptr_cols[tail_col[q] + 1]
                        for p in range(num_pes):
                            if alive[p]:
                                s = max(np.int64(fin[p]), arrive)
                                n = np.int64(ends[p]) - np.int64(starts[p])
                                f_new = s + (empty_cycles if n == 0 else n)
                                if s < cycles and f_new <= cycles:
                                    r_pops[p] += 1
                                    fin[p] = f_new
                                else:
                                    alive[p] = False
                e_all = 0
                for p in range(num_pes):
                    if fin[p] > e_all:
                        e_all = fin[p]
                for p in range(num_pes):
                    fin_sum[p] += fin[p]
                    reuses[p] += r_reuse[p]
                    stalled[p] += e_all - fin[p]
                    drain[p] += cycles - e_all
                # PEs that hold no rows of this block (interleaving: PE p holds block rows p, p + N, ...)
                for p in range(min(num_pes, rows - b * cap), num_pes):
                    c_idle_se += fin[p]
                    c_idle_st += e_all - fin[p]
                    c_idle_dr += cycles - e_all
                if drop:
                    for p in range(num_pes):
                        c_pops += r_pops[p]
                        dropped[p] += kt - r_pops[p]
                else:
                    c_pops += kt * num_pes
                c_compute += cycles
                c_rounds += 1
    # What the broadcasts add up to: entries (busy), empty columns and Spmat words, per PE; then starved
    # = sum of F - busy - Z x empty columns handled (every handled activation is a wait and then its cost).
    call_busy = np.zeros(num_pes, np.int64)
    call_empties = np.zeros(num_pes, np.int64)
    for col in range(num_blocks * stride):
        times = sent[col]
        if times == 0:
            continue
        starts = ptr_cols[col]
        ends = ptr_cols[col + 1]
        for p in range(num_pes):
            n = np.int64(ends[p]) - np.int64(starts[p])
            call_busy[p] += times * n
            if n == 0:
                call_empties[p] += times
            elif tables:
                reads += times * (np.int64(last_word[col, p]) - np.int64(first_word[col, p]) + 1)
            else:
                w0 = np.int64((np.uint64(np.uint32(starts[p])) * mul32) >> shift)
                w1 = np.int64((np.uint64(np.uint32(ends[p] - 1)) * mul32) >> shift)
                reads += times * (w1 - w0 + 1)
    for p in range(num_pes):
        handled_empties = call_empties[p] - dropped[p]
        busy[p] += call_busy[p]
        c_entries += call_busy[p]
        empty[p] += empty_cycles * handled_empties
        starved[p] += fin_sum[p] - call_busy[p] - empty_cycles * handled_empties
        reads -= reuses[p]
    counters[C_COMPUTE_CYCLES] += c_compute
    counters[C_ROUNDS_RUN] += c_rounds
    counters[C_NONZERO_ACTS] += c_acts
    counters[C_ENTRIES] += c_entries
    counters[C_PADDING] += c_padding
    counters[C_SPMAT_READS] += reads
    counters[C_BCAST_STALL] += c_bstall
    counters[C_BROADCASTS] += c_bcast
    counters[C_POPS] += c_pops
    counters[C_IDLE_STARVED_EMPTY] += c_idle_se
    counters[C_IDLE_STALLED] += c_idle_st
    counters[C_IDLE_DRAIN] += c_idle_dr


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
def accumulate_conv(patches, rows, tile, indptr, indices, codes, codebook_q, acc_out):
    """Exact arithmetic of a conv layer from its CSR, ``tile`` output pixels at a time.

    ``patches`` (cols, P) holds the input patches of P output pixels (``fixed_point.im2col``);
    ``acc_out`` (M, P) int64 receives their accumulators, row by row (the layer's output
    layout, so that no transpose follows; a column range of a larger array is fine).
    Each tile's patches are copied into a small local buffer (it stays in cache, and the
    compiler can vectorize on it), then every row's entries whose patch row is not all
    zero in the tile are applied to the whole tile. When every weight and every patch value of the tile fits
    in int32 (fixed-point values always do), the buffer is int32 and each product is
    int32 x int32 -> int64 (one AVX2 instruction per 4 products; a general int64 product
    takes several, and the buffer half the cache); the sums are int64 either way, so the
    result is the same. Same contract on ``indices``/``codebook_q`` as ``accumulate_fc``.
    """
    cols, n_pix = patches.shape
    tile = max(1, min(tile, n_pix))
    wide = np.zeros((cols, tile), np.int64)
    narrow = np.zeros((cols, tile), np.int32)
    live = np.zeros(cols, np.bool_)
    acc = np.zeros(tile, np.int64)
    limit = np.int64(1) << 31
    w_lo = np.int64(0)
    w_hi = np.int64(0)
    for c in range(codebook_q.shape[0]):
        w_lo = min(w_lo, np.int64(codebook_q[c]))
        w_hi = max(w_hi, np.int64(codebook_q[c]))
    for t0 in range(0, n_pix, tile):
        tn = min(tile, n_pix - t0)
        x_lo = np.int64(0)
        x_hi = np.int64(0)
        for j in range(cols):
            src = patches[j]
            for u in range(tn):
                x_lo = min(x_lo, np.int64(src[t0 + u]))
                x_hi = max(x_hi, np.int64(src[t0 + u]))
        small = -limit <= w_lo and w_hi < limit and -limit <= x_lo and x_hi < limit
        for j in range(cols):
            src = patches[j]
            any_nz = False
            if small:
                nrow = narrow[j]
                for u in range(tn):
                    v = src[t0 + u]
                    nrow[u] = np.int32(v)
                    any_nz = any_nz or v != 0
            else:
                prow = wide[j]
                for u in range(tn):
                    v = src[t0 + u]
                    prow[u] = v
                    any_nz = any_nz or v != 0
            live[j] = any_nz
        for i in range(rows):
            acc[:] = 0
            if small:
                for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
                    j = indices[t]
                    if live[j]:
                        w = np.int64(np.int32(codebook_q[codes[t]]))
                        nrow = narrow[j]
                        for u in range(tn):
                            acc[u] += w * np.int64(nrow[u])
            else:
                for t in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
                    j = indices[t]
                    if live[j]:
                        w = codebook_q[codes[t]]
                        prow = wide[j]
                        for u in range(tn):
                            acc[u] += w * prow[u]
            out_row = acc_out[i]
            for u in range(tn):
                out_row[t0 + u] = acc[u]
