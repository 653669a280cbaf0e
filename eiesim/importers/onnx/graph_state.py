"""What the ONNX graph walker builds: layers under construction and the computed tensors between them.

A :class:`PendingLayer` is a Conv / Gemm / MatMul layer whose bias, ReLU and pool are still
being folded in from later nodes; a :class:`ComputedTensor` is a non-constant tensor of the
graph, recorded as the channel concatenation of some layers' (or the network input's)
outputs, with the state each of those layers had when the tensor was made (so that a tensor
read before a later fold can be caught).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eiesim.network.dense import DenseLayer
from eiesim.network.topologies import LayerSpec
from eiesim.network.workload import ACTIVATION_KEY, INPUT_POOL_KEY, NETWORK_INPUT, RESIDUAL_KEY, Pool


@dataclass
class PendingLayer:
    """A layer being built: ReLU, pool and bias are folded in as later nodes are read."""

    name: str
    kind: str  # "conv" | "fc" | "lstm" | "gru"
    weight: np.ndarray  # (out, in, kh, kw) float32
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    inputs: tuple[str, ...] = (NETWORK_INPUT,)
    relu: bool = False
    pool: Pool | None = None
    #: Extra layer keys (a recurrent layer's ``hidden``).
    extra: dict[str, Any] = field(default_factory=dict)
    #: The earlier layer whose output is added on the write-back path, before ReLU and pool (a residual Add).
    residual: str | None = None
    #: An activation other than ReLU on the write-back path: (name, parameters) (eiesim.network.activations).
    activation: tuple[str, dict[str, Any]] | None = None
    #: A pool applied to this (conv) layer's input as it is loaded (a pooled tensor also read unpooled).
    input_pool: Pool | None = None

    @property
    def kernel(self) -> tuple[int, int]:
        """(kh, kw) of the weight."""
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    def to_dense(self) -> DenseLayer:
        """The finished layer, as a dense model holds it."""
        spec = LayerSpec(self.name, self.kind, int(self.weight.shape[1]), int(self.weight.shape[0]), self.kernel,
                         self.stride, self.padding, self.inputs, self.relu, self.pool)
        extra: dict[str, Any] = dict(self.extra)
        if self.residual is not None:
            extra[RESIDUAL_KEY] = self.residual
        if self.activation is not None:
            extra[ACTIVATION_KEY] = {"kind": self.activation[0], **self.activation[1]}
        if self.input_pool is not None:
            extra[INPUT_POOL_KEY] = self.input_pool.to_meta()
        return DenseLayer(spec, np.ascontiguousarray(self.weight, dtype=np.float32), self.bias.astype(np.float32),
                          extra)


@dataclass
class ComputedTensor:
    """A non-constant tensor: the channel concatenation of some layers' (or the input's) outputs."""

    sources: tuple[str, ...]
    shape: tuple[int, ...]  # without the batch axis: (C, H, W) or (K,)
    snapshot: tuple[Any, ...]  # state of each source when this tensor was made
    #: Not yet applied: a pool of the sources' outputs that the reading Conv applies as it loads them.
    input_pool: Pool | None = None

    @property
    def flat(self) -> bool:
        """True for a flattened (K,) tensor, the input of an fc layer."""
        return len(self.shape) == 1
