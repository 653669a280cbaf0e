"""Pixel groups as the cost models see them (docs/cost-model.md, "Pixel groups").

With ``mapping.pixel_groups`` the engines run a conv layer on G groups of N / G PEs, each
with its own non-zero finder and broadcast (docs/timing-model.md, section 2). The action
counts already say what the groups did; what a cost model still needs is the G of each
layer (for the energy of a broadcast and of a clock cycle) and the G the chip is built
for (for the area of the finders and CCUs). This module states both once, for the pricing
engine and for any cost model:

* ``layer_pixel_groups_of``: a priced layer's G (``layer["mapping"]["pixel_groups"]``;
  1 when absent, as in layer dicts made before pixel groups existed).
* ``hardware_pixel_groups``: the G the chip carries hardware for.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any

from eiesim.config.arch import ArchConfig
from eiesim.errors import UsageError
from eiesim.timing.contract import auto_candidates


def layer_pixel_groups_of(layer: Mapping[str, Any], name: str, num_pes: int) -> int:
    """The pixel groups a priced layer ran with: an integer dividing ``num_pes`` (1 if the layer says nothing)."""
    mapping = layer.get("mapping") or {}
    raw = mapping.get("pixel_groups", 1) if isinstance(mapping, Mapping) else mapping
    try:
        groups = -1 if isinstance(raw, bool) else operator.index(raw)  # ints, numpy ints; not 2.0 or "2"
    except TypeError:
        groups = -1
    if groups < 1 or num_pes % groups:
        raise UsageError(f"layer {name!r}: mapping.pixel_groups must be a positive integer dividing "
                         f"num_pes = {num_pes}, got {raw!r}")
    return groups


def hardware_pixel_groups(arch: ArchConfig, used: Iterable[int] | None = None) -> int:
    """The pixel groups the chip is built for: its G finders and CCUs.

    A configured integer G is the chip the researcher asked for: it carries G groups even
    when no layer of the run uses them (fc and one-pixel layers run with 1). With ``auto``
    the chip carries what the run needs: the largest G any of its layers (``used``) chose.
    With ``auto`` and no run to look at (``used`` is None), the hardware for every choice
    ``auto`` may make: the largest power of two dividing N.
    """
    configured = arch.mapping.pixel_groups
    layers = list(used) if used is not None else []
    if configured == "auto":
        if used is None:
            return auto_candidates(arch.num_pes)[-1]
        return max(layers, default=1)
    return max([int(configured), *layers])
