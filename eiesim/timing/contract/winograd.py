"""Winograd F(2x2, 3x3) layers (docs/timing-model.md, section 2, "Winograd convolution").

With ``mapping.conv3x3: winograd`` a stride-1 3 x 3 conv layer runs as its Winograd layer
(``eiesim.network.winograd.winograd_layer``): one round per 2 x 2 output tile over the
block-diagonal matrix of the 16 transformed weight matrices, input the tile's transformed
4 x 4 patch. Every rule of sections 1-3 applies to that layer unchanged (both engines run
it as any 1 x 1 conv), with two amendments stated here once:

* **Input transform** (B^T d B, 32 adds per tile and input channel) is done on the
  activation path while the load phase writes the 16 C_in transformed values into the
  source registers (one per PE per cycle, as any load): no extra cycles; the load reads the
  tile's 16 C_in input values from the activation SRAM (``act_sram_reads``, as any load).
* **Output transform** (A^T M A, 24 adds per tile and output channel) is done by each PE on
  its own accumulators (it holds all 16 of each of its output channels) while the store
  phase reads them out, one per PE per cycle (``dst_reg_reads``, as any store): no extra
  cycles; only the valid outputs are written, C_out x OH x OW per layer
  (``act_sram_writes``).

With ``mapping.winograd_weights: repruned`` the transformed weights are pruned back to the
kernel's density before they are shared and encoded (``winograd_density``; pruning in the
Winograd domain without retraining): the Winograd layer has fewer entries, and every rule
above applies to it unchanged.

Both transforms' adds are counted as ``transform_adds`` (``WINOGRAD_ACTIONS``) and priced
by the cost model at the PE adder's energy per add.
"""

from __future__ import annotations

from eiesim.config.arch import ArchConfig
from eiesim.network.winograd import (INPUT_ADDS_PER_CHANNEL, OUTPUT_ADDS_PER_CHANNEL, WinogradLayer,
                                     is_winograd_conv, tile_grid, winograd_layer)
from eiesim.network.workload import Layer, Workload

#: Action counts only Winograd layers report (a layer without them did none): name -> what one is.
WINOGRAD_ACTIONS: dict[str, str] = {
    "transform_adds": "an add of the Winograd input transform (activation path) or output transform (PE write-back)",
}


def runs_winograd(arch: ArchConfig, layer: Layer) -> bool:
    """Whether ``layer`` runs as F(2x2, 3x3) on ``arch``: ``mapping.conv3x3: winograd`` and a stride-1 3 x 3 conv."""
    return arch.mapping.conv3x3 == "winograd" and is_winograd_conv(layer)


def winograd_density(arch: ArchConfig, layer: Layer) -> float | None:
    """The fraction of the 16 C_out C_in transformed weights kept (``winograd_layer``'s ``density``): the kernel's
    own density with ``mapping.winograd_weights: repruned``, else None (every non-zero of G g G^T stored)."""
    return layer.density if arch.mapping.winograd_weights == "repruned" else None


def winograd_layers(arch: ArchConfig, workload: Workload) -> dict[str, WinogradLayer]:
    """The layers of ``workload`` that run as F(2x2, 3x3) on ``arch``, by name, as their Winograd layers
    (what ``simulate``, the event engine's time budget and the trace run for them)."""
    return {layer.name: winograd_layer(layer, arch.num_pes, density=winograd_density(arch, layer))
            for layer in workload.layers if runs_winograd(arch, layer)}


def winograd_transform_adds(layer: Layer, in_shape: tuple[int, ...]) -> int:
    """Adds of the layer's input and output transforms: tiles x (32 C_in + 24 C_out)."""
    _, _, th, tw = tile_grid(in_shape, layer)
    return th * tw * (INPUT_ADDS_PER_CHANNEL * layer.in_channels + OUTPUT_ADDS_PER_CHANNEL * layer.out_channels)


def winograd_actions(actions: dict[str, int], layer: Layer, in_shape: tuple[int, ...]) -> dict[str, int]:
    """The Winograd layer's action counts amended for the layer it computes.

    ``actions``: ``layer_actions`` of the Winograd layer. ``act_sram_writes`` becomes the
    layer's valid outputs (C_out x OH x OW: the output transform writes 4 values per tile
    and output channel, edge tiles cropped, instead of the 16 C_pad accumulators), and
    ``transform_adds`` is added.
    """
    oh, ow, _, _ = tile_grid(in_shape, layer)
    out = dict(actions)
    out["act_sram_writes"] = layer.out_channels * oh * ow
    out["transform_adds"] = winograd_transform_adds(layer, in_shape)
    return out
