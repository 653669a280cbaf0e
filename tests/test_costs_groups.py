"""Pixel groups in the cost model: G finders and CCUs (docs/cost-model.md, "Pixel groups").

Expected values are derived by hand from the paper's numbers (eiesim/costs/published.py,
typed in again below where they are the paper's) and the stated formulas:

* one LNZD unit: 0.023 mW at the Alex-7 reference activity (1,447 LNZD ops in 10,294 compute
  cycles at 800 MHz), i.e. 0.023 mW x 10,294 / 800 MHz / 1,447 = 0.2045 pJ per unit per
  broadcast; 189 um^2;
* one CCU: assumed one LNZD unit, 0.023 mW / 800 MHz = 0.02875 pJ per cycle, 189 um^2;
* LNZD units of a quadtree over n PEs: ceil(n/4) + ceil(n/16) + ... down to 1:
  64 -> 16 + 4 + 1 = 21, 32 -> 8 + 2 + 1 = 11, 16 -> 4 + 1 = 5, 8 -> 2 + 1 = 3, 4, 2, 1 -> 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from eiesim.config.arch import ArchConfig
from eiesim.costs import evaluate, get_cost_model, group_lnzd_units, hardware_pixel_groups, lnzd_units
from eiesim.errors import UsageError
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.run.simulate import simulate
from eiesim.timing.contract import ACTION_NAMES

UNIT_UM2 = 189.0  # EIE Sec. IV: one LNZD unit
UNIT_MW = 0.023  # EIE Sec. IV: one LNZD unit
# The stored Alex-7 reference activity (eiesim's engine, held to today's engine by test_costs_pricing.py).
ALEX7_LNZD_OPS, ALEX7_CYCLES, CLOCK_MHZ = 1447, 10294, 800.0
UNIT_PJ = UNIT_MW * 1e-3 * (ALEX7_CYCLES / (CLOCK_MHZ * 1e6)) / ALEX7_LNZD_OPS * 1e12  # 0.2045 pJ
CCU_PJ_PER_CYCLE = UNIT_MW * 1e-3 / (CLOCK_MHZ * 1e6) * 1e12  # 0.02875 pJ

# N = 64: hand-counted quadtree units of one group's tree, and the chip's units max(21, G x that).
TREE_UNITS_64 = {1: 21, 2: 11, 4: 5, 8: 3, 16: 1, 32: 1, 64: 1}
CHIP_UNITS_64 = {1: 21, 2: 22, 4: 21, 8: 24, 16: 21, 32: 32, 64: 64}


def _layer(name: str, cycles: int, lnzd_ops: int, groups: int | None = None) -> dict:
    layer = {"name": name, "cycles": cycles, "time_us": cycles / CLOCK_MHZ,
             "actions": {a: (lnzd_ops if a == "lnzd_ops" else 0) for a in ACTION_NAMES}}
    if groups is not None:
        layer["mapping"] = {"pixel_groups": groups, "group_pes": 64 // groups}
    return layer


def _arch(groups: int | str = 1) -> ArchConfig:
    return ArchConfig().derive({"mapping.pixel_groups": groups})  # the published 64-PE design, 45 nm


def test_the_constants_derived_by_hand():
    assert UNIT_PJ == pytest.approx(0.20453, abs=1e-5)
    assert CCU_PJ_PER_CYCLE == pytest.approx(0.02875)


def test_quadtree_units_per_group_and_on_the_chip_for_64_pes():
    assert {g: lnzd_units(64 // g) for g in TREE_UNITS_64} == TREE_UNITS_64
    assert {g: group_lnzd_units(64, g) for g in CHIP_UNITS_64} == CHIP_UNITS_64


def test_four_groups_on_one_conv_layer():
    """64 PEs, G = 4: a broadcast passes a 16-PE tree (5 units), 4 CCUs are clocked; 21 units, 4 CCUs built."""
    rep = evaluate(_arch(4), [_layer("conv", cycles=1000, lnzd_ops=300, groups=4)]).to_dict()
    by = rep["layers"][0]["energy_by_component_pj"]
    assert by["lnzd"] == pytest.approx(300 * 5 * UNIT_PJ)
    assert by["ccu"] == pytest.approx(4 * CCU_PJ_PER_CYCLE * 1000)
    assert rep["area"]["chip_level_um2"] == pytest.approx({"lnzd": 21 * UNIT_UM2, "ccu": 4 * UNIT_UM2})
    assert "hardware for 4 groups" in rep["cost_model_provenance"]


def test_one_group_is_priced_as_before_pixel_groups():
    """G = 1 (said or not said): 21 units per broadcast, one CCU; the report has no word on groups."""
    hand = {"lnzd": 300 * 21 * UNIT_PJ, "ccu": CCU_PJ_PER_CYCLE * 1000}
    area = {"lnzd": 21 * UNIT_UM2, "ccu": UNIT_UM2}
    for layer in (_layer("fc", 1000, 300), _layer("fc", 1000, 300, groups=1)):
        rep = evaluate(ArchConfig(), [layer]).to_dict()
        by = rep["layers"][0]["energy_by_component_pj"]
        assert (by["lnzd"], by["ccu"]) == pytest.approx((hand["lnzd"], hand["ccu"]))
        assert rep["area"]["chip_level_um2"] == pytest.approx(area)
        assert "pixel groups" not in rep["cost_model_provenance"]


def test_groups_move_only_the_finder_and_the_ccu():
    one = evaluate(ArchConfig(), [dict(_layer("c", 1000, 300), actions={a: 100 for a in ACTION_NAMES})]).to_dict()
    four = evaluate(_arch(4), [dict(_layer("c", 1000, 300, 4), actions={a: 100 for a in ACTION_NAMES})]).to_dict()
    a, b = one["energy"]["by_component_pj"], four["energy"]["by_component_pj"]
    assert {k for k in a if a[k] != b[k]} == {"lnzd", "ccu"}
    assert one["area"]["pe_um2"] == four["area"]["pe_um2"]
    assert one["paper_method"]["power_mw"] == four["paper_method"]["power_mw"]  # Alex-7 is fc: one group


def test_auto_with_a_different_g_per_layer():
    """auto: fc (G = 1, no mapping given), G = 2 and G = 8; the chip carries 8 groups: max(21, 8 x 3) = 24 units."""
    layers = [_layer("fc", 500, 100), _layer("two", 700, 200, groups=2), _layer("eight", 900, 400, groups=8)]
    rep = evaluate(_arch("auto"), layers).to_dict()
    got = {layer["name"]: layer["energy_by_component_pj"] for layer in rep["layers"]}
    assert got["fc"]["lnzd"] == pytest.approx(100 * 21 * UNIT_PJ)
    assert got["fc"]["ccu"] == pytest.approx(500 * CCU_PJ_PER_CYCLE)
    assert got["two"]["lnzd"] == pytest.approx(200 * 11 * UNIT_PJ)
    assert got["two"]["ccu"] == pytest.approx(700 * 2 * CCU_PJ_PER_CYCLE)
    assert got["eight"]["lnzd"] == pytest.approx(400 * 3 * UNIT_PJ)
    assert got["eight"]["ccu"] == pytest.approx(900 * 8 * CCU_PJ_PER_CYCLE)
    assert rep["energy"]["by_component_pj"]["lnzd"] == pytest.approx((100 * 21 + 200 * 11 + 400 * 3) * UNIT_PJ)
    assert rep["area"]["chip_level_um2"] == pytest.approx({"lnzd": 24 * UNIT_UM2, "ccu": 8 * UNIT_UM2})


def test_auto_where_every_layer_keeps_one_group_builds_the_published_chip():
    rep = evaluate(_arch("auto"), [_layer("fc", 500, 100), _layer("conv", 500, 100, groups=1)]).to_dict()
    assert rep["area"]["chip_level_um2"] == pytest.approx({"lnzd": 21 * UNIT_UM2, "ccu": UNIT_UM2})


def test_a_configured_g_is_built_even_when_no_layer_uses_it():
    """mapping.pixel_groups: 32 on an fc-only run: 32 CCUs and max(21, 32 x 1) = 32 units, priced at G = 1."""
    rep = evaluate(_arch(32), [_layer("fc", 1000, 300)]).to_dict()
    assert rep["area"]["chip_level_um2"] == pytest.approx({"lnzd": 32 * UNIT_UM2, "ccu": 32 * UNIT_UM2})
    by = rep["layers"][0]["energy_by_component_pj"]
    assert (by["lnzd"], by["ccu"]) == pytest.approx((300 * 21 * UNIT_PJ, 1000 * CCU_PJ_PER_CYCLE))


def test_the_chip_area_carries_the_extra_ccus():
    one = evaluate(ArchConfig(), [_layer("c", 1000, 300)]).to_dict()["area"]["chip_mm2"]
    eight = evaluate(_arch(8), [_layer("c", 1000, 300, 8)]).to_dict()["area"]["chip_mm2"]
    assert eight - one == pytest.approx(((24 - 21) + (8 - 1)) * UNIT_UM2 * 1e-6)


def test_hardware_groups_without_a_run():
    assert hardware_pixel_groups(_arch(4)) == 4 and hardware_pixel_groups(_arch(4), [1, 1]) == 4
    assert hardware_pixel_groups(_arch("auto"), [1, 4, 2]) == 4
    assert hardware_pixel_groups(_arch("auto"), []) == 1
    assert hardware_pixel_groups(_arch("auto")) == 64  # every choice auto may make on 64 PEs
    costs = get_cost_model("default").component_costs(_arch("auto"))
    assert (costs["lnzd"].instances, costs["ccu"].instances) == (64, 64)


@pytest.mark.parametrize("bad", [3, 0, -4, 128, "2", 2.0, True, None])
def test_a_layer_with_impossible_pixel_groups_is_a_usage_error(bad):
    layer = _layer("conv", 1000, 300)
    layer["mapping"] = {"pixel_groups": bad}
    with pytest.raises(UsageError, match="'conv': mapping.pixel_groups must be a positive integer dividing"):
        evaluate(_arch("auto"), [layer])


def test_numpy_integers_are_accepted():
    rep = evaluate(_arch(4), [_layer("conv", 1000, 300, groups=np.int64(4))]).to_dict()
    assert rep["layers"][0]["energy_by_component_pj"]["lnzd"] == pytest.approx(300 * 5 * UNIT_PJ)


def _conv_workload() -> Workload:
    rng = np.random.default_rng(7)
    cb = np.linspace(0.1, 1.0, 16).astype(np.float32)
    codes = rng.integers(0, len(cb), size=(32, 8, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.4, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("c", w, codes_dense=codes, codebook=cb, padding=(1, 1))
    x = rng.integers(0, 3, size=(8, 6, 6)).astype(np.float32)
    return Workload("conv", "test", (8, 6, 6), None, [layer], x)


@pytest.mark.parametrize("groups", [1, 4, "auto"])
def test_a_simulated_conv_layer_is_priced_with_its_groups(groups):
    """End to end: the report's LNZD and CCU energies follow the engine's counts and the layer's own G."""
    result = simulate(_arch(groups), _conv_workload())
    stats, priced = result.layers[0], result.costs["layers"][0]
    g = stats.mapping["pixel_groups"]
    if groups != "auto":
        assert g == groups
    by = priced["energy_by_component_pj"]
    assert by["lnzd"] == pytest.approx(stats.actions["lnzd_ops"] * TREE_UNITS_64[g] * UNIT_PJ)
    assert by["ccu"] == pytest.approx(stats.cycles * g * CCU_PJ_PER_CYCLE)
    assert result.costs["area"]["chip_level_um2"] == pytest.approx(
        {"lnzd": CHIP_UNITS_64[g] * UNIT_UM2, "ccu": g * UNIT_UM2})


