"""SqueezeNet v1.0 and v1.1 as layer specifications, plus the released model's densities.

A ``LayerSpec`` holds everything about a layer except its weights: the graph
attributes of the workload format (kind, channels, kernel, stride, padding,
inputs, ReLU, pool). Fire modules are three convolutions: ``fireN/conv1x1_1``
(squeeze), ``fireN/conv1x1_2`` (expand 1x1) and ``fireN/conv3x3_2`` (expand
3x3, pad 1); consumers of a fire module list its expand layers in that order
(concat order e1x1 then e3x3). A max pool that follows a fire module is stored
on both expand layers: max pooling is per channel, so pooling each branch and
then concatenating equals pooling the concatenation.

Layer names follow the authors' v1.0 deploy prototxt (Iandola et al. 2016;
songhan/SqueezeNet-Deep-Compression) for both versions, so a layer has the same
name, and the same density, in v1.0 and v1.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eiesim.errors import UsageError
from eiesim.network.workload import NETWORK_INPUT, Pool

__all__ = [
    "LayerSpec", "SQUEEZENET_INPUT_SHAPE", "SQUEEZENET_PREPROCESS", "RELEASED_DC_NNZ",
    "squeezenet_topology", "released_density", "VERSIONS",
]

#: Input tensor of both SqueezeNet versions: (channels, height, width).
SQUEEZENET_INPUT_SHAPE = (3, 227, 227)

#: How an image becomes SqueezeNet's input (Caffe deploy semantics, SqueezeNet
#: README): resize to 256x256, centre crop 227x227, BGR channel order, pixel
#: values 0..255 (``scale`` = 255 multiplies images given in 0..1), subtract the
#: per-channel BGR mean. The one place this is defined.
SQUEEZENET_PREPROCESS: dict[str, Any] = {
    "resize": [256, 256],
    "crop": [227, 227],
    "channel_order": "BGR",
    "mean": [104.0, 117.0, 123.0],
    "scale": 255.0,
}

#: (squeeze, expand) channels of fire2 .. fire9 (same in v1.0 and v1.1).
FIRE_CHANNELS = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128),
                 6: (48, 192), 7: (48, 192), 8: (64, 256), 9: (64, 256)}

VERSIONS = ("1.0", "1.1")

_MAXPOOL = Pool("max", 3, 2, True)
_GLOBAL_AVG = Pool("global_avg", 0, 1, False)

#: Non-zero weights per layer of the released Deep-Compression SqueezeNet v1.0
#: (songhan/SqueezeNet-Deep-Compression, compressed_SqueezeNet.net, sha256
#: e4ab6960...3261). Measured with eiesim's own decoder
#: (``eiesim import-dc compressed_SqueezeNet.net`` then ``eiesim info``): stored
#: entries minus padding entries (code 0, weight 0). Total 415,921. Densities
#: are these counts divided by out*in*kh*kw.
RELEASED_DC_NNZ: dict[str, int] = {
    "conv1": 13902,
    "fire2/conv1x1_1": 1528, "fire2/conv1x1_2": 1020, "fire2/conv3x3_2": 3039,
    "fire3/conv1x1_1": 2038, "fire3/conv1x1_2": 1023, "fire3/conv3x3_2": 3039,
    "fire4/conv1x1_1": 4085, "fire4/conv1x1_2": 4071, "fire4/conv3x3_2": 12156,
    "fire5/conv1x1_1": 8160, "fire5/conv1x1_2": 4067, "fire5/conv3x3_2": 12147,
    "fire6/conv1x1_1": 12161, "fire6/conv1x1_2": 4602, "fire6/conv3x3_2": 27325,
    "fire7/conv1x1_1": 9205, "fire7/conv1x1_2": 9129, "fire7/conv3x3_2": 27336,
    "fire8/conv1x1_1": 24388, "fire8/conv1x1_2": 8187, "fire8/conv3x3_2": 44144,
    "fire9/conv1x1_1": 16370, "fire9/conv1x1_2": 16303, "fire9/conv3x3_2": 44173,
    "conv_final": 102323,
}


@dataclass(frozen=True)
class LayerSpec:
    """A layer's graph attributes (the workload format's layer keys), without weights."""

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    inputs: tuple[str, ...] = (NETWORK_INPUT,)
    relu: bool = True
    pool: Pool | None = None

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """(out_channels, in_channels, kh, kw)."""
        return (self.out_channels, self.in_channels, *self.kernel)

    @property
    def weight_count(self) -> int:
        return self.out_channels * self.in_channels * self.kernel[0] * self.kernel[1]

    def layer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``compress.compress_layer`` / ``workload.Layer``."""
        return dict(kind=self.kind, stride=self.stride, padding=self.padding, inputs=self.inputs,
                    relu=self.relu, pool=self.pool)


def _fire(n: int, inputs: tuple[str, ...], in_channels: int, pool: Pool | None) -> list[LayerSpec]:
    s, e = FIRE_CHANNELS[n]
    sq = f"fire{n}/conv1x1_1"
    return [
        LayerSpec(sq, "conv", in_channels, s, inputs=inputs),
        LayerSpec(f"fire{n}/conv1x1_2", "conv", s, e, inputs=(sq,), pool=pool),
        LayerSpec(f"fire{n}/conv3x3_2", "conv", s, e, kernel=(3, 3), padding=(1, 1), inputs=(sq,), pool=pool),
    ]


def _fire_outputs(n: int) -> tuple[str, str]:
    return (f"fire{n}/conv1x1_2", f"fire{n}/conv3x3_2")


def squeezenet_topology(version: str = "1.0") -> list[LayerSpec]:
    """The 26 convolution layers of SqueezeNet ``version`` ("1.0" or "1.1"), in topological order.

    v1.0: conv1 96 7x7/2; max-pool 3x3/2 (ceil mode) after conv1, fire4, fire8;
    conv_final (conv10) 1000 1x1 with pad 1, ReLU, global average pool.
    v1.1: conv1 64 3x3/2; pools after conv1, fire3, fire5; conv10 without padding.
    """
    if version == "1.0":
        conv1 = LayerSpec("conv1", "conv", 3, 96, kernel=(7, 7), stride=(2, 2), pool=_MAXPOOL)
        pooled, conv10_pad = {4, 8}, (1, 1)
    elif version == "1.1":
        conv1 = LayerSpec("conv1", "conv", 3, 64, kernel=(3, 3), stride=(2, 2), pool=_MAXPOOL)
        pooled, conv10_pad = {3, 5}, (0, 0)
    else:
        raise UsageError(f"SqueezeNet version must be one of {VERSIONS}, got {version!r}")
    layers = [conv1]
    inputs: tuple[str, ...] = ("conv1",)
    channels = conv1.out_channels
    for n in range(2, 10):
        layers += _fire(n, inputs, channels, _MAXPOOL if n in pooled else None)
        inputs, channels = _fire_outputs(n), 2 * FIRE_CHANNELS[n][1]
    layers.append(LayerSpec("conv_final", "conv", channels, 1000, padding=conv10_pad, inputs=inputs,
                            pool=_GLOBAL_AVG))
    return layers


def released_density(name: str) -> float:
    """Density of layer ``name`` in the released Deep-Compression SqueezeNet v1.0 (non-zeros / weights)."""
    spec = {s.name: s for s in squeezenet_topology("1.0")}[name]
    return RELEASED_DC_NNZ[name] / spec.weight_count
