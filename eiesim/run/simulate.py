"""``simulate``: run a workload on an EIE architecture with one of the two engines.

This module orchestrates; the rules it applies are the timing contract's
(``eiesim.timing.contract``: storage and residency, rounds, I/O, statistics, actions,
the layer sequence) and the results are ``eiesim.run.result``'s records. The
engine's per-layer M x V compute is plugged into the functional reference's layer
loop (``functional.run_fixed``), so gathering, concat, bias, requantization, ReLU and
pooling are the reference's own code and the engine's outputs can be compared with the
reference bit for bit. The layers are then placed on the chip's
timeline by the shared SimPy layer sequence (``timing.contract.sequence_layers``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from eiesim.config.arch import ArchConfig, checked_arch, checked_arch_keyed, content_key
from eiesim.costs import evaluate
from eiesim.encoding import ColumnLayout, EncodedLayer, encode_layer, layout_layer
from eiesim.errors import UsageError
from eiesim.inputs.images import BUNDLED_PHOTOS
from eiesim.jit.threads import thread_count
from eiesim.network.checks import checked_workload
from eiesim.network.fixed_point import dequantize, quantize, quantized_codebook
from eiesim.network.functional import FixedPointPlan, LayerFormat, plan_fixed_point, run_fixed
from eiesim.network.host_graph import TOKENS_KEY
from eiesim.network.memory import check_workload_memory
from eiesim.network.network_input import default_input, prepare_input
from eiesim.network.winograd import WinogradLayer, input_density, tile_grid, winograd_reference
from eiesim.network.workload import RECURRENT_KINDS, Layer, Workload
from eiesim.run.content_cache import (ACCUMULATORS, ENCODINGS, INPUTS, PLANS, REFERENCES, STORAGE, array_digest,
                                      checked_workload_digests, encoding_key, remember_accumulators,
                                      workload_digest)
from eiesim.run.result import LayerStats, SimulationResult
from eiesim.timing.contract import (
    GroupRun,
    LayerGeometry,
    LayerIo,
    LayerTiming,
    PhaseCycles,
    RecurrentSteps,
    StorageSummary,
    TimingParams,
    check_codebook_bits,
    choose_pixel_groups,
    combine_groups,
    cycle_breakdown,
    group_options,
    group_pixels,
    layer_actions,
    layer_cycles,
    layer_geometry,
    layer_io,
    phase_totals,
    recurrent_steps,
    writeback_actions_needed,
    resolve_storage,
    sequence_layers,
)
from eiesim.timing.contract.winograd import winograd_actions, winograd_layers
from eiesim.timing.event_budget import DEFAULT_EVENT_LIMIT_S, describe, event_work, total_seconds
from eiesim.timing.fast import run_layer_fast_groups

ENGINES = ("fast", "event")
#: ``progress(done_layers, total_layers, layer_name)``, called after each layer.
Progress = Callable[[float, int, str], None]


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
    name, an H x W x 3 array, or None (the workload's own input, else the bundled photo:
    ``eiesim.network.network_input.default_input``). ``engine``: "fast"
    (Numba, default) or "event" (SimPy, small layers only). ``plan``: fixed-point
    formats (default: calibrated on the input). ``check``: also run the functional
    fixed-point reference and compare every layer's output bit for bit.
    ``event_limit_s``: the event engine first estimates its run time from the work
    (``eiesim.timing.event_budget``) and refuses, with a UsageError, a run estimated longer than
    this many seconds (None: no limit). ``progress(done, total, name)`` is called after
    every layer and, on the event engine, within layers (``done`` is then fractional).
    """
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    arch, arch_key = checked_arch_keyed(arch)  # configs made in code may have bypassed validation
    digests, workload_key = checked_workload_digests(workload)
    thread_count()  # a bad EIESIM_THREADS is reported before any work, whatever the layer sizes
    check_codebook_bits(arch, workload)
    input = default_input(workload, input)  # the one default input rule (so the report names the input used)
    network = Network(workload, digests, workload_key)
    x_float = network.input(input)
    x_digest = array_digest(x_float)  # names the input in the plan's and the reference's keys
    if plan is not None and not isinstance(plan, FixedPointPlan):
        raise UsageError(f"plan must be a FixedPointPlan (eiesim.network.functional.plan_fixed_point), "
                         f"got {type(plan).__name__}")
    if plan is None:
        plan = network.plan(x_float, x_digest)
    params = TimingParams.from_arch(arch)
    x_q, _ = quantize(x_float, plan.input_frac, plan.bits)
    # mapping.conv3x3: winograd: these layers run as their Winograd layer (timing.contract.winograd), with
    # mapping.winograd_weights: repruned its transformed weights pruned back to the kernel's density.
    winograd = winograd_layers(arch, workload)
    if engine == "event" and event_limit_s is not None:
        check_event_budget(workload, x_q, plan, params, event_limit_s, winograd)
    # The fast engine needs only each layer's pointers; the event engine walks the entries.
    encode = layout_layer if engine == "fast" else encode_layer
    options = {layer.name: group_options(*_timed_layer(layer, workload, winograd), arch) for layer in workload.layers}
    group_arch = {g: _group_arch(arch, g) for opts in options.values() for g in opts}
    # Each layout's content key (None for a Winograd layer's, which is not kept by content).
    enc_keys = {(layer.name, g): (network.encoding_key(encode, layer, group_arch[g]) if layer.name not in winograd
                                  else None)
                for layer in workload.layers for g in options[layer.name]}
    encoded = {(name, g): (network.encoding(encode, network.layer(name), group_arch[g]) if key is not None
                           else encode(winograd[name].matrix, group_arch[g]))
               for (name, g), key in enc_keys.items()}
    resolved = None
    if arch.mapping.pixel_groups != "auto":  # one option per layer: storage is settled before any simulation
        chosen = {name: opts[0] for name, opts in options.items()}
        encoded_chosen = {name: encoded[name, g] for name, g in chosen.items()}
        resolved = network.storage(arch, encoded_chosen, chosen, _chosen_keys(enc_keys, chosen), arch_key)
    timings: dict[str, dict[int, tuple[LayerGeometry, LayerTiming]]] = {}
    transformed_density: dict[str, float] = {}
    recurrent = {layer.name: recurrent_steps(layer.kind, layer.rows, layer.cols, layer.extra["hidden"],
                                             int(np.prod(workload.input_shape_of(layer))))
                 for layer in workload.layers if layer.kind in RECURRENT_KINDS}
    total = len(workload.layers)

    def accumulate(layer: Layer, x_layer: np.ndarray, fmt) -> np.ndarray:  # noqa: ANN001
        wl = winograd.get(layer.name)
        out_layer, out_x, out_fmt = layer, x_layer, fmt
        if wl is not None:  # the Winograd layer on the transformed tiles; the output transform follows
            layer, x_layer, fmt = wl.matrix, wl.input_q(x_layer, fmt), wl.matrix_format(fmt)
            transformed_density[out_layer.name] = input_density(x_layer)
        cb_q = quantized_codebook(layer, fmt)
        timings[out_layer.name] = {}
        # The fast engine's accumulators depend only on the layer, its input and codebook: kept by content
        # once computed twice in the process (a warm simulate, a sweep's later points), and computed once
        # for all pixel-group options.
        acc_key = network.accumulators_key(layer, x_layer, fmt) if engine == "fast" else None
        acc = ACCUMULATORS.get(acc_key) if acc_key is not None else None
        for g in options[layer.name]:  # the outputs do not depend on G (the equivalence tests hold them equal)
            params_g = params if g == 1 else TimingParams.from_arch(group_arch[g])  # (G = 1: the chip itself)
            geom = layer_geometry(layer, tuple(x_layer.shape), params_g)
            enc = encoded[layer.name, g]
            if engine == "fast":
                computed = acc is None
                acc, comp = run_layer_fast_groups(enc, layer, geom, x_layer, cb_q, params_g, g, acc)
                if acc_key is not None and computed:
                    remember_accumulators(acc_key, acc)
                runs = [GroupRun(c, phase_totals(geom, len(group_pixels(geom.pixels, g, k))))
                        for k, c in enumerate(comp)]
            else:
                on_round = None
                if progress is not None:
                    done = len(timings) - 1

                    def on_round(finished: float, rounds: int) -> None:
                        progress(done + finished / rounds, total, layer.name)
                # engine "event" encodes with encode_layer: the entries are there. SimPy's engine is
                # imported here: the default (fast) runs never load it.
                from eiesim.timing.event import run_layer_event_groups

                acc, runs = run_layer_event_groups(cast(EncodedLayer, enc), geom, x_layer, cb_q, params_g, g, on_round=on_round)
            if layer.name in recurrent:  # the steps' load and element-wise phases (section 8)
                runs = [GroupRun(run.compute, recurrent[layer.name].phase_totals(params_g)) for run in runs]
            timings[layer.name][g] = (geom, combine_groups(runs))
        if progress is not None:
            progress(len(timings), total, layer.name)
        if wl is not None:
            oh, ow, _, _ = tile_grid(out_x.shape, out_layer)
            acc = wl.finish_accumulators(cast(np.ndarray, acc), (oh, ow), out_fmt)
        return cast(np.ndarray, acc)  # set: every layer has at least one pixel-group option

    outputs = run_fixed(workload, x_q, plan, accumulate)
    if resolved is None:  # auto: the choice needs every candidate's cycles
        chosen = choose_pixel_groups(arch, options, encoded, {name: {g: t.cycles for g, (_, t) in by_g.items()}
                                                              for name, by_g in timings.items()})
        encoded_chosen = {name: encoded[name, g] for name, g in chosen.items()}
        resolved = network.storage(arch, encoded_chosen, chosen, _chosen_keys(enc_keys, chosen), arch_key)
    arch, storage, stream_bytes = resolved
    ios = {layer.name: layer_io(workload, layer, arch, stream_bytes[layer.name]) for layer in workload.layers}
    picked = {name: timings[name][g] for name, g in chosen.items()}
    spans = sequence_layers([
        PhaseCycles(name, ios[name].cycles, t.phases.load_cycles, t.compute.compute_cycles, t.phases.store_cycles)
        for name, (_, t) in picked.items()])
    writeback = writeback_actions_needed(workload)
    layers = [
        _layer_stats(layer, *picked[layer.name], ios[layer.name], span.start_cycle, arch, encoded_chosen[layer.name],
                     outputs.saturations[layer.name], outputs.input_density[layer.name],
                     {g: t.cycles for g, (_, t) in timings[layer.name].items()},
                     None if layer.name not in winograd else (winograd[layer.name], workload.input_shape_of(layer),
                                                             transformed_density[layer.name]),
                     recurrent.get(layer.name), writeback)
        for layer, span in zip(workload.layers, spans, strict=True)]
    result = SimulationResult(arch, workload, engine, _describe_input(input, workload), layers, storage, plan,
                              dict(outputs), host_saturations=dict(outputs.host_saturations))
    if check:
        # (the Winograd layers have their own fixed-point reference)
        reference = (network.reference(x_q, plan, x_digest) if not winograd
                     else run_fixed(workload, x_q, plan, winograd_reference(winograd)))
        result.check = functional_check(workload, x_q, plan, outputs, reference=reference)
    result.costs = evaluate(arch, [_priced_fields(stats) for stats in layers]).to_dict()
    return result


