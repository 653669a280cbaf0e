"""Chrome / Perfetto trace of one layer: per-PE busy, empty, starved, stalled and drain spans.

The spans are drawn from the statement of the timing rules, ``contract.round_timeline``
(docs/timing-model.md section 3), independently of both engines: for every round of the
layer (``contract.round_schedule``) the compute phase follows the finder / FIFO-credit /
PE recurrence

    B_k = max(R_k, max_p S_{p,k-D})                           (broadcast: finder reach, credits)
    S_{p,k} = max(B_k + L, F_{p,k-1}),  F_{p,k} = S_{p,k} + (n_{p,k} or Z)   (pop, done)

with the round's end and the drop rule of section 3.3, framed by the layer's I/O, load
and store phases. (The event engine can emit pop/done records too, but relative to each
round's start without the round, so a multi-round layer cannot be rebuilt from them;
tests compare the two on a one-round layer and compare this module's per-PE totals with
the engines' statistics.)

Output: the Trace Event Format's JSON object form, ``{"traceEvents": [...],
"metadata": {...}}``, loadable in ui.perfetto.dev or chrome://tracing. One process
(the layer), one thread per PE plus a CCU thread (phases and broadcast stalls); every
span is a complete ("X") event. The time axis counts **cycles** from the layer's start
(the viewer labels them microseconds; multiply by 1000 / clock_mhz for ns). The
number of span events is capped (``max_events``); a truncated trace says so in its
metadata and covers the layer completely up to ``complete_before_cycle``. The bias
column, when the architecture broadcasts one, is labelled with column index V.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from eiesim.config.arch import ArchConfig
from eiesim.errors import UsageError
from eiesim.network.winograd import WinogradLayer
from eiesim.network.workload import RECURRENT_KINDS, Layer, Workload
from eiesim.timing.contract import RoundTimeline, round_timeline

#: Default cap on span events (about 25 MB of JSON).
DEFAULT_MAX_EVENTS = 200_000
#: PE states, as in the report's per-layer statistics.
PE_STATES = ("busy", "empty", "starved", "stalled", "drain")
CCU_TID = 0


#: Names of the span kinds; a span's ``kind`` indexes this tuple.
KINDS = PE_STATES + ("broadcast stall",)
_BCAST = len(PE_STATES)


@dataclass
class RoundSpans:
    """The spans of one round's compute phase as parallel arrays (cycles from the layer start)."""

    track: np.ndarray   # CCU_TID or 1 + PE index
    kind: np.ndarray    # index into KINDS
    start: np.ndarray
    dur: np.ndarray
    column: np.ndarray  # broadcast column the span belongs to (-1: none)
    length: int         # cycles of the compute phase, C (docs/timing-model.md section 3.3)

    def __len__(self) -> int:
        return int(self.start.shape[0])


def compute_phase_spans(columns: np.ndarray, tl: RoundTimeline, entries: np.ndarray, empty_cycles: int,
                        t0: int = 0) -> RoundSpans:
    """Every span of one round's compute phase (``tl`` = its ``round_timeline``) starting at ``t0``, sorted."""
    kt = int(entries.shape[0])
    num_pes = int(tl.pe_end.shape[0])
    if tl.cycles == 0:
        z = np.zeros(0, dtype=np.int64)
        return RoundSpans(z, z, z, z, z, 0)
    pops, done, handled = tl.pop, tl.done, tl.handled
    prev = np.vstack([np.zeros((1, num_pes), dtype=np.int64), done[:-1]]) if kt else np.zeros((0, num_pes), np.int64)
    pe_track = np.broadcast_to(np.arange(1, num_pes + 1), (kt, num_pes))
    col = np.broadcast_to(np.asarray(columns, dtype=np.int64)[:, None], (kt, num_pes))
    parts = []
    starved = handled & (pops > prev)
    parts.append((pe_track[starved], PE_STATES.index("starved"), prev[starved], (pops - prev)[starved], col[starved]))
    busy = handled & (entries > 0)
    parts.append((pe_track[busy], PE_STATES.index("busy"), pops[busy], entries[busy], col[busy]))
    if empty_cycles > 0:
        empty = handled & (entries == 0)
        parts.append((pe_track[empty], PE_STATES.index("empty"), pops[empty],
                      np.full(int(empty.sum()), empty_cycles), col[empty]))
    end = int(tl.pe_end.max()) if num_pes else 0
    tracks = np.arange(1, num_pes + 1)
    waiting = tl.pe_end < end
    parts.append((tracks[waiting], PE_STATES.index("stalled"), tl.pe_end[waiting], end - tl.pe_end[waiting],
                  np.full(int(waiting.sum()), -1)))
    if tl.cycles > end:
        parts.append((tracks, PE_STATES.index("drain"), np.full(num_pes, end), np.full(num_pes, tl.cycles - end),
                      np.full(num_pes, -1)))
    stall = np.flatnonzero(tl.broadcast > tl.ready)
    parts.append((np.full(stall.shape[0], CCU_TID), _BCAST, tl.ready[stall], (tl.broadcast - tl.ready)[stall],
                  np.asarray(columns, dtype=np.int64)[stall]))
    track = np.concatenate([np.asarray(p[0], dtype=np.int64) for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int64) for p in parts])
    start = np.concatenate([np.asarray(p[2], dtype=np.int64) for p in parts]) + t0
    dur = np.concatenate([np.asarray(p[3], dtype=np.int64) for p in parts])
    column = np.concatenate([np.asarray(p[4], dtype=np.int64) for p in parts])
    order = np.lexsort((track, start))
    return RoundSpans(track[order], kind[order], start[order], dur[order], column[order], tl.cycles)


