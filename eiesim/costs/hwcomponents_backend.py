"""Optional cost model: SRAM estimates live from the ``hwcomponents`` / ``hwcomponents-cacti`` packages.

Everything except the SRAM macros (logic, calibration to Table II, LNZD, CCU,
DRAM) is the default model's; the SRAM area, access energy and leakage come from
CACTI run live by hwcomponents-cacti instead of the packaged grid (which was made
with the same package, so results agree at grid points). The packages need
Python >= 3.12 and are not a dependency of eiesim: install them with
``pip install hwcomponents hwcomponents-cacti`` and select ``cost_model: hwcomponents``.
The adapter accepts each figure as a method or an attribute, converts from SI
units (J, W, m^2, s; what hwcomponents reports) and raises
``EiesimError`` when the packages are missing or answer unexpectedly.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any

from eiesim.costs.cacti import SramEstimate
from eiesim.costs.default import DefaultCostModel
from eiesim.errors import EiesimError

INSTALL_HINT = ("the 'hwcomponents' cost model needs the hwcomponents and hwcomponents-cacti packages "
                "(Python >= 3.12): pip install hwcomponents hwcomponents-cacti; or use cost_model: default")


def _import_sram_class() -> Any:
    """The CACTI SRAM estimator class of hwcomponents-cacti, or an EiesimError naming what to install."""
    if sys.version_info < (3, 12):
        raise EiesimError(f"{INSTALL_HINT} (this is Python {sys.version_info.major}.{sys.version_info.minor})")
    try:
        importlib.import_module("hwcomponents")
        module = importlib.import_module("hwcomponents_cacti")
    except ImportError as exc:
        raise EiesimError(f"{INSTALL_HINT} ({exc})") from None
    cls = getattr(module, "SRAM", None)
    if cls is None:
        raise EiesimError(f"hwcomponents_cacti has no SRAM estimator; {INSTALL_HINT}")
    return cls


def _value(obj: Any, *names: str) -> float:
    for name in names:
        attr = getattr(obj, name, None)
        if attr is None:
            continue
        value = attr() if callable(attr) else attr
        if isinstance(value, (tuple, list)):  # some estimators return (value, latency)
            value = value[0]
        return float(value)
    raise EiesimError(f"hwcomponents SRAM estimate has none of {', '.join(names)}; {INSTALL_HINT}")


@functools.lru_cache(maxsize=256)
def hwcomponents_sram(size_bytes: int, width_bits: int, tech_nm: int) -> SramEstimate:
    """One single-port, single-bank SRAM estimated live by hwcomponents-cacti (SI units converted)."""
    cls = _import_sram_class()
    depth = max(1, (int(size_bytes) * 8) // int(width_bits))
    try:
        sram = cls(tech_node=tech_nm * 1e-9, width=int(width_bits), depth=depth, n_rw_ports=1, n_banks=1)
    except Exception as exc:  # noqa: BLE001 - third-party failure, reported as a user-facing error
        raise EiesimError(f"hwcomponents-cacti could not model a {size_bytes} B x {width_bits} bit SRAM at "
                          f"{tech_nm} nm ({exc.__class__.__name__}: {exc})") from None
    return SramEstimate(
        size_bytes=int(size_bytes), width_bits=int(width_bits), tech_nm=int(tech_nm),
        area_um2=_value(sram, "area", "get_area") * 1e12,
        read_pj=_value(sram, "read", "read_energy") * 1e12,
        write_pj=_value(sram, "write", "write_energy") * 1e12,
        leak_mw=_value(sram, "leak_power", "leak", "leakage_power") * 1e3,
        access_ns=_value(sram, "latency", "read_latency") * 1e9 if hasattr(sram, "latency") else float("nan"),
        extrapolated=False, source="hwcomponents-cacti (live)",
    )


class HwComponentsCostModel(DefaultCostModel):
    """The default model with SRAMs from live CACTI (hwcomponents-cacti); calibrated the same way."""

    name = "hwcomponents"

    def __init__(self) -> None:
        _import_sram_class()  # fail early with the install hint
        super().__init__(sram=hwcomponents_sram)