def test_the_table_of_the_docs_is_the_hand_derivation_and_the_model():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "cost-model.md").read_text()
    section = doc[doc.index("## Pixel groups"):doc.index("## Step 1")]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [[c.strip() for c in row] for row in rows if row[0].strip().isdigit()]
    assert [int(r[0]) for r in rows] == list(TREE_UNITS_64)
    model = get_cost_model("default")
    for g_text, n_text, tree, chip, lnzd_um2, ccus, ccu_um2, lnzd_pj, ccu_pj in rows:
        g = int(g_text)
        assert int(n_text) == 64 // g and int(tree) == TREE_UNITS_64[g]
        assert int(chip.split("=")[-1]) == CHIP_UNITS_64[g]
        assert float(lnzd_um2.replace(",", "")) == CHIP_UNITS_64[g] * UNIT_UM2
        assert int(ccus) == g and float(ccu_um2.replace(",", "")) == g * UNIT_UM2
        assert float(lnzd_pj) == pytest.approx(TREE_UNITS_64[g] * UNIT_PJ, abs=5e-4)
        assert float(ccu_pj) == pytest.approx(g * CCU_PJ_PER_CYCLE, rel=1e-12)
        costs = model.component_costs(_arch(g))
        assert costs["lnzd"].instances * costs["lnzd"].area_um2 == pytest.approx(CHIP_UNITS_64[g] * UNIT_UM2)
        assert costs["ccu"].instances * costs["ccu"].area_um2 == pytest.approx(g * UNIT_UM2)
        assert costs["lnzd"].energy_per_action_pj("lnzd_ops", g) == pytest.approx(TREE_UNITS_64[g] * UNIT_PJ)
        assert costs["ccu"].energy_per_action_pj("chip_cycles", g) == pytest.approx(g * CCU_PJ_PER_CYCLE)


