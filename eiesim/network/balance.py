"""Load-balance-aware pruning (ESE: Han et al., "ESE: Efficient Speech Recognition Engine with
Sparse LSTM on FPGA", FPGA 2017, Sec. 3.2).

EIE stores row ``r`` of a layer's M x V matrix on PE ``r mod N`` (docs/timing-model.md,
section 1). Magnitude pruning over the whole matrix leaves some PEs with more non-zeros
than others, and in every round the PE with the most work for a broadcast column sets the
pace: the others wait ("imbalance" in the cycle breakdown). ESE prunes each PE's share of
the matrix separately to the same number of non-zeros, so every PE keeps the same count
(+-1, the remainder of the division) at the same overall density.

The rule here: the layer keeps ``round(density * size)`` weights, as plain magnitude
pruning does. That total is split over the N PEs as evenly as possible (the first
``total mod N`` PEs in index order get one more); a PE that has fewer non-zero weights
than its share keeps all of them and the rest is spread over the others the same way
(water filling). Inside a PE the largest magnitudes are kept, ties broken by the
earlier flat position, as ``prune_to_density`` does.
"""

from __future__ import annotations

import math

import numpy as np

from eiesim.errors import UsageError

__all__ = ["balanced_quotas", "prune_balanced", "prune_balanced_columns", "per_pe_counts"]


def per_pe_counts(mask_or_weights: np.ndarray, num_pes: int) -> np.ndarray:
    """Non-zeros of each PE (rows interleaved: row r on PE r mod ``num_pes``), the tensor's first axis = rows."""
    flat = np.asarray(mask_or_weights).reshape(np.shape(mask_or_weights)[0], -1)
    per_row = np.count_nonzero(flat, axis=1)
    return np.bincount(np.arange(per_row.size) % num_pes, weights=per_row, minlength=num_pes).astype(np.int64)


def balanced_quotas(capacity: np.ndarray, total: int, start: int = 0) -> np.ndarray:
    """Split ``total`` kept weights over PEs holding ``capacity`` candidates each, as evenly as possible.

    Water filling: every PE gets the same share (+1 for the first ``remainder`` PEs in
    index order, counted from PE ``start``); a PE whose capacity is below its share keeps
    its capacity and the others share what it leaves. ``total`` must not exceed
    ``capacity.sum()``.
    """
    if start:
        n = np.size(capacity)
        return np.roll(balanced_quotas(np.roll(np.asarray(capacity), -(start % n)), total), start % n)
    cap = np.asarray(capacity, dtype=np.int64)
    if total > int(cap.sum()):
        raise UsageError(f"cannot keep {total} weights out of {int(cap.sum())} candidates")
    quota = np.zeros(cap.size, dtype=np.int64)
    open_pes = np.ones(cap.size, dtype=bool)
    left = int(total)
    while left > 0:
        idx = np.flatnonzero(open_pes)
        share, extra = divmod(left, idx.size)
        want = np.full(idx.size, share, dtype=np.int64)
        want[:extra] += 1
        short = cap[idx] <= want
        if not short.any():
            quota[idx] = want
            break
        # PEs that cannot take their share keep everything they have; the others are settled next round.
        full = idx[short]
        quota[full] = cap[full]
        left -= int(cap[full].sum())
        open_pes[full] = False
    return quota


def prune_balanced(w: np.ndarray, density: float, num_pes: int) -> np.ndarray:
    """Mask keeping ``round(density * w.size)`` non-zero weights spread evenly over ``num_pes`` PEs.

    ``w``'s first axis is the output row (the layer's (out, in, kh, kw) or (out, in)
    weights); row r belongs to PE r mod ``num_pes``. Only non-zero weights are
    candidates (stored entries are real non-zeros), so when fewer than the target are
    non-zero every non-zero is kept.
    """
    if not 0.0 <= density <= 1.0 or not math.isfinite(density):
        raise UsageError(f"density must be in [0, 1], got {density}")
    if not isinstance(num_pes, int) or isinstance(num_pes, bool) or num_pes < 1:
        raise UsageError(f"the number of PEs to balance over must be a positive integer, got {num_pes!r}")
    arr = np.asarray(w, dtype=np.float64)
    rows = arr.shape[0] if arr.ndim else 1
    flat = np.abs(arr.reshape(rows, -1))
    pe_of_row = np.arange(rows) % num_pes
    capacity = per_pe_counts(flat, num_pes)
    total = min(int(round(density * flat.size)), int(capacity.sum()))
    quota = balanced_quotas(capacity, total)
    mask = np.zeros(flat.shape, dtype=bool)
    for pe in np.flatnonzero(quota):
        pe_rows = np.flatnonzero(pe_of_row == pe)
        share = flat[pe_rows].ravel()  # the PE's rows in order: flat position order is kept
        keep = int(quota[pe])
        # Largest magnitudes first; a stable sort keeps the earlier position on a tie.
        order = np.argsort(-share, kind="stable")[:keep]
        picked = np.zeros(share.size, dtype=bool)
        picked[order] = True
        mask[pe_rows] = picked.reshape(pe_rows.size, -1)
    return mask.reshape(np.shape(w))


def prune_balanced_columns(w: np.ndarray, plain: np.ndarray, num_pes: int) -> np.ndarray:
    """Mask balanced per column: each column keeps as many weights as the mask ``plain`` (magnitude pruning,
    ``compress.prune_to_density``) keeps in it, spread over the PEs as evenly as possible (+-1), each PE
    keeping its largest.

    The per-column variant of ``prune_balanced``: the PEs' work for every broadcast column
    differs by at most one entry (where the PEs' candidates allow), so no PE's FIFO fills
    behind a column it holds much more of than the others. The remainder of column j goes
    to the PEs from j mod N on, so the PEs' totals stay balanced as well.
    """
    if not isinstance(num_pes, int) or isinstance(num_pes, bool) or num_pes < 1:
        raise UsageError(f"the number of PEs to balance over must be a positive integer, got {num_pes!r}")
    arr = np.asarray(w, dtype=np.float64)
    rows = arr.shape[0]
    flat = np.abs(arr.reshape(rows, -1))
    per_column = np.count_nonzero(np.asarray(plain).reshape(rows, -1) & (flat != 0), axis=0)
    pe_of_row = np.arange(rows) % num_pes
    mask = np.zeros(flat.shape, dtype=bool)
    for j in np.flatnonzero(per_column):
        col = flat[:, j]
        capacity = np.bincount(pe_of_row, weights=col != 0, minlength=num_pes).astype(np.int64)
        quota = balanced_quotas(capacity, int(per_column[j]), int(j))
        # Within each PE, its largest weights: sort the column by (PE, -|w|, row) and take each PE's first quota.
        order = np.lexsort((np.arange(rows), -col, pe_of_row))
        first = np.searchsorted(pe_of_row[order], np.arange(num_pes))
        rank = np.arange(rows) - first[pe_of_row[order]]
        mask[order[rank < quota[pe_of_row[order]]], j] = True
    return mask.reshape(np.shape(w))
