"""The cost-model plug-in interface and its registry.

An engine counts actions; a cost model prices them, in the engines' vocabulary
(``eiesim.timing.contract.actions``: the action counts plus the clock-driven
``PE_CYCLES`` and ``CHIP_CYCLES``, re-exported here). Given a resolved
architecture, a cost model returns one ``ComponentCost`` per hardware component:
energy per action (pJ, split by Table II type), leakage (mW), area (um^2, split
by type) and the Table II module(s) it belongs to. ``eiesim.costs.pricing``
multiplies these with the engine's counts. Models are registered by name
(``"default"``, ``"hwcomponents"``); ``ArchConfig.cost_model`` selects one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from eiesim.config.arch import ArchConfig
from eiesim.errors import CostModelError, UsageError
from eiesim.timing.contract import CHIP_CYCLES, PE_CYCLES

#: Where a component lives: in every PE, once per chip, or off chip.
Scope = Literal["pe", "chip", "offchip"]


@dataclass(frozen=True)
class ComponentCost:
    """Costs of one component, which has ``instances`` copies per chip.

    ``energy_pj[action][type]`` is the energy (pJ) of one action (an engine
    action name of ``eiesim.timing.contract.ACTION_NAMES``, counted chip-wide, or one
    of the clock-driven ``PE_CYCLES``/``CHIP_CYCLES``) attributed to a
    Table II type; it covers every instance the action touches. Area and
    leakage are per instance.
    ``module_shares`` says how its energy is split over Table II modules
    (fractions summing to 1; most components sit in one module), and
    ``area_shares`` how its area is.
    ``group_energy_pj[G]`` replaces ``energy_pj`` in a layer that runs in G pixel groups
    (``mapping.pixel_groups``), for a component whose energy per action depends on G (the
    default model's LNZD tree and CCU). A component without ``group_energy_pj`` costs the
    same in any G (``energy_pj``, the one-group energy); one with it must list every G > 1 it
    is priced at: a missing G is a CostModelError, never the one-group price in its place.
    """

    name: str
    scope: Scope
    instances: float
    module_shares: Mapping[str, float]
    area_um2_by_type: Mapping[str, float] = field(default_factory=dict)
    energy_pj: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    leakage_mw_by_type: Mapping[str, float] = field(default_factory=dict)
    notes: str = ""
    #: Split of the area over modules when it differs from ``module_shares`` (the energy split).
    area_module_shares: Mapping[str, float] | None = None
    #: Energy per action (as ``energy_pj``) in a layer mapped onto G > 1 pixel groups, by G.
    group_energy_pj: Mapping[int, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)

    @property
    def area_shares(self) -> Mapping[str, float]:
        """Fractions of the area in each module."""
        return self.area_module_shares if self.area_module_shares is not None else self.module_shares

    @property
    def area_um2(self) -> float:
        """Area of one instance (um^2)."""
        return float(sum(self.area_um2_by_type.values()))

    @property
    def leakage_mw(self) -> float:
        """Leakage power of one instance (mW)."""
        return float(sum(self.leakage_mw_by_type.values()))

    def energy_pj_at(self, pixel_groups: int = 1) -> Mapping[str, Mapping[str, float]]:
        """Energy per action (as ``energy_pj``) in a layer that runs in ``pixel_groups`` groups.

        ``group_energy_pj[G]`` where listed; ``energy_pj`` for one group or for a component whose
        energy does not depend on G (no ``group_energy_pj``). CostModelError for a G > 1 that a
        G-dependent component does not list: its one-group energy would silently misprice the layer.
        """
        if pixel_groups in self.group_energy_pj:
            return self.group_energy_pj[pixel_groups]
        if pixel_groups == 1 or not self.group_energy_pj:
            return self.energy_pj
        listed = ", ".join(str(g) for g in sorted(self.group_energy_pj))
        raise CostModelError(f"cost model component {self.name!r} has no energy for a layer in {pixel_groups} pixel "
                             f"groups (it prices G = 1 and {listed}); its one-group energy would be wrong there")

    def energy_per_action_pj(self, action: str, pixel_groups: int = 1) -> float:
        """Energy (pJ) of one ``action`` on this component (0 if it does not take part), in ``pixel_groups`` groups."""
        return float(sum(self.energy_pj_at(pixel_groups).get(action, {}).values()))


@dataclass(frozen=True)
class ComponentCosts:
    """All components of one architecture, as priced by one cost model."""

    model_name: str
    components: Mapping[str, ComponentCost]
    #: Model-specific notes for the report (e.g. SRAM sizes outside the CACTI grid).
    warnings: tuple[str, ...] = ()
    #: Where the numbers come from, in one sentence for reports (e.g. which factors were fitted to what).
    provenance: str = ""

    def __getitem__(self, name: str) -> ComponentCost:
        return self.components[name]

    def __iter__(self):
        return iter(self.components.values())


@runtime_checkable
class CostModel(Protocol):
    """Anything that prices the components of a resolved architecture."""

    name: str

    def component_costs(self, arch: ArchConfig) -> ComponentCosts:
        """Per-component energy per action (pJ), leakage (mW) and area (um^2) for ``arch``.

        ``evaluate`` passes the chip as built: ``arch.mapping.pixel_groups`` is then the
        integer G the hardware carries finders and CCUs for (``eiesim.costs.groups.
        hardware_pixel_groups``: with ``auto``, the largest G the run's layers use).
        """
        ...


_REGISTRY: dict[str, Callable[[], CostModel]] = {}


def register_cost_model(name: str, factory: Callable[[], CostModel]) -> None:
    """Make a cost model available under ``name`` (``factory`` is called on first use)."""
    _REGISTRY[name] = factory


def available_cost_models() -> tuple[str, ...]:
    """Names of the registered cost models."""
    return tuple(sorted(_REGISTRY))


def get_cost_model(name: str) -> CostModel:
    """The cost model registered as ``name``; an error lists the valid names."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown cost model {name!r}; available: {', '.join(available_cost_models())}") from None
    return factory()
