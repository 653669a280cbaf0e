"""Reports: HTML/Markdown run and sweep reports, the Pareto front, and the report command."""

from __future__ import annotations

import base64
import copy
import json
import re

import pytest

from eiesim.errors import UsageError
from eiesim.render import load_run_report, load_sweep_dir, pareto_front, render_run, render_sweep
from eiesim.render.plots import bar_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def example_report() -> dict:
    """A hand-made run report with every section (numbers invented, internally consistent)."""
    layers = []
    for i, (name, cycles, lbe) in enumerate([("fc6", 24000, 0.91), ("fc7", 9800, 0.88), ("fc8", 7100, 0.83)]):
        busy = int(cycles * 64 * lbe * 0.9)
        layers.append({
            "name": name, "kind": "fc", "cycles": cycles, "compute_cycles": cycles - 500, "load_cycles": 300,
            "store_cycles": 200, "io_cycles": 0, "time_us": cycles / 800.0, "nonzero_activations": 1400 + i,
            "entries_processed": 90000 - i * 1000, "padding_entries": 3000 + i, "load_balance_efficiency": lbe,
            "time_efficiency": lbe * 0.97, "real_work_fraction": 0.95, "broadcast_stall_cycles": 120 * (i + 1),
            "stalls": {"busy": busy, "empty": 1000, "starved": cycles * 64 - busy - 3000, "stalled": 1500, "drain": 500},
            "actions": {"spmat_word_reads": 11000, "macs": 80000, "dram_bytes_read": 0},
            "energy_pj": 1.5e6 * (3 - i),
            "energy_by_component_pj": {"spmat_sram": 0.9e6 * (3 - i), "ptr_sram": 0.3e6 * (3 - i),
                                       "arith": 0.2e6 * (3 - i), "act_rw": 0.1e6 * (3 - i)},
        })
    return {
        "eiesim_version": "0.1.0",
        "arch": {"name": "eie-64pe", "num_pes": 64, "clock_mhz": 800.0, "tech_nm": 45, "fifo_depth": 8,
                 "codebook_bits": 4, "rel_index_bits": 4, "spmat_sram": {"size_bytes": 131072, "width_bits": 64}},
        "workload": {"name": "alexnet-fc", "source": "synthetic", "layers": 3, "nnz": 1234567},
        "engine": "fast",
        "totals": {"cycles": 40900, "time_us": 51.125, "frames_per_s": 19559.9, "macs": 250000},
        "layers": layers,
        "check": {"functional": "pass", "max_abs_error": 0.0, "top1": None},
        "energy": {"total_pj": 9.0e6, "by_component_pj": {"spmat_sram": 5.4e6, "ptr_sram": 1.8e6, "arith": 1.2e6,
                                                           "act_rw": 0.6e6},
                   "on_chip_pj": 9.0e6, "dram_pj": 0.0},
        "power": {"per_pe_mw": 9.1, "chip_mw": 590.0},
        "area": {"pe_um2": 638000.0, "pe_by_module_um2": {"SpmatRead": 469000.0, "PtrRead": 122000.0,
                                                          "ActRW": 19000.0, "ArithmUnit": 3100.0},
                 "pe_by_type_um2": {"memory": 594786.0, "register": 9465.0}, "chip_mm2": 40.8},
        "frames_per_s": 19559.9, "frames_per_j": 111111.0, "gop_per_s": 30.1, "frames_per_s_per_mm2": 479.4,
    }


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)]


def test_run_html_has_sections_and_embedded_pngs():
    html = render_run(example_report(), "html")
    assert html.startswith("<!DOCTYPE html>")
    for anchor in ("setup", "check", "layers", "utilisation", "energy", "power-area", "sources"):
        assert f'<section id="{anchor}">' in html
    imgs = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"', html)
    # cycles per layer, utilisation, energy by component, energy per layer, area by module
    assert len(imgs) == 5
    assert all(png.startswith(PNG_MAGIC) for png in _images(html))
    for header in ("time (µs)", "energy (nJ)", "load balance (%)", "area (µm²)", "padding (entries)"):
        assert header in html
    assert "fc7" in html and "PASS" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained
    # the total row sums the layers' cycles: 24000 + 9800 + 7100
    assert "40,900" in html


