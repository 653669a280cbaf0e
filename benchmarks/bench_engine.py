"""Engine benchmarks, measured in one run (``python benchmarks/bench_engine.py``).

1. The fast engine on the real Deep-Compression SqueezeNet (../shared/models/...)
   on arch_configs/eie-64pe-8bit.yaml with chelsea: cold (first call in this
   process, Numba cache load included) and warm wall time, peak RSS.
   Goal: < 2 s warm, < 1 GB.
2. The fast engine's whole simulation of an Alex-6-sized layer (9216 -> 4096, 9 %
   weights, 35.1 % activations), per-PE encoding included, against scipy's CSR
   mat-vec of the same layer. Goal: < 3x.
3. Fast vs event engine on the same small layer. Goal: event / fast > 1000x.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_MODEL = ROOT.parent / "shared" / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bench_squeezenet() -> None:
    from eiesim.arch import load_arch
    from eiesim.functional import plan_fixed_point
    from eiesim.images import prepare_input
    from eiesim.models.deep_compression import import_dc
    from eiesim.simulate import simulate

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
    from eiesim.arch import load_arch
    from eiesim.encoding import encode_layer
    from eiesim.fixed_point import quantize, quantized_codebook, weight_format
    from eiesim.models.synthetic import eie_fc_layer
    from eiesim.simulate import simulate
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.fast import run_layer_fast

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe.yaml")
    wl = eie_fc_layer("Alex-6", 9216, 4096, 0.09, 0.351, 4, 0)
    layer = wl.layers[0]
    csr = layer.weights_csr()
    x = wl.input.astype(np.float32)
    matvec = _median(lambda: csr @ x, 20)
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, (layer.cols,), params)
    wf = weight_format(layer)
    cb_q = quantized_codebook(layer, type("F", (), {"weight_frac": wf, "bits": 16})())
    x_q, _ = quantize(x, 15)

    def engine_core():
        enc = encode_layer(layer, arch)
        return run_layer_fast(enc, geom, x_q, cb_q, params)

    engine_core()  # compile / load cache
    core = _median(engine_core, 7)
    enc_only = _median(lambda: encode_layer(layer, arch), 7)
    enc = encode_layer(layer, arch)
    rounds_only = _median(lambda: run_layer_fast(enc, geom, x_q, cb_q, params), 7)
    full = _median(lambda: simulate(arch, wl, check=False), 5)
    print(f"[2] Alex-6-sized layer (9216 x 4096, {layer.nnz:,} weights, 35.1 % activations), eie-64pe:")
    print(f"    scipy CSR mat-vec (float32):                      {matvec * 1e3:8.2f} ms")
    print(f"    fast engine: encoding + all rounds + arithmetic:  {core * 1e3:8.2f} ms  "
          f"ratio {core / matvec:5.1f}x (goal < 3x: {'met' if core / matvec < 3 else 'NOT met'})")
    print(f"      of which per-PE encoding:                       {enc_only * 1e3:8.2f} ms")
    print(f"    fast engine, weights already encoded (rounds + arithmetic): {rounds_only * 1e3:.2f} ms  "
          f"ratio {rounds_only / matvec:.1f}x")
    print(f"    simulate() (also plan calibration, fixed-point finish, I/O, report): {full * 1e3:.2f} ms  "
          f"ratio {full / matvec:.1f}x")


def bench_event_vs_fast() -> None:
    from eiesim.arch import load_arch
    from eiesim.encoding import encode_layer
    from eiesim.fixed_point import quantize
    from eiesim.models.synthetic import eie_fc_layer
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.event import run_layer_event
    from eiesim.timing.fast import run_layer_fast

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe.yaml")
    wl = eie_fc_layer("small", 512, 512, 0.09, 0.35, 4, 0)
    layer = wl.layers[0]
    params = TimingParams.from_arch(arch)
    geom = layer_geometry(layer, (layer.cols,), params)
    enc = encode_layer(layer, arch)
    cb_q = np.arange(1, len(layer.codebook) + 1, dtype=np.int64)
    x_q, _ = quantize(wl.input, 15)
    run_layer_fast(enc, geom, x_q, cb_q, params)
    fast = _best(lambda: run_layer_fast(enc, geom, x_q, cb_q, params), 50)
    event = _best(lambda: run_layer_event(enc, geom, x_q, cb_q, params), 2)
    a_f, c_f = run_layer_fast(enc, geom, x_q, cb_q, params)
    a_e, c_e, _ = run_layer_event(enc, geom, x_q, cb_q, params)
    same = np.array_equal(a_f, a_e) and c_f.compute_cycles == c_e.compute_cycles
    print("[3] small layer (512 x 512, 9 % weights, 35 % activations) on 64 PEs, one layer's rounds:")
    print(f"    fast {fast * 1e6:.1f} us, event {event * 1e3:.1f} ms: event/fast = {event / fast:,.0f}x "
          f"(goal > 1000x: {'met' if event / fast > 1000 else 'NOT met'}); identical results: {same}")


def main() -> None:
    print(f"eiesim engine benchmarks (python {sys.version.split()[0]})")
    bench_squeezenet()
    bench_alex6()
    bench_event_vs_fast()
    print(f"peak RSS of the whole run: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
