"""The optional hwcomponents cost backend (eiesim/costs/hwcomponents_backend.py).

hwcomponents / hwcomponents-cacti need Python >= 3.12, so most tests here run the adapter
against ``_FakeSRAM`` / ``_FakeActionCost`` below. They mirror the public API of
**hwcomponents 1.0.114 and hwcomponents-cacti 1.0.40** as read from those wheels' sources:

* ``hwcomponents_cacti.SRAM.__init__(self, tech_node, width=None, depth=None, size=None,
  n_rw_ports=1, n_banks=1)``; ``tech_node`` in metres (stored as ``float(tech_node) * 1e9``),
  ``size`` in bits; ``_Memory.__init__`` ends with ``assert math.isclose(size, depth * width)``,
  which raises TypeError when ``size`` is omitted.
* ``ComponentModel.area`` (property, m^2) and ``ComponentModel.leak_power`` (property, W).
* ``SRAM.read(self)`` / ``SRAM.write(self)`` (``@action(bits_per_action="width")``, so they also
  accept ``bits_per_action=``) returning ``hwcomponents.ActionCost(energy, latency, throughput)``:
  J per access, s, accesses/s.

The fake has only those names (not the package's internals such as ``read_energy`` or
``access_time``), so the tests fail if the adapter calls anything else. When the real
packages are importable, ``test_fake_matches_the_real_signatures`` compares the two and
``test_live_cacti_matches_the_packaged_grid`` runs CACTI; both are skipped otherwise.
"""

from __future__ import annotations

import csv
import inspect
import math
import sys
import types
from pathlib import Path
from typing import ClassVar

import pytest

from eiesim.config.arch import ArchConfig
from eiesim.costs import get_cost_model
from eiesim.costs.default import fit_calibration
from eiesim.costs.hwcomponents_backend import (
    HwComponentsCostModel,
    hwcomponents_sram,
    tech_node_m,
)
from eiesim.errors import EiesimError

GRID = Path(__file__).resolve().parents[1] / "eiesim" / "data" / "cacti_sram_grid.csv"


class _FakeActionCost:
    """hwcomponents.ActionCost 1.0.114: ``ActionCost(energy, latency, throughput)``."""

    def __init__(self, energy: float, latency: float, throughput: float):
        self.energy = energy
        self.latency = latency
        self.throughput = throughput


class _FakeSRAM:
    """hwcomponents_cacti.SRAM 1.0.40 with made-up, hand-checkable figures in SI units.

    1 um^2 (1e-12 m^2) and 1 nW of leakage per bit; 0.1 pJ per bit read, 0.2 pJ per bit
    written; access time 1 ns x (node / 45 nm).
    """

    calls: ClassVar[list[dict]] = []

    def __init__(self, tech_node, width=None, depth=None, size=None, n_rw_ports=1, n_banks=1):
        _FakeSRAM.calls.append({"tech_node": tech_node, "width": width, "depth": depth, "size": size,
                                "n_rw_ports": n_rw_ports, "n_banks": n_banks})
        if width is None:
            raise NotImplementedError("the adapter always gives width")
        if depth is None:
            depth = size / width
        assert math.isclose(size, depth * width, rel_tol=1e-6)  # TypeError when size is None, as in 1.0.40
        self.width, self.depth, self.size = width, depth, depth * width
        self.n_rw_ports, self.n_banks = n_rw_ports, n_banks
        self.tech_node = float(tech_node) * 1e9  # the package's "nm -> m" line, which converts m -> nm

    @property
    def area(self) -> float:
        return self.size * 1e-12

    @property
    def leak_power(self) -> float:
        return self.size * 1e-9

    def read(self, bits_per_action=None) -> _FakeActionCost:
        return _FakeActionCost(energy=self.width * 0.1e-12, latency=1e-9 * self.tech_node / 45, throughput=1e9)

    def write(self, bits_per_action=None) -> _FakeActionCost:
        return _FakeActionCost(energy=self.width * 0.2e-12, latency=1e-9 * self.tech_node / 45, throughput=1e9)


