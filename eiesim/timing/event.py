"""The event engine: SimPy processes for the finder and for every PE of every round.

Readable reference for docs/timing-model.md, used on small layers (it is slow).
Per layer, one SimPy environment walks ``contract.round_schedule``: a load phase
(a delay), the compute phase, a store phase. Each compute phase runs in an
environment of its own, with one finder (LNZD/CCU) process and one process per PE,
until every activation has been handled; its length C then follows from the
recorded timestamps (docs/timing-model.md section 3.3), and the layer's environment
advances by C. What the processes did at or after C (dropped activations: columns a
PE holds nothing for) is not counted.

Hardware rules are explicit delays and recorded timestamps; no decision depends on
the order in which SimPy fires events scheduled for the same cycle:

* The finder walks the register rows cycle by cycle: one cycle per broadcast, one
  more for a row that ends before position N - 1, one for an all-zero row.
* FIFO back-pressure is credit-based. Activation k holds a slot of every PE's FIFO
  from its broadcast until that PE pops it; the finder may broadcast activation k only
  in a cycle in which *every* PE has popped activation k - D, which it computes from the
  pop timestamps (not from when it happened to be woken up).
* A PE pops in ``max(arrival, end of previous column)``: a ``Store.get`` resolves at
  that time whichever of the put and the get SimPy processes first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from eiesim.encoding import EncodedLayer
from eiesim.network.fixed_point import im2col
from eiesim.timing.contract import (
    ComputeTotals,
    GroupRun,
    LayerGeometry,
    PhaseTotals,
    TimingParams,
    group_pixels,
    round_schedule,
)

#: Progress reports (``on_round``) come at most this often (seconds of wall time), within rounds too.
PROGRESS_EVERY_S = 0.25
#: One trace record: (cycle from the start of the round's compute phase, "ccu" or PE index, event).
TraceEvent = tuple[int, "str | int", str]
#: How the bias column is named in trace records.
BIAS_LABEL = "bias"


class ActivationFifo:
    """One PE's activation FIFO: a ``simpy.Store`` plus the pop timestamps credits need.

    The credit protocol (the finder's wait on ``popped``) is what bounds the occupancy
    to D; with L = 0 a push and the pop that freed its slot fall in the same cycle, so
    the store gets one spare slot for SimPy to process them in either order.
    """

    def __init__(self, env: simpy.Environment, depth: int, latency: int) -> None:
        self.env = env
        self.store = simpy.Store(env, capacity=depth if latency > 0 else depth + 1)
        self._popped: dict[int, simpy.Event] = {}
        self.pop_cycle: dict[int, int] = {}

    def popped(self, k: int) -> simpy.Event:
        """Event that fires when activation ``k`` leaves this FIFO (its slot is freed)."""
        if k not in self._popped:
            self._popped[k] = self.env.event()
        return self._popped[k]

    def record_pop(self, k: int) -> None:
        self.pop_cycle[k] = int(self.env.now)
        self.popped(k).succeed()


@dataclass
class _Round:
    """One compute phase: its activations, and what its processes recorded."""

    acts: list[tuple[int, int]]        # (column in the block, value); the bias column is V, value 1
    rows_of: list[list[int]]           # per register row: indices into ``acts``
    bias: bool
    block: int
    fifos: list[ActivationFifo]
    ready: list[int] = field(default_factory=list)
    bcast: list[int] = field(default_factory=list)
    pops: list[list[int]] = field(default_factory=list)    # per PE: S of each activation in order
    dones: list[list[int]] = field(default_factory=list)   # per PE: F of each activation in order
    finder_done: int = 0


@dataclass
class _Group:
    """What one pixel group measured: its compute totals, its load and store phases, when it finished."""

    pixels: range
    totals: ComputeTotals
    load_cycles: int = 0
    load_values: int = 0
    store_cycles: int = 0
    store_rows: int = 0
    residual_rows: int = 0
    activation_rows: int = 0
    input_pool_reads: int = 0
    rounds: int = 0
    end: int = 0

    def phases(self) -> PhaseTotals:
        return PhaseTotals(self.rounds, self.load_cycles, self.load_values, self.store_cycles, self.store_rows,
                           self.residual_rows, self.activation_rows, self.input_pool_reads)


class EventEngine:
    """Simulates the rounds of one layer with SimPy (see module docstring); pixel groups run as concurrent
    processes of the layer's environment, each walking its own pixels' rounds."""

    def __init__(self, enc: EncodedLayer, geom: LayerGeometry, codebook_q: np.ndarray, params: TimingParams,
                 trace: list[TraceEvent] | None = None, on_round: Callable[[float, int], None] | None = None,
                 pixel_groups: int = 1) -> None:
        self.enc, self.geom, self.p = enc, geom, params
        self.on_round = on_round  # progress: (rounds finished, rounds in the layer)
        self.cb = [int(v) for v in np.asarray(codebook_q, dtype=np.int64)]
        self.trace = trace
        self.env = simpy.Environment()
        self._last_report = time.perf_counter()
        self.groups = [_Group(group_pixels(geom.pixels, pixel_groups, g), ComputeTotals(num_pes=params.num_pes))
                       for g in range(pixel_groups)]
        self.rounds = 0  # rounds started, all groups (progress)

    # -- one compute phase -------------------------------------------------------
    def _finder(self, env: simpy.Environment, rnd: _Round):
        """LNZD/CCU: walk the register rows, broadcast one non-zero per cycle when no FIFO is full."""
        n, depth = self.p.num_pes, self.p.fifo_depth

        def broadcast(k: int):
            rnd.ready.append(int(env.now))
            if k >= depth:  # credit: every PE has popped activation k - D (a slot freed in cycle t is usable in t)
                yield simpy.AllOf(env, [f.popped(k - depth) for f in rnd.fifos])
                target = max(int(env.now), max(f.pop_cycle[k - depth] for f in rnd.fifos))
                if target > env.now:
                    yield env.timeout(target - env.now)
            rnd.bcast.append(int(env.now))
            env.process(self._deliver(env, rnd.fifos, k))
            self._report(self.rounds - 1 + k / len(rnd.acts))  # a long round (an fc layer's) reports inside itself

        for row in rnd.rows_of:
            if not self.p.finder_rows and not row:
                continue                                   # skip_zeros: rows cost nothing
            for k in row:
                yield from broadcast(k)
                yield env.timeout(1)                       # one broadcast per cycle
            if self.p.finder_rows and (not row or rnd.acts[row[-1]][0] % n != n - 1):
                yield env.timeout(1)                       # the cycle that finds nothing (more) in the row
        rnd.finder_done = int(env.now)
        if rnd.bias:
            yield from broadcast(len(rnd.acts) - 1)        # the bias row is reached when the finder is done

    def _deliver(self, env: simpy.Environment, fifos: list[ActivationFifo], k: int):
        """The broadcast network: the activation can be popped L cycles after its broadcast."""
        if self.p.latency:
            yield env.timeout(self.p.latency)
        for f in fifos:
            put = f.store.put(k)
            assert put.triggered, "credit protocol violated: FIFO full on arrival"

    def _pe(self, env: simpy.Environment, p: int, rnd: _Round):
        """PE p: pop, read the pointer pair, issue one entry per cycle (or Z cycles if empty)."""
        enc, fifo = self.enc, rnd.fifos[p]
        pops, dones = rnd.pops[p], rnd.dones[p]
        for _ in range(len(rnd.acts)):
            k = yield fifo.store.get()
            fifo.record_pop(k)
            pops.append(int(env.now))
            j = rnd.acts[k][0]
            n = int(enc.ptr[rnd.block, j + 1, p] - enc.ptr[rnd.block, j, p])
            yield env.timeout(n if n else self.p.empty_cycles)
            dones.append(int(env.now))

    def _compute_round(self, acts: list[tuple[int, int]], bias: bool, col_lo: int, batch_cols: int, block: int,
                       acc: np.ndarray, tot: ComputeTotals) -> int:
        """Run one compute phase in its own environment; account for it; return its length C."""
        p, n = self.p, self.p.num_pes
        k_in = len(acts)
        rows = -(-batch_cols // n)
        rows_of: list[list[int]] = [[] for _ in range(rows)]
        for k, (j, _) in enumerate(acts):
            rows_of[(j - col_lo) // n].append(k)
        if bias:
            acts = acts + [(self.geom.cols, 1)]
        if not acts and not p.finder_rows:
            return 0                                       # skip_zeros: nothing to broadcast, no round
        env = simpy.Environment()
        rnd = _Round(acts, rows_of, bias, block, [ActivationFifo(env, p.fifo_depth, p.latency) for _ in range(n)],
                     pops=[[] for _ in range(n)], dones=[[] for _ in range(n)])
        env.process(self._finder(env, rnd))
        for pe in range(n):
            env.process(self._pe(env, pe, rnd))
        env.run()
        # -- the end of the round (section 3.3), from the timestamps
        counts = [[int(self.enc.ptr[block, j + 1, pe] - self.enc.ptr[block, j, pe]) for pe in range(n)]
                  for j, _ in acts]
        real_ends = [rnd.dones[pe][k] for k in range(len(acts)) for pe in range(n) if counts[k][pe]]
        drained = max(real_ends) + p.pipe_depth + p.writeback if real_ends else 0
        cycles = max(rnd.finder_done + 1, drained, p.min_round_cycles)
        ends = []
        for pe in range(n):
            handled = 0
            prev = 0
            buffered_word = -1
            for k in range(len(acts)):
                s, f = rnd.pops[pe][k], rnd.dones[pe][k]
                if s >= cycles or f > cycles:
                    break                                   # dropped, and so is every later one
                handled += 1
                nk = counts[k][pe]
                tot.starved[pe] += s - prev
                prev = f
                if nk:
                    tot.busy[pe] += nk
                    tot.spmat_word_reads += self._word_reads(pe, block, acts[k][0], buffered_word)
                    buffered_word = self._last_word(pe, block, acts[k][0])
                    self._accumulate(pe, block, acts[k], acc)
                else:
                    tot.empty[pe] += p.empty_cycles
                if self.trace is not None:
                    label = BIAS_LABEL if bias and k == len(acts) - 1 else str(acts[k][0])
                    self.trace += [(s, pe, f"pop {label}"), (f, pe, f"done {label}")]
            tot.pops += handled
            ends.append(prev)
        e_all = max(ends)
        for pe in range(n):
            tot.stalled[pe] += e_all - ends[pe]
            tot.drain[pe] += cycles - e_all
        for pe in range(min(n, self.geom.block_rows(block)), n):  # PEs with no rows in this block: idle
            tot.idle_starved_empty += ends[pe]  # busy is 0: its F is all waits and empty columns
            tot.idle_stalled += e_all - ends[pe]
            tot.idle_drain += cycles - e_all
        pushed = [b + 1 < cycles for b in rnd.bcast]
        if self.trace is not None:
            for k, b in enumerate(rnd.bcast):
                if pushed[k]:
                    label = BIAS_LABEL if bias and k == len(acts) - 1 else str(acts[k][0])
                    self.trace.append((b, "ccu", f"broadcast {label}"))
        tot.compute_cycles += cycles
        tot.rounds_run += 1
        tot.broadcasts += sum(pushed)
        tot.broadcast_stall_cycles += sum(b - r for b, r in zip(rnd.bcast, rnd.ready, strict=True))
        for k, (j, _) in enumerate(acts):
            for pe in range(n):
                if counts[k][pe]:
                    tot.entries += counts[k][pe]
                    lo, hi = self.enc.column_span(pe, block, j)
                    tot.padding += int((self.enc.row[lo:hi] < 0).sum())
        return cycles

    def _word_reads(self, pe: int, block: int, j: int, buffered_word: int) -> int:
        """Spmat words read for column j: every word it spans except the buffered one."""
        e = self.p.entries_per_word
        s, t = int(self.enc.ptr[block, j, pe]), int(self.enc.ptr[block, j + 1, pe])
        return sum(1 for word in range(s // e, (t - 1) // e + 1) if word != buffered_word)

    def _last_word(self, pe: int, block: int, j: int) -> int:
        return (int(self.enc.ptr[block, j + 1, pe]) - 1) // self.p.entries_per_word

    def _accumulate(self, pe: int, block: int, act: tuple[int, int], acc: np.ndarray) -> None:
        """The arithmetic of one column, entry by entry (bias entries: the output path adds the bias)."""
        j, a = act
        if j == self.geom.cols:
            return
        lo, hi = self.enc.column_span(pe, block, j)
        for q in range(lo, hi):
            row = int(self.enc.row[q])
            if row >= 0:
                acc[row] += self.cb[int(self.enc.code[q])] * a

    # -- the layer ------------------------------------------------------------------
    def _report(self, finished: float) -> None:
        """Progress: ``on_round(rounds finished (fractional), rounds)``, at most every PROGRESS_EVERY_S seconds."""
        if self.on_round is not None and time.perf_counter() - self._last_report >= PROGRESS_EVERY_S:
            self._last_report = time.perf_counter()
            self.on_round(finished, self.geom.rounds)

    def _layer(self, patches: np.ndarray, acc: np.ndarray, grp: _Group):
        """One group's walk of its round schedule: load phase, compute phase, store phase."""
        env, n, geom = self.env, self.p.num_pes, self.geom
        for spec in round_schedule(geom, grp.pixels):
            self._report(self.rounds)
            self.rounds += 1
            grp.rounds += 1
            if spec.load_values:
                grp.load_cycles += spec.load_cycles(n)
                grp.load_values += spec.load_values
                grp.input_pool_reads += spec.load_values * (spec.load_reads_per_value - 1)
                yield env.timeout(spec.load_cycles(n))
            col = patches[spec.col_lo:spec.col_hi, spec.pixel]
            acts = [(spec.col_lo + int(i), int(col[i])) for i in np.flatnonzero(col)]
            grp.totals.nonzero_activations += len(acts)
            bias = self.p.bias_column and spec.batch == geom.num_batches - 1
            cycles = self._compute_round(acts, bias, spec.col_lo, spec.col_hi - spec.col_lo, spec.block,
                                         acc[:, spec.pixel], grp.totals)
            if cycles:
                yield env.timeout(cycles)
            if spec.has_store_phase:  # residual reads (if any), then the stores
                grp.store_cycles += spec.store_cycles(n)
                grp.store_rows += spec.store_rows
                grp.residual_rows += spec.residual_rows
                grp.activation_rows += spec.activation_rows
                yield env.timeout(spec.store_cycles(n))
        grp.end = int(env.now)

    def run(self, x_q: np.ndarray) -> tuple[np.ndarray, list[_Group]]:
        geom = self.geom
        x = np.asarray(x_q, dtype=np.int64)
        if geom.kind == "fc":
            patches = x.reshape(geom.cols, 1)
        else:
            patches = im2col(x.reshape(geom.in_shape), geom.kernel, geom.stride, geom.padding,
                             dilation=geom.dilation)
        acc = np.zeros((geom.rows, geom.pixels), dtype=object)
        acc[:] = 0
        for grp in self.groups:  # the groups advance independently, on one clock
            self.env.process(self._layer(patches, acc, grp))
        self.env.run()
        out: np.ndarray = acc.astype(np.int64)
        out = out.reshape(geom.rows) if geom.kind == "fc" else out.reshape(geom.rows, *geom.out_hw)
        return out, self.groups


def run_layer_event(enc: EncodedLayer, geom: LayerGeometry, x_q: np.ndarray, codebook_q: np.ndarray,
                    params: TimingParams, trace: list[TraceEvent] | None = None,
                    on_round: Callable[[float, int], None] | None = None,
                    ) -> tuple[np.ndarray, ComputeTotals, PhaseTotals]:
    """All rounds of one layer with SimPy. ``trace``, if a list, receives (cycle, who, event) records
    relative to each round's start (meaningful for one-round layers); ``on_round(finished, total)`` is
    called as rounds finish (about 200 times per layer), for progress."""
    local: list[TraceEvent] | None = [] if trace is not None else None
    out, groups = EventEngine(enc, geom, codebook_q, params, local, on_round).run(x_q)
    if trace is not None and local is not None:
        order = {"broadcast": 0, "done": 1, "pop": 2}
        trace.extend(sorted(local, key=lambda ev: (ev[0], -1 if ev[1] == "ccu" else ev[1],
                                                   order[ev[2].split()[0]], ev[2])))
    return out, groups[0].totals, groups[0].phases()


def run_layer_event_groups(enc: EncodedLayer, geom: LayerGeometry, x_q: np.ndarray, codebook_q: np.ndarray,
                           params: TimingParams, pixel_groups: int,
                           on_round: Callable[[float, int], None] | None = None) -> tuple[np.ndarray, list[GroupRun]]:
    """All rounds of one layer on ``pixel_groups`` groups of PEs (docs/timing-model.md, "Pixel groups").

    ``enc``, ``geom`` and ``params`` are one group's (N / G PEs). The groups run as
    concurrent SimPy processes on the layer's clock (they share nothing, so each finishes
    at the sum of its phases; the tests check it).
    """
    out, groups = EventEngine(enc, geom, codebook_q, params, None, on_round, pixel_groups).run(x_q)
    return out, [GroupRun(grp.totals, grp.phases()) for grp in groups]