def test_run_md_has_sections_tables_and_images():
    md = render_run(example_report(), "md")
    for title in ("## Run set-up", "## Functional check", "## Per-layer results", "## PE utilisation",
                  "## Energy", "## Power, area and figures of merit", "## Where the numbers come from"):
        assert title in md
    assert len(re.findall(r"!\[[^\]]*\]\(data:image/png;base64,", md)) == 5
    assert re.search(r"^\| layer \| kind \| cycles \|", md, re.M)
    assert "| fc6 | fc | 24,000 |" in md


def test_utilisation_shares_are_computed_from_stalls():
    report = example_report()
    report["layers"] = report["layers"][:1]
    report["layers"][0]["stalls"] = {"busy": 600, "empty": 100, "starved": 200, "stalled": 50, "drain": 50}
    md = render_run(report, "md")
    # 600/1000 busy, 100/1000 empty, ... shown as percentages with one decimal
    assert "| fc6 | 1,000 | 60.0 | 10.0 | 20.0 | 5.0 | 5.0 |" in md


@pytest.mark.parametrize("drop", ["energy", "power", "area", "check", "layers", "arch", "workload", "totals"])
def test_run_report_tolerates_missing_sections(drop):
    from eiesim.render.document import render
    from eiesim.render.run_report import build_run_document

    report = example_report()
    del report[drop]
    doc = build_run_document(report)
    for fmt in ("html", "md"):
        assert "Where the numbers come from" in render(doc, fmt)


def test_run_report_without_cost_model_has_no_energy_section():
    report = example_report()
    for key in ("energy", "power", "area", "frames_per_j", "gop_per_s", "frames_per_s_per_mm2", "frames_per_s"):
        report.pop(key)
    for layer in report["layers"]:
        layer.pop("energy_pj")
        layer.pop("energy_by_component_pj")
    html = render_run(report, "html")
    assert 'id="energy"' not in html and "area (µm²)" not in html and "chip power" not in html
    assert 'id="layers"' in html and 'id="utilisation"' in html
    render_run({}, "html")  # an empty object still renders a page


def test_run_rendering_is_deterministic():
    assert render_run(example_report(), "html") == render_run(copy.deepcopy(example_report()), "html")


def test_png_metadata_stripped():
    png = bar_chart(["a", "b"], [1.0, 2.0], title="t", ylabel="y")
    assert png.startswith(PNG_MAGIC)
    assert b"Software" not in png and b"matplotlib" not in png.lower()


# -- Pareto front -------------------------------------------------------------------------

def test_pareto_front_hand_made_table():
    rows = [
        {"chip_area_mm2": 10.0, "time_us": 100.0},  # 0: front (smallest area)
        {"chip_area_mm2": 20.0, "time_us": 50.0},   # 1: front
        {"chip_area_mm2": 25.0, "time_us": 60.0},   # 2: dominated by 1
        {"chip_area_mm2": 40.0, "time_us": 20.0},   # 3: front (fastest)
        {"chip_area_mm2": 40.0, "time_us": 30.0},   # 4: dominated by 3 (same area, slower)
        {"chip_area_mm2": 30.0, "time_us": 50.0},   # 5: dominated by 1 (same time, larger)
        {"chip_area_mm2": 20.0, "time_us": 50.0},   # 6: duplicate of 1: also on the front
        {"chip_area_mm2": float("nan"), "time_us": 1.0},  # 7: missing area: never on the front
        {"time_us": 0.5},                           # 8: missing column
    ]
    assert pareto_front(rows) == [True, True, False, True, False, False, True, False, False]


