"""Deterministic synthetic workloads: same name, parameters and seed give a byte-identical file.

* ``squeezenet(version, bits, seed)``: SqueezeNet v1.0/v1.1 with He-normal
  weights (std sqrt(2 / fan_in), so ReLU activations keep their scale from layer
  to layer), magnitude-pruned to the released Deep-Compression model's per-layer
  densities, shared with a ``bits``-bit k-means codebook; small biases; and a
  synthetic image-like input (smooth colour gradients plus mild texture), already
  preprocessed (BGR, mean subtracted), so the workload runs without image files.
* ``eie_fc_layer(...)``: one fully connected layer with uniformly random
  positions of exactly round(wd * in * out) non-zeros and an input vector with
  exactly round(ad * in) positive non-zeros; ``eie_benchmark_workloads`` makes
  the nine layers of the EIE paper's Table III (Han et al., ISCA 2016).
* ``make_workload(name, **params)``: the registry behind ``eiesim workload``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from eiesim.errors import UsageError
from eiesim.network.compress import compress_layer, kmeans_share
from eiesim.network.topologies import (
    SQUEEZENET_INPUT_SHAPE,
    SQUEEZENET_PREPROCESS,
    VERSIONS,
    released_density,
    squeezenet_topology,
)
from eiesim.network.workload import NETWORK_INPUT, Layer, Workload

__all__ = ["squeezenet", "synthetic_image", "eie_fc_layer", "eie_benchmark_workloads", "make_workload",
           "workload_names", "BENCHMARK_LAYERS"]

#: Table III of the EIE paper: (name, input length, output length, weight density, activation density).
BENCHMARK_LAYERS: tuple[tuple[str, int, int, float, float], ...] = (
    ("Alex-6", 9216, 4096, 0.09, 0.351),
    ("Alex-7", 4096, 4096, 0.09, 0.353),
    ("Alex-8", 4096, 1000, 0.25, 0.375),
    ("VGG-6", 25088, 4096, 0.04, 0.183),
    ("VGG-7", 4096, 4096, 0.04, 0.375),
    ("VGG-8", 4096, 1000, 0.23, 0.411),
    ("NT-We", 4096, 600, 0.10, 1.0),
    ("NT-Wd", 600, 8791, 0.11, 1.0),
    ("NT-LSTM", 1201, 2400, 0.10, 1.0),
)

#: Std of the synthetic SqueezeNet biases (small next to typical activations).
BIAS_STD = 0.01


def synthetic_image(rng: np.random.Generator, shape: tuple[int, int, int] = SQUEEZENET_INPUT_SHAPE) -> np.ndarray:
    """An image-like (C, H, W) float32 tensor in SqueezeNet's input space (BGR, 0..255, mean subtracted)."""
    c, h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((c, h, w), dtype=np.float64)
    for ch in range(c):
        base = rng.uniform(60, 190)
        gx, gy = rng.uniform(-0.3, 0.3, size=2)
        fx, fy = rng.uniform(0.01, 0.06, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        img[ch] = (base + gx * (x - w / 2) + gy * (y - h / 2)
                   + 40 * np.sin(2 * np.pi * (fx * x + fy * y) + phase))
    img += rng.normal(0.0, 6.0, size=img.shape)
    img = np.clip(np.round(img), 0, 255)
    mean = np.asarray(SQUEEZENET_PREPROCESS["mean"][:c], dtype=np.float64)
    return (img - mean[:, None, None]).astype(np.float32)


def squeezenet(version: str = "1.0", bits: int = 8, seed: int = 0) -> Workload:
    """Synthetic SqueezeNet ``version`` at the released model's per-layer densities, ``bits``-bit codebooks."""
    if version not in VERSIONS:
        raise UsageError(f"SqueezeNet version must be one of {list(VERSIONS)}, got {version!r}")
    rng = np.random.default_rng(seed)
    layers = []
    for spec in squeezenet_topology(version):
        fan_in = spec.in_channels * spec.kernel[0] * spec.kernel[1]
        w = (rng.standard_normal(spec.weight_shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (rng.standard_normal(spec.out_channels) * BIAS_STD).astype(np.float32)
        layers.append(compress_layer(spec.name, w, b, density=released_density(spec.name), bits=bits,
                                     **spec.layer_kwargs()))
    return Workload(
        name=f"squeezenet-{version}-synthetic",
        source=(f"eiesim synthetic SqueezeNet v{version}: He-normal weights pruned to the released "
                f"Deep-Compression densities, {bits}-bit k-means codebooks, seed {seed}"),
        input_shape=SQUEEZENET_INPUT_SHAPE, preprocess=dict(SQUEEZENET_PREPROCESS), layers=layers,
        input=synthetic_image(rng), extra={"generator": {"name": f"squeezenet-{version}", "bits": bits, "seed": seed}},
    )


def _check_fc(name: str, n_in: int, n_out: int, wd: float, ad: float) -> None:
    for key, v in (("in", n_in), ("out", n_out)):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1 << 24:
            raise UsageError(f"{name}: {key!r} must be an integer in [1, {1 << 24}], got {v!r}")
    for key, v in (("weight_density", wd), ("act_density", ad)):
        if not isinstance(v, (int, float)) or not 0.0 < v <= 1.0:
            raise UsageError(f"{name}: {key!r} must be in (0, 1], got {v!r}")
    if n_in * n_out > 1 << 31:
        raise UsageError(f"{name}: {n_in} x {n_out} weights is more than eiesim handles ({1 << 31})")


def eie_fc_layer(name: str, n_in: int, n_out: int, weight_density: float, act_density: float,
                 bits: int = 4, seed: int = 0, column_skew: float = 0.0,
                 act_follows_weights: bool = False) -> Workload:
    """One fc layer (ReLU off, zero bias) and its input vector, as in the EIE benchmarks.

    By default: exactly round(weight_density * n_in * n_out) weights at uniformly random
    positions, values He-normal shared by a ``bits``-bit k-means codebook; exactly
    round(act_density * n_in) input non-zeros at random positions with values in (0, 1].

    Structured sparsity (for sensitivity studies; real pruned layers are not uniform):
    ``column_skew`` > 0 gives each input column its own density, weight_density x g
    with g ~ Gamma of mean 1 and coefficient of variation ``column_skew`` (the column's
    count is binomial, so the total is only close to the target), rows uniform within a
    column. ``act_follows_weights`` picks the input non-zeros with probability
    proportional to their column's density (still exactly round(act_density * n_in)).
    """
    _check_fc(name, n_in, n_out, weight_density, act_density)
    if not math.isfinite(column_skew) or column_skew < 0:
        raise ValueError(f"column_skew must be a finite number >= 0, got {column_skew}")
    rng = np.random.default_rng(seed)
    size = n_in * n_out
    if column_skew == 0:
        nnz = int(round(weight_density * size))
        flat = np.sort(rng.choice(size, size=nnz, replace=False, shuffle=False))
        rows, cols = np.divmod(flat, n_in)
        col_weight = np.ones(n_in)
    else:
        shape = 1.0 / column_skew**2
        col_weight = rng.gamma(shape, 1.0 / shape, n_in)
        per_col = rng.binomial(n_out, np.clip(weight_density * col_weight, 0.0, 1.0))
        picked = [rng.choice(n_out, size=k, replace=False) for k in per_col]
        flat = np.sort(np.concatenate([r * n_in + j for j, r in enumerate(picked)] or [np.zeros(0, np.int64)]))
        rows, cols = np.divmod(flat.astype(np.int64), n_in)
        nnz = int(flat.size)
    fan_in = max(1, int(round(weight_density * n_in)))
    values = rng.standard_normal(nnz) * math.sqrt(2.0 / fan_in)
    values[values == 0] = math.sqrt(2.0 / fan_in)  # never store an exact zero
    codebook, codes = kmeans_share(values.astype(np.float32), bits)
    indptr = np.zeros(n_out + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_out), out=indptr[1:])
    layer = Layer(name=name, kind="fc", in_channels=n_in, out_channels=n_out, kernel=(1, 1), stride=(1, 1),
                  padding=(0, 0), inputs=(NETWORK_INPUT,), relu=False, pool=None, indptr=indptr,
                  indices=cols.astype(np.int32), codes=codes, codebook=codebook, bias=np.zeros(n_out, np.float32))
    act_nnz = int(round(act_density * n_in))
    x = np.zeros(n_in, dtype=np.float32)
    p = col_weight / col_weight.sum() if act_follows_weights else None
    x[rng.choice(n_in, size=act_nnz, replace=False, p=p)] = (1.0 - rng.random(act_nnz)).astype(np.float32)
    generator = {"name": name.lower(), "in": n_in, "out": n_out, "weight_density": weight_density,
                 "act_density": act_density, "bits": bits, "seed": seed}
    structure = ""
    if column_skew or act_follows_weights:
        generator.update(column_skew=column_skew, act_follows_weights=act_follows_weights)
        structure = f", column skew {column_skew}" + (", activations follow weights" if act_follows_weights else "")
    return Workload(
        name=name, source=(f"eiesim synthetic fc layer {name}: {n_in} -> {n_out}, weight density {weight_density}, "
                           f"activation density {act_density}, {bits}-bit codebook, seed {seed}{structure}"),
        input_shape=(n_in,), preprocess=None, layers=[layer], input=x, extra={"generator": generator},
    )


def eie_benchmark_workloads(bits: int = 4, seed: int = 0) -> dict[str, Workload]:
    """The nine Table III layers of the EIE paper, each its own workload, keyed by layer name."""
    return {name: eie_fc_layer(name, n_in, n_out, wd, ad, bits, seed) for name, n_in, n_out, wd, ad in BENCHMARK_LAYERS}


# -- registry ---------------------------------------------------------------------

def _benchmark_builder(entry: tuple[str, int, int, float, float]) -> Callable[..., Workload]:
    name, n_in, n_out, wd, ad = entry

    def build(bits: int = 4, seed: int = 0) -> Workload:
        return eie_fc_layer(name, n_in, n_out, wd, ad, bits, seed)
    build.__doc__ = f"EIE Table III layer {name}: {n_in} -> {n_out}, weights {wd:.0%}, activations {ad:.1%}."
    return build


def _eie_fc(bits: int = 4, seed: int = 0, **params: Any) -> Workload:
    """One fc layer: params in, out, weight_density, act_density (and optional name)."""
    missing = [k for k in ("in", "out", "weight_density", "act_density") if k not in params]
    unknown = sorted(set(params) - {"in", "out", "weight_density", "act_density", "name"})
    if missing or unknown:
        raise UsageError(f"eie-fc needs in, out, weight_density, act_density (optional name)"
                         f"{'; missing ' + ', '.join(missing) if missing else ''}"
                         f"{'; unknown ' + ', '.join(unknown) if unknown else ''}")
    return eie_fc_layer(str(params.get("name", "eie-fc")), params["in"], params["out"], params["weight_density"],
                        params["act_density"], bits, seed)


def _squeezenet_builder(version: str) -> Callable[..., Workload]:
    def build(bits: int = 8, seed: int = 0) -> Workload:
        return squeezenet(version, bits, seed)
    build.__doc__ = f"Synthetic SqueezeNet v{version} at the released Deep-Compression densities."
    return build


_REGISTRY: dict[str, Callable[..., Workload]] = {
    "squeezenet-1.0": _squeezenet_builder("1.0"),
    "squeezenet-1.1": _squeezenet_builder("1.1"),
    "eie-fc": _eie_fc,
    **{entry[0].lower(): _benchmark_builder(entry) for entry in BENCHMARK_LAYERS},
}


def workload_names() -> dict[str, str]:
    """Registered workload names and a one-line description of each."""
    return {name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in _REGISTRY.items()}


def make_workload(name: str, /, **params: Any) -> Workload:
    """Build the registered workload ``name``; ``params`` are ``bits``, ``seed`` and, for eie-fc, the layer shape."""
    if name not in _REGISTRY:
        raise UsageError(f"unknown workload {name!r}; known: {', '.join(_REGISTRY)}")
    if name != "eie-fc":
        unknown = sorted(set(params) - {"bits", "seed"})
        if unknown:
            raise UsageError(f"workload {name!r} takes only bits and seed, not {', '.join(unknown)}")
    for key in ("bits", "seed"):
        if key in params and (not isinstance(params[key], int) or isinstance(params[key], bool) or params[key] < 0):
            raise UsageError(f"{key} must be a non-negative integer, got {params[key]!r}")
    return _REGISTRY[name](**params)