# -- a missing price is an error ------------------------------------------------------------------

def test_a_missing_group_price_is_an_error_not_the_one_group_energy():
    """A component priced per G that lists no energy for a layer's G fails loudly; it used to be priced
    silently with its one-group energy. A component whose energy does not depend on G has no table."""
    from eiesim.costs import CHIP_CYCLES, ComponentCost
    from eiesim.errors import CostModelError

    one, two = {CHIP_CYCLES: {"logic": 1.0}}, {CHIP_CYCLES: {"logic": 2.0}}
    ccu = ComponentCost("ccu", "chip", 2, {"CCU": 1.0}, energy_pj=one, group_energy_pj={2: two})
    assert ccu.energy_pj_at(1) == one and ccu.energy_pj_at(2) == two
    with pytest.raises(CostModelError, match=r"'ccu' has no energy for a layer in 4 pixel groups \(it prices G = 1 and 2\)"):
        ccu.energy_pj_at(4)
    alu = ComponentCost("alu", "pe", 64, {"Arith": 1.0}, energy_pj={"macs": {"logic": 0.5}})
    assert alu.energy_pj_at(4) == alu.energy_pj  # the same in every G


def test_evaluate_refuses_a_cost_model_without_the_layers_group_price():
    import dataclasses

    from eiesim.errors import CostModelError

    class CcuForTwoGroupsOnly:
        """The default model, but its CCU energy is listed for G = 2 only (the chip is built for 4)."""

        name = "default-without-g4"

        def component_costs(self, arch):
            costs = get_cost_model("default").component_costs(arch)
            ccu = costs["ccu"]
            assert sorted(ccu.group_energy_pj) == [2, 4]  # the default model lists every G the chip can run
            components = {**costs.components, "ccu": dataclasses.replace(ccu, group_energy_pj={2: ccu.group_energy_pj[2]})}
            return dataclasses.replace(costs, components=components)

    with pytest.raises(CostModelError, match="'ccu'.*4 pixel groups"):
        evaluate(_arch(4), [_layer("conv", 1000, 100, groups=4)], model=CcuForTwoGroupsOnly())
    two = evaluate(_arch(4), [_layer("conv", 1000, 100, groups=2)], model=CcuForTwoGroupsOnly())
    assert two.layers[0].energy_by_component_pj["ccu"] == pytest.approx(2 * CCU_PJ_PER_CYCLE * 1000, rel=1e-3)
