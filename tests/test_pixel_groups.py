"""Pixel groups (mapping.pixel_groups) and the cycle breakdown: docs/timing-model.md section 2 ("Pixel groups"),
section 3 ("Where the cycles go") and the worked example of section 4.1, derived by hand there."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import eiesim
from eiesim.config.arch import load_arch
from eiesim.encoding import layout_layer
from eiesim.errors import ArchError
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.timing.contract import BREAKDOWN_PARTS, auto_candidates, group_pixels, layer_pixel_groups

from _support import SECTION_4_1_HAND, section_4_1_example


@pytest.mark.parametrize("engine", ["event", "fast"])
@pytest.mark.parametrize("groups", [1, 2])
def test_worked_example_of_section_4_1(engine, groups):
    arch, wl = section_4_1_example(groups)
    res = eiesim.simulate(arch, wl, engine=engine)
    stats, hand = res.layers[0], SECTION_4_1_HAND[groups]
    assert res.check["functional"] == "pass"
    assert (stats.cycles, stats.io_cycles, stats.load_cycles, stats.compute_cycles, stats.store_cycles) == (
        hand["cycles"], hand["io"], hand["load"], hand["compute"], hand["store"])
    assert stats.mapping["pixel_groups"] == groups and stats.mapping["group_cycles"] == hand["group_cycles"]
    per_pe = list(zip(stats.busy_cycles, stats.empty_cycles, stats.starved_cycles, stats.stalled_cycles,
                      stats.drain_cycles, strict=True))
    assert [tuple(int(v) for v in row) for row in per_pe] == hand["per_pe"]
    assert stats.breakdown_pe_cycles == hand["breakdown"]
    assert sum(stats.cycle_breakdown.values()) == pytest.approx(stats.cycles)
    assert stats.actions["lnzd_ops"] == 6 and stats.actions["entries_processed"] == 10
    assert stats.actions["fifo_pushes"] == stats.actions["ptr_reads"] == hand["fifo_pushes"]
    lay = layout_layer(wl.layers[0], arch.derive(num_pes=4 // groups, **{"mapping.pixel_groups": 1}))
    assert [int(e) for e in lay.entries_per_pe] == hand["entries_per_pe"]


def test_the_groups_outputs_equal_one_groups_and_the_reference():
    outs = {}
    for g in (1, 2, 4, "auto"):
        res = eiesim.simulate(*section_4_1_example(g))
        assert res.check["functional"] == "pass"
        outs[g] = res.outputs["c"]
    assert all(np.array_equal(outs[1], o) for o in outs.values())


def test_auto_takes_the_fastest_candidate_and_reports_them_all():
    auto = eiesim.simulate(*section_4_1_example("auto")).layers[0]
    fixed = {g: eiesim.simulate(*section_4_1_example(g)).layers[0] for g in (1, 2, 4)}
    tried = {int(g): c for g, c in auto.mapping["auto_cycles"].items()}
    assert tried == {g: s.mapping["group_cycles"][s.mapping["slowest_group"]] for g, s in fixed.items()}
    best = min(tried, key=lambda g: (tried[g], g))
    assert best == 2 and auto.mapping["pixel_groups"] == 2 and auto.cycles == fixed[2].cycles


def test_pixel_group_rules():
    assert auto_candidates(64) == (1, 2, 4, 8, 16, 32, 64) and auto_candidates(12) == (1, 2, 4)
    assert auto_candidates(1) == (1,)
    assert layer_pixel_groups("fc", 1, 8) == 1 and layer_pixel_groups("conv", 1, 8) == 1
    assert layer_pixel_groups("conv", 5, 8) == 8
    assert list(group_pixels(7, 3, 1)) == [1, 4]
    assert list(BREAKDOWN_PARTS) == ["ideal", "idle_pes", "imbalance", "finder", "drain", "load", "store", "io"]


def _conv_and_fc(groups, **over):
    rng = np.random.default_rng(3)
    conv_w = np.where(rng.random((8, 2, 3, 3)) < 0.4, 1.0, 0.0).astype(np.float32)
    fc_w = np.where(rng.random((5, 8 * 4 * 4)) < 0.3, 0.5, 0.0).astype(np.float32)
    conv = layer_from_dense("conv", conv_w, codebook=np.array([1.0]), padding=(1, 1), kind="conv")
    fc = layer_from_dense("fc", fc_w, codebook=np.array([0.5]), kind="fc", inputs=("conv",))
    x = np.where(rng.random((2, 4, 4)) < 0.6, rng.integers(1, 4, (2, 4, 4)), 0).astype(np.float32)
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 4, "act_regs_per_pe": 8, "mapping.pixel_groups": groups, **over})
    return arch, Workload("cf", "test", (2, 4, 4), None, [conv, fc], x)


def test_fc_layers_keep_one_group_and_engines_agree():
    for g in (2, 4):
        arch, wl = _conv_and_fc(g)
        fast = eiesim.simulate(arch, wl, engine="fast")
        event = eiesim.simulate(arch, wl, engine="event")
        assert fast.to_dict() == event.to_dict()
        assert [s.mapping["pixel_groups"] for s in fast.layers] == [g, 1]
        assert fast.check["functional"] == "pass"
        conv = fast.layers[0]
        # 16 pixels dealt in turn, each a round per row block and input batch of cap' = 8 N / G
        n_group = 4 // g
        cap = 8 * n_group
        assert conv.mapping["group_pes"] == n_group and len(conv.mapping["group_cycles"]) == g
        assert conv.rounds == 16 * -(-8 // cap) * -(-18 // cap)
        # each broadcast reaches the N / G PEs of its group
        assert conv.actions["fifo_pushes"] == conv.actions["lnzd_ops"] * n_group


def test_one_group_is_the_published_mapping():
    arch, wl = _conv_and_fc(1)
    default = load_arch(None, {"codebook_bits": 4, "num_pes": 4, "act_regs_per_pe": 8})
    assert eiesim.simulate(arch, wl).to_dict() == eiesim.simulate(default, wl).to_dict()


def test_replicas_that_do_not_fit_are_refused_naming_the_layer_and_bytes():
    # Spmat bytes per PE (encoding of the conv for 4 / G PEs, tiled G times; the fc layer on 4 PEs: 80, 48, 48, 48):
    # G = 1: conv 16 each -> PE 0 needs 96; G = 2: 32 -> 112; G = 4: 64 -> 144 > 128.
    def need(g, lay, arch):
        return layout_layer(lay, arch.derive(num_pes=4 // g, **{"mapping.pixel_groups": 1})).spmat_bytes_per_pe

    arch, wl = _conv_and_fc(4, **{"spmat_sram.size_bytes": 128})
    conv, fc = wl.layers
    assert [int(need(g, conv, arch).max()) for g in (1, 2, 4)] == [16, 32, 64]
    assert [int(v) for v in need(1, fc, arch)] == [80, 48, 48, 48]
    with pytest.raises(ArchError, match=r"pixel groups: at layer 'fc', PE 0 needs 144 bytes of Spmat SRAM .* has 128 "
                                        r"\(layers stored once per group: 'conv' x4: 64 B\)"):
        eiesim.simulate(arch, wl)
    # auto: G = 4 is the fastest here, but only G <= 2 fits 128 B
    auto_arch, _ = _conv_and_fc("auto", **{"spmat_sram.size_bytes": 128})
    res = eiesim.simulate(auto_arch, wl)
    tried = {int(g): c for g, c in res.layers[0].mapping["auto_cycles"].items()}
    assert min(tried, key=tried.get) == 4
    assert res.layers[0].mapping["pixel_groups"] == 2 and res.storage.spmat_bytes_max == 112
    unlimited_arch, _ = _conv_and_fc("auto", **{"spmat_sram.size_bytes": "auto"})
    assert eiesim.simulate(unlimited_arch, wl).layers[0].mapping["pixel_groups"] == 4


def test_cli_refuses_a_group_count_that_does_not_divide_the_pes(tmp_path):
    out = subprocess.run([sys.executable, "-m", "eiesim", "run", "--set", "mapping.pixel_groups=3"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "pixel_groups (3) must divide num_pes (64)" in out.stderr


def test_trace_refuses_pixel_groups_and_says_how_to_trace_one_group():
    from eiesim.errors import UsageError
    from eiesim.timing.trace import layer_trace

    arch, wl = section_4_1_example(2)
    with pytest.raises(UsageError, match=r"num_pes=<num_pes / G> and mapping.pixel_groups=1"):
        layer_trace(arch, wl, "c")


def test_sweeping_pixel_groups_from_the_cli(tmp_path):
    """A sweep over G: one row per G with the network's cycles; 'auto' resolves per layer, so no resolved column."""
    from eiesim.network.workload_file import save_workload

    arch, wl = _conv_and_fc(1)
    wl_path = save_workload(wl, tmp_path / "cf.npz")
    (tmp_path / "a.yaml").write_text("num_pes: 4\nact_regs_per_pe: 8\n")
    out = subprocess.run([sys.executable, "-m", "eiesim", "sweep", str(tmp_path / "a.yaml"), str(wl_path),
                          "--set", "mapping.pixel_groups=1,2,auto", "--out", str(tmp_path / "sw")],
                         capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    import json

    rows = [json.loads(line) for line in (tmp_path / "sw" / "results.jsonl").read_text().splitlines()]
    expect = {str(g): eiesim.simulate(_conv_and_fc(g)[0], wl).cycles for g in (1, 2, "auto")}
    assert {str(r["mapping.pixel_groups"]): r["cycles"] for r in rows} == expect
    assert not any(k.startswith("resolved.") for k in rows[0]) and "resolved:" not in out.stdout
    assert "Several images" not in out.stdout


def test_event_groups_run_concurrently_and_each_ends_at_the_sum_of_its_phases():
    from eiesim.encoding import encode_layer
    from eiesim.network.fixed_point import quantize
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.event import EventEngine

    arch, wl = section_4_1_example(2)
    group = arch.derive(num_pes=2, **{"mapping.pixel_groups": 1})
    params = TimingParams.from_arch(group)
    x_q, _ = quantize(wl.input, 8, 16)
    geom = layer_geometry(wl.layers[0], tuple(x_q.shape), params)
    _, groups = EventEngine(encode_layer(wl.layers[0], group), geom, np.array([256]), params,
                            pixel_groups=2).run(x_q)
    # section 4.1: group 0 takes 2 + 13 + 2 = 17 cycles, group 1 2 + 12 + 2 = 16, both from cycle 0
    assert [g.end for g in groups] == [17, 16]
