"""The statement of the compute phase of one round (docs/timing-model.md section 3).

``round_timeline`` is the recurrence of section 3 (the finder's reach, credit-based
FIFOs, pops and ends, the round's length, the drop rule and every per-PE statistic)
transcribed line by line in plain numpy, one round at a time. It is slow and obvious on
purpose: the readable statement both engines implement. The tests hold the event engine
(``eiesim.timing.event``) and the fast engine's kernel (``eiesim.timing.kernels.run_layer_rounds``)
to it, and the trace (``eiesim trace``) draws its spans from it. A new per-round rule
is written here first, in words in the docs, then in both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eiesim.timing.contract.params import TimingParams


@dataclass
class RoundTimeline:
    """One round's compute phase, as docs/timing-model.md section 3 defines it.

    Activations k = 0 .. K'-1 in broadcast order (the bias last, when there is one).
    ``ready`` = R_k, ``broadcast`` = B_k; ``pop``/``done`` = S_{p,k}/F_{p,k} (K', N);
    ``handled[k, p]``: PE p handles activation k (else it is dropped, section 3.3);
    ``pushed[k]``: the activation reaches the FIFOs before the round ends.
    """

    ready: np.ndarray
    broadcast: np.ndarray
    pop: np.ndarray
    done: np.ndarray
    handled: np.ndarray
    pushed: np.ndarray
    finder_done: int      # c_done
    last_real: int        # E
    cycles: int           # C
    busy: np.ndarray
    empty: np.ndarray
    starved: np.ndarray
    stalled: np.ndarray
    drain: np.ndarray
    pe_end: np.ndarray    # F_p: end of the last activation PE p handles

    @property
    def broadcast_stall_cycles(self) -> int:
        return int((self.broadcast - self.ready).sum())


def round_timeline(entries: np.ndarray, positions: np.ndarray, register_rows: int, bias: bool,
                   params: TimingParams) -> RoundTimeline:
    """The recurrence of docs/timing-model.md section 3 for one round, in plain numpy.

    ``entries[k, p]`` = n_{p,k} (real + padding) for the round's K' broadcast
    activations in order, the bias last when ``bias``; ``positions[k]`` = the input
    activation's index within the round's batch (its register row is ``// N``, its
    position ``% N``), for the K input activations; ``register_rows`` =
    ceil(V_batch / N). Slow and obvious on purpose: the engines are checked against it.
    """
    n, d, lat, z = params.num_pes, params.fifo_depth, params.latency, params.empty_cycles
    entries = np.asarray(entries, dtype=np.int64).reshape(-1, n)
    kt = entries.shape[0]
    k_in = kt - int(bias)
    assert len(positions) == k_in
    ready = np.zeros(kt, np.int64)
    bcast = np.zeros(kt, np.int64)
    pop = np.zeros((kt, n), np.int64)
    done = np.zeros((kt, n), np.int64)
    fin = np.zeros(n, np.int64)
    cost = np.where(entries > 0, entries, z)
    for k in range(kt):
        if k < k_in:                                       # section 3.1: the finder reaches it
            r, q = divmod(int(positions[k]), n)
            if not params.finder_rows:
                ready[k] = 0 if k == 0 else bcast[k - 1] + 1
            elif k == 0:
                ready[k] = r
            else:
                r0, q0 = divmod(int(positions[k - 1]), n)
                ready[k] = bcast[k - 1] + 1 if r == r0 else bcast[k - 1] + 1 + (q0 != n - 1) + (r - r0 - 1)
        else:                                              # the bias row: reached when the finder is done
            ready[k] = _finder_done(positions, bcast, k_in, register_rows, params)
        bcast[k] = ready[k] if k < d else max(int(ready[k]), int(pop[k - d].max()))   # section 3.2: credits
        pop[k] = np.maximum(bcast[k] + lat, fin)
        done[k] = pop[k] + cost[k]
        fin = done[k]
    finder_done = _finder_done(positions, bcast, k_in, register_rows, params)
    real = entries > 0
    last_real = int(done[real].max()) if real.any() else 0
    if kt == 0 and not params.finder_rows:
        cycles = 0                                          # skip_zeros: nothing to broadcast, no round
    else:
        drained = last_real + params.pipe_depth + params.writeback if real.any() else 0
        cycles = max(finder_done + 1, drained, params.min_round_cycles)
    # section 3.3: each PE handles its activations in order while they fit before the end
    handled = np.zeros((kt, n), bool)
    alive = np.ones(n, bool)
    for k in range(kt):
        alive &= (pop[k] < cycles) & (done[k] <= cycles)
        handled[k] = alive
    assert handled[real].all(), "a real entry would be dropped"
    pushed = bcast + 1 < cycles
    prev = np.vstack([np.zeros((1, n), np.int64), done[:-1]]) if kt else np.zeros((0, n), np.int64)
    busy = np.where(handled, entries, 0).sum(axis=0)
    empty = z * (handled & ~real).sum(axis=0)
    starved = np.where(handled, pop - prev, 0).sum(axis=0)
    pe_end = np.zeros(n, np.int64)
    for p in range(n):
        idx = np.flatnonzero(handled[:, p])
        pe_end[p] = done[idx[-1], p] if idx.size else 0
    e_all = int(pe_end.max()) if n else 0
    return RoundTimeline(ready, bcast, pop, done, handled, pushed, finder_done, last_real, cycles,
                         busy, empty, starved, e_all - pe_end, np.full(n, cycles - e_all, np.int64), pe_end)


def _finder_done(positions: np.ndarray, bcast: np.ndarray, k_in: int, register_rows: int,
                 params: TimingParams) -> int:
    """c_done: the cycle in which the finder has passed the round's last input row (section 3.1)."""
    n = params.num_pes
    if k_in == 0:
        return register_rows if params.finder_rows else 0
    last = int(bcast[k_in - 1])
    if not params.finder_rows:
        return last + 1
    r, q = divmod(int(positions[k_in - 1]), n)
    return last + 1 + (q != n - 1) + (register_rows - 1 - r)