def _install(monkeypatch, sram_class) -> None:
    hwc = types.ModuleType("hwcomponents")
    hwc.ActionCost = _FakeActionCost
    cacti = types.ModuleType("hwcomponents_cacti")
    cacti.SRAM = sram_class
    monkeypatch.setitem(sys.modules, "hwcomponents", hwc)
    monkeypatch.setitem(sys.modules, "hwcomponents_cacti", cacti)


@pytest.fixture(autouse=True)
def _fresh_caches():
    _FakeSRAM.calls = []
    hwcomponents_sram.cache_clear()
    fit_calibration.cache_clear()
    yield
    hwcomponents_sram.cache_clear()
    fit_calibration.cache_clear()


@pytest.fixture
def fake(monkeypatch):
    _install(monkeypatch, _FakeSRAM)
    return _FakeSRAM


def test_converts_si_units_to_um2_pj_mw_ns(fake):
    est = hwcomponents_sram(1024, 32, 45)  # 8192 bits
    assert est.area_um2 == pytest.approx(8192.0)
    assert est.read_pj == pytest.approx(3.2)
    assert est.write_pj == pytest.approx(6.4)
    assert est.leak_mw == pytest.approx(0.008192)
    assert est.access_ns == pytest.approx(1.0)
    assert est.source == "hwcomponents-cacti (live)" and not est.extrapolated


def test_passes_metres_bits_and_one_port_one_bank(fake):
    hwcomponents_sram(1024, 32, 45)
    (call,) = fake.calls
    assert call["tech_node"] * 1e9 == 45.0  # exactly: 45e-9 * 1e9 would be 45.00000000000001
    assert (call["width"], call["depth"], call["size"]) == (32, 256, 8192)
    assert (call["n_rw_ports"], call["n_banks"]) == (1, 1)


def test_size_not_a_whole_number_of_rows_is_rounded_up(fake):
    hwcomponents_sram(5000, 24, 28)  # 40000 bits = 1666.67 rows of 24 bits
    (call,) = fake.calls
    assert (call["width"], call["depth"], call["size"]) == (24, 1667, 40008)
    assert call["tech_node"] * 1e9 == 28.0


@pytest.mark.parametrize("nm", [7, 16, 22, 28, 32, 45, 65, 90, 130, 180])
def test_tech_node_round_trips_through_the_packages_conversion(nm):
    assert tech_node_m(nm) * 1e9 == nm
    assert tech_node_m(nm) == pytest.approx(nm * 1e-9)


def test_the_fake_rejects_width_and_depth_without_size_like_1_0_40():
    with pytest.raises(TypeError):
        _FakeSRAM(tech_node=45e-9, width=32, depth=256)


def test_cost_model_prices_srams_through_the_package(fake):
    model = get_cost_model("hwcomponents")
    assert isinstance(model, HwComponentsCostModel)
    costs = model.component_costs(ArchConfig())
    assert costs["ptr_sram"].area_um2 > 0
    seen = {(c["width"], c["size"], round(c["tech_node"] * 1e9)) for c in fake.calls}
    # the published 64-PE design: pointer SRAM of 32 KB in 2 banks of 16-bit pointers, at 45 nm
    assert (16, 16384 * 8, 45) in seen


def test_pixel_groups_price_the_finders_and_ccus_as_the_default_model_does(fake):
    """The backend reuses the default's LNZD tree and CCU: with 4 groups of 16 PEs, 21 units, 4 CCUs."""
    arch = ArchConfig().derive({"mapping.pixel_groups": 4})
    live = HwComponentsCostModel().component_costs(arch)
    assert (live["lnzd"].instances, live["ccu"].instances) == (21, 4)  # max(16 + 4 + 1, 4 x (4 + 1)); one per group
    default = get_cost_model("default").component_costs(arch)
    for name in ("lnzd", "ccu"):
        assert live[name].area_um2 == default[name].area_um2
        assert live[name].energy_pj_at(4) == default[name].energy_pj_at(4) != live[name].energy_pj
    assert "hardware for 4 groups" in live.provenance


