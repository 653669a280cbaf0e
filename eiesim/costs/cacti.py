"""SRAM area, access energy and leakage from the packaged CACTI grid.

The grid (eiesim/data/cacti_sram_grid.csv, provenance in CACTI_PROVENANCE.md) is
CACTI 7 output for single-port, single-bank SRAMs at 45 nm and 28 nm, 1 KB..512 KB,
16..512 bits wide. Any size and width is estimated by **log-log interpolation**:
ln(value) is piecewise linear in ln(size) and in ln(width) (interpolated along
size first, then along width), so grid points are reproduced exactly.

Outside the grid the edge segment is extended with its log-log slope **clamped
to [0, 1]** (a quantity never shrinks with a larger memory and never grows faster
than linearly with size or width), and the estimate carries ``extrapolated=True``
so reports can say so. Nodes other than 45 and 28 nm start from the grid node
nearest on a log scale (28 nm for 32 nm and below, 45 nm for 65 nm and above) and are scaled with
Stillmaker & Baas (eiesim.costs.scaling): areas by the area factor, read/write
energy and leakage power by the energy factor (the reference gives no separate
leakage scaling; this is an approximation).
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eiesim.costs.scaling import area_factor, energy_factor
from eiesim.errors import UsageError

GRID_RESOURCE = "cacti_sram_grid.csv"
#: The packaged grid (package data, see pyproject.toml).
GRID_PATH = Path(__file__).resolve().parent.parent / "data" / GRID_RESOURCE
_COLUMNS = ("tech_nm", "size_bytes", "width_bits", "n_banks", "area_um2", "read_pj", "write_pj", "leak_uw", "access_ns")
#: Quantities interpolated (grid column names).
QUANTITIES = ("area_um2", "read_pj", "write_pj", "leak_uw", "access_ns")
#: Log-log slope bounds used when extrapolating beyond the grid.
EXTRAPOLATION_SLOPE_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class SramEstimate:
    """One SRAM macro (one bank, one port): area, energy per access, leakage."""

    size_bytes: int
    width_bits: int
    tech_nm: int
    area_um2: float
    read_pj: float
    write_pj: float
    leak_mw: float
    access_ns: float
    extrapolated: bool
    source: str = "cacti-grid"


@dataclass(frozen=True)
class SramGrid:
    """The CACTI grid of one technology node: values[quantity][i_size, i_width]."""

    tech_nm: int
    sizes_bytes: tuple[int, ...]
    widths_bits: tuple[int, ...]
    values: dict[str, np.ndarray]


def _read_rows(text: str, source: str) -> list[dict[str, float]]:
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise UsageError(f"CACTI grid columns are {reader.fieldnames}, expected {list(_COLUMNS)}", source)
    rows = []
    for line_no, row in enumerate(reader, start=2):
        try:
            parsed = {k: float(row[k]) for k in _COLUMNS}
        except (TypeError, ValueError):
            raise UsageError(f"line {line_no}: non-numeric value in {row}", source) from None
        if any(not math.isfinite(v) or v <= 0 for v in parsed.values()):
            raise UsageError(f"line {line_no}: values must be positive and finite", source)
        rows.append(parsed)
    return rows


@functools.lru_cache(maxsize=None)
def load_grids() -> dict[int, SramGrid]:
    """Parse the packaged grid into one complete size x width table per node."""
    path = GRID_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the packaged CACTI grid ({exc.__class__.__name__}: {exc})", path) from None
    source = str(path)
    rows = _read_rows(text, source)
    grids: dict[int, SramGrid] = {}
    for node in sorted({int(r["tech_nm"]) for r in rows}):
        mine = [r for r in rows if int(r["tech_nm"]) == node]
        sizes = tuple(sorted({int(r["size_bytes"]) for r in mine}))
        widths = tuple(sorted({int(r["width_bits"]) for r in mine}))
        if len(mine) != len(sizes) * len(widths):
            raise UsageError(f"{node} nm grid is not a complete size x width table", source)
        values = {q: np.empty((len(sizes), len(widths))) for q in QUANTITIES}
        for r in mine:
            i, j = sizes.index(int(r["size_bytes"])), widths.index(int(r["width_bits"]))
            for q in QUANTITIES:
                values[q][i, j] = r[q]
        grids[node] = SramGrid(node, sizes, widths, values)
    return grids


def _interp_loglog(x: float, xs: np.ndarray, ys: np.ndarray) -> tuple[float, bool]:
    """ln y piecewise linear in ln x; clamped-slope extension outside [xs[0], xs[-1]]."""
    lx, lxs, lys = math.log(x), np.log(xs), np.log(ys)
    if lxs[0] <= lx <= lxs[-1]:
        return float(math.exp(np.interp(lx, lxs, lys))), False
    lo, hi = EXTRAPOLATION_SLOPE_RANGE
    if lx < lxs[0]:
        slope = min(max((lys[1] - lys[0]) / (lxs[1] - lxs[0]), lo), hi)
        return float(math.exp(lys[0] + slope * (lx - lxs[0]))), True
    slope = min(max((lys[-1] - lys[-2]) / (lxs[-1] - lxs[-2]), lo), hi)
    return float(math.exp(lys[-1] + slope * (lx - lxs[-1]))), True


def sram_estimate(size_bytes: int, width_bits: int, tech_nm: int = 45) -> SramEstimate:
    """Area (um^2), read/write energy (pJ per access), leakage (mW) of one SRAM macro."""
    if int(size_bytes) <= 0 or int(width_bits) <= 0:
        raise UsageError(f"SRAM size ({size_bytes} B) and width ({width_bits} bit) must be positive")
    return _interpolated(size_bytes, width_bits, tech_nm)


@functools.lru_cache(maxsize=1024, typed=True)
def _interpolated(size_bytes: int, width_bits: int, tech_nm: int) -> SramEstimate:
    """``sram_estimate``'s interpolation: a pure function of its arguments and the bundled grid
    (``load_grids``, read once), so each macro is interpolated once per process (a run prices
    the same three macros for every layer's report, and a sweep for every point)."""
    grids = load_grids()
    base = min(grids, key=lambda n: abs(math.log(n / tech_nm)))
    grid = grids[base]
    sizes = np.asarray(grid.sizes_bytes, dtype=float)
    widths = np.asarray(grid.widths_bits, dtype=float)
    out: dict[str, float] = {}
    extrapolated = False
    for q in QUANTITIES:
        along_size = []
        for j in range(len(widths)):
            v, e = _interp_loglog(float(size_bytes), sizes, grid.values[q][:, j])
            along_size.append(v)
            extrapolated |= e
        v, e = _interp_loglog(float(width_bits), widths, np.asarray(along_size))
        extrapolated |= e
        out[q] = v
    fa, fe = area_factor(base, tech_nm), energy_factor(base, tech_nm)
    return SramEstimate(
        size_bytes=int(size_bytes), width_bits=int(width_bits), tech_nm=int(tech_nm),
        area_um2=out["area_um2"] * fa, read_pj=out["read_pj"] * fe, write_pj=out["write_pj"] * fe,
        leak_mw=out["leak_uw"] * 1e-3 * fe, access_ns=out["access_ns"], extrapolated=extrapolated,
        source=f"cacti-grid {base} nm" + ("" if base == tech_nm else f" scaled to {tech_nm} nm"),
    )
