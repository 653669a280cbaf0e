"""Work a warm simulation or a sweep no longer repeats (issue 27): validated configs, priced chips,
the sweep's order and the work its parent shares with its workers.

Each memo must give what the plain computation gives: the expectations are configs refused by
the validators for values written here, prices computed afresh for another chip or another
calibration, and sweep tables equal to a sweep run point by point in grid order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eiesim.config.arch import ArchConfig, checked_arch, load_arch
from eiesim.costs import default as cost_default
from eiesim.costs import evaluate
from eiesim.costs.cacti import sram_estimate
from eiesim.errors import ArchError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload
from eiesim.run.content_cache import PLANS, REFERENCES, clear_caches
from eiesim.run.simulate import share_network_work, simulate
from eiesim.sweeps import points as points_mod
from eiesim.sweeps.points import heaviest_first
from eiesim.sweeps.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


# -- validated configs ---------------------------------------------------------------------------

def test_a_value_set_past_validation_is_refused_after_the_same_values_passed():
    arch = load_arch(None).derive(num_pes=1)
    checked_arch(arch)  # 1 PE validated: remembered
    bypassed = arch.model_copy()
    object.__setattr__(bypassed, "num_pes", True)  # True == 1 and hashes alike: the memo must tell them apart
    with pytest.raises(ArchError, match="num_pes must be a number, got true"):
        checked_arch(bypassed)
    object.__setattr__(bypassed, "num_pes", 0)
    with pytest.raises(ArchError, match="num_pes"):
        checked_arch(bypassed)


def test_a_returned_config_changed_afterwards_does_not_leak_into_the_next_check():
    arch = load_arch(None).derive(fifo_depth=5)
    first = checked_arch(arch)
    object.__setattr__(first, "fifo_depth", -3)  # past the frozen guard, on the value the memo handed out
    again = checked_arch(arch)
    assert again.fifo_depth == 5 and again.to_dict() == arch.to_dict()


def test_unhashable_values_set_past_validation_still_get_the_validators():
    with pytest.raises(ArchError):
        checked_arch(ArchConfig.model_construct(spmat_sram={"width_bits": 4}))


def test_model_copy_with_an_update_is_validated_each_time():
    base = load_arch(None)
    assert base.model_copy(update={"num_pes": 8}).num_pes == 8
    for _ in range(2):  # refused again after a valid copy of the same config
        with pytest.raises(ArchError, match="fifo_depth"):
            base.model_copy(update={"fifo_depth": -3})


# -- priced chips --------------------------------------------------------------------------------

def _layers() -> tuple[ArchConfig, list[dict]]:
    arch = load_arch(TINY)
    run = simulate(arch, eie_fc_layer("fc", 64, 32, 0.3, 0.5, 4, 0), check=False)
    return run.arch, [s.to_dict() for s in run.layers]


def test_another_chip_is_priced_afresh_not_served_the_first_price():
    arch, layers = _layers()
    first = evaluate(arch, layers).to_dict()
    other = arch.derive(tech_nm=28)
    got = evaluate(other, layers).to_dict()
    plain = cost_default.DefaultCostModel(sram=lambda size, width, tech: sram_estimate(size, width, tech))
    expected = evaluate(other, layers, model=plain).to_dict()  # a model whose pricing is never kept
    assert got == expected and got["area"]["chip_mm2"] != first["area"]["chip_mm2"]


def test_another_clock_on_the_same_priced_chip_gets_its_own_reference_power():
    """A model may hand out one ComponentCosts object for chips that differ in clock only; the reference
    power (and the paper-method energy priced with it) still follows the clock: the plain formula's."""
    from eiesim.costs.pricing import reference_chip_power_mw

    arch, layers = _layers()

    class OnePricing:  # prices the first chip it is asked about, then returns that same object
        name = "one pricing"
        costs = None

        def component_costs(self, chip):  # noqa: ANN001, ANN202
            self.costs = self.costs or cost_default.DefaultCostModel().component_costs(chip)
            return self.costs

    model = OnePricing()
    evaluate(arch, layers, model=model)
    faster = arch.derive(clock_mhz=arch.clock_mhz * 2)
    got = evaluate(faster, layers, model=model)
    assert got.costs is model.costs
    assert got.reference_chip_power_mw == reference_chip_power_mw(model.costs, faster)
    assert got.reference_chip_power_mw != reference_chip_power_mw(model.costs, arch)


def test_a_refitted_calibration_prices_afresh(monkeypatch, request):
    arch, layers = _layers()
    request.addfinalizer(cost_default.fit_calibration.cache_clear)
    before = evaluate(arch, layers).to_dict()["energy"]["on_chip_pj"]
    monkeypatch.setattr(cost_default, "E_PER_GE_PJ", cost_default.E_PER_GE_PJ * 10)
    cost_default.fit_calibration.cache_clear()
    after = evaluate(arch, layers).to_dict()["energy"]["on_chip_pj"]
    assert after != before


