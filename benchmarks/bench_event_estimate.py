"""How good the event engine's time estimate is (``python benchmarks/bench_event_estimate.py``).

For a few layers (fc and conv, 4 to 64 PEs) prints the estimate of
``eiesim.run.simulate.estimate_event_seconds`` next to the event engine's measured wall
time in this run, and their ratio. The constants of ``eiesim/timing/event_budget.py`` are
meant to keep the ratio within about 0.5..2 on the reference machine (2 cores).
"""

from __future__ import annotations

import time

import numpy as np

import eiesim
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.run.simulate import estimate_event_seconds


def _conv(channels: int, size: int, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    cb = np.linspace(0.1, 1.0, 16).astype(np.float32)
    codes = rng.integers(0, 16, size=(channels, 3, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.4, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("conv", w, codes_dense=codes, codebook=cb, padding=(1, 1))
    x = (rng.random((3, size, size)) * (rng.random((3, size, size)) < 0.5)).astype(np.float32)
    return Workload("conv", "bench", (3, size, size), None, [layer], x)


def main() -> None:
    cases = [
        ("fc 1024x512, 16 PEs", eie_fc_layer("fc", 1024, 512, 0.1, 0.4, 4, 0), 16),
        ("fc 2048x1024, 64 PEs", eie_fc_layer("fc", 2048, 1024, 0.09, 0.35, 4, 0), 64),
        ("fc 1024x1024, 4 PEs", eie_fc_layer("fc", 1024, 1024, 0.3, 0.3, 4, 0), 4),
        ("conv 3->32, 24x24, 16 PEs", _conv(32, 24), 16),
    ]
    eiesim.simulate(eiesim.load_arch(None, ["num_pes=4"]), cases[0][1], engine="event", check=False)  # warm-up
    print(f"{'case':28s} {'estimate s':>11s} {'measured s':>11s} {'est/meas':>9s}")
    for name, wl, pes in cases:
        arch = eiesim.load_arch(None, [f"num_pes={pes}"])
        est = estimate_event_seconds(arch, wl)
        t0 = time.perf_counter()
        eiesim.simulate(arch, wl, engine="event", check=False, event_limit_s=None)
        took = time.perf_counter() - t0
        print(f"{name:28s} {est:11.3f} {took:11.3f} {est / took:9.2f}")


if __name__ == "__main__":
    main()
