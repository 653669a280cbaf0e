"""Price an engine run: action counts x per-action energies, leakage x time, areas.

``evaluate(arch, layers)`` takes the engine's per-layer results (``name``,
``cycles``, ``time_us``, ``actions``; counts are chip totals) and returns a
``CostReport`` whose ``to_dict()`` holds the issue-4 report fields. Energy of a
component in a layer = sum over actions of count x pJ per action, plus leakage
power x the layer's time. The EIE paper's own method (energy = time x power) is
given beside it, using the model's chip power at the Alex-7 reference activity.

Pixel groups: each layer is priced with the G it ran with (``layer["mapping"]
["pixel_groups"]``, 1 if absent), and the components are those of the chip built for
the run's largest G (``eiesim.costs.groups``; docs/cost-model.md, "Pixel groups").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eiesim.config.arch import ArchConfig
from eiesim.costs import published as pub
from eiesim.costs.breakdown import pe_power_matrix_mw
from eiesim.costs.groups import hardware_pixel_groups, layer_pixel_groups_of
from eiesim.costs.protocol import CHIP_CYCLES, PE_CYCLES, ComponentCost, ComponentCosts, CostModel, get_cost_model
from eiesim.errors import UsageError
from eiesim.timing.contract import ACTION_NAMES, CLOCK_ACTIONS, RECURRENT_ACTIONS, WRITEBACK_ACTION_NAMES
from eiesim.timing.contract.winograd import WINOGRAD_ACTIONS

#: Module and type order of the report (Table II order, then what Table II does not name).
PE_MODULES = (*pub.TABLE2_MODULES, "filler")
PE_TYPES = (*pub.TABLE2_TYPES, "filler")
#: What a cost model may price: the engines' action counts (the vocabulary of eiesim.timing.contract.actions)
#: and the two clock-driven counts a layer's cycles imply.
PRICEABLE_ACTIONS = (*ACTION_NAMES, *WRITEBACK_ACTION_NAMES, *WINOGRAD_ACTIONS, *CLOCK_ACTIONS, *RECURRENT_ACTIONS)


@dataclass
class LayerCost:
    """Energy of one layer."""

    name: str
    cycles: int
    time_us: float
    energy_by_component_pj: dict[str, float]
    real_macs: float
    paper_method_energy_pj: float
    #: The engine's action counts for this layer (chip totals).
    actions: dict[str, float] = field(default_factory=dict)
    #: The pixel groups the layer ran in (prices its finder and CCU energy).
    pixel_groups: int = 1
    #: Energy (pJ) of each component split by Table II type, as ``evaluate`` priced it (the power split by
    #: type reads it; a component missing here is priced from ``actions`` when asked).
    energy_by_type_pj: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_by_component_pj.values()))


@dataclass
class CostReport:
    """Energy, power, area and figures of merit of one run on one architecture."""

    model_name: str
    arch: ArchConfig
    costs: ComponentCosts
    layers: list[LayerCost]
    reference_chip_power_mw: float
    warnings: list[str] = field(default_factory=list)

    # -- totals ----------------------------------------------------------------------------
    @property
    def time_us(self) -> float:
        return float(sum(layer.time_us for layer in self.layers))

    def energy_by_component_pj(self) -> dict[str, float]:
        out = {name: 0.0 for name in self.costs.components}
        for layer in self.layers:
            for name, pj in layer.energy_by_component_pj.items():
                out[name] += pj
        return out

    def _scope_energy_pj(self, scopes: tuple[str, ...], by: Mapping[str, float] | None = None) -> float:
        """Energy of the components in ``scopes``; ``by``: ``energy_by_component_pj()`` if already at hand."""
        by = self.energy_by_component_pj() if by is None else by
        components = self.costs.components  # (``self.costs[name]``, without a method call per component)
        return float(sum(pj for name, pj in by.items() if components[name].scope in scopes))

    @property
    def total_pj(self) -> float:
        return float(sum(self.energy_by_component_pj().values()))

    @property
    def on_chip_pj(self) -> float:
        return self._scope_energy_pj(("pe", "chip"))

    @property
    def dram_pj(self) -> float:
        return self._scope_energy_pj(("offchip",))

    # -- power -----------------------------------------------------------------------------
    def _mw(self, pj: float, t_us: float | None = None) -> float:
        t = self.time_us if t_us is None else t_us
        return pj / t * 1e-3 if t > 0 else 0.0  # pJ / us = uW

    def per_pe_power_mw(self) -> float:
        return self._mw(self._scope_energy_pj(("pe",))) / self.arch.num_pes

    def chip_power_mw(self) -> float:
        return self._mw(self.on_chip_pj)

    def per_pe_power_by_mw(self) -> tuple[dict[str, float], dict[str, float]]:
        """Per-PE average power split by Table II module and by type (mW)."""
        by_module = {m: 0.0 for m in PE_MODULES[:-1]}
        by_type = {t: 0.0 for t in PE_TYPES[:-1]}
        t_us = self.time_us
        if t_us <= 0:
            return by_module, by_type
        for layer in self.layers:
            for comp in self.costs:
                if comp.scope != "pe":
                    continue
                split = layer.energy_by_type_pj.get(comp.name)
                if split is None:
                    split = _component_energy_by_type(comp, layer, self.arch)
                for kind, pj in split.items():
                    mw = pj / t_us * 1e-3 / self.arch.num_pes
                    by_type[kind] = by_type.get(kind, 0.0) + mw
                    for module, share in comp.module_shares.items():
                        by_module[module] = by_module.get(module, 0.0) + share * mw
        return by_module, by_type

    # -- area ------------------------------------------------------------------------------
    def pe_area_by(self) -> tuple[dict[str, float], dict[str, float]]:
        """Per-PE area (um^2) by module and by type."""
        by_module = {m: 0.0 for m in PE_MODULES}
        by_type = {t: 0.0 for t in PE_TYPES}
        for comp in self.costs:
            if comp.scope != "pe":
                continue
            for kind, um2 in comp.area_um2_by_type.items():
                by_type[kind] = by_type.get(kind, 0.0) + um2
                for module, share in comp.area_shares.items():
                    by_module[module] = by_module.get(module, 0.0) + share * um2
        return by_module, by_type

    @property
    def pe_um2(self) -> float:
        return float(sum(c.area_um2 for c in self.costs if c.scope == "pe"))

    def chip_level_um2(self) -> dict[str, float]:
        """Area of the components outside the PEs (LNZD tree, CCU), all instances (um^2)."""
        return {c.name: c.area_um2 * c.instances for c in self.costs if c.scope == "chip"}

    @property
    def chip_mm2(self) -> float:
        return self._chip_mm2(self.pe_um2, self.chip_level_um2())

    def _chip_mm2(self, pe_um2: float, chip_level_um2: Mapping[str, float]) -> float:
        return (pe_um2 * self.arch.num_pes + sum(chip_level_um2.values())) * 1e-6

    # -- report ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The issue-4 report fields (units in the names).

        Each total is computed once and reused where the properties would compute it again (the
        same expressions on the same values: the numbers are the properties')."""
        time_us = self.time_us
        t_s = time_us * 1e-6
        frames_per_s = 1.0 / t_s if t_s > 0 else None
        real_macs = sum(layer.real_macs for layer in self.layers)
        chip = _chip_figures(self.costs, self.arch)
        area_module, area_type = dict(chip.pe_by_module_um2), dict(chip.pe_by_type_um2)
        power_module, power_type = self.per_pe_power_by_mw()
        paper_pj = sum(layer.paper_method_energy_pj for layer in self.layers)
        by_component = self.energy_by_component_pj()
        total_pj = float(sum(by_component.values()))
        on_chip_pj = self._scope_energy_pj(("pe", "chip"), by_component)
        pe_um2, chip_level = chip.pe_um2, dict(chip.chip_level_um2)
        chip_mm2 = self._chip_mm2(pe_um2, chip_level)
        return {
            "cost_model": self.model_name,
            "cost_model_provenance": self.costs.provenance,
            "energy": {
                "total_pj": total_pj,
                "by_component_pj": by_component,
                "on_chip_pj": on_chip_pj,
                "dram_pj": self._scope_energy_pj(("offchip",), by_component),
            },
            "power": {
                "per_pe_mw": self._mw(self._scope_energy_pj(("pe",), by_component), time_us) / self.arch.num_pes,
                "chip_mw": self._mw(on_chip_pj, time_us),
                "per_pe_by_module_mw": power_module,
                "per_pe_by_type_mw": power_type,
            },
            "area": {
                "pe_um2": pe_um2,
                "pe_by_module_um2": area_module,
                "pe_by_type_um2": area_type,
                "chip_level_um2": chip_level,
                "chip_mm2": chip_mm2,
            },
            "figures_of_merit": {
                "time_us": time_us,
                "frames_per_s": frames_per_s,
                "frames_per_j": 1.0 / (total_pj * 1e-12) if total_pj > 0 else None,
                "gop_per_s": 2.0 * real_macs / t_s / 1e9 if t_s > 0 else None,
                "frames_per_s_per_mm2": frames_per_s / chip_mm2 if frames_per_s is not None else None,
            },
            "paper_method": {
                "description": "time x the model's on-chip power at the Alex-7 reference activity "
                               "(the EIE paper's way: energy = time x measured power)",
                "power_mw": self.reference_chip_power_mw,
                "energy_pj": paper_pj,
            },
            "layers": [
                {"name": layer.name, "cycles": layer.cycles, "time_us": layer.time_us,
                 "energy_pj": layer.energy_pj, "energy_by_component_pj": dict(layer.energy_by_component_pj),
                 "paper_method_energy_pj": layer.paper_method_energy_pj}
                for layer in self.layers
            ],
            "warnings": list(self.warnings),
        }


