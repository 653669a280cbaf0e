"""The numbers docs/validation.md and docs/cost-model.md quote are the numbers the code produces today.

Each test recomputes a quoted number and looks for it, formatted as the page prints it, in
the page; a change in the model that moves a number fails here until the page is updated.
(The case table of the authors'-simulator comparison is checked row by row in
tests/test_authors_sim.py.)
"""

from __future__ import annotations

import re

import pytest
from _support import NET, ROOT, SHARED

from eiesim.config.arch import load_arch

VALIDATION = (ROOT / "docs" / "validation.md").read_text()
COST_MODEL = (ROOT / "docs" / "cost-model.md").read_text()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _signed(value: float, digits: int = 1) -> str:
    """-4.3 % as the pages write it (a real minus sign, as in the tables)."""
    s = f"{value:+.{digits}f}"
    return s.replace("-", "\u2212")


@pytest.fixture(scope="module")
def table4():
    from eiesim.reproduce.table4 import table4_rows

    return table4_rows()


def test_table4_synthetic_rows(table4):
    for r in table4:
        err = _signed(100 * r["error"])
        gap = _signed(100 * (r["workload_ratio"] - 1))
        row = (f"| {r['layer']} | {r['published_theoretical_us']:.1f} | {r['model_theoretical_us']:.1f} | "
               f"{r['published_actual_us']:.1f} | {r['simulated_us']:.1f} | ")
        assert row in VALIDATION, row
        line = next(line for line in VALIDATION.splitlines() if line.startswith(row))
        assert line.replace("**", "").endswith(f"| {err} % | {gap} % | {r['published_overhead']:.3f} | "
                                              f"{r['model_overhead']:.3f} |"), line


def test_table4_seed_spread():
    from eiesim.reproduce.table4 import table4_rows

    times: dict[str, list[float]] = {}
    for seed in range(5):
        for r in table4_rows(seed=seed):
            times.setdefault(r["layer"], []).append(r["simulated_us"])
    spread = max(max(v) / min(v) - 1 for v in times.values())
    assert spread <= 0.012
    for name in ("Alex-8", "VGG-6"):
        assert f"{name} {min(times[name]):.2f} to {max(times[name]):.2f} µs" in _one_line(VALIDATION), name


def test_table4_structure_rows():
    from eiesim.reproduce.table4 import structure_rows

    for r in structure_rows():
        skew = "0" if r["column_skew"] == 0 else f"{r['column_skew']:.1f}"
        row = (f"| {r['layer']} | {skew} | {r['model_theoretical_us']:.1f} | {r['published_theoretical_us']:.1f} | "
               f"{r['simulated_us']:.1f} | {r['published_actual_us']:.1f} | {_signed(100 * r['error'])} % |")
        assert row in VALIDATION, row


@pytest.mark.skipif(not (SHARED / "reference" / "eie-authors-sim" / "alex8-real.npz").is_file(),
                    reason="../shared/reference/eie-authors-sim not available")
def test_real_alex8_row():
    from eiesim.reproduce.table4 import default_real_alex8, real_alex8_row

    r = real_alex8_row(default_real_alex8())
    assert (f"| {r['compute_cycles']:,} | {r['authors_sim_cycles']:,} | {r['simulated_us']:.2f} | 9.9 | "
            f"{_signed(r['error_pct'])} % |") in VALIDATION
    assert f"7,926 cycles = {r['simulated_us']:.2f} µs vs published 9.9 µs ({_signed(r['error_pct'])} %)" in VALIDATION


def test_table2_paragraph_and_factors():
    from eiesim.costs.default import fit_calibration
    from eiesim.reproduce.table2 import table2_comparison

    cal = fit_calibration()
    t2 = table2_comparison()
    rows = {r["item"]: r for r in t2["rows"]}
    text = _one_line(VALIDATION)
    spmat_e = cal.power_module["SpmatRead"] * cal.power_type["memory"]
    spmat_a = cal.area_module["SpmatRead"] * cal.area_type["memory"]
    ptr_e = cal.power_module["PtrRead"] * cal.power_type["memory"]
    ptr_a = cal.area_module["PtrRead"] * cal.area_type["memory"]
    assert (f"the Spmat SRAM's read energy is {spmat_e:.3f}x CACTI's and its area {spmat_a:.3f}x; "
            f"the pointer SRAM's {ptr_e:.3f}x and {ptr_a:.3f}x") in text
    assert f"the largest is {t2['max_fit_residual_pct']:.3f} %" in text
    assert f"The chip's {rows['chip area']['model']:.2f} mm² and {rows['chip power']['model']:.3f} W" in text
    cm = _one_line(COST_MODEL)
    assert f"{spmat_e:.3f} x CACTI, the pointer SRAM's {ptr_e:.3f} x CACTI" in cm
    assert f"area is {spmat_a:.3f} x CACTI, the pointer SRAM's {ptr_a:.3f} x CACTI" in cm
    modules = ("Act_queue", "PtrRead", "SpmatRead", "ArithmUnit", "ActRW")
    types = ("memory", "clock network", "register", "combinational")
    for label, values in (("power, module factor", [cal.power_module[m] for m in modules]),
                          ("area, module factor", [cal.area_module[m] for m in modules]),
                          ("power, type factor", [cal.power_type[t] for t in types]),
                          ("area, type factor", [cal.area_type[t] for t in types])):
        assert f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + " |" in COST_MODEL, label
    assert f"= {cal.lnzd_unit_pj_per_op:.3f} pJ per unit per detected non-zero" in cm


