"""The packaged CACTI grid and its log-log interpolation."""

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eiesim.costs.cacti import GRID_PATH, sram_estimate

SHARED_GRID = Path(__file__).resolve().parents[2] / "shared" / "data" / "cacti_sram_grid.csv"


def _rows():
    with open(GRID_PATH, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_packaged_grid_is_the_shared_cacti_output():
    if not SHARED_GRID.exists():
        pytest.skip("shared data directory absent")
    assert GRID_PATH.read_bytes() == SHARED_GRID.read_bytes()


def test_grid_points_are_hit_exactly():
    for row in _rows():
        est = sram_estimate(int(row["size_bytes"]), int(row["width_bits"]), int(row["tech_nm"]))
        assert est.area_um2 == pytest.approx(float(row["area_um2"]), rel=1e-12)
        assert est.read_pj == pytest.approx(float(row["read_pj"]), rel=1e-12)
        assert est.write_pj == pytest.approx(float(row["write_pj"]), rel=1e-12)
        assert est.leak_mw == pytest.approx(float(row["leak_uw"]) * 1e-3, rel=1e-12)
        assert not est.extrapolated


def test_published_spmat_macro_values():
    # 128 KB x 64 bit at 45 nm, read straight from the CACTI grid row
    est = sram_estimate(131072, 64, 45)
    assert est.area_um2 == pytest.approx(429589.0)
    assert est.read_pj == pytest.approx(32.2859)


def test_between_grid_points_is_between_neighbours():
    est = sram_estimate(3 * 16384, 64, 45)  # 48 KB, between 32 KB and 64 KB
    assert 94859.7 < est.area_um2 < 209046.0
    assert 17.0418 < est.read_pj < 25.8695
    assert not est.extrapolated


@settings(max_examples=40, deadline=None)
@given(st.integers(1024, 524288), st.integers(1024, 524288), st.sampled_from([16, 64, 512]))
def test_monotone_in_size(s1, s2, width):
    # the grid's area and read-energy columns at these widths are monotone in size (checked below)
    lo, hi = sorted((s1, s2))
    a, b = sram_estimate(lo, width, 45), sram_estimate(hi, width, 45)
    assert a.area_um2 <= b.area_um2 * (1 + 1e-12)
    assert a.read_pj <= b.read_pj * (1 + 1e-12)


def test_monotonicity_precondition_holds_in_the_grid():
    for width in ("16", "64", "512"):
        rows = sorted((r for r in _rows() if r["tech_nm"] == "45" and r["width_bits"] == width),
                      key=lambda r: int(r["size_bytes"]))
        for key in ("area_um2", "read_pj"):
            values = [float(r[key]) for r in rows]
            assert values == sorted(values)


def test_outside_the_grid_is_flagged_and_bounded():
    small = sram_estimate(256, 16, 45)
    big = sram_estimate(1 << 20, 64, 45)
    assert small.extrapolated and big.extrapolated
    assert small.area_um2 < 3610.0  # below the 1 KB point
    # at most linear growth beyond 512 KB: 2x the size => at most 2x the 512 KB area
    assert 1644630.0 < big.area_um2 <= 2 * 1644630.0 * (1 + 1e-9)


def test_other_nodes_scale_from_the_nearest_grid_node():
    est = sram_estimate(131072, 64, 32)
    assert "28 nm" in est.source
    assert est.area_um2 > sram_estimate(131072, 64, 28).area_um2