def _component_energy_by_type(comp: ComponentCost, layer: LayerCost, arch: ArchConfig) -> dict[str, float]:
    """Energy (pJ) of one component in one priced layer, split by type (uses the stored counts)."""
    actions = layer.actions
    out: dict[str, float] = {}
    num_pes = arch.num_pes
    for action, parts in comp.energy_pj_at(layer.pixel_groups).items():
        # the action's count in this layer: the clock-driven ones from its cycles, the others as counted
        if action == PE_CYCLES:
            n = float(layer.cycles) * num_pes
        elif action == CHIP_CYCLES:
            n = float(layer.cycles)
        else:
            n = float(actions.get(action, 0.0))
        for kind, pj in parts.items():
            out[kind] = out.get(kind, 0.0) + n * pj
    for kind, mw in comp.leakage_mw_by_type.items():
        out[kind] = out.get(kind, 0.0) + mw * comp.instances * layer.time_us * 1e3  # mW x us = nJ
    return out


def _validated(layer: Mapping[str, Any], index: int,
               num_pes: int) -> tuple[str, int, float, dict[str, float], int]:
    try:
        name = str(layer.get("name", f"layer{index}"))
        cycles, time_us = int(layer["cycles"]), float(layer["time_us"])
        actions = {str(k): float(v) for k, v in dict(layer.get("actions", {})).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"layer {index}: needs cycles, time_us and actions ({exc.__class__.__name__}: {exc})") from None
    bad = [k for k, v in actions.items() if not math.isfinite(v) or v < 0]
    if cycles < 0 or not math.isfinite(time_us) or time_us < 0 or bad:
        raise UsageError(f"layer {name!r}: cycles, time_us and action counts must be finite and >= 0"
                         + (f" (bad: {', '.join(bad)})" if bad else ""))
    return name, cycles, time_us, actions, layer_pixel_groups_of(layer, name, num_pes)