def test_older_guess_of_the_api_is_a_clean_error(monkeypatch):
    class NoLeakPower(_FakeSRAM):  # e.g. a release that renamed leak_power
        leak_power = property(lambda self: (_ for _ in ()).throw(AttributeError("no leak_power")))

    _install(monkeypatch, NoLeakPower)
    with pytest.raises(EiesimError, match="API differs.*hwcomponents-cacti 1.0.40"):
        hwcomponents_sram(1024, 32, 45)


def test_cacti_failure_is_a_clean_error(monkeypatch):
    class Failing(_FakeSRAM):
        def __init__(self, *args, **kwargs):
            raise Exception("CACTI failed with exit code 1")  # noqa: TRY002 - as hwcomponents-cacti 1.0.40 does

    _install(monkeypatch, Failing)
    with pytest.raises(EiesimError, match="could not model a 1024 B x 32 bit SRAM at 45 nm.*exit code 1"):
        hwcomponents_sram(1024, 32, 45)


def test_non_finite_figures_are_rejected(monkeypatch):
    class Nan(_FakeSRAM):
        area = property(lambda self: float("nan"))

    _install(monkeypatch, Nan)
    with pytest.raises(EiesimError, match="area = nan"):
        hwcomponents_sram(1024, 32, 45)


def test_missing_packages_name_the_extra_and_python_version(monkeypatch):
    monkeypatch.setitem(sys.modules, "hwcomponents", None)  # makes ``import hwcomponents`` raise ImportError
    monkeypatch.setitem(sys.modules, "hwcomponents_cacti", None)
    with pytest.raises(EiesimError, match=r"pip install 'eiesim\[hwcomponents\]'") as info:
        get_cost_model("hwcomponents")
    assert "Python >= 3.12" in str(info.value) and "hwcomponents-cacti" in str(info.value)


def test_default_model_does_not_import_the_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "hwcomponents", None)
    monkeypatch.setitem(sys.modules, "hwcomponents_cacti", None)
    assert get_cost_model("default").component_costs(ArchConfig())["ptr_sram"].area_um2 > 0


def _real_packages():
    try:
        import hwcomponents
        import hwcomponents_cacti
    except (ImportError, SyntaxError):
        pytest.skip("the real hwcomponents / hwcomponents-cacti packages are not importable (need Python >= 3.12)")
    return hwcomponents, hwcomponents_cacti


def test_fake_matches_the_real_signatures():
    hwcomponents, hwcomponents_cacti = _real_packages()
    assert list(inspect.signature(hwcomponents_cacti.SRAM.__init__).parameters) == \
        list(inspect.signature(_FakeSRAM.__init__).parameters)
    assert list(inspect.signature(hwcomponents.ActionCost.__init__).parameters) == \
        list(inspect.signature(_FakeActionCost.__init__).parameters)
    assert isinstance(inspect.getattr_static(hwcomponents_cacti.SRAM, "area"), property)
    assert isinstance(inspect.getattr_static(hwcomponents_cacti.SRAM, "leak_power"), property)
    assert {"read", "write"} <= set(hwcomponents_cacti.SRAM.get_action_names())


def test_live_cacti_matches_the_packaged_grid():
    _real_packages()
    rows = {(int(r["tech_nm"]), int(r["size_bytes"]), int(r["width_bits"])): r for r in csv.DictReader(GRID.open())}
    ref = rows[(45, 65536, 64)]  # the grid was made with hwcomponents-cacti 1.0.40, SRAM(tech_node, width, size)
    est = hwcomponents_sram(65536, 64, 45)
    assert est.area_um2 == pytest.approx(float(ref["area_um2"]), rel=1e-3)
    assert est.read_pj == pytest.approx(float(ref["read_pj"]), rel=1e-3)
    assert est.write_pj == pytest.approx(float(ref["write_pj"]), rel=1e-3)
    assert est.leak_mw == pytest.approx(float(ref["leak_uw"]) / 1e3, rel=1e-3)
    assert est.access_ns == pytest.approx(float(ref["access_ns"]), rel=1e-3)