def test_cost_model_reference_activity():
    from eiesim.costs import published as pub
    from eiesim.reproduce.table2 import table2_comparison

    c = pub.ALEX7_REFERENCE_COUNTS
    cm = _one_line(COST_MODEL)
    assert f"{pub.ALEX7_REFERENCE_COMPUTE_CYCLES:,} compute cycles" in cm
    assert (f"{c['macs']:,} MACs of which {c['real_macs']:,} real, {c['spmat_word_reads']:,} Spmat word reads, "
            f"{c['ptr_reads']:,} pointer reads, {c['lnzd_ops']:,} LNZD ops") in cm
    assert f"Rates = count / (64 x {pub.ALEX7_REFERENCE_COMPUTE_CYCLES:,})" in cm
    whole = table2_comparison()["whole_layer_with_io"]
    assert f"({whole['cycles']:,} cycles) averages {whole['per_pe_mw']:.2f} mW per PE" in cm


def test_design_space_numbers(tmp_path):
    from eiesim.reproduce.figures import run_all

    studies, findings, _ = run_all(tmp_path)
    by = {s.name: s for s in studies}
    widths = sorted({r["width_bits"] for r in by["spmat_width"].rows})
    reuse = [sum(r["spmat_read_energy_nj"] for r in by["spmat_width"].rows if r["width_bits"] == w) / 1e3
             for w in widths]
    fresh = [sum(r["energy_without_reuse_nj"] for r in by["spmat_width"].rows if r["width_bits"] == w) / 1e3
             for w in widths]
    cm = _one_line(COST_MODEL)
    assert "(e.g. all nine layers: " + " / ".join(f"{v:.1f}" for v in reuse) + " uJ at 32 / 64 / 128 / 256 / 512" in cm
    assert "at 64 bits** (" + " / ".join(f"{v:.1f}" for v in fresh) + " uJ), as in the paper" in cm
    fifo = next(f for f in findings if "FIFO depth" in f.claim)
    share = re.search(r"depth 8 reaches (\d+\.\d) %", fifo.evidence).group(1)
    step = re.search(r"steps beyond 8: \+(\d+\.\d+) pt", fifo.evidence).group(1)
    text = _one_line(VALIDATION)
    assert f"depth 8 reaches {float(share):.0f} % of the gain, but 8 to 16 still adds {float(step):.1f} points" in text
    assert fifo.holds is ("fails narrowly" not in text)


@pytest.mark.skipif(not NET.is_file(), reason="real Deep-Compression SqueezeNet not available")
def test_real_squeezenet_figures(tmp_path):
    from eiesim.importers.caffe.deep_compression import import_dc
    from eiesim.run.simulate import simulate

    wl = import_dc(NET)
    arch8 = ROOT / "arch_configs" / "eie-64pe-8bit.yaml"
    r = simulate(load_arch(arch8), wl, input="chelsea")
    t = r.totals()
    text = _one_line(VALIDATION)
    assert (f"**{t['cycles']:,} cycles = {t['time_us'] / 1000:.2f} ms ({t['frames_per_s']:.1f} frames/s)**, of which "
            f"{t['compute_cycles']:,} compute, {t['io_cycles']:,} I/O, {t['load_cycles']:,} load and "
            f"{t['store_cycles']:,} store") in text
    assert r.check["functional"] == "pass" and r.check["top1"] == 285
    no_bias = simulate(load_arch(arch8, ["ccu.bias=output_path"]), wl, input="chelsea").totals()["compute_cycles"]
    ideal = simulate(load_arch(arch8, ["ccu.nonzero_finder=skip_zeros"]), wl, input="chelsea").totals()["compute_cycles"]
    assert f"+{t['compute_cycles'] - no_bias:,} compute cycles, from `--set ccu.bias=output_path`" in text
    assert f"(+{t['compute_cycles'] - ideal:,}, from `--set ccu.nonzero_finder=skip_zeros`)" in text
