"""The run report carries the cost model's energy, power and area (issue 4's report fields)."""

import math
import sys
from pathlib import Path

import pytest

from eiesim.config.arch import load_arch
from eiesim.render.run_files import report_dict
from eiesim.run.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "corpus"))
from make_corpus import base_workload  # noqa: E402


@pytest.fixture(scope="module")
def report():
    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")
    return report_dict(simulate(arch, base_workload()))


def test_required_fields_present(report):
    assert report["energy"]["total_pj"] > 0
    assert report["energy"]["by_component_pj"]
    assert report["power"]["per_pe_mw"] > 0 and report["power"]["chip_mw"] > 0
    assert report["area"]["pe_um2"] > 0 and report["area"]["pe_by_module_um2"] and report["area"]["chip_mm2"] > 0
    for layer in report["layers"]:
        assert layer["energy_pj"] > 0 and layer["energy_by_component_pj"]


def test_energy_adds_up(report):
    layers = report["layers"]
    assert math.isclose(sum(layer["energy_pj"] for layer in layers), report["energy"]["total_pj"], rel_tol=1e-9)
    for layer in layers:
        assert math.isclose(sum(layer["energy_by_component_pj"].values()), layer["energy_pj"], rel_tol=1e-9)
    e = report["energy"]
    assert math.isclose(e["on_chip_pj"] + e["dram_pj"], e["total_pj"], rel_tol=1e-9)


def test_chip_power_is_on_chip_energy_over_time(report):
    time_s = report["totals"]["time_us"] * 1e-6
    chip_mw = report["energy"]["on_chip_pj"] * 1e-12 / time_s * 1e3  # DRAM is off the chip
    assert math.isclose(report["power"]["chip_mw"], chip_mw, rel_tol=1e-9)
    assert report["power"]["per_pe_mw"] * report["arch"]["num_pes"] <= report["power"]["chip_mw"]


def test_chip_area_is_pes_plus_chip_level(report):
    area = report["area"]
    n = report["arch"]["num_pes"]
    chip_um2 = n * area["pe_um2"] + sum(area.get("chip_level_um2", {}).values())
    assert math.isclose(area["chip_mm2"], chip_um2 / 1e6, rel_tol=1e-9)


def test_dram_energy_prices_dram_bytes(report):
    bytes_moved = sum(layer["actions"]["dram_bytes_read"] + layer["actions"]["dram_bytes_written"]
                      for layer in report["layers"])
    # 20 pJ/bit: the EIE paper's 640 pJ per 32-bit DRAM read (Horowitz).
    assert math.isclose(report["energy"]["dram_pj"], bytes_moved * 8 * 20.0, rel_tol=1e-9)