def share_network_work(workload: Workload, input: Any = None) -> None:
    """Compute, into this process's content caches, the work every simulation of ``workload`` on
    ``input`` shares whatever the architecture: the workload's validation, the fixed-point plan
    calibrated on the input and the fixed-point reference (``Network``).

    A sweep calls it before it forks its local workers, which then find these values (and the
    imported engines) in their inherited caches instead of computing them once each; the values
    are the ones ``simulate`` would compute, under the same content keys. Winograd layers'
    reference depends on the architecture and is left to ``simulate``.
    """
    network = Network(workload, *checked_workload_digests(workload))
    x_float = network.input(default_input(workload, input))
    x_digest = array_digest(x_float)
    plan = network.plan(x_float, x_digest)
    x_q, _ = quantize(x_float, plan.input_frac, plan.bits)
    network.reference(x_q, plan, x_digest)


class Network:
    """One workload's content-keyed shared work (``eiesim.run.content_cache``): the fixed-point plan
    calibrated on an input, the fixed-point reference, the per-PE encodings, and the input made
    from a bundled photo.

    Each value is what the plain call would compute (the keys are digests of every input the
    computation reads), so a repeated simulation or another sweep point computes it once.
    """

    def __init__(self, workload: Workload, layer_digests: list[str], digest: str | None = None) -> None:
        """``layer_digests``: ``layer_digest`` of each layer, in order; ``digest``: the workload's
        ``workload_digest`` when the caller has it (``checked_workload_digests``), else computed here."""
        self.workload = workload
        self.layer_digests = dict(zip((layer.name for layer in workload.layers), layer_digests, strict=True))
        self.digest = workload_digest(workload, layer_digests) if digest is None else digest
        self._own = {layer.name: layer for layer in workload.layers}

    def input(self, spec: Any) -> np.ndarray:
        """``prepare_input(workload, spec)``; kept when ``spec`` names a bundled photo (and no file of that
        name exists, which ``load_image`` would read instead): its pixels come with the package."""
        if isinstance(spec, str) and spec in BUNDLED_PHOTOS and not Path(spec).is_file():
            check_workload_memory(self.workload)  # as prepare_input does first (the budget may have changed)
            return INPUTS.get_or_compute((self.digest, "photo", spec), lambda: prepare_input(self.workload, spec))
        return prepare_input(self.workload, spec)

    def plan(self, x_float: np.ndarray, x_digest: str | None = None) -> FixedPointPlan:
        """``plan_fixed_point(workload, x_float)``; ``x_digest``: ``array_digest(x_float)`` if already computed."""
        key = (self.digest, array_digest(x_float) if x_digest is None else x_digest)
        return PLANS.get_or_compute(key, lambda: plan_fixed_point(self.workload, x_float))

    def reference(self, x_q: np.ndarray, plan: FixedPointPlan,
                  x_float_digest: str | None = None) -> dict[str, np.ndarray]:
        """``run_fixed(workload, x_q, plan)``: every layer's fixed-point reference output.

        ``x_float_digest``: ``array_digest(x_float)`` of the float input that ``x_q`` was quantized
        from with the plan's input format (``quantize(x_float, plan.input_frac, plan.bits)``). ``x_q``
        is a pure function of that input and the plan, so the float input's digest names it as well
        as its own would, and the caller has it already (the plan's key): ``x_q`` is not digested.
        """
        x_key = ("float input", x_float_digest) if x_float_digest is not None else array_digest(x_q)
        key = (self.digest, x_key, repr(plan.to_dict()))
        return REFERENCES.get_or_compute(key, lambda: run_fixed(self.workload, x_q, plan))

    def layer(self, name: str) -> Layer:
        """The workload's layer called ``name``."""
        return self._own[name]

    def encoding_key(self, encode: Callable[[Layer, ArchConfig], ColumnLayout], layer: Layer,
                     arch: ArchConfig) -> tuple:
        """The ``ENCODINGS`` key of ``encode(layer, arch)``: the layer's digest and the encoding parameters."""
        return encoding_key(self.layer_digests[layer.name], encode.__name__, arch)

    def encoding(self, encode: Callable[[Layer, ArchConfig], ColumnLayout], layer: Layer,
                 arch: ArchConfig) -> ColumnLayout:
        """``encode(layer, arch)`` (``layout_layer`` or ``encode_layer``)."""
        return ENCODINGS.get_or_compute(self.encoding_key(encode, layer, arch), lambda: encode(layer, arch))

    def storage(self, arch: ArchConfig, encoded: dict[str, ColumnLayout], pixel_groups: dict[str, int],
                layout_keys: dict[str, tuple | None],
                arch_key: tuple | None = None) -> tuple[ArchConfig, StorageSummary, dict[str, int]]:
        """``resolve_storage(arch, workload, encoded, pixel_groups)``, with its effect on ``encoded`` (the
        layouts whose pointer width it resolves are replaced).

        It is a pure function of the architecture's field values, the layer names in order, the
        layouts' contents and the pixel groups: with every layout named by its ``ENCODINGS`` key
        (``layout_keys``), a repeated resolution is taken from ``STORAGE``. A layout without a key (a
        Winograd layer's) or an architecture with an unhashable value resolves afresh each time.
        ``arch_key``: ``content_key(arch)`` when the caller has it (``checked_arch_keyed``).
        """
        key: tuple | None = None
        if all(layout_keys.get(layer.name) is not None for layer in self.workload.layers):
            layers = tuple((layer.name, layout_keys[layer.name], pixel_groups.get(layer.name, 1))
                           for layer in self.workload.layers)
            key = (content_key(arch) if arch_key is None else arch_key, layers)
            try:
                hash(key)
            except TypeError:
                key = None
        found = STORAGE.get(key) if key is not None else None
        if found is not None:
            resolved_arch, summary, stream, replaced = found
            encoded.update(replaced)
            return resolved_arch, summary, dict(stream)
        before = dict(encoded)
        resolved_arch, summary, stream = resolve_storage(arch, self.workload, encoded, pixel_groups)
        if key is not None:
            replaced = {name: layout for name, layout in encoded.items() if layout is not before.get(name)}
            STORAGE.put(key, (resolved_arch, summary, dict(stream), replaced))
        return resolved_arch, summary, stream

    def accumulators_key(self, layer: Layer, x_q: np.ndarray, fmt: LayerFormat) -> tuple[str, str, tuple] | None:
        """The ``ACCUMULATORS`` key of a workload layer on input ``x_q`` in format ``fmt`` (everything its exact
        M x V products read: the layer, the input, and the quantized codebook, which is
        ``quantized_codebook(layer, fmt)``: the layer's codebook, in its digest, at ``fmt``'s weight format), or
        None for a layer that is not one of the workload's own (a Winograd layer, a recurrent step's view)."""
        digest = self.layer_digests.get(layer.name)
        if digest is None or self._own.get(layer.name) is not layer:
            return None
        return digest, array_digest(x_q), ("quantized codebook", fmt.weight_frac, fmt.bits)


