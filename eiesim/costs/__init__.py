"""costs: energy, power and die-area models that price the engines' action counts.

* ``get_cost_model(name)``: a registered ``CostModel`` ("default": CACTI grid +
  calibrated logic; "hwcomponents": live CACTI through the optional
  hwcomponents packages).
* ``evaluate(arch, layers)``: a ``CostReport`` (``to_dict()`` = report fields).
* ``sram_estimate``, ``area_factor``, ``energy_factor``: the building blocks.

docs/cost-model.md documents every constant.
"""

from __future__ import annotations

from eiesim.costs.cacti import SramEstimate, sram_estimate
from eiesim.costs.default import DefaultCostModel, fit_calibration, group_lnzd_units, lnzd_units
from eiesim.costs.groups import hardware_pixel_groups
from eiesim.costs.protocol import (
    CHIP_CYCLES, PE_CYCLES, ComponentCost, ComponentCosts, CostModel, available_cost_models, get_cost_model,
    register_cost_model,
)
from eiesim.costs.scaling import area_factor, energy_factor


def _hwcomponents_model() -> CostModel:
    from eiesim.costs.hwcomponents_backend import HwComponentsCostModel
    return HwComponentsCostModel()


register_cost_model("default", DefaultCostModel)
register_cost_model("hwcomponents", _hwcomponents_model)

from eiesim.costs.pricing import CostReport, LayerCost, evaluate  # noqa: E402  (needs the registry filled)

__all__ = [
    "CHIP_CYCLES", "PE_CYCLES", "ComponentCost", "ComponentCosts", "CostModel", "CostReport", "DefaultCostModel",
    "LayerCost", "SramEstimate", "area_factor", "available_cost_models", "energy_factor", "evaluate",
    "fit_calibration", "get_cost_model", "group_lnzd_units", "hardware_pixel_groups", "lnzd_units",
    "register_cost_model", "sram_estimate",
]
