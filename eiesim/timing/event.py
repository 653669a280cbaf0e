"""The event engine: SimPy processes for the CCU and for every PE of every round.

Readable reference for docs/timing-model.md, used on small layers (it is slow).
Per layer, one SimPy environment walks ``contract.round_schedule``: a load phase
(a delay), the compute phase (one CCU process and one process per PE), a store phase.

Hardware rules are explicit delays and recorded timestamps; no decision depends on
the order in which SimPy fires events scheduled for the same cycle:

* FIFO back-pressure is credit-based. Activation k holds a slot of every PE's FIFO
  from its broadcast until that PE pops it; the CCU may broadcast activation k only
  in the cycle after *every* PE popped activation k - D, which it computes from the
  pop timestamps (not from when it happened to be woken up).
* A PE pops in ``max(arrival, end of previous column)``: a ``Store.get`` resolves at
  that time whichever of the put and the get SimPy processes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from eiesim.encoding import EncodedLayer
from eiesim.fixed_point import im2col
from eiesim.timing.contract import ComputeTotals, LayerGeometry, PhaseTotals, TimingParams, round_schedule

#: One trace record: (cycle from the start of the round's compute phase, "ccu" or PE index, event).
TraceEvent = tuple[int, "str | int", str]


class ActivationFifo:
    """One PE's activation FIFO: a bounded ``simpy.Store`` plus the pop timestamps credits need."""

    def __init__(self, env: simpy.Environment, depth: int) -> None:
        self.env = env
        self.store = simpy.Store(env, capacity=depth)
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
    """Mutable state of one round's compute phase."""

    t0: int
    acts: list[tuple[int, int]]
    fifos: list[ActivationFifo]
    finish: list[int] = field(default_factory=list)
    trace: list[TraceEvent] | None = None