def test_pareto_front_custom_keys_and_empty():
    assert pareto_front([]) == []
    rows = [{"a": 1, "b": 3}, {"a": 2, "b": 2}, {"a": 3, "b": 1}, {"a": 3, "b": 3}]
    assert pareto_front(rows, "a", "b") == [True, True, True, False]


# -- sweep report -----------------------------------------------------------------------------

def example_sweep():
    columns = ["num_pes", "point", "cycles", "time_us", "frames_per_s", "energy_uj", "chip_power_mw",
               "pe_area_um2", "chip_area_mm2", "load_balance_efficiency", "padding_entries", "dram_bytes",
               "functional"]
    rows = []
    for n, cycles, area in [(1, 640000, 0.9), (4, 161000, 3.0), (16, 41000, 11.0), (64, 11000, 41.0),
                            (256, 9000, 163.0)]:
        rows.append({"num_pes": n, "point": f"p{n}", "cycles": cycles, "time_us": cycles / 800, "frames_per_s":
                     800e6 / cycles, "energy_uj": 10.0 + n / 10, "chip_power_mw": 9.0 * n, "pe_area_um2": 6.4e5,
                     "chip_area_mm2": area, "load_balance_efficiency": 1.0 - n / 1000, "padding_entries": 100 * n,
                     "dram_bytes": 0, "functional": "pass"})
    return rows, columns


def test_sweep_html_sections_plots_speedup_and_pareto_marks():
    rows, columns = example_sweep()
    html = render_sweep(rows, columns, "html")
    for anchor in ("table", "plots", "pareto", "sources"):
        assert f'<section id="{anchor}">' in html
    # speedup, area, energy, time, load balance vs num_pes + the Pareto scatter
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 6
    # every point is Pareto-optimal: area grows and time falls monotonically with PEs
    assert html.count('<tr class="mark">') == 5
    # speedup at 64 PEs = 640000 / 11000
    assert "58.18" in html  # 640000 / 11000 = 58.18
    assert "chip area (mm²)" in html and "time (µs)" in html