def reference_chip_power_mw(costs: ComponentCosts, arch: ArchConfig) -> float:
    """On-chip power (mW) of ``arch`` at the Alex-7 reference activity (per PE per cycle rates).

    Alex-7 is an fc layer, so it runs in one pixel group: the one-group energies (``energy_pj``).
    """
    rates = pub.ALEX7_REFERENCE_RATES
    pe_mw = sum(pe_power_matrix_mw(costs.components, rates, arch.clock_mhz).values())
    chip_mw = 0.0
    for comp in costs:
        if comp.scope != "chip":
            continue
        for action, parts in comp.energy_pj.items():
            per_cycle = 1.0 if action == CHIP_CYCLES else rates.get(action, 0.0) * arch.num_pes
            chip_mw += sum(parts.values()) * per_cycle * arch.clock_mhz * 1e-3
        chip_mw += comp.leakage_mw * comp.instances
    return pe_mw * arch.num_pes + chip_mw


_PRICEABLE = frozenset(PRICEABLE_ACTIONS)


def check_vocabulary(costs: ComponentCosts) -> None:
    """Refuse a cost model that prices an action no engine counts (a misspelt name would cost nothing)."""
    known = _PRICEABLE
    for comp in costs:
        if known.issuperset(comp.energy_pj) and all(known.issuperset(g) for g in comp.group_energy_pj.values()):
            continue
        unknown = sorted(set(comp.energy_pj).union(*comp.group_energy_pj.values()) - known)
        if unknown:
            raise UsageError(f"cost model {costs.model_name!r}: component {comp.name!r} prices "
                             f"{', '.join(map(repr, unknown))}, which no engine counts; the actions are "
                             f"{', '.join(PRICEABLE_ACTIONS)} (eiesim.timing.contract.actions)")


