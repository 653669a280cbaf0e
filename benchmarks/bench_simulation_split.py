"""Where a warm simulation of the real SqueezeNet spends its time (``python benchmarks/bench_simulation_split.py``).

Measured in one run, on the real Deep-Compression SqueezeNet (../shared/models/...) on
arch_configs/eie-64pe-8bit.yaml with the bundled photo "chelsea", fast engine:

1. The whole warm ``simulate()`` as ``eiesim run`` calls it: fixed-point plan calibrated
   on the input, timing engine, functional check against the fixed-point reference,
   energy. Goals: < 0.6 s on a 2-core machine, and at most 2x eiesim's own float32
   forward pass of the same network (``functional.forward(..., "float32")``), measured
   in the same run.
2. The split of that time: the timing engine (per-PE encoding + rounds + exact
   arithmetic, measured inside ``simulate`` by wrapping its two entry points), the
   float pass that calibrates the plan, the fixed-point reference, the energy model,
   and the rest (the engine path's finishing: bias, requantization, pooling; I/O,
   storage resolution, statistics).
3. Thread scaling of the rounds kernel (``run_layer_rounds``) and of the conv
   arithmetic kernel (``accumulate_conv``) on SqueezeNet's heaviest conv layer: the
   same pixel range run on one thread, then split over two.

Every figure is the median of interleaved repetitions, so a noisy neighbour on the
machine hits all of them alike; ratios are taken inside one repetition. Section [0]
says how busy the machine was: its load average and what two threads gain on a loop
that is trivially parallel (2.0x on two idle cores). Multithreaded BLAS (the float
pass, the fixed-point reference) suffers most from a busy neighbour: run once more with
``OPENBLAS_NUM_THREADS=1`` to see the split without that effect.
"""

from __future__ import annotations

import inspect
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_MODEL = ROOT.parent / "shared" / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"
REPEATS = 9


class _Stopwatch:
    """Accumulated wall time of the calls of wrapped functions."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn):  # noqa: ANN001, ANN201
        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


@contextmanager
def _timing_engine(watch: _Stopwatch):
    """Wrap the timing engine's entry points as ``simulate`` calls them (encoding, then the rounds)."""
    import eiesim.run.simulate as sim

    names = ["layout_layer", "run_layer_fast_groups"]
    missing = [n for n in names if not hasattr(sim, n)]
    if missing:  # a renamed entry point would silently drop out of the split
        raise SystemExit(f"eiesim.run.simulate no longer calls {missing}: update this benchmark")
    saved = {n: getattr(sim, n) for n in names}
    try:
        for n in names:
            setattr(sim, n, watch.wrap(saved[n]))
        yield
    finally:
        for n, fn in saved.items():
            setattr(sim, n, fn)