def _chosen_keys(keys: dict[tuple[str, int], tuple | None], chosen: dict[str, int]) -> dict[str, tuple | None]:
    """Each layer's layout key (``Network.encoding_key``, or None) for its chosen pixel groups."""
    return {name: keys[name, g] for name, g in chosen.items()}


def _timed_layer(layer: Layer, workload: Workload,
                 winograd: dict[str, WinogradLayer]) -> tuple[Layer, tuple[int, ...]]:
    """The layer the engines run for ``layer`` and the shape of its input: the layer itself, or its Winograd layer."""
    in_shape = workload.input_shape_of(layer)
    wl = winograd.get(layer.name)
    return (layer, in_shape) if wl is None else (wl.matrix, wl.input_shape(in_shape))


def _group_arch(arch: ArchConfig, groups: int) -> ArchConfig:
    """The architecture one of ``groups`` pixel groups is: N / G PEs, one group (the chip itself for G = 1)."""
    if groups == 1:
        return arch
    return arch.derive({"num_pes": arch.num_pes // groups, "mapping.pixel_groups": 1})


def estimate_event_seconds(arch: ArchConfig, workload: Workload, input: Any = None) -> float:
    """The event engine's estimated run time (s) for one inference (``eiesim.timing.event_budget``; ~1 s to compute)."""
    return float(sum(estimate_event_layer_seconds(arch, workload, input)))


def estimate_event_layer_seconds(arch: ArchConfig, workload: Workload, input: Any = None) -> list[float]:
    """The event engine's estimated run time (s) of each layer, in workload order (for progress bars)."""
    arch = checked_arch(arch)
    checked_workload(workload)
    x_float = prepare_input(workload, input)
    plan = plan_fixed_point(workload, x_float)
    x_q, _ = quantize(x_float, plan.input_frac, plan.bits)
    return [w.seconds for w in event_work(workload, x_q, plan, TimingParams.from_arch(arch),
                                          winograd_layers(arch, workload))]


def check_event_budget(workload: Workload, x_q: np.ndarray, plan: FixedPointPlan, params: TimingParams,
                       limit_s: float, winograd: dict[str, WinogradLayer] | None = None) -> float:
    """The event engine's estimated seconds; UsageError if above ``limit_s`` (see eiesim.timing.event_budget).

    ``winograd``: the layers that run as F(2x2, 3x3) (``winograd_layers``), estimated as what they run."""
    work = event_work(workload, x_q, plan, params, winograd)
    seconds = total_seconds(work)
    if seconds > limit_s:
        broadcasts = sum(w.broadcasts for w in work)
        raise UsageError(
            f"the event engine would take {describe(seconds)} on {workload.name!r} ({broadcasts:,} broadcasts x "
            f"{params.num_pes} PEs; limit {describe(limit_s)}); the fast engine gives the same numbers in seconds. "
            "To run it anyway: `eiesim run --engine event --allow-slow` (simulate(..., event_limit_s=None))")
    return seconds


def functional_check(workload: Workload, x_q: np.ndarray, plan: FixedPointPlan,
                     outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Compare the engine's outputs with the fixed-point reference, layer by layer.

    ``reference``: ``run_fixed(workload, x_q, plan)`` when already computed (else it is run here).
    """
    ref = run_fixed(workload, x_q, plan) if reference is None else reference
    mismatched = [name for name in ref if not np.array_equal(ref[name], outputs[name])]
    last = workload.output_layer.name
    frac = plan.format(last).out_frac
    # Equal outputs dequantize to equal floats: their largest difference is 0.0, computed or not.
    same_last = last in ref and last not in mismatched
    err = 0.0 if same_last else float(np.max(np.abs(dequantize(outputs[last], frac) - dequantize(ref[last], frac)),
                                             initial=0.0))
    out = {"functional": "pass" if not mismatched else "fail", "max_abs_error": err,
           "layers_mismatched": mismatched, "top1": None, "reference_top1": None}
    if workload.output_layer.extra.get(TOKENS_KEY):
        # A token output (an LM head, (V, 1, T) on EIE): top-1 per token, and the fraction of tokens that agree.
        channels = outputs[last].shape[0]
        ours = np.argmax(outputs[last].reshape(channels, -1), axis=0)
        theirs = np.argmax(ref[last].reshape(channels, -1), axis=0)
        out["top1_token_agreement"] = float(np.count_nonzero(ours == theirs)) / ours.size
    elif outputs[last].size > 1:
        out["top1"] = int(np.argmax(outputs[last].reshape(-1)))
        out["reference_top1"] = out["top1"] if same_last else int(np.argmax(ref[last].reshape(-1)))
    return out


def _max_mean(per_pe: np.ndarray) -> tuple[int, float]:
    """(max, mean) of a per-PE integer count, as ``int(a.max())`` and ``float(a.mean())`` give them.

    In plain Python (a few dozen values: numpy's per-call cost dominates). The same numbers:
    the counts are integers whose sum is below 2**53, so numpy's float64 sum is the exact sum,
    and both divide it by the count once, correctly rounded.
    """
    values = per_pe.tolist()
    return int(max(values)), sum(values) / len(values)


def _priced_fields(stats: LayerStats) -> dict[str, Any]:
    """The fields of ``stats.to_dict()`` that ``costs.evaluate`` reads (name, cycles, time, actions, mapping),
    with the same values: the rest of the record (per-PE lists, efficiencies) is not built for pricing."""
    return {"name": stats.name, "cycles": stats.cycles, "time_us": stats.time_us, "actions": dict(stats.actions),
            "mapping": dict(stats.mapping)}


def _layer_stats(layer: Layer, geom: LayerGeometry, timing: LayerTiming, io: LayerIo, start: int, arch: ArchConfig,
                 enc: ColumnLayout, saturations: int, density: float, candidates: dict[int, int],
                 winograd: tuple[WinogradLayer, tuple[int, ...], float] | None = None,
                 steps: RecurrentSteps | None = None, writeback: bool = False) -> LayerStats:
    comp, ph = timing.compute, timing.phases
    cycles = layer_cycles(io.cycles, ph.load_cycles, comp.compute_cycles, ph.store_cycles)
    storage: dict[str, Any] = {}
    for what, per_pe in (("entries", enc.entries_per_pe), ("padding", enc.padding_per_pe),
                         ("spmat_bytes", enc.spmat_bytes_per_pe), ("ptr_bytes", enc.ptr_bytes_per_pe)):
        storage[f"{what}_max"], storage[f"{what}_mean"] = _max_mean(per_pe)
    storage["streamed_bytes"] = io.weight_bytes
    mapping = {"pixel_groups": timing.pixel_groups, "group_pes": geom.num_pes, "slowest_group": timing.slowest,
               "group_cycles": [run.cycles for run in timing.groups]}
    if len(candidates) > 1:
        mapping["auto_cycles"] = {str(g): c for g, c in sorted(candidates.items())}
    actions = layer_actions(comp, ph, io, writeback, layer.activation)
    if steps is not None:
        actions = steps.adjust_actions(actions)
    if winograd is not None:  # only Winograd layers carry these keys (im2col reports are unchanged)
        wl, in_shape, transformed = winograd
        actions = winograd_actions(actions, layer, in_shape)
        mapping["conv3x3"] = "winograd"
        winograd_info: dict[str, Any] = {"tiles": geom.pixels, "rows_per_position": wl.rows_per_position,
                                         "weight_density": wl.weight_density(),
                                         "transformed_input_density": transformed}
        if wl.repruned:  # only re-pruned layers carry the key (the other Winograd reports are unchanged)
            winograd_info["weights"] = "repruned"
        mapping["winograd"] = winograd_info
    return LayerStats(
        name=layer.name, kind=layer.kind, rows=geom.rows, cols=geom.cols, pixels=geom.pixels,
        row_blocks=geom.num_blocks, input_batches=geom.num_batches, start_cycle=start, cycles=cycles,
        compute_cycles=comp.compute_cycles, load_cycles=ph.load_cycles, store_cycles=ph.store_cycles,
        io_cycles=io.cycles, time_us=cycles / arch.clock_mhz, rounds=ph.rounds,
        nonzero_activations=comp.nonzero_activations, input_density=density, entries_processed=comp.entries,
        padding_entries=comp.padding, broadcast_stall_cycles=comp.broadcast_stall_cycles,
        # The engine's per-PE arrays are this run's own (its totals are not kept past it): no copies.
        busy_cycles=comp.busy, empty_cycles=comp.empty, starved_cycles=comp.starved,
        stalled_cycles=comp.stalled, drain_cycles=comp.drain,
        actions=actions, storage=storage, saturations=saturations,
        breakdown_pe_cycles=cycle_breakdown(timing, io.cycles), mapping=mapping)


def default_paths() -> tuple[Path, Path]:
    """(arch, network) files ``eiesim run`` uses with no arguments: package data (eiesim.config.defaults)."""
    from eiesim.config.defaults import DEFAULT_ARCH, DEFAULT_NETWORK, DEFAULTS_DIR

    return DEFAULTS_DIR / DEFAULT_ARCH, DEFAULT_NETWORK
