"""Simulating big networks: a ResNet-50-sized and a VGG-16-sized synthetic workload
(``python benchmarks/bench_big_networks.py [--network resnet50|vgg16] [--check]``).

For each network it prints the time to build the workload, the time of one ``simulate``
(fast engine, eie-64pe.yaml: 64 PEs, 4-bit codebook, weights that do not fit the SRAMs
streamed from DRAM), the simulated cycles, the simulated cycles per second of wall time,
and the process's peak resident memory (``ru_maxrss``) after the run.

The workloads follow the documented layer shapes; weights are random (He-scaled 4-bit
codebooks, uniformly placed non-zeros) at the released Deep-Compression densities where
this repository knows them (VGG-16's fc6 / fc7 / fc8: 4 %, 4 %, 23 %, the EIE paper's
Table III VGG-6/7/8) and 50 % everywhere else. The input is a random non-negative image.

* VGG-16 (Simonyan and Zisserman 2015, configuration D): 13 3x3 convolutions (padding 1)
  in five stages of 64, 128, 256, 512, 512 channels, each stage followed by a 2x2/2 max
  pool, on 3 x 224 x 224; then fc 25088 -> 4096 -> 4096 -> 1000.
* ResNet-50 (He et al. 2016): a 7x7/2 convolution (64 channels, padding 3) and a 3x3/2
  max pool, then 16 bottleneck blocks (1x1, 3x3, 1x1 convolutions; 3, 4, 6, 3 blocks with
  64/256, 128/512, 256/1024, 512/2048 channels; stride 2 in the first 1x1 of stages 3-5),
  global average pool, fc 2048 -> 1000. eiesim's workloads have no element-wise addition,
  so the identity and projection shortcuts are left out: the 49 convolutions of the main
  path and the fc layer are a chain (the four projection convolutions would add about 5 %
  of the multiply-accumulates).

``--check`` also runs the functional check against the fixed-point reference (slow on
VGG-16: the reference computes every product again).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Densities this repository documents (the EIE paper's Table III VGG layers); 50 % elsewhere.
KNOWN_DENSITY = {"fc6": 0.04, "fc7": 0.04, "fc8": 0.23}
DEFAULT_DENSITY = 0.5
ROW_CHUNK_VALUES = 1 << 23  # weights drawn at a time while building a layer (bounded memory)


def _sparse_layer(name: str, kind: str, c_in: int, c_out: int, k: int, stride: int, pad: int, inputs: str,
                  relu: bool, pool, rng: np.random.Generator):  # noqa: ANN001, ANN202
    from eiesim.network.workload import Layer

    cols = c_in * k * k
    density = KNOWN_DENSITY.get(name, DEFAULT_DENSITY)
    rows_per_chunk = max(1, ROW_CHUNK_VALUES // cols)
    indptr = np.zeros(c_out + 1, dtype=np.int64)
    parts = []
    for r0 in range(0, c_out, rows_per_chunk):
        mask = rng.random((min(rows_per_chunk, c_out - r0), cols), dtype=np.float32) < density
        indptr[r0 + 1:r0 + 1 + mask.shape[0]] = mask.sum(axis=1)
        parts.append(np.nonzero(mask)[1].astype(np.int32))
    np.cumsum(indptr, out=indptr)
    indices = np.concatenate(parts)
    scale = np.sqrt(2.0 / (cols * density))
    codebook = (np.concatenate([-np.linspace(1.6, 0.2, 8), np.linspace(0.2, 1.6, 8)]) * scale).astype(np.float32)
    codes = rng.integers(0, 16, size=indices.shape[0], dtype=np.uint8)
    bias = (rng.standard_normal(c_out) * 0.01).astype(np.float32)
    return Layer(name, kind, c_in, c_out, (k, k), (stride, stride), (pad, pad), (inputs,), relu, pool,
                 indptr, indices, codes, codebook, bias)


def vgg16(rng: np.random.Generator):  # noqa: ANN201
    from eiesim.network.workload import Pool, Workload

    layers = []
    prev, c_in = "input", 3
    for stage, (channels, count) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for i in range(1, count + 1):
            name = f"conv{stage}_{i}"
            pool = Pool("max", 2, 2, False) if i == count else None
            layers.append(_sparse_layer(name, "conv", c_in, channels, 3, 1, 1, prev, True, pool, rng))
            prev, c_in = name, channels
    for name, n_in, n_out, relu in (("fc6", 512 * 7 * 7, 4096, True), ("fc7", 4096, 4096, True),
                                    ("fc8", 4096, 1000, False)):
        layers.append(_sparse_layer(name, "fc", n_in, n_out, 1, 1, 0, prev, relu, None, rng))
        prev = name
    x = np.abs(rng.standard_normal((3, 224, 224))).astype(np.float32)
    return Workload("vgg16-synthetic", "benchmarks/bench_big_networks.py", (3, 224, 224), None, layers, x)


def resnet50(rng: np.random.Generator):  # noqa: ANN201
    from eiesim.network.workload import Pool, Workload

    layers = [_sparse_layer("conv1", "conv", 3, 64, 7, 2, 3, "input", True, Pool("max", 3, 2, True), rng)]
    prev, c_in = "conv1", 64
    for stage, (mid, out, blocks) in enumerate(((64, 256, 3), (128, 512, 4), (256, 1024, 6), (512, 2048, 3)),
                                               start=2):
        for b in range(1, blocks + 1):
            stride = 2 if (b == 1 and stage > 2) else 1
            last_pool = Pool("global_avg", 0, 1, False) if (stage == 5 and b == blocks) else None
            for part, (c_o, k, s, p, pool) in enumerate(((mid, 1, stride, 0, None), (mid, 3, 1, 1, None),
                                                         (out, 1, 1, 0, last_pool)), start=1):
                name = f"res{stage}.{b}.conv{part}"
                layers.append(_sparse_layer(name, "conv", c_in, c_o, k, s, p, prev, True, pool, rng))
                prev, c_in = name, c_o
    layers.append(_sparse_layer("fc", "fc", 2048, 1000, 1, 1, 0, prev, False, None, rng))
    x = np.abs(rng.standard_normal((3, 224, 224))).astype(np.float32)
    return Workload("resnet50-synthetic", "benchmarks/bench_big_networks.py", (3, 224, 224), None, layers, x)


NETWORKS = {"resnet50": resnet50, "vgg16": vgg16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), action="append",
                        help="network(s) to run (default: both)")
    parser.add_argument("--check", action="store_true", help="also run the functional check")
    args = parser.parse_args()
    from eiesim import load_arch, simulate

    arch = load_arch(ROOT / "arch_configs" / "eie-64pe.yaml")
    for name in args.network or sorted(NETWORKS):
        t0 = time.perf_counter()
        wl = NETWORKS[name](np.random.default_rng(0))
        built = time.perf_counter() - t0
        nnz = sum(layer.nnz for layer in wl.layers)
        t0 = time.perf_counter()
        result = simulate(arch, wl, check=args.check)
        took = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        line = (f"{name}: {len(wl.layers)} layers, {nnz:,} non-zero weights; built in {built:.1f} s; simulate "
                f"{took:.1f} s for {result.cycles:,} cycles ({result.time_us:,.0f} us at {arch.clock_mhz} MHz) = "
                f"{result.cycles / took:,.0f} simulated cycles/s; peak RSS {peak_mb:,.0f} MB")
        if args.check:
            line += f"; check {result.check['functional']}"
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