def test_a_custom_sram_source_is_asked_on_every_pricing():
    arch, layers = _layers()
    calls = []

    def counting(size, width, tech):
        calls.append((size, width, tech))
        return sram_estimate(size, width, tech)

    model = cost_default.DefaultCostModel(sram=counting)
    evaluate(arch, layers, model=model)
    once = len(calls)
    evaluate(arch, layers, model=model)
    assert once > 0 and len(calls) > once  # the second pricing asked the source again


# -- sweeps --------------------------------------------------------------------------------------

def test_heaviest_first_orders_by_work_descending_keeping_ties_in_grid_order():
    assert heaviest_first([0, 1, 2, 3, 4], [1, 64, 4, 64, 16]) == [1, 3, 4, 2, 0]
    assert heaviest_first([2, 4], [1, 64, 4, 64, 16]) == [4, 2]
    assert heaviest_first([2, 4], {2: 5.0, 4: 1.0}) == [2, 4]  # work of the points to run only


def test_estimated_point_work_counts_activations_and_active_pes_by_hand():
    """An fc layer of 10 rows and 7 columns on 4 PEs with 2 registers each (row blocks of 8 rows: 8, then 2
    rows), and a 3x3 conv of 4 output channels, 2 input channels, padding 1 on a 5x5 map (25 pixels,
    18 columns, one block of 4 rows): every column of every block of every pixel broadcast once."""
    from eiesim.network.workload import Workload, layer_from_dense

    act, pe = points_mod.NS_PER_ACTIVATION, points_mod.NS_PER_ACTIVE_PE
    cb = np.array([0.5, 1.0], np.float32)
    fc = layer_from_dense("fc", np.ones((10, 7), np.float32), codebook=cb, kind="fc")
    conv = layer_from_dense("conv", np.ones((4, 2, 3, 3), np.float32), codebook=cb, kind="conv", padding=(1, 1))
    arch = load_arch(None, {"num_pes": 4, "act_regs_per_pe": 2})
    fc_only = Workload("fc", "test", (7,), None, [fc], None)
    assert points_mod.estimated_point_work(arch, fc_only) == pytest.approx(7 * (act + 4 * pe) + 7 * (act + 2 * pe))
    conv_only = Workload("conv", "test", (2, 5, 5), None, [conv], None)
    assert points_mod.estimated_point_work(arch, conv_only) == pytest.approx(25 * 18 * (act + 4 * pe))
    # one PE: ten blocks of one row each for the fc layer (every column broadcast ten times)
    one = load_arch(None, {"num_pes": 1, "act_regs_per_pe": 1})
    assert points_mod.estimated_point_work(one, fc_only) == pytest.approx(10 * 7 * (act + pe))


@pytest.fixture(scope="module")
def fc_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.2, 0.4, bits=4, seed=3), path)
    return path


def test_sweep_runs_heaviest_points_first_and_tables_stay_in_grid_order(fc_path, tmp_path, monkeypatch):
    ran = []
    real = points_mod.evaluate_point

    def recording(arch, workload, network_input):
        ran.append(arch.num_pes)
        return real(arch, workload, network_input)

    monkeypatch.setattr(points_mod, "evaluate_point", recording)
    result = sweep(TINY, fc_path, ["num_pes=1,4,2"], tmp_path / "s", workers=1)
    # 256 rows with 4 registers per PE: 64 row blocks on 1 PE, 32 on 2, 16 on 4, each broadcasting all
    # 128 columns: fewer PEs, more work (estimated_point_work)
    assert ran == [1, 2, 4]
    assert [row["num_pes"] for row in result.rows] == [1, 4, 2]
    header, *rows = (tmp_path / "s" / "results.csv").read_text().splitlines()
    assert [row.split(",")[header.split(",").index("num_pes")] for row in rows] == ["1", "4", "2"]


def test_shared_work_is_what_simulate_computes_and_is_found_by_it():
    wl = eie_fc_layer("fc", 96, 40, 0.3, 0.5, 4, 1)
    arch = load_arch(TINY)
    clear_caches()
    plain = simulate(arch, wl).to_dict()  # computes its plan and reference itself
    clear_caches()
    share_network_work(wl)
    assert (len(PLANS), len(REFERENCES)) == (1, 1)
    misses = PLANS.misses + REFERENCES.misses
    shared = simulate(arch, wl).to_dict()
    assert PLANS.misses + REFERENCES.misses == misses  # both found, not computed again
    assert shared == plain
