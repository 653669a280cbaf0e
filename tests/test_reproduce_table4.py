"""EIE Table IV against the model: what docs/validation.md states must stay true."""

from __future__ import annotations

import pytest

from eiesim.reproduce.table4 import TOLERANCE
from _support import table4_rows


@pytest.fixture(scope="module")
def rows():
    return {r["layer"]: r for r in table4_rows()}


def test_every_layer_computes_the_right_outputs(rows):
    assert all(r["functional"] == "pass" for r in rows.values())
    # VGG-6 needs 50 KB of pointers per PE, more than the published 32 KB: it streams.
    assert [name for name, r in rows.items() if not r["weights_resident"]] == ["VGG-6"]


def test_four_layers_land_within_ten_percent_of_the_published_time(rows):
    for name in ("Alex-6", "Alex-7", "VGG-7", "VGG-8"):
        assert abs(rows[name]["simulated_us"] / rows[name]["published_actual_us"] - 1) <= TOLERANCE, name


def test_timing_overhead_matches_the_paper_on_every_layer(rows):
    for name, r in rows.items():
        assert abs(r["model_overhead"] / r["published_overhead"] - 1) <= TOLERANCE, name


def test_the_two_misses_are_work_gaps_not_timing(rows):
    # docs/validation.md explains these two; if they ever pass, that page needs updating.
    for name in ("Alex-8", "VGG-6"):
        assert not rows[name]["pass"], name
        assert rows[name]["workload_ratio"] < 1 - TOLERANCE, name
    # Alex-8 and VGG-8 have the same work by their published densities.
    assert rows["Alex-8"]["model_theoretical_us"] == pytest.approx(rows["VGG-8"]["model_theoretical_us"], rel=0.02)