def _layer_input(workload: Workload, layer: Layer, network_input: Any,
                 winograd: dict[str, WinogradLayer] | None = None) -> np.ndarray:
    """The layer's 16-bit fixed-point input, from the functional reference up to that layer.

    ``winograd``: the layers that run as F(2x2, 3x3), by name: the layers before ``layer`` are computed by
    the Winograd reference, and a Winograd ``layer``'s input is its transformed input (``input_q``).
    """
    from eiesim.network.fixed_point import quantize
    from eiesim.network.functional import plan_fixed_point, run_fixed
    from eiesim.network.network_input import prepare_input
    from eiesim.network.winograd import winograd_reference

    winograd = winograd or {}
    reference = winograd_reference(winograd)  # the direct reference for every layer not in ``winograd``

    x_float = prepare_input(workload, network_input)
    plan = plan_fixed_point(workload, x_float)
    x_q, _ = quantize(x_float, plan.input_frac, plan.bits)
    captured: dict[str, np.ndarray] = {}

    class _Reached(Exception):
        pass

    def accumulate(lay: Layer, x_layer: np.ndarray, fmt):  # noqa: ANN001
        if lay.name == layer.name:
            wl = winograd.get(lay.name)
            captured["x"] = np.asarray(x_layer if wl is None else wl.input_q(x_layer, fmt), dtype=np.int64)
            raise _Reached
        return reference(lay, x_layer, fmt)

    try:
        run_fixed(workload, x_q, plan, accumulate)
    except _Reached:
        pass
    return captured["x"]


