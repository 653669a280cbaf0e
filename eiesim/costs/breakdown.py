"""Per-PE power and area of a set of components, by (Table II module, type).

Shared by the pricing engine (the paper's method: power at the Alex-7 reference
activity) and by the default model's calibration (the matrices it fits to Table II);
they depend on the cost-model protocol only, never on a particular model.
"""

from __future__ import annotations

from collections.abc import Mapping

from eiesim.costs.protocol import PE_CYCLES, ComponentCost


def pe_power_matrix_mw(components: Mapping[str, ComponentCost], rates: Mapping[str, float],
                       clock_mhz: float) -> dict[tuple[str, str], float]:
    """Per-PE power (mW) by (module, type) when actions occur at ``rates`` per PE per cycle."""
    out: dict[tuple[str, str], float] = {}
    for comp in components.values():
        if comp.scope != "pe":
            continue
        by_type: dict[str, float] = {}
        for action, parts in comp.energy_pj.items():
            rate = 1.0 if action == PE_CYCLES else rates.get(action, 0.0)
            for kind, pj in parts.items():
                by_type[kind] = by_type.get(kind, 0.0) + pj * rate * clock_mhz * 1e-3
        for kind, mw in comp.leakage_mw_by_type.items():
            by_type[kind] = by_type.get(kind, 0.0) + mw
        for module, share in comp.module_shares.items():
            for kind, mw in by_type.items():
                out[(module, kind)] = out.get((module, kind), 0.0) + share * mw
    return out


def pe_area_matrix_um2(components: Mapping[str, ComponentCost]) -> dict[tuple[str, str], float]:
    """Per-PE area (um^2) by (module, type)."""
    out: dict[tuple[str, str], float] = {}
    for comp in components.values():
        if comp.scope != "pe":
            continue
        for module, share in comp.area_shares.items():
            for kind, um2 in comp.area_um2_by_type.items():
                out[(module, kind)] = out.get((module, kind), 0.0) + share * um2
    return out
