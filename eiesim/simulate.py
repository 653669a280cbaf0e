"""``simulate``: run a workload on an EIE architecture with one of the two engines.

The engine's per-layer M x V compute is plugged into the functional reference's
layer loop (``functional.run_fixed``), so gathering, concat, bias, requantization,
ReLU and pooling are the reference's own code and the engine's outputs can be
compared with the reference bit for bit. The layers are then placed on the chip's
timeline by the shared SimPy layer sequence (``timing.contract.sequence_layers``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eiesim.arch import ArchConfig, checked_arch, legal_sram_size
from eiesim.checks import checked_workload
from eiesim.costs import evaluate
from eiesim.encoding import ColumnLayout, encode_layer, layout_layer
from eiesim.errors import ArchError, UsageError
from eiesim.event_budget import DEFAULT_EVENT_LIMIT_S, describe, event_work, total_seconds
from eiesim.fixed_point import dequantize, quantize, quantized_codebook
from eiesim.functional import FixedPointPlan, plan_fixed_point, run_fixed
from eiesim.images import prepare_input
from eiesim.timing.contract import (
    ACTION_NAMES,
    ComputeTotals,
    LayerGeometry,
    LayerIo,
    PhaseCycles,
    PhaseTotals,
    TimingParams,
    layer_actions,
    layer_geometry,
    layer_io,
    phase_totals,
    sequence_layers,
)
from eiesim.timing.event import run_layer_event
from eiesim.timing.fast import run_layer_fast
from eiesim.jit.threads import thread_count
from eiesim.workload import Layer, Workload

ENGINES = ("fast", "event")
#: ``progress(done_layers, total_layers, layer_name)``, called after each layer.
Progress = Callable[[float, int, str], None]


@dataclass(frozen=True)
class StorageSummary:
    """Per-PE SRAM needs of the whole workload, whether the weights stay resident, and what to warn about."""

    spmat_bytes_max: int
    ptr_bytes_max: int
    spmat_capacity_bytes: int
    ptr_capacity_bytes: int
    resident: bool
    pointer_bits_needed: int = 0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        del out["warnings"]  # reported once, in the report's ``warnings``
        return out


@dataclass
class LayerStats:
    """Everything measured for one layer (docs/report-schema.md)."""

    name: str
    kind: str
    rows: int
    cols: int
    pixels: int
    row_blocks: int
    input_batches: int
    start_cycle: int
    cycles: int
    compute_cycles: int
    load_cycles: int
    store_cycles: int
    io_cycles: int
    time_us: float
    rounds: int
    nonzero_activations: int
    input_density: float
    entries_processed: int
    padding_entries: int
    broadcast_stall_cycles: int
    busy_cycles: np.ndarray
    empty_cycles: np.ndarray
    starved_cycles: np.ndarray
    stalled_cycles: np.ndarray
    drain_cycles: np.ndarray
    actions: dict[str, int]
    storage: dict[str, float]
    saturations: int

    @property
    def load_balance_efficiency(self) -> float:
        """ALU utilisation during compute: sum_p busy_p / (N x compute_cycles)."""
        n = len(self.busy_cycles)
        return float(self.busy_cycles.sum()) / (n * self.compute_cycles) if self.compute_cycles else 1.0

    @property
    def time_efficiency(self) -> float:
        """Theoretical over actual time: (entries / N) / total layer cycles."""
        n = len(self.busy_cycles)
        return (self.entries_processed / n) / self.cycles if self.cycles else 1.0

    @property
    def real_work_fraction(self) -> float:
        """Real entries over all entries processed (padding costs cycles but does no work)."""
        if not self.entries_processed:
            return 1.0
        return (self.entries_processed - self.padding_entries) / self.entries_processed

    def to_dict(self) -> dict[str, Any]:
        pe = {"busy": self.busy_cycles, "empty": self.empty_cycles, "starved": self.starved_cycles,
              "stalled": self.stalled_cycles, "drain": self.drain_cycles}
        return {
            "name": self.name, "kind": self.kind, "rows": self.rows, "cols": self.cols, "pixels": self.pixels,
            "row_blocks": self.row_blocks, "input_batches": self.input_batches, "start_cycle": self.start_cycle,
            "cycles": self.cycles, "compute_cycles": self.compute_cycles, "load_cycles": self.load_cycles,
            "store_cycles": self.store_cycles, "io_cycles": self.io_cycles, "time_us": self.time_us,
            "rounds": self.rounds, "nonzero_activations": self.nonzero_activations,
            "input_density": self.input_density, "entries_processed": self.entries_processed,
            "padding_entries": self.padding_entries, "broadcast_stall_cycles": self.broadcast_stall_cycles,
            "load_balance_efficiency": self.load_balance_efficiency, "time_efficiency": self.time_efficiency,
            "real_work_fraction": self.real_work_fraction,
            "stall_breakdown": {k: int(v.sum()) for k, v in pe.items()},
            "pe_cycles": {k: [int(x) for x in v] for k, v in pe.items()},
            "actions": dict(self.actions), "storage": dict(self.storage), "saturations": self.saturations,
        }


@dataclass
class SimulationResult:
    """A whole inference: resolved architecture, per-layer statistics, totals, functional check."""

    arch: ArchConfig
    workload: Workload
    engine: str
    input_description: str
    layers: list[LayerStats]
    storage: StorageSummary
    plan: FixedPointPlan
    outputs: dict[str, np.ndarray] = field(repr=False)
    check: dict[str, Any] = field(default_factory=dict)
    #: The cost model's pricing of this run (eiesim.costs.CostReport.to_dict()).
    costs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.layers)

    @property
    def time_us(self) -> float:
        return self.cycles / self.arch.clock_mhz

    @property
    def frames_per_s(self) -> float:
        return 1e6 / self.time_us if self.cycles else float("inf")

    @property
    def warnings(self) -> list[str]:
        """Everything the user should know about this result's accuracy (widened pointers, cost-model extrapolation)."""
        return list(self.storage.warnings) + [str(w) for w in self.costs.get("warnings", [])]

    def totals(self) -> dict[str, Any]:
        acts = {name: sum(s.actions[name] for s in self.layers) for name in ACTION_NAMES}
        return {
            "cycles": self.cycles, "time_us": self.time_us, "frames_per_s": self.frames_per_s,
            "compute_cycles": sum(s.compute_cycles for s in self.layers),
            "load_cycles": sum(s.load_cycles for s in self.layers),
            "store_cycles": sum(s.store_cycles for s in self.layers),
            "io_cycles": sum(s.io_cycles for s in self.layers),
            "macs": acts["macs"], "real_macs": acts["real_macs"], "actions": acts,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON report body (docs/report-schema.md): deterministic, so identical inputs give identical bytes.

        How the run was made (engine, wall time, date, host) is not part of the result;
        it lives in ``eiesim.report.run_metadata`` (written beside the report).
        """
        wl = self.workload
        return {
            "eiesim_version": _version(),
            "arch": self.arch.to_dict(),
            "workload": {"name": wl.name, "source": wl.source, "layers": len(wl.layers), "nnz": wl.nnz,
                         "input_shape": list(wl.input_shape), "input": self.input_description},
            "storage": self.storage.to_dict(),
            "fixed_point": self.plan.to_dict(),
            "totals": self.totals(),
            "layers": [self._layer_dict(i, s) for i, s in enumerate(self.layers)],
            "check": dict(self.check),
            **{key: self.costs[key] for key in COST_SECTIONS if key in self.costs},
            "warnings": self.warnings,
        }

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per layer (statistics, energy, dotted action/stall/storage columns); see eiesim.records."""
        from eiesim.records import records

        return records({"layers": [self._layer_dict(i, s) for i, s in enumerate(self.layers)]})

    def to_dataframe(self):  # noqa: ANN201 - pandas.DataFrame; pandas is optional
        """``to_records()`` as a pandas DataFrame (needs pandas, which eiesim does not install)."""
        from eiesim.records import dataframe

        return dataframe(self.to_records())

    def _layer_dict(self, index: int, stats: LayerStats) -> dict[str, Any]:
        out = stats.to_dict()
        if self.costs:
            priced = self.costs["layers"][index]
            out.update({key: priced[key] for key in ("energy_pj", "energy_by_component_pj", "paper_method_energy_pj")})
        return out


#: Report sections contributed by the cost model (docs/report-schema.md, docs/cost-model.md).
COST_SECTIONS = ("cost_model", "cost_model_provenance", "energy", "power", "area", "figures_of_merit", "paper_method")


def _version() -> str:
    """The version of the eiesim package that ran (not of whichever eiesim pip has installed)."""
    from eiesim import __version__
    return __version__


# -- architecture checks -------------------------------------------------------------

def check_codebook_bits(arch: ArchConfig, workload: Workload) -> None:
    """Reject workloads whose codebook indices are wider than the architecture's."""
    need = max(layer.codebook_bits for layer in workload.layers)
    if need > arch.codebook_bits:
        worst = max(workload.layers, key=lambda layer: layer.codebook_bits)
        raise ArchError(
            f"workload {workload.name!r} needs {need}-bit codebook indices (layer {worst.name!r} has "
            f"{len(worst.codebook)} shared weights) but the architecture has codebook_bits={arch.codebook_bits}; "
            f"use arch_configs/eie-64pe-8bit.yaml (or a config with codebook_bits >= {need}) or re-quantize with "
            f"`eiesim compress --bits {arch.codebook_bits}`")


def resolve_storage(arch: ArchConfig, workload: Workload, encoded: dict[str, ColumnLayout],
                    ) -> tuple[ArchConfig, StorageSummary, dict[str, int]]:
    """Resolve pointer widths and 'auto' SRAM sizes, decide residency, and the bytes each layer streams.

    Pointers must address every entry a PE holds for a layer (docs/timing-model.md section 1).
    ``pointer_bits: auto`` resolves to the narrowest width (>= 8) that addresses every layer. A
    fixed width too narrow for some layer (the published 16 bits address 65,535 entries; VGG-6
    puts 101,002 on one PE) is widened to what the workload needs, and the summary's
    ``warnings`` say so, naming the layer, the PE, its entries and the bits. The layouts in
    ``encoded`` are replaced by ones with the resolved width. Returns (resolved arch, summary,
    {layer: streamed weight bytes}).
    """
    from dataclasses import replace

    from eiesim.arch import MAX_POINTER_BITS, MIN_POINTER_BITS

    n = arch.num_pes
    needed = {layer.name: encoded[layer.name].pointer_bits_needed for layer in workload.layers}
    need_max = max(needed.values(), default=0)
    configured = arch.ptr_sram.pointer_bits
    bits = max(MIN_POINTER_BITS, need_max) if configured == "auto" else max(int(configured), need_max)
    warnings: list[str] = []
    worst = max(workload.layers, key=lambda layer: needed[layer.name])
    enc = encoded[worst.name]
    pe = int(enc.entries_per_pe.argmax())
    if need_max > MAX_POINTER_BITS:
        raise ArchError(f"layer {worst.name!r}: PE {pe} holds {int(enc.entries_per_pe[pe]):,} entries, which needs "
                        f"{need_max}-bit pointers; eiesim supports at most {MAX_POINTER_BITS} (use more PEs)")
    if configured != "auto" and need_max > int(configured):
        warnings.append(
            f"ptr_sram.pointer_bits: {configured}-bit pointers address at most {(1 << int(configured)) - 1:,} entries, "
            f"but PE {pe} holds {int(enc.entries_per_pe[pe]):,} of layer {worst.name!r}: simulated with {bits}-bit "
            f"pointers (pointer storage and SRAM sizing at {bits} bits; set ptr_sram.pointer_bits: {bits} or auto "
            "to say so in the configuration)")
    for layer in workload.layers:
        if encoded[layer.name].pointer_bits != bits:
            encoded[layer.name] = replace(encoded[layer.name], pointer_bits=bits)
    arch = arch.model_copy(update={"ptr_sram": arch.ptr_sram.model_copy(update={"pointer_bits": bits})})
    spmat = np.zeros(n, np.int64)
    ptr = np.zeros(n, np.int64)
    cumulative = []
    for layer in workload.layers:
        enc = encoded[layer.name]
        spmat += enc.spmat_bytes_per_pe
        ptr += enc.ptr_bytes_per_pe
        cumulative.append((layer.name, spmat.copy(), ptr.copy()))
    s_cfg, p_cfg = arch.spmat_sram, arch.ptr_sram
    if s_cfg.size_bytes == "auto":
        s_cfg = s_cfg.model_copy(update={"size_bytes": legal_sram_size(int(spmat.max()), s_cfg.width_bits)})
    if p_cfg.size_bytes == "auto":
        size = legal_sram_size(int(ptr.max()), p_cfg.pointer_bits, p_cfg.banks)
        p_cfg = p_cfg.model_copy(update={"size_bytes": size})
    arch = arch.model_copy(update={"spmat_sram": s_cfg, "ptr_sram": p_cfg})
    s_cap, p_cap = int(s_cfg.size_bytes), int(p_cfg.size_bytes)
    resident = bool(spmat.max() <= s_cap and ptr.max() <= p_cap)
    if not resident and arch.dram.sram_overflow == "error":
        for name, s, p in cumulative:
            for what, need, cap in (("Spmat SRAM", s, s_cap), ("pointer SRAM", p, p_cap)):
                if need.max() > cap:
                    pe = int(need.argmax())
                    raise ArchError(
                        f"the weights do not fit on chip: at layer {name!r}, PE {pe} needs {int(need[pe])} bytes of "
                        f"{what} (all layers so far) but has {cap}; use `--set spmat_sram.size_bytes=auto` "
                        f"(and ptr_sram.size_bytes=auto) or set dram.sram_overflow: stream")
    stream = {layer.name: 0 if resident else int((encoded[layer.name].spmat_bytes_per_pe
                                                  + encoded[layer.name].ptr_bytes_per_pe).sum())
              for layer in workload.layers}
    summary = StorageSummary(int(spmat.max()), int(ptr.max()), s_cap, p_cap, resident, need_max, tuple(warnings))
    return arch, summary, stream


# -- the simulation ---------------------------------------------------------------------

def _describe_input(input: Any, workload: Workload) -> str:
    if input is None:
        return "workload input"
    if isinstance(input, np.ndarray):
        return f"array {list(input.shape)}"
    return str(input)


def simulate(arch: ArchConfig, workload: Workload, input: Any = None, engine: str = "fast",
             plan: FixedPointPlan | None = None, progress: Progress | None = None,
             check: bool = True, event_limit_s: float | None = DEFAULT_EVENT_LIMIT_S) -> SimulationResult:
    """Simulate one inference of ``workload`` on ``arch``.

    ``input``: an array of the workload's input shape, an image path, a bundled photo
    name, an H x W x 3 array, or None (the workload's own input). ``engine``: "fast"
    (Numba, default) or "event" (SimPy, small layers only). ``plan``: fixed-point
    formats (default: calibrated on the input). ``check``: also run the functional
    fixed-point reference and compare every layer's output bit for bit.
    ``event_limit_s``: the event engine first estimates its run time from the work
    (``eiesim.event_budget``) and refuses, with a UsageError, a run estimated longer than
    this many seconds (None: no limit). ``progress(done, total, name)`` is called after
    every layer and, on the event engine, within layers (``done`` is then fractional).
    """
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    arch = checked_arch(arch)  # configs made in code may have bypassed validation
    checked_workload(workload)
    thread_count()  # a bad EIESIM_THREADS is reported before any work, whatever the layer sizes
    check_codebook_bits(arch, workload)
    x_float = prepare_input(workload, input)
    if plan is not None and not isinstance(plan, FixedPointPlan):
        raise UsageError(f"plan must be a FixedPointPlan (eiesim.functional.plan_fixed_point), got {type(plan).__name__}")
    if plan is None:
        plan = plan_fixed_point(workload, x_float)
    params = TimingParams.from_arch(arch)
    x_q, _ = quantize(x_float, plan.input_frac, plan.bits)
    if engine == "event" and event_limit_s is not None:
        check_event_budget(workload, x_q, plan, params, event_limit_s)
    # The fast engine needs only each layer's pointers; the event engine walks the entries.
    encode = layout_layer if engine == "fast" else encode_layer
    encoded = {layer.name: encode(layer, arch) for layer in workload.layers}
    arch, storage, stream_bytes = resolve_storage(arch, workload, encoded)
    records: dict[str, tuple[LayerGeometry, ComputeTotals, PhaseTotals]] = {}
    total = len(workload.layers)

    def accumulate(layer: Layer, x_layer: np.ndarray, fmt) -> np.ndarray:  # noqa: ANN001
        geom = layer_geometry(layer, tuple(x_layer.shape), params)
        cb_q = quantized_codebook(layer, fmt)
        if engine == "fast":
            acc, comp = run_layer_fast(encoded[layer.name], layer, geom, x_layer, cb_q, params)
            phases = phase_totals(geom)
        else:
            on_round = None
            if progress is not None:
                done = len(records)

                def on_round(finished: int, rounds: int) -> None:
                    progress(done + finished / rounds, total, layer.name)
            acc, comp, phases = run_layer_event(encoded[layer.name], geom, x_layer, cb_q, params, on_round=on_round)
        records[layer.name] = (geom, comp, phases)
        if progress is not None:
            progress(len(records), total, layer.name)
        return acc

    outputs = run_fixed(workload, x_q, plan, accumulate)
    ios = {layer.name: layer_io(workload, layer, arch, stream_bytes[layer.name]) for layer in workload.layers}
    spans = sequence_layers([
        PhaseCycles(name, ios[name].cycles, ph.load_cycles, comp.compute_cycles, ph.store_cycles)
        for name, (_, comp, ph) in records.items()])
    layers = [
        _layer_stats(layer, *records[layer.name], ios[layer.name], span.start_cycle, arch, encoded[layer.name],
                     outputs.saturations[layer.name], outputs.input_density[layer.name])
        for layer, span in zip(workload.layers, spans, strict=True)]
    result = SimulationResult(arch, workload, engine, _describe_input(input, workload), layers, storage, plan,
                              dict(outputs))
    if check:
        result.check = functional_check(workload, x_q, plan, outputs)
    result.costs = evaluate(arch, [stats.to_dict() for stats in layers]).to_dict()
    return result


def estimate_event_seconds(arch: ArchConfig, workload: Workload, input: Any = None) -> float:
    """The event engine's estimated run time (s) for one inference (eiesim.event_budget; about 1 s to compute)."""
    arch = checked_arch(arch)
    checked_workload(workload)
    x_float = prepare_input(workload, input)
    plan = plan_fixed_point(workload, x_float)
    x_q, _ = quantize(x_float, plan.input_frac, plan.bits)
    return total_seconds(event_work(workload, x_q, plan, TimingParams.from_arch(arch)))


def check_event_budget(workload: Workload, x_q: np.ndarray, plan: FixedPointPlan, params: TimingParams,
                       limit_s: float) -> float:
    """The event engine's estimated seconds; UsageError if above ``limit_s`` (see eiesim.event_budget)."""
    work = event_work(workload, x_q, plan, params)
    seconds = total_seconds(work)
    if seconds > limit_s:
        broadcasts = sum(w.broadcasts for w in work)
        raise UsageError(
            f"the event engine would take {describe(seconds)} on {workload.name!r} ({broadcasts:,} broadcasts x "
            f"{params.num_pes} PEs; limit {describe(limit_s)}); the fast engine gives the same numbers in seconds. "
            "To run it anyway: `eiesim run --engine event --allow-slow` (simulate(..., event_limit_s=None))")
    return seconds


def functional_check(workload: Workload, x_q: np.ndarray, plan: FixedPointPlan,
                     outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Compare the engine's outputs with the fixed-point reference, layer by layer."""
    ref = run_fixed(workload, x_q, plan)
    mismatched = [name for name in ref if not np.array_equal(ref[name], outputs[name])]
    last = workload.output_layer.name
    frac = plan.format(last).out_frac
    err = float(np.max(np.abs(dequantize(outputs[last], frac) - dequantize(ref[last], frac)), initial=0.0))
    out = {"functional": "pass" if not mismatched else "fail", "max_abs_error": err,
           "layers_mismatched": mismatched, "top1": None, "reference_top1": None}
    if outputs[last].size > 1:
        out["top1"] = int(np.argmax(outputs[last].reshape(-1)))
        out["reference_top1"] = int(np.argmax(ref[last].reshape(-1)))
    return out


def _layer_stats(layer: Layer, geom: LayerGeometry, comp: ComputeTotals, ph: PhaseTotals, io: LayerIo,
                 start: int, arch: ArchConfig, enc: ColumnLayout, saturations: int, density: float) -> LayerStats:
    cycles = io.cycles + ph.load_cycles + comp.compute_cycles + ph.store_cycles
    ent, pad = enc.entries_per_pe, enc.padding_per_pe
    storage = {
        "entries_max": int(ent.max()), "entries_mean": float(ent.mean()),
        "padding_max": int(pad.max()), "padding_mean": float(pad.mean()),
        "spmat_bytes_max": int(enc.spmat_bytes_per_pe.max()), "spmat_bytes_mean": float(enc.spmat_bytes_per_pe.mean()),
        "ptr_bytes_max": int(enc.ptr_bytes_per_pe.max()), "ptr_bytes_mean": float(enc.ptr_bytes_per_pe.mean()),
        "streamed_bytes": io.weight_bytes,
    }
    return LayerStats(
        name=layer.name, kind=layer.kind, rows=geom.rows, cols=geom.cols, pixels=geom.pixels,
        row_blocks=geom.num_blocks, input_batches=geom.num_batches, start_cycle=start, cycles=cycles,
        compute_cycles=comp.compute_cycles, load_cycles=ph.load_cycles, store_cycles=ph.store_cycles,
        io_cycles=io.cycles, time_us=cycles / arch.clock_mhz, rounds=ph.rounds,
        nonzero_activations=comp.nonzero_activations, input_density=density, entries_processed=comp.entries,
        padding_entries=comp.padding, broadcast_stall_cycles=comp.broadcast_stall_cycles,
        busy_cycles=comp.busy.copy(), empty_cycles=comp.empty.copy(), starved_cycles=comp.starved.copy(),
        stalled_cycles=comp.stalled.copy(), drain_cycles=comp.drain.copy(),
        actions=layer_actions(comp, ph, io), storage=storage, saturations=saturations)


def default_paths() -> tuple[Path, Path]:
    """(arch, workload) used by ``eiesim run`` with no arguments: package data (eiesim.defaults)."""
    from eiesim.defaults import DEFAULT_ARCH, DEFAULT_WORKLOAD, DEFAULTS_DIR

    return DEFAULTS_DIR / DEFAULT_ARCH, DEFAULTS_DIR / DEFAULT_WORKLOAD