def test_sweep_dominated_point_not_marked():
    rows, columns = example_sweep()
    rows.append({**rows[3], "num_pes": 128, "point": "p128", "cycles": 12000, "time_us": 15.0,
                 "chip_area_mm2": 82.0})  # bigger and slower than 64 PEs
    md = render_sweep(rows, columns, "md")
    table_lines = [line for line in md.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    by_pes = {int(line.split("|")[1]): line.rstrip(" |").endswith("★") for line in table_lines}
    assert by_pes == {1: True, 4: True, 16: True, 64: True, 128: False, 256: True}
    assert md.count("](data:image/png;base64,") == 6


def test_sweep_without_cost_columns_and_two_axes():
    rows, columns = example_sweep()
    columns = ["fifo_depth", "num_pes"] + columns[1:]
    two = []
    for depth, scale in ((2, 2), (8, 1)):
        for r in rows:
            two.append({**r, "fifo_depth": depth, "cycles": r["cycles"] * scale, "chip_area_mm2": float("nan"),
                        "energy_uj": float("nan")})
    html = render_sweep(two, columns, "html")
    assert "no area/latency front" in html
    assert '<tr class="mark">' not in html
    md = render_sweep(two, columns, "md")
    # speedup is relative to 1 PE within each fifo_depth series, so both series start at 1
    # and reach 640000 / 9000 at 256 PEs
    lines = [line.split("|") for line in md.splitlines() if line.startswith("| 2 |") or line.startswith("| 8 |")]
    assert [(int(c[1]), int(c[2]), c[3].strip()) for c in lines if int(c[2]) in (1, 256)] == [
        (2, 1, "1.000"), (2, 256, "71.11"), (8, 1, "1.000"), (8, 256, "71.11")]


def test_sweep_generic_x_axis_is_first_swept_key():
    rows = [{"spmat_sram.width_bits": w, "point": str(w), "cycles": 1000, "time_us": 1.25, "energy_uj": e,
             "chip_area_mm2": a} for w, e, a in [(32, 5.0, 40.0), (64, 4.0, 41.0), (128, 4.5, 43.0)]]
    html = render_sweep(rows, ["spmat_sram.width_bits", "point", "cycles", "time_us", "energy_uj", "chip_area_mm2"],
                        "html")
    assert "Metrics vs spmat_sram.width_bits" in html
    assert "spmat_sram.width_bits (bit)" in html  # unit from the architecture declaration


# -- inputs and the CLI -----------------------------------------------------------------------

def test_load_run_report_rejects_other_json(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(UsageError, match="not an eiesim run report"):
        load_run_report(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_run_report(broken)
    listy = tmp_path / "list.json"
    listy.write_text("[1, 2]")
    with pytest.raises(UsageError, match="JSON list"):
        load_run_report(listy)


def test_load_sweep_dir_reads_store_layout(tmp_path):
    from eiesim.sweeps.store import ResultStore

    rows, columns = example_sweep()
    ResultStore(tmp_path).write_tables(rows, columns)
    got_rows, got_columns = load_sweep_dir(tmp_path)
    assert got_columns == columns
    assert got_rows == rows
    with pytest.raises(UsageError, match="not a sweep directory"):
        load_sweep_dir(tmp_path / "points")


def _run_cli(args):
    from click.testing import CliRunner

    import eiesim.cli.report_cmd  # noqa: F401 - registers the command
    from eiesim.cli import cli

    return CliRunner().invoke(cli, args, catch_exceptions=True)


def test_report_command_run_and_sweep(tmp_path):
    from eiesim.sweeps.store import ResultStore

    report_path = tmp_path / "run" / "report.json"
    report_path.parent.mkdir()
    report_path.write_text(json.dumps(example_report()))
    result = _run_cli(["report", str(report_path), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "report.md").read_text().startswith("# eiesim run: alexnet-fc")
    out = tmp_path / "elsewhere" / "r.html"
    result = _run_cli(["report", str(tmp_path / "run"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    rows, columns = example_sweep()
    ResultStore(tmp_path / "sweep").write_tables(rows, columns)
    result = _run_cli(["report", str(tmp_path / "sweep")])
    assert result.exit_code == 0, result.output
    assert "Area / latency Pareto front" in (tmp_path / "sweep" / "report.html").read_text()


def test_report_command_errors_are_one_line(tmp_path, capsys):
    from eiesim.cli import main

    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(SystemExit) as exc:
        main(["report", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"eiesim: error: {bad}: not an eiesim run report")
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("key, values, cycles, log_expected", [
    # FIFO depths 1..8 (a powers-of-two axis, drawn log) gain 30 %: a log y axis would carry only the tick 10^0.
    ("fifo_depth", [1, 2, 4, 8], [1300, 1150, 1050, 1000], False),
    # 1..16 PEs at ideal scaling: speedups 1..16, more than a decade, stay log-log (ideal scaling is a straight line).
    ("num_pes", [1, 2, 4, 8, 16], [1600, 800, 400, 200, 100], True),
])
def test_a_speedup_is_drawn_on_a_log_axis_only_when_it_spans_more_than_a_decade(monkeypatch, key, values, cycles,
                                                                                 log_expected):
    from eiesim.render import plots, sweep_figures

    seen: dict[str, bool] = {}
    real = plots.line_plot

    def spy(series, **kwargs):  # noqa: ANN001, ANN202
        seen[kwargs["title"]] = kwargs["logy"]
        return real(series, **kwargs)

    monkeypatch.setattr(plots, "line_plot", spy)
    rows = [{key: v, "cycles": c} for v, c in zip(values, cycles)]
    sweep_figures.metric_figures(rows, [key], key, "lines", {})
    assert seen == {f"Speedup vs {key}": log_expected}
