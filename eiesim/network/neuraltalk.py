"""NeuralTalk's three EIE benchmark layers (Han et al., ISCA 2016, Table III), with NT-LSTM recurrent.

The paper times NT-LSTM as one 1201 x 2400 M x V: [1; x_t; h_{t-1}] (600 + 600 inputs and
the bias input) into the four gates of 600 hidden units, 10 % dense. Here NT-LSTM is a
recurrent ``lstm`` layer (``eiesim.network.recurrent``): V = 1200 columns plus the bias
column, M = 2400 rows, so a step also pays the element-wise cell and the wait for h_t
(docs/timing-model.md section 8). Synthetic like the other benchmark layers: uniformly
random positions at the published density, He-like normal values shared by a ``bits``-bit
k-means codebook, every bias non-zero (LSTM biases are not pruned), dense inputs (Table
III: activation density 100 %).

* ``neuraltalk``: NT-We (4096 -> 600, image feature to embedding) -> NT-LSTM (one step on
  that embedding) -> NT-Wd (600 -> 8791 word logits): the first word of a caption.
* ``nt-lstm-steps``: NT-LSTM alone on a 20-word sequence of 600-value word embeddings (the
  per-step time of a caption).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from eiesim.errors import UsageError
from eiesim.network.compress import kmeans_share
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload import NETWORK_INPUT, Layer, Workload

#: NeuralTalk's sizes (Table III): 600 hidden units and 600-value word embeddings; NT-LSTM 10 % dense.
HIDDEN = 600
EMBEDDING = 600
LSTM_DENSITY = 0.10
#: A caption's length in the reproduce study.
CAPTION_WORDS = 20


def nt_lstm_layer(bits: int = 4, seed: int = 0, inputs: tuple[str, ...] = (NETWORK_INPUT,)) -> Layer:
    """NT-LSTM as a recurrent layer: 2400 x 1200 at 10 %, plus a non-zero bias per row."""
    rng = np.random.default_rng(seed)
    rows, cols = 4 * HIDDEN, EMBEDDING + HIDDEN
    nnz = int(round(LSTM_DENSITY * rows * cols))
    flat = np.sort(rng.choice(rows * cols, size=nnz, replace=False, shuffle=False))
    r, c = np.divmod(flat, cols)
    values = rng.standard_normal(nnz) / math.sqrt(LSTM_DENSITY * cols)
    values[values == 0] = 1.0 / math.sqrt(LSTM_DENSITY * cols)
    codebook, codes = kmeans_share(values.astype(np.float32), bits)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=rows), out=indptr[1:])
    bias = rng.normal(0.0, 0.1, rows).astype(np.float32)
    bias[bias == 0] = 0.1
    return Layer(name="NT-LSTM", kind="lstm", in_channels=cols, out_channels=rows, kernel=(1, 1), stride=(1, 1),
                 padding=(0, 0), inputs=inputs, relu=False, pool=None, indptr=indptr, indices=c.astype(np.int32),
                 codes=codes, codebook=codebook, bias=bias, extra={"hidden": HIDDEN})


def nt_lstm_steps(bits: int = 4, seed: int = 0, steps: int = CAPTION_WORDS) -> Workload:
    """NT-LSTM over ``steps`` word embeddings (dense, normal values): the per-step time of a caption."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise UsageError(f"steps must be a positive integer, got {steps!r}")
    x = np.random.default_rng(seed + 1).normal(0.0, 0.5, steps * EMBEDDING).astype(np.float32)
    return Workload("nt-lstm-steps", f"eiesim synthetic NeuralTalk NT-LSTM (recurrent, {HIDDEN} hidden units, "
                    f"{LSTM_DENSITY:.0%} dense, {bits}-bit codebook, seed {seed}) over {steps} word embeddings",
                    (steps * EMBEDDING,), None, [nt_lstm_layer(bits, seed)], x,
                    extra={"generator": {"name": "nt-lstm-steps", "bits": bits, "seed": seed, "steps": steps}})


def neuraltalk(bits: int = 4, seed: int = 0) -> Workload:
    """NT-We -> NT-LSTM (one step) -> NT-Wd: the image feature to the first word's logits."""
    we = eie_fc_layer("NT-We", 4096, EMBEDDING, 0.10, 1.0, bits, seed)
    wd = eie_fc_layer("NT-Wd", HIDDEN, 8791, 0.11, 1.0, bits, seed)
    layers = [we.layers[0], nt_lstm_layer(bits, seed, ("NT-We",)),
              dataclasses.replace(wd.layers[0], inputs=("NT-LSTM",))]
    return Workload("neuraltalk", f"eiesim synthetic NeuralTalk (EIE Table III layers; NT-LSTM recurrent), "
                    f"{bits}-bit codebooks, seed {seed}", (4096,), None, layers, we.input,
                    extra={"generator": {"name": "neuraltalk", "bits": bits, "seed": seed}})


#: The NeuralTalk workloads of ``eiesim workload``, by name.
NEURALTALK_WORKLOADS: dict[str, Callable[..., Workload]] = {"neuraltalk": neuraltalk, "nt-lstm-steps": nt_lstm_steps}


def neuraltalk_names() -> dict[str, str]:
    """Name -> one-line description, for ``eiesim workload --list``."""
    return {name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in NEURALTALK_WORKLOADS.items()}