@dataclass(frozen=True)
class _ChipFigures:
    """What one priced chip implies whatever runs on it (``CostReport``'s area methods, the reference power)."""

    reference_chip_power_mw: float
    pe_by_module_um2: Mapping[str, float]
    pe_by_type_um2: Mapping[str, float]
    pe_um2: float
    chip_level_um2: Mapping[str, float]


#: ``_chip_figures`` by priced chip: id(costs) -> (costs, (clock, PEs), figures). The default cost model hands out
#: one (frozen) ``ComponentCosts`` per architecture (``costs.default``), so a warm run or a sweep's next point on
#: the same chip finds its figures; the stored reference keeps the id from being reused by another object.
_CHIP_FIGURES: dict[int, tuple[ComponentCosts, tuple[float, int], _ChipFigures]] = {}
_CHIP_FIGURES_MAX = 256


def _chip_figures(costs: ComponentCosts, arch: ArchConfig) -> _ChipFigures:
    """The vocabulary check (``check_vocabulary``, raises), the reference power and the areas of ``costs`` on
    ``arch`` (they read only the components, the clock and the PE count), computed once per priced chip."""
    chip = (arch.clock_mhz, arch.num_pes)
    found = _CHIP_FIGURES.get(id(costs))
    if found is not None and found[0] is costs and found[1] == chip:
        return found[2]
    check_vocabulary(costs)
    report = CostReport(costs.model_name, arch, costs, [], 0.0)
    by_module, by_type = report.pe_area_by()
    figures = _ChipFigures(reference_chip_power_mw(costs, arch), by_module, by_type, report.pe_um2,
                           report.chip_level_um2())
    if len(_CHIP_FIGURES) >= _CHIP_FIGURES_MAX:
        _CHIP_FIGURES.clear()
    _CHIP_FIGURES[id(costs)] = (costs, chip, figures)
    return figures


def evaluate(arch: ArchConfig, layers: Sequence[Mapping[str, Any]], model: CostModel | None = None) -> CostReport:
    """Price the engine's per-layer results on ``arch`` (model: ``arch.cost_model`` unless given).

    The model prices the chip built for the run's pixel groups (``hardware_pixel_groups``:
    the configured G, or with ``auto`` the largest G a layer used); each layer is priced
    with its own G.
    """
    model = model if model is not None else get_cost_model(arch.cost_model)
    checked = [_validated(raw, i, arch.num_pes) for i, raw in enumerate(layers)]
    groups = hardware_pixel_groups(arch, [layer[4] for layer in checked])
    built = arch if arch.mapping.pixel_groups == groups else arch.derive({"mapping.pixel_groups": groups})
    costs = model.component_costs(built)
    p_ref_mw = _chip_figures(costs, arch).reference_chip_power_mw  # (checks the model's vocabulary first)
    priced: list[LayerCost] = []
    for name, cycles, time_us, actions, layer_groups in checked:
        stub = LayerCost(name, cycles, time_us, {}, actions.get("real_macs", 0.0), p_ref_mw * time_us * 1e3, actions,
                         layer_groups)
        for comp in costs:
            split = _component_energy_by_type(comp, stub, arch)
            stub.energy_by_type_pj[comp.name] = split
            stub.energy_by_component_pj[comp.name] = float(sum(split.values()))
        priced.append(stub)
    return CostReport(model.name, arch, costs, priced, p_ref_mw, list(costs.warnings))