def bench_split() -> None:
    from eiesim.config.arch import load_arch
    from eiesim.costs import evaluate
    from eiesim.importers.caffe.deep_compression import import_dc
    from eiesim.network.fixed_point import quantize
    from eiesim.network.functional import forward, plan_fixed_point, run_fixed
    from eiesim.network.network_input import prepare_input
    from eiesim.run.simulate import simulate

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe-8bit.yaml")
    wl = import_dc(REAL_MODEL)
    x = prepare_input(wl, "chelsea")
    first = simulate(arch, wl, input="chelsea")  # compile / load the Numba cache
    plan = plan_fixed_point(wl, x)
    x_q, _ = quantize(x, plan.input_frac, plan.bits)
    layer_dicts = [s.to_dict() for s in first.layers]
    rows: dict[str, list[float]] = {k: [] for k in ("whole", "float32", "timing", "calib", "reference", "energy")}
    for _ in range(REPEATS):
        watch = _Stopwatch()
        with _timing_engine(watch):
            t0 = time.perf_counter()
            result = simulate(arch, wl, input="chelsea")
            rows["whole"].append(time.perf_counter() - t0)
        rows["timing"].append(watch.seconds)
        for key, fn in (("float32", lambda: forward(wl, x, "float32")),
                        ("calib", lambda: plan_fixed_point(wl, x)),
                        ("reference", lambda: run_fixed(wl, x_q, plan)),
                        ("energy", lambda: evaluate(arch, layer_dicts))):
            t0 = time.perf_counter()
            fn()
            rows[key].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = statistics.median(w / f for w, f in zip(rows["whole"], rows["float32"], strict=True))
    rest = med["whole"] - med["timing"] - med["calib"] - med["reference"] - med["energy"]
    print(f"[1] real SqueezeNet ({len(wl.layers)} layers, {wl.nnz:,} weights) on eie-64pe-8bit, chelsea, fast "
          f"engine; {result.cycles:,} cycles, functional check {result.check['functional']} "
          f"(medians of {REPEATS} interleaved runs):")
    print(f"    whole warm simulate() (plan, timing, functional check, energy): {med['whole'] * 1e3:7.1f} ms  "
          f"(goal < 600 ms: {'met' if med['whole'] < 0.6 else 'NOT met'})")
    print(f"    eiesim's float32 forward pass of the same network:            {med['float32'] * 1e3:7.1f} ms  "
          f"whole / float32 = {ratio:.2f}x (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
    print("[2] split of the whole simulation:")
    for label, value in (("timing engine (per-PE encoding, rounds, exact arithmetic)", med["timing"]),
                         ("float pass that calibrates the fixed-point plan", med["calib"]),
                         ("fixed-point reference (functional check)", med["reference"]),
                         ("energy (cost model)", med["energy"]),
                         ("rest (engine path's finishing and pooling, I/O, statistics)", rest)):
        print(f"    {label:<62} {value * 1e3:7.1f} ms  {100 * value / med['whole']:5.1f} %")


def _heaviest_conv(wl, arch, x):  # noqa: ANN001, ANN202
    """(layer, its fixed-point input, its format) of the conv layer with the most output pixels x columns."""
    from eiesim.network.fixed_point import quantize
    from eiesim.network.functional import gather_input, plan_fixed_point, run_fixed

    plan = plan_fixed_point(wl, x)
    x_q, _ = quantize(x, plan.input_frac, plan.bits)
    outs = run_fixed(wl, x_q, plan)
    layer = max((lay for lay in wl.layers if lay.kind == "conv"),
                key=lambda lay: _conv_pixels(wl, lay) * lay.cols)
    return layer, gather_input(wl, layer, outs, x_q), plan.format(layer.name)


def _conv_pixels(wl, layer) -> int:  # noqa: ANN001
    """Output pixels of a conv layer before pooling."""
    _, h, w = wl.input_shape_of(layer)
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
    return ((h + 2 * ph - kh) // sh + 1) * ((w + 2 * pw - kw) // sw + 1)


def bench_threads() -> None:
    from eiesim.config.arch import load_arch
    from eiesim.encoding import csr_arrays, layout_layer
    from eiesim.importers.caffe.deep_compression import import_dc
    from eiesim.network.fixed_point import quantized_codebook
    from eiesim.network.network_input import prepare_input
    from eiesim.timing import kernels
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.fast import word_divider

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe-8bit.yaml")
    wl = import_dc(REAL_MODEL)
    layer, x_layer, fmt = _heaviest_conv(wl, arch, prepare_input(wl, "chelsea"))
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, tuple(x_layer.shape), params)
    lay = layout_layer(layer, arch)
    x = np.ascontiguousarray(x_layer, dtype=np.int64)
    (kh, kw), (sh, sw), (ph, pw) = geom.kernel, geom.stride, geom.padding
    oh, ow = geom.out_hw
    n = params.num_pes
    mul, shift = word_divider(params.entries_per_word)
    ptr_cols = np.ascontiguousarray(lay.pe_ptr.T)
    pos = ptr_cols.astype(np.int64)
    first_word = ((pos[:-1] * mul) >> shift).astype(np.int32)
    last_word = ((np.maximum(pos[1:] - 1, 0) * mul) >> shift).astype(np.int32)
    indptr, indices, codes = csr_arrays(layer)
    cb = np.zeros(1 << (8 * codes.dtype.itemsize), np.int64)
    q = quantized_codebook(layer, fmt)
    cb[:q.shape[0]] = q

    patch_kernels = "patches" in inspect.signature(kernels.run_layer_rounds.py_func).parameters
    if patch_kernels:  # the kernels take im2col patches (fixed_point.im2col), chunk by chunk
        from eiesim.network.fixed_point import im2col
        from eiesim.timing.fast import round_lane_dtype

        patches = np.ascontiguousarray(im2col(x, geom.kernel, geom.stride, geom.padding))
        lane = np.zeros(0, round_lane_dtype(lay, params))

    def rounds(lo: int, hi: int) -> None:
        per_pe = [np.zeros(n, np.int64) for _ in range(5)]
        counters = np.zeros(kernels.N_COUNTERS, np.int64)
        if patch_kernels:
            kernels.run_layer_rounds(
                patches[:, lo:hi], geom.rows, geom.cols, lay.stored_cols, n, params.cap, lay.num_blocks,
                params.fifo_depth, params.latency, params.pipe_depth, params.writeback, params.empty_cycles,
                params.finder_rows, ptr_cols, mul, shift, first_word, last_word, lay.col_pad, lane, *per_pe, counters)
        else:
            kernels.run_layer_rounds(
                x, kh, kw, sh, sw, ph, pw, oh, ow, lo, hi, geom.rows, geom.cols, lay.stored_cols, n, params.cap,
                lay.num_blocks, params.fifo_depth, params.latency, params.pipe_depth, params.writeback,
                params.empty_cycles, params.finder_rows, ptr_cols, mul, shift, first_word, last_word, lay.col_pad,
                *per_pe, counters)

    acc = np.zeros((geom.rows, geom.pixels), np.int64)  # (M, P): accumulate_conv's output layout

    def arith(lo: int, hi: int) -> None:
        if patch_kernels:
            kernels.accumulate_conv(patches[:, lo:hi], geom.rows, 64, indptr, indices, codes, cb, acc[:, lo:hi])
        else:
            kernels.accumulate_conv(x, kh, kw, sh, sw, ph, pw, oh, ow, lo, hi, geom.rows, geom.cols, 64, indptr,
                                    indices, codes, cb, acc)

    total = geom.pixels
    half = (total // 2 // 64) * 64
    pool = ThreadPoolExecutor(2)
    out = {}
    for name, fn in (("run_layer_rounds", rounds), ("accumulate_conv", arith)):
        fn(0, total)  # compile / load the cache
        one, two = [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            fn(0, total)
            one.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            futures = [pool.submit(fn, 0, half), pool.submit(fn, half, total)]
            for f in futures:
                f.result()
            two.append(time.perf_counter() - t0)
        out[name] = (statistics.median(one), statistics.median(two),
                     statistics.median(a / b for a, b in zip(one, two, strict=True)))
    pool.shutdown()
    print(f"[3] thread scaling on layer {layer.name!r} ({geom.pixels} pixels x {geom.cols} columns, "
          f"{layer.nnz:,} weights), same pixels on 1 thread vs split over 2 (medians of {REPEATS}):")
    for name, (one, two, speedup) in out.items():
        print(f"    {name:<18} 1 thread {one * 1e3:7.1f} ms, 2 threads {two * 1e3:7.1f} ms: {speedup:.2f}x")


def bench_machine() -> None:
    """How much of the machine is free: load average, and the 2-thread speedup of a trivially parallel loop."""
    import os

    from numba import njit

    @njit(nogil=True, cache=False)
    def spin(n):  # noqa: ANN001, ANN202
        acc = 0
        for i in range(n):
            acc += (i * 2654435761) % 1000003
        return acc

    spin(10)
    n = 100_000_000
    pool = ThreadPoolExecutor(2)
    ratios = []
    for _ in range(5):
        t0 = time.perf_counter()
        spin(n)
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        list(pool.map(spin, [n // 2, n // 2]))
        ratios.append(one / (time.perf_counter() - t0))
    pool.shutdown()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"[0] machine: {os.cpu_count()} CPUs, load average {load}; 2 threads on a trivially parallel loop: "
          f"{statistics.median(ratios):.2f}x (2.00x when both cores are free); "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")


def main() -> None:
    print(f"eiesim simulation-split benchmark (python {sys.version.split()[0]})")
    bench_machine()
    if not REAL_MODEL.is_file():
        print(f"skipped: {REAL_MODEL} not found")
        return
    bench_split()
    bench_threads()


if __name__ == "__main__":
    main()
