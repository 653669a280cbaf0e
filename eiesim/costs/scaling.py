"""Technology scaling of area and energy between CMOS nodes.

Source: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction
of CMOS device performance from 180 nm to 7 nm", Integration 58 (2017). The area
factors (node X -> node Y) and the per-node energy fits E(Vdd) = a*Vdd^2 + b*Vdd + c
below are that paper's tables.

Nodes the paper does not list (28 nm and 22 nm, both between its 32 nm and 20 nm
points) are interpolated **log-log**: ln(quantity) linear in ln(node) between the
two neighbouring listed nodes. The quantity interpolated is the area factor *from
45 nm* and the energy E(Vdd) itself; a factor between two nodes of which one is
interpolated is then the ratio of the two relative-to-45-nm values. Between two
listed nodes the table entry is used as published.
"""

from __future__ import annotations

import math

from eiesim.errors import UsageError

#: Nodes (nm) listed by Stillmaker & Baas 2017.
STILLMAKER_NODES_NM: tuple[int, ...] = (130, 90, 65, 45, 32, 20, 16, 14, 10, 7)

#: Area factor from node (row) to node (column), columns in STILLMAKER_NODES_NM order.
#: Stillmaker & Baas 2017, area scaling table.
AREA_FACTOR_TABLE: dict[int, tuple[float, ...]] = {
    130: (1, 0.44, 0.23, 0.16, 0.072, 0.033, 0.03, 0.027, 0.016, 0.0092),
    90: (2.3, 1, 0.53, 0.35, 0.16, 0.075, 0.067, 0.061, 0.036, 0.021),
    65: (4.3, 1.9, 1, 0.66, 0.31, 0.14, 0.13, 0.12, 0.068, 0.039),
    45: (6.4, 2.8, 1.5, 1, 0.46, 0.21, 0.19, 0.17, 0.1, 0.059),
    32: (14, 6.1, 3.3, 2.2, 1, 0.46, 0.41, 0.38, 0.22, 0.13),
    20: (30, 13, 7.1, 4.7, 2.2, 1, 0.89, 0.82, 0.48, 0.28),
    16: (34, 15, 7.9, 5.3, 2.4, 1.1, 1, 0.91, 0.54, 0.31),
    14: (37, 16, 8.7, 5.8, 2.7, 1.2, 1.1, 1, 0.59, 0.34),
    10: (63, 28, 15, 9.8, 4.5, 2.1, 1.9, 1.7, 1, 0.58),
    7: (110, 48, 25, 17, 7.8, 3.6, 3.2, 2.9, 1.7, 1),
}

#: Energy fit per node: E(Vdd) proportional to a*Vdd^2 + b*Vdd + c (a, b, c).
#: Stillmaker & Baas 2017, energy scaling equations.
ENERGY_COEFFS: dict[int, tuple[float, float, float]] = {
    130: (7.171, -6.709, 2.904),
    90: (4.762, -4.781, 2.092),
    65: (3.755, -4.398, 1.975),
    45: (1.103, -0.362, 0.2767),
    32: (0.9559, -0.7823, 0.471),
    20: (0.373, -0.1582, 0.04104),
    16: (0.2958, -0.1241, 0.03024),
    14: (0.2363, -0.09675, 0.02239),
    10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}

#: Supply voltage at which energies are compared across nodes (V). With no
#: better information the same Vdd is assumed at both nodes (common practice
#: with these equations).
DEFAULT_VDD_V = 0.8


def _bracket(node_nm: int) -> tuple[int, int]:
    """Listed nodes just above and just below ``node_nm`` (which is not listed)."""
    if not STILLMAKER_NODES_NM[-1] < node_nm < STILLMAKER_NODES_NM[0]:
        raise UsageError(f"technology node {node_nm} nm is outside the scaling model's range "
                         f"({STILLMAKER_NODES_NM[-1]}..{STILLMAKER_NODES_NM[0]} nm)")
    above = min(n for n in STILLMAKER_NODES_NM if n > node_nm)
    below = max(n for n in STILLMAKER_NODES_NM if n < node_nm)
    return above, below


def _loglog(node_nm: int, above: int, below: int, v_above: float, v_below: float) -> float:
    t = math.log(above / node_nm) / math.log(above / below)
    return math.exp(math.log(v_above) + t * (math.log(v_below) - math.log(v_above)))


def _area_from_45(node_nm: int) -> float:
    if node_nm in AREA_FACTOR_TABLE:
        return AREA_FACTOR_TABLE[45][STILLMAKER_NODES_NM.index(node_nm)]
    above, below = _bracket(node_nm)
    return _loglog(node_nm, above, below, _area_from_45(above), _area_from_45(below))


def area_factor(from_nm: int, to_nm: int) -> float:
    """Multiply an area at ``from_nm`` by this to get the area at ``to_nm``."""
    if from_nm == to_nm:
        return 1.0
    if from_nm in AREA_FACTOR_TABLE and to_nm in AREA_FACTOR_TABLE:
        return float(AREA_FACTOR_TABLE[from_nm][STILLMAKER_NODES_NM.index(to_nm)])
    return _area_from_45(to_nm) / _area_from_45(from_nm)


def node_energy(node_nm: int, vdd_v: float = DEFAULT_VDD_V) -> float:
    """Relative switching energy a*Vdd^2 + b*Vdd + c of a node (log-log interpolated if unlisted)."""
    if node_nm in ENERGY_COEFFS:
        a, b, c = ENERGY_COEFFS[node_nm]
        value = a * vdd_v * vdd_v + b * vdd_v + c
        if value <= 0:
            raise UsageError(f"Vdd {vdd_v} V is outside the energy fit of the {node_nm} nm node")
        return value
    above, below = _bracket(node_nm)
    return _loglog(node_nm, above, below, node_energy(above, vdd_v), node_energy(below, vdd_v))


def energy_factor(from_nm: int, to_nm: int, vdd_v: float = DEFAULT_VDD_V) -> float:
    """Multiply an energy (or, at a fixed clock, a power) at ``from_nm`` by this for ``to_nm``."""
    if from_nm == to_nm:
        return 1.0
    return node_energy(to_nm, vdd_v) / node_energy(from_nm, vdd_v)