class EventEngine:
    """Simulates the rounds of one layer with SimPy (see module docstring)."""

    def __init__(self, enc: EncodedLayer, geom: LayerGeometry, codebook_q: np.ndarray, params: TimingParams,
                 trace: list[TraceEvent] | None = None, on_round: Callable[[int, int], None] | None = None) -> None:
        self.enc, self.geom, self.p = enc, geom, params
        self.on_round = on_round  # progress: (rounds finished, rounds in the layer)
        self.cb = [int(v) for v in np.asarray(codebook_q, dtype=np.int64)]
        self.trace = trace
        self.env = simpy.Environment()
        n = params.num_pes
        # One single-ported pointer SRAM (two banks read together) and one Spmat port per PE.
        self.ptr_ports = [simpy.Resource(self.env, capacity=1) for _ in range(n)]
        self.spmat_ports = [simpy.Resource(self.env, capacity=1) for _ in range(n)]
        self.totals = ComputeTotals(num_pes=n)
        self.load_cycles = self.load_values = self.store_cycles = self.store_rows = self.rounds = 0

    # -- processes -------------------------------------------------------------
    def _deliver(self, fifos: list[ActivationFifo], item: tuple[int, int, int]):
        """The broadcast network: the activation reaches every FIFO L cycles later."""
        if self.p.latency:
            yield self.env.timeout(self.p.latency)
        for f in fifos:
            put = f.store.put(item)
            assert put.triggered, "credit protocol violated: FIFO full on arrival"

    def _ccu(self, rnd: _Round):
        """LNZD/CCU: one non-zero per cycle, in index order, while every FIFO has a free slot."""
        env, depth = self.env, self.p.fifo_depth
        b_prev = rnd.t0
        for k, (j, a) in enumerate(rnd.acts):
            target = rnd.t0 if k == 0 else b_prev + 1
            if k >= depth:
                yield simpy.AllOf(env, [f.popped(k - depth) for f in rnd.fifos])
                target = max(target, max(f.pop_cycle[k - depth] for f in rnd.fifos) + 1)
            if target > env.now:
                yield env.timeout(target - env.now)
            if k:
                self.totals.broadcast_stall_cycles += target - b_prev - 1
            if rnd.trace is not None:
                rnd.trace.append((target - rnd.t0, "ccu", f"broadcast {j}"))
            env.process(self._deliver(rnd.fifos, (k, j, a)))
            b_prev = target

    def _pe(self, p: int, rnd: _Round, block: int, acc: np.ndarray):
        """PE p: pop, read the pointer pair, issue one entry per cycle (or Z cycles if empty)."""
        env, enc, fifo = self.env, self.enc, rnd.fifos[p]
        e = self.p.entries_per_word
        tot = self.totals
        fin = rnd.t0
        buffered_word = -1
        for _ in range(len(rnd.acts)):
            k, j, a = yield fifo.store.get()
            start = int(env.now)
            fifo.record_pop(k)
            tot.starved[p] += start - fin
            if rnd.trace is not None:
                rnd.trace.append((start - rnd.t0, p, f"pop {j}"))
            with self.ptr_ports[p].request() as req:
                yield req
                s, t = int(enc.ptr[block, j, p]), int(enc.ptr[block, j + 1, p])
            n = t - s
            if n:
                for word in range(s // e, (t - 1) // e + 1):
                    if word != buffered_word:
                        with self.spmat_ports[p].request() as req:
                            yield req
                            tot.spmat_word_reads += 1
                            buffered_word = word
                lo, hi = enc.column_span(p, block, j)
                for q in range(lo, hi):
                    row = int(enc.row[q])
                    if row < 0:
                        tot.padding += 1
                    else:
                        acc[row] += self.cb[int(enc.code[q])] * a
                tot.entries += n
                tot.busy[p] += n
                yield env.timeout(n)
            else:
                tot.empty[p] += self.p.empty_cycles
                if self.p.empty_cycles:
                    yield env.timeout(self.p.empty_cycles)
            fin = int(env.now)
            if rnd.trace is not None:
                rnd.trace.append((fin - rnd.t0, p, f"done {j}"))
        rnd.finish[p] = fin

    def _compute_round(self, acts: list[tuple[int, int]], block: int, acc: np.ndarray):
        env, n = self.env, self.p.num_pes
        if not acts:
            return
        rnd = _Round(int(env.now), acts, [ActivationFifo(env, self.p.fifo_depth) for _ in range(n)],
                     [0] * n, self.trace)
        self.totals.nonzero_activations += len(acts)
        self.totals.nonempty_rounds += 1
        env.process(self._ccu(rnd))
        yield simpy.AllOf(env, [env.process(self._pe(p, rnd, block, acc)) for p in range(n)])
        end = max(rnd.finish)
        for p in range(n):
            self.totals.stalled[p] += end - rnd.finish[p]
        yield env.timeout(self.p.pipe_depth - 1)
        self.totals.compute_cycles += int(env.now) - rnd.t0

    def _layer(self, patches: np.ndarray, acc: np.ndarray):
        """Walk the round schedule: load phase, compute phase, store phase."""
        env, n = self.env, self.p.num_pes
        g = self.geom
        total = g.pixels * g.num_blocks * g.num_batches
        every = max(1, total // 200) if self.on_round is not None else 0
        for spec in round_schedule(g):
            self.rounds += 1
            if every and self.rounds % every == 0:
                self.on_round(self.rounds, total)
            if spec.load_values:
                self.load_cycles += spec.load_cycles(n)
                self.load_values += spec.load_values
                yield env.timeout(spec.load_cycles(n))
            col = patches[spec.col_lo:spec.col_hi, spec.pixel]
            acts = [(spec.col_lo + int(i), int(col[i])) for i in np.flatnonzero(col)]
            yield env.process(self._compute_round(acts, spec.block, acc[:, spec.pixel]))
            if spec.store_rows:
                self.store_cycles += spec.store_cycles(n)
                self.store_rows += spec.store_rows
                yield env.timeout(spec.store_cycles(n))

    def run(self, x_q: np.ndarray) -> tuple[np.ndarray, ComputeTotals, PhaseTotals]:
        geom = self.geom
        x = np.asarray(x_q, dtype=np.int64)
        if geom.kind == "fc":
            patches = x.reshape(geom.cols, 1)
        else:
            patches = im2col(x.reshape(geom.in_shape), geom.kernel, geom.stride, geom.padding)
        acc = np.zeros((geom.rows, geom.pixels), dtype=object)
        acc[:] = 0
        self.env.process(self._layer(patches, acc))
        self.env.run()
        out = acc.astype(np.int64)
        out = out.reshape(geom.rows) if geom.kind == "fc" else out.reshape(geom.rows, *geom.out_hw)
        phases = PhaseTotals(self.rounds, self.load_cycles, self.load_values, self.store_cycles, self.store_rows)
        return out, self.totals, phases


def run_layer_event(enc: EncodedLayer, geom: LayerGeometry, x_q: np.ndarray, codebook_q: np.ndarray,
                    params: TimingParams, trace: list[TraceEvent] | None = None,
                    on_round: Callable[[int, int], None] | None = None,
                    ) -> tuple[np.ndarray, ComputeTotals, PhaseTotals]:
    """All rounds of one layer with SimPy. ``trace``, if a list, receives (cycle, who, event) records;
    ``on_round(finished, total)`` is called as rounds finish (about 200 times per layer), for progress."""
    local: list[TraceEvent] | None = [] if trace is not None else None
    result = EventEngine(enc, geom, codebook_q, params, local, on_round).run(x_q)
    if trace is not None and local is not None:
        order = {"broadcast": 0, "done": 1, "pop": 2}
        trace.extend(sorted(local, key=lambda ev: (ev[0], -1 if ev[1] == "ccu" else ev[1],
                                                   order[ev[2].split()[0]], ev[2])))
    return result
