"""Engine benchmarks, measured in one run (``python benchmarks/bench_engine.py``).

1. The fast engine on the real Deep-Compression SqueezeNet (../shared/models/...)
   on arch_configs/eie-64pe-8bit.yaml with chelsea: cold (first call in this
   process, Numba cache load included) and warm wall time, peak RSS.
   Goal: < 2 s warm, < 1 GB.
2. The fast engine's whole simulation of an Alex-6-sized layer (9216 -> 4096, 9 %
   weights, 35.1 % activations), per-PE encoding included, against scipy's CSR
   mat-vec of the same layer. Goal: < 3x. Measured with the default thread count
   (EIESIM_THREADS, else every CPU) and with one thread.
3. Fast vs event engine on the same small layer. Goal: event / fast > 1000x.
"""

from __future__ import annotations

import dataclasses
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_MODEL = ROOT.parent / "shared" / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"


def _times(fn, repeat: int) -> list[float]:
    """Wall times (s) of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _best(fn, repeat: int) -> float:
    return min(_times(fn, repeat))


def _median(fn, repeat: int) -> float:
    return statistics.median(_times(fn, repeat))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bench_squeezenet() -> None:
    from eiesim.config.arch import load_arch
    from eiesim.importers.caffe.deep_compression import import_dc
    from eiesim.network.functional import plan_fixed_point
    from eiesim.network.network_input import prepare_input
    from eiesim.run.simulate import simulate

    if not REAL_MODEL.is_file():
        print(f"[1] SqueezeNet: skipped ({REAL_MODEL} not found)")
        return
    arch = load_arch(ROOT / "arch_configs" / "eie-64pe-8bit.yaml")
    wl = import_dc(REAL_MODEL)
    t0 = time.perf_counter()
    result = simulate(arch, wl, input="chelsea", check=False)
    cold = time.perf_counter() - t0
    warm = _median(lambda: simulate(arch, wl, input="chelsea", check=False), 3)
    plan = plan_fixed_point(wl, prepare_input(wl, "chelsea"))
    warm_plan = _median(lambda: simulate(arch, wl, input="chelsea", plan=plan, check=False), 3)
    t0 = time.perf_counter()
    checked = simulate(arch, wl, input="chelsea", plan=plan, check=True)
    with_check = time.perf_counter() - t0
    print(f"[1] real SqueezeNet (26 layers, {wl.nnz:,} weights) on eie-64pe-8bit, chelsea, fast engine:")
    print(f"    total cycles {result.cycles:,} ({result.time_us:,.1f} us); functional check "
          f"{checked.check['functional']}, top-1 {checked.check['top1']}")
    print(f"    cold (first call, Numba cache load, fixed-point plan calibration): {cold:.2f} s")
    print(f"    warm, simulate() incl. plan calibration (float forward pass):    {warm:.2f} s")
    print(f"    warm, simulate() with the plan given (engine + fixed-point path): {warm_plan:.2f} s  "
          f"(goal < 2 s: {'met' if warm_plan < 2 else 'NOT met'})")
    print(f"    with the functional check against the reference as well:         {with_check:.2f} s")
    print(f"    peak RSS so far: {_peak_rss_mb():.0f} MB (goal < 1024 MB)")


def bench_alex6() -> None:
    from eiesim.config.arch import load_arch
    from eiesim.encoding import encode_layer, layout_layer
    from eiesim.jit.threads import set_thread_count, thread_count
    from eiesim.network.fixed_point import quantize, quantized_codebook, weight_format
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.run.simulate import simulate
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.fast import run_layer_fast

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe.yaml")
    wl = eie_fc_layer("Alex-6", 9216, 4096, 0.09, 0.351, 4, 0)
    layer = wl.layers[0]
    csr = layer.weights_csr()
    x = wl.input.astype(np.float32)
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, (layer.cols,), params)
    wf = weight_format(layer)
    cb_q = quantized_codebook(layer, type("F", (), {"weight_frac": wf, "bits": 16})())
    x_q, _ = quantize(x, 15)

    def engine_core():
        return run_layer_fast(layout_layer(layer, arch), layer, geom, x_q, cb_q, params)

    engine_core()  # compile / load cache
    lay = layout_layer(layer, arch)
    threads_default = thread_count()

    def single_thread_core():
        set_thread_count(1)
        try:
            return engine_core()
        finally:
            set_thread_count(None)

    # Interleave the measurements, so that a noisy neighbour on the machine hits all of them
    # alike, and take each ratio against the mat-vec measured right before it.
    t_mv, t_core, t_one, t_lay, t_rounds = [], [], [], [], []
    for _ in range(21):
        for store, fn in ((t_mv, lambda: csr @ x), (t_core, engine_core), (t_one, single_thread_core),
                          (t_lay, lambda: layout_layer(layer, arch)),
                          (t_rounds, lambda: run_layer_fast(lay, layer, geom, x_q, cb_q, params))):
            store.extend(_times(fn, 1))
    med = statistics.median
    ratio = med(c / m for c, m in zip(t_core, t_mv, strict=True))
    ratio_one = med(c / m for c, m in zip(t_one, t_mv, strict=True))
    full_enc = _median(lambda: encode_layer(layer, arch), 5)
    full = _median(lambda: simulate(arch, wl, check=False), 5)
    print(f"[2] Alex-6-sized layer (9216 x 4096, {layer.nnz:,} weights, 35.1 % activations), eie-64pe "
          f"(medians of 21 interleaved runs):")
    print(f"    scipy CSR mat-vec (float32, one thread):              {med(t_mv) * 1e3:8.2f} ms")
    print("    fast engine from the CSR: per-PE pointers and padding + all rounds + exact arithmetic:")
    print(f"      {threads_default} thread(s) (the default here):                {med(t_core) * 1e3:8.2f} ms  "
          f"ratio {ratio:4.1f}x (goal < 3x: {'met' if ratio < 3 else 'NOT met'})")
    print(f"      1 thread (EIESIM_THREADS=1):                        {med(t_one) * 1e3:8.2f} ms  "
          f"ratio {ratio_one:4.1f}x")
    print(f"      of which the per-PE encoding pass (layout_layer):   {med(t_lay) * 1e3:8.2f} ms")
    print(f"      of which rounds + arithmetic (run_layer_fast):      {med(t_rounds) * 1e3:8.2f} ms")
    print(f"    for reference, the full SRAM image (entries too, encode_layer, used by the event engine): "
          f"{full_enc * 1e3:.2f} ms")
    print(f"    simulate() (also plan calibration, fixed-point finish, I/O, costs, report): {full * 1e3:.2f} ms  "
          f"ratio {full / med(t_mv):.1f}x")


def bench_event_vs_fast() -> None:
    from eiesim.config.arch import load_arch
    from eiesim.encoding import encode_layer, layout_layer
    from eiesim.network.fixed_point import quantize
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.event import run_layer_event
    from eiesim.timing.fast import run_layer_fast

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe.yaml")
    wl = eie_fc_layer("small", 512, 512, 0.09, 0.35, 4, 0)
    layer = wl.layers[0]
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, (layer.cols,), params)
    cb_q = np.arange(1, len(layer.codebook) + 1, dtype=np.int64)
    x_q, _ = quantize(wl.input, 15)

    def fast_layer():  # each engine from the CSR layer: its encoding, then all rounds and the arithmetic
        return run_layer_fast(layout_layer(layer, arch), layer, geom, x_q, cb_q, params)

    def event_layer():
        return run_layer_event(encode_layer(layer, arch), geom, x_q, cb_q, params)

    fast_layer()
    event_layer()
    # Alternate: one event run, then the best of 40 fast runs right after it; the ratio of
    # each pair cancels the machine's speed drifting between them.
    pairs = []
    for _ in range(5):
        event = _best(event_layer, 1)
        pairs.append((event, _best(fast_layer, 40)))
    ratio = statistics.median(e / f for e, f in pairs)
    a_f, c_f = fast_layer()
    a_e, c_e, _ = event_layer()
    same = np.array_equal(a_f, a_e) and all(
        np.array_equal(getattr(c_f, f.name), getattr(c_e, f.name)) for f in dataclasses.fields(c_f))
    print("[3] small layer (512 x 512, 9 % weights, 35 % activations) on 64 PEs, encoding + all rounds + arithmetic "
          "(5 pairs: one event run, best of 40 fast runs):")
    print(f"    fast {statistics.median(f for _, f in pairs) * 1e6:.1f} us, event "
          f"{statistics.median(e for e, _ in pairs) * 1e3:.1f} ms: event/fast = {ratio:,.0f}x "
          f"(median of the pairs' ratios; goal > 1000x: {'met' if ratio > 1000 else 'NOT met'}); identical "
          f"accumulators and statistics: {same}")


def main() -> None:
    print(f"eiesim engine benchmarks (python {sys.version.split()[0]})")
    bench_squeezenet()
    bench_alex6()
    bench_event_vs_fast()
    print(f"peak RSS of the whole run: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
