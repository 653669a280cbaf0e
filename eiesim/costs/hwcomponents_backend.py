"""Optional cost model: SRAM estimates run live through ``hwcomponents`` / ``hwcomponents-cacti``.

Everything except the SRAM macros (logic, calibration to Table II, LNZD, CCU,
DRAM) is the default model's; the SRAM area, access energy, leakage and access
time come from CACTI run live by hwcomponents-cacti instead of the packaged grid
(which was made with hwcomponents-cacti 1.0.40 the same way, so the two agree at
grid points). The packages need Python >= 3.12 and are not a dependency of
eiesim: install them with ``pip install 'eiesim[hwcomponents]'`` and select
``cost_model: hwcomponents``.

The calls follow the API of hwcomponents 1.0.114 / hwcomponents-cacti 1.0.40:

* ``hwcomponents_cacti.SRAM(tech_node, width, depth, size, n_rw_ports, n_banks)``:
  ``tech_node`` in metres (the package multiplies it by 1e9 to get nm), ``width``
  in bits per access, ``depth`` in rows, ``size`` in **bits**. ``size`` must be
  given: 1.0.40 asserts ``size == depth * width`` and fails when it is omitted.
* ``.area`` (property, m^2) and ``.leak_power`` (property, W).
* ``.read()`` / ``.write()`` (``@action`` methods) return an
  ``hwcomponents.ActionCost`` with ``.energy`` (J per access), ``.latency``
  (s, CACTI's access time) and ``.throughput`` (accesses/s).

They are converted to eiesim's units: um^2, pJ, mW, ns. Missing packages, a
different API or a CACTI failure raise ``EiesimError``.
"""

from __future__ import annotations

import functools
import importlib
import math
from typing import Any

from eiesim.costs.cacti import SramEstimate
from eiesim.costs.default import DefaultCostModel
from eiesim.errors import EiesimError

#: The package versions whose API this adapter was written against.
TESTED_VERSIONS = "hwcomponents 1.0.114, hwcomponents-cacti 1.0.40"
INSTALL_HINT = ("the 'hwcomponents' cost model needs the hwcomponents and hwcomponents-cacti packages "
                "(Python >= 3.12): pip install 'eiesim[hwcomponents]'; or use cost_model: default")

_M2_TO_UM2 = 1e12
_J_TO_PJ = 1e12
_W_TO_MW = 1e3
_S_TO_NS = 1e9


def _import_sram_class() -> Any:
    """The ``SRAM`` class of hwcomponents-cacti, or an EiesimError naming what to install."""
    try:
        importlib.import_module("hwcomponents")
        module = importlib.import_module("hwcomponents_cacti")
    except ImportError as exc:
        raise EiesimError(f"{INSTALL_HINT} ({exc})") from None
    except SyntaxError as exc:  # the packages use Python 3.12 syntax; seen when put on an older path by hand
        raise EiesimError(f"{INSTALL_HINT} (the installed package does not parse on this Python: {exc.msg})") from None
    cls = getattr(module, "SRAM", None)
    if cls is None:
        raise EiesimError(f"hwcomponents_cacti has no SRAM class (adapter written for {TESTED_VERSIONS}); "
                          f"{INSTALL_HINT}")
    return cls


def tech_node_m(tech_nm: int) -> float:
    """``tech_nm`` in metres, chosen so that hwcomponents' ``tech_node * 1e9`` gives back exactly ``tech_nm``.

    ``45 * 1e-9 * 1e9`` is 45.00000000000001, which hwcomponents-cacti would treat as
    "between 45 and 65 nm" and run CACTI twice to interpolate; ``45 / 1e9`` (or a
    neighbouring float) round-trips. A few nodes (15, 30, 60, ...) have no float that
    round-trips; the nearest is returned (the interpolation weight is then ~1e-16).
    """
    target = float(tech_nm)
    x = target / 1e9
    for _ in range(8):
        if x * 1e9 == target:
            return x
        x = math.nextafter(x, math.inf if x * 1e9 < target else -math.inf)
    return target / 1e9


def _checked(value: Any, what: str, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EiesimError(f"hwcomponents-cacti gave a non-numeric {what} ({value!r}) for {where}") from None
    if not math.isfinite(number) or number < 0:
        raise EiesimError(f"hwcomponents-cacti gave {what} = {number} for {where}")
    return number


@functools.lru_cache(maxsize=256)
def hwcomponents_sram(size_bytes: int, width_bits: int, tech_nm: int) -> SramEstimate:
    """One single-port, single-bank SRAM of ``size_bytes`` x ``width_bits`` at ``tech_nm``, from live CACTI.

    The depth is ``ceil(size_bytes * 8 / width_bits)`` rows (a size that is not a whole
    number of rows is rounded up to one).
    """
    cls = _import_sram_class()
    size_bytes, width_bits, tech_nm = int(size_bytes), int(width_bits), int(tech_nm)
    if size_bytes <= 0 or width_bits <= 0 or tech_nm <= 0:
        raise EiesimError(f"SRAM size, width and node must be positive "
                          f"(got {size_bytes} B, {width_bits} bit, {tech_nm} nm)")
    depth = -(-size_bytes * 8 // width_bits)
    where = f"a {size_bytes} B x {width_bits} bit SRAM at {tech_nm} nm"
    api = f"hwcomponents-cacti's SRAM API differs from the one this adapter was written for ({TESTED_VERSIONS})"
    try:
        sram = cls(tech_node=tech_node_m(tech_nm), width=width_bits, depth=depth, size=depth * width_bits,
                   n_rw_ports=1, n_banks=1)
    except Exception as exc:  # noqa: BLE001 - third-party failure (CACTI run, bad input), reported to the user
        raise EiesimError(f"hwcomponents-cacti could not model {where} ({exc.__class__.__name__}: {exc})") from None
    try:
        read_action, write_action = sram.read, sram.write
        area_m2, leak_w = sram.area, sram.leak_power
    except AttributeError as exc:
        raise EiesimError(f"{api}: {exc}") from None
    try:
        read, write = read_action(), write_action()
    except Exception as exc:  # noqa: BLE001 - as above
        raise EiesimError(f"hwcomponents-cacti could not price accesses to {where} "
                          f"({exc.__class__.__name__}: {exc})") from None
    try:
        read_j, write_j, access_s = read.energy, write.energy, read.latency
    except AttributeError as exc:
        raise EiesimError(f"{api}: {exc}") from None
    return SramEstimate(
        size_bytes=size_bytes, width_bits=width_bits, tech_nm=tech_nm,
        area_um2=_checked(area_m2, "area", where) * _M2_TO_UM2,
        read_pj=_checked(read_j, "read energy", where) * _J_TO_PJ,
        write_pj=_checked(write_j, "write energy", where) * _J_TO_PJ,
        leak_mw=_checked(leak_w, "leakage power", where) * _W_TO_MW,
        access_ns=_checked(access_s, "access time", where) * _S_TO_NS,
        extrapolated=False, source="hwcomponents-cacti (live)",
    )


class HwComponentsCostModel(DefaultCostModel):
    """The default model with SRAMs from live CACTI (hwcomponents-cacti); calibrated the same way."""

    name = "hwcomponents"
    sram_source = "from CACTI run live through hwcomponents-cacti"

    def __init__(self) -> None:
        _import_sram_class()  # fail early with the install hint
        super().__init__(sram=hwcomponents_sram)