def layer_trace(arch: ArchConfig, workload: Workload, layer_name: str, input: Any = None,
                max_events: int = DEFAULT_MAX_EVENTS) -> dict[str, Any]:
    """The Chrome/Perfetto trace (a JSON-ready dict) of layer ``layer_name`` of one inference."""
    from eiesim.encoding import layout_layer
    from eiesim.network.fixed_point import im2col
    from eiesim.timing.contract import (
        TimingParams,
        check_codebook_bits,
        layer_geometry,
        layer_io,
        resolve_storage,
        round_schedule,
    )
    from eiesim.timing.contract.winograd import winograd_layers

    if max_events < 1:
        raise UsageError(f"max_events must be at least 1, got {max_events}")
    try:
        layer = workload.layer(layer_name)
    except KeyError:
        names = ", ".join(lay.name for lay in workload.layers)
        raise UsageError(f"workload {workload.name!r} has no layer {layer_name!r}; its layers are: {names}") from None
    if layer.kind in RECURRENT_KINDS:
        raise UsageError(f"layer {layer_name!r} is recurrent ({layer.kind}); the trace does not draw the steps' "
                         "element-wise phases yet (docs/timing-model.md section 8)")
    check_codebook_bits(arch, workload)
    if arch.mapping.pixel_groups != 1:
        raise UsageError(
            f"the trace draws one group of PEs (mapping.pixel_groups: 1), not {arch.mapping.pixel_groups}; a pixel "
            f"group is a chip of num_pes / G PEs working on every G-th pixel: trace it with the overrides "
            f"num_pes=<num_pes / G> and mapping.pixel_groups=1 (its rounds are those of the group's pixels)")
    params = TimingParams.from_arch(arch)
    # mapping.conv3x3: winograd: a Winograd layer is traced as the Winograd layer it runs (its rounds are tiles).
    winograd = winograd_layers(arch, workload)
    encoded = {lay.name: layout_layer(lay if lay.name not in winograd else winograd[lay.name].matrix, arch)
               for lay in workload.layers}
    arch, _storage, stream = resolve_storage(arch, workload, encoded)
    enc = encoded[layer.name]
    x = _layer_input(workload, layer, input, winograd)
    run_layer = layer if layer.name not in winograd else winograd[layer.name].matrix
    geom = layer_geometry(run_layer, tuple(x.shape), params)
    patches = x.reshape(geom.cols, 1) if geom.kind == "fc" else im2col(
        x.reshape(geom.in_shape), geom.kernel, geom.stride, geom.padding, dilation=geom.dilation)
    io = layer_io(workload, layer, arch, stream[layer.name])
    n = params.num_pes

    events: list[dict[str, Any]] = []
    state_totals = np.zeros((len(KINDS), n + 1), dtype=np.int64)
    truncated = False
    complete_before: int | None = None
    t = 0

    def room() -> int:
        return max_events - len(events)

    def phase(name: str, dur: int, args: dict[str, Any]) -> None:
        nonlocal truncated, complete_before
        if truncated:
            return
        if room() <= 0:
            truncated, complete_before = True, t
            return
        events.append({"ph": "X", "pid": 1, "tid": CCU_TID, "name": name, "cat": "ccu", "ts": t, "dur": dur,
                       "args": args})

    def spans(rs: RoundSpans, header: dict[str, Any]) -> None:
        nonlocal truncated, complete_before
        np.add.at(state_totals, (rs.kind, rs.track), rs.dur)
        if truncated:
            return
        take = len(rs) + 1  # the round's own "compute" span on the CCU track comes first
        if take > room():
            truncated = True
            take = room()
            complete_before = int(rs.start[take - 1]) if take >= 1 else header["ts"]
        if take <= 0:
            return
        events.append(header)
        for i in range(take - 1):
            ev = {"ph": "X", "pid": 1, "tid": int(rs.track[i]), "name": KINDS[rs.kind[i]],
                  "cat": "ccu" if rs.track[i] == CCU_TID else "pe", "ts": int(rs.start[i]), "dur": int(rs.dur[i])}
            if rs.column[i] >= 0:
                ev["args"] = {"column": int(rs.column[i])}
            events.append(ev)

    if io.cycles:
        phase("I/O mode", io.cycles, {"dram_bytes_read": io.bytes_read, "dram_bytes_written": io.bytes_written})
        t += io.cycles
    rounds = 0
    for spec in round_schedule(geom):
        if truncated:
            break
        rounds += 1
        if spec.load_values:
            c = spec.load_cycles(n)
            phase("load", c, {"values": spec.load_values, "pixel": spec.pixel, "batch": spec.batch})
            t += c
        col = patches[spec.col_lo:spec.col_hi, spec.pixel]
        nz = spec.col_lo + np.flatnonzero(col)
        bias = params.bias_column and spec.batch == geom.num_batches - 1
        columns = np.append(nz, geom.cols) if bias else nz
        entries = enc.column_counts(spec.block, columns)
        tl = round_timeline(entries, nz - spec.col_lo, -(-(spec.col_hi - spec.col_lo) // n), bias, params)
        rs = compute_phase_spans(columns, tl, entries, params.empty_cycles, t)
        if rs.length:
            spans(rs, {"ph": "X", "pid": 1, "tid": CCU_TID, "name": "compute", "cat": "ccu", "ts": t,
                       "dur": rs.length, "args": {"round": rounds - 1, "pixel": spec.pixel, "block": spec.block,
                                                  "batch": spec.batch, "nonzero_activations": int(len(nz))}})
        t += rs.length
        if spec.has_store_phase:
            c = spec.store_cycles(n)
            args = {"rows": spec.store_rows, "pixel": spec.pixel}
            if spec.residual_rows:
                args["residual_rows"] = spec.residual_rows
            if spec.activation_rows:
                args["activation_rows"] = spec.activation_rows
            phase("store", c, args)
            t += c
    meta = {
        "layer": layer.name, "workload": workload.name, "arch": arch.name, "num_pes": n,
        "clock_mhz": arch.clock_mhz, "time_unit": "cycle (viewers label it microseconds)",
        "rounds_total": geom.rounds, "rounds_traced": rounds, "io_cycles": io.cycles,
        "span_events": len(events), "max_events": max_events, "truncated": truncated,
        **({} if layer.name not in winograd else {"conv3x3": "winograd", "tiles": geom.pixels}),
        "span_source": ("computed by eiesim.timing.trace from the rules of docs/timing-model.md "
                        "(independent of the engines)"),
    }
    if truncated:
        meta["complete_before_cycle"] = complete_before
        meta["note"] = (f"cut at {max_events} span events: the trace is complete before cycle {complete_before}; "
                        "raise --max-events for more")
    else:
        meta["layer_cycles"] = t
        meta["pe_state_cycles"] = {s: [int(v) for v in state_totals[i, 1:]] for i, s in enumerate(PE_STATES)}
        meta["broadcast_stall_cycles"] = int(state_totals[_BCAST, CCU_TID])
    return _trace_json(events, arch, workload, layer, meta)


def _trace_json(spans: list[dict[str, Any]], arch: ArchConfig, workload: Workload, layer: Layer,
                meta: dict[str, Any]) -> dict[str, Any]:
    """Track names and order ("M" metadata events) followed by the span events."""
    pid = 1
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": pid, "tid": 0, "name": "process_name", "args": {"name": f"{workload.name} / {layer.name}"}},
        {"ph": "M", "pid": pid, "tid": CCU_TID, "name": "thread_name", "args": {"name": "CCU (phases, broadcast stalls)"}},
        {"ph": "M", "pid": pid, "tid": CCU_TID, "name": "thread_sort_index", "args": {"sort_index": 0}},
    ]
    for p in range(arch.num_pes):
        events.append({"ph": "M", "pid": pid, "tid": 1 + p, "name": "thread_name", "args": {"name": f"PE {p}"}})
        events.append({"ph": "M", "pid": pid, "tid": 1 + p, "name": "thread_sort_index", "args": {"sort_index": 1 + p}})
    return {"traceEvents": events + spans, "metadata": meta}
