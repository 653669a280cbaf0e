"""Issue 14, "Where the cycles go": the cycle breakdown wherever a user looks (terminal, JSON, HTML, sweeps, records).

Expected values are rebuilt from the report's own per-PE ``pe_cycles`` lists and phase cycles
(docs/timing-model.md): with one pixel group and every PE holding rows, ``ideal`` is the busy
PE cycles, ``imbalance`` the stalled, ``finder`` the starved + empty, ``drain`` the drain ones,
and ``load`` / ``store`` / ``io`` are N x the layer's phase cycles.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _support import small_workload
from click.testing import CliRunner

from eiesim.cli import _register, cli
from eiesim.config.arch import load_arch
from eiesim.network.workload_file import save_workload
from eiesim.run.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
PARTS = ("ideal", "idle_pes", "imbalance", "finder", "drain", "load", "store", "io")
HEADERS = ("ideal", "idle PEs", "imbalance", "finder", "drain", "load", "store", "I/O")




@pytest.fixture(scope="module")
def runner():
    _register()
    return CliRunner()


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    return save_workload(small_workload(), tmp_path_factory.mktemp("wl") / "small.npz")


def _run(runner, small_npz, out: Path, *extra: str, columns: int = 80):
    res = runner.invoke(cli, ["run", str(TINY), str(small_npz), *extra, "--json", str(out)],
                        env={"COLUMNS": str(columns)}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output, json.loads(out.read_text())


def expected_pe_parts(layer: dict, n: int) -> dict[str, int]:
    """One pixel group, no idle PE: the breakdown from the per-PE lists and the phases."""
    pe = {k: sum(v) for k, v in layer["pe_cycles"].items()}
    return {"ideal": pe["busy"], "idle_pes": 0, "imbalance": pe["stalled"], "finder": pe["starved"] + pe["empty"],
            "drain": pe["drain"], "load": n * layer["load_cycles"], "store": n * layer["store_cycles"],
            "io": n * layer["io_cycles"]}


def test_json_breakdown_matches_the_per_pe_lists_and_adds_up(runner, small_npz, tmp_path):
    _, body = _run(runner, small_npz, tmp_path / "r.json")
    n = body["arch"]["num_pes"]
    assert body["schema_version"] == 3
    for layer in body["layers"]:
        assert layer["mapping"]["pixel_groups"] == 1 and layer["mapping"]["group_pes"] == n
        assert layer["mapping"]["group_cycles"] == [layer["cycles"] - layer["io_cycles"]]
        parts = layer["cycle_breakdown"]["pe_cycles"]
        assert list(parts) == list(PARTS)
        assert parts == expected_pe_parts(layer, n)
        assert sum(parts.values()) == n * layer["cycles"]
        assert layer["cycle_breakdown"]["cycles"] == {k: v / n for k, v in parts.items()}
    totals = body["totals"]["cycle_breakdown"]
    assert totals["pe_cycles"] == {k: sum(layer["cycle_breakdown"]["pe_cycles"][k] for layer in body["layers"])
                                   for k in PARTS}
    assert sum(totals["pe_cycles"].values()) == n * body["totals"]["cycles"]
    assert totals["cycles"] == {k: v / n for k, v in totals["pe_cycles"].items()}


def test_pixel_groups_breakdown_adds_up_and_ideal_is_the_busy_cycles(runner, small_npz, tmp_path):
    _, body = _run(runner, small_npz, tmp_path / "g.json", "--set", "mapping.pixel_groups=2")
    n = body["arch"]["num_pes"]
    conv, fc = body["layers"]
    assert conv["mapping"]["pixel_groups"] == 2 and conv["mapping"]["group_pes"] == n // 2
    assert fc["mapping"]["pixel_groups"] == 1  # fc layers keep one group
    assert conv["cycles"] == conv["io_cycles"] + max(conv["mapping"]["group_cycles"])
    for layer in body["layers"]:
        parts = layer["cycle_breakdown"]["pe_cycles"]
        assert sum(parts.values()) == n * layer["cycles"]
        assert parts["ideal"] == sum(layer["pe_cycles"]["busy"])
        assert parts["io"] == n * layer["io_cycles"]


def _network_cells(body: dict) -> list[str]:
    n, cycles = body["arch"]["num_pes"], body["totals"]["cycles"]
    sums = {k: sum(layer["cycle_breakdown"]["pe_cycles"][k] for layer in body["layers"]) for k in PARTS}
    return [f"{sums[k] / n:,.0f} {100 * sums[k] / n / cycles:5.1f}%" for k in PARTS]


@pytest.mark.parametrize("columns", [80, 50])
def test_terminal_table_folds_without_cutting(runner, small_npz, tmp_path, columns):
    out, body = _run(runner, small_npz, tmp_path / "t.json", columns=columns)
    assert "Where the cycles go" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "Where the cycles go" in line)
    end = next(i for i, line in enumerate(lines) if "Energy per layer" in line)
    block = "\n".join(lines[start:end])
    assert max(len(line) for line in lines[start:end]) <= columns
    assert "…" not in block
    for header in HEADERS:
        assert header in block, header
    assert block.count("network") >= 1 and " G " not in block  # one pixel group everywhere: no G column
    n = body["arch"]["num_pes"]
    for layer in body["layers"]:  # every layer's cells, rebuilt from the per-PE lists
        expected = expected_pe_parts(layer, n)
        for k in PARTS:
            cell = f"{expected[k] / n:,.0f} {100 * expected[k] / n / layer['cycles']:5.1f}%"
            assert cell in block, (layer["name"], k, cell)
    for cell in _network_cells(body):
        assert cell in block, cell
    if columns == 50:
        assert "(2/" in block  # folded into parts, each repeating the layer column
        parts = [line for line in lines[start:end] if "layer" in line]
        assert len(parts) >= 3


def test_terminal_table_shows_pixel_groups_and_auto(runner, small_npz, tmp_path):
    out, body = _run(runner, small_npz, tmp_path / "a.json", "--set", "mapping.pixel_groups=auto", columns=200)
    conv = body["layers"][0]
    tried = conv["mapping"]["auto_cycles"]
    assert set(tried) == {"1", "2", "4"}  # the powers of two dividing 4 PEs
    g = conv["mapping"]["pixel_groups"]
    assert tried[str(g)] == max(conv["mapping"]["group_cycles"])
    row = next(line for line in out.splitlines() if line.startswith("│ c1 ") and "%" in line)
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1] == str(g) and cells[2] == f"{tried['1'] / tried[str(g)]:.2f}x"
    assert "vs G=1" in out and "pixel groups" in out


def test_html_has_the_figure_and_the_table_from_report_json(runner, small_npz, tmp_path):
    _, body = _run(runner, small_npz, tmp_path / "h.json")
    res = runner.invoke(cli, ["report", str(tmp_path / "h.json"), "-o", str(tmp_path / "h.html")],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (tmp_path / "h.html").read_text()
    start = html.index('id="cycle-breakdown"')
    section = html[start:html.index("<section", start) if "<section" in html[start:] else len(html)]
    assert section.count("<img") == 2 and "data:image/png;base64," in section
    for k in PARTS:
        assert f"{k} (cycles, % of the layer)" in section
    n, cycles = body["arch"]["num_pes"], body["totals"]["cycles"]
    ideal = sum(layer["cycle_breakdown"]["pe_cycles"]["ideal"] for layer in body["layers"]) / n
    assert f"{round(ideal):,} ({100 * ideal / cycles:.1f} %)" in section  # the network row
    for layer in body["layers"]:
        assert f">{layer['name']}<" in section


def test_old_report_without_breakdown_still_renders(runner, small_npz, tmp_path):
    _, body = _run(runner, small_npz, tmp_path / "o.json")
    body["schema_version"] = 2
    del body["totals"]["cycle_breakdown"]
    for layer in body["layers"]:
        del layer["cycle_breakdown"], layer["mapping"]
    old = tmp_path / "old" / "report.json"
    old.parent.mkdir()
    old.write_text(json.dumps(body))
    res = runner.invoke(cli, ["report", str(old)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (old.parent / "report.html").read_text()
    assert 'id="cycle-breakdown"' not in html and 'id="layers"' in html and 'id="utilisation"' in html


def test_sweep_rows_carry_the_network_breakdown(runner, small_npz, tmp_path):
    out = tmp_path / "s"
    res = runner.invoke(cli, ["sweep", str(TINY), str(small_npz), "--set", "num_pes=2,4", "--out", str(out),
                              "--workers", "1"], env={"COLUMNS": "80"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "cycle_breakdown" not in res.output  # not a swept key in the terminal table
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["num_pes"] for r in rows] == ["2", "4"]
    for row in rows:
        pes = int(row["num_pes"])
        result = simulate(load_arch(TINY, [f"num_pes={pes}"]), small_workload())
        body = result.to_dict()
        sums = {k: sum(layer["cycle_breakdown"]["pe_cycles"][k] for layer in body["layers"]) for k in PARTS}
        for k in PARTS:
            assert float(row[f"cycle_breakdown.{k}"]) == sums[k] / pes, k
        assert sum(float(row[f"cycle_breakdown.{k}"]) for k in PARTS) == pytest.approx(int(row["cycles"]))
    res = runner.invoke(cli, ["report", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert 'id="cycle-breakdown"' in html and "ideal (cycles, % of the point)" in html


def test_records_flatten_mapping_and_breakdown():
    result = simulate(load_arch(TINY), small_workload())
    rows = result.to_records()
    body = result.to_dict()
    for row, layer in zip(rows, body["layers"]):
        assert row["mapping.pixel_groups"] == layer["mapping"]["pixel_groups"]
        assert row["mapping.slowest_group"] == layer["mapping"]["slowest_group"]
        for k in PARTS:
            assert row[f"cycle_breakdown.pe_cycles.{k}"] == layer["cycle_breakdown"]["pe_cycles"][k]
            assert row[f"cycle_breakdown.cycles.{k}"] == layer["cycle_breakdown"]["cycles"][k]
        assert not any(isinstance(v, (list, dict)) for v in row.values())  # scalars only
        assert "mapping.group_cycles" not in row and "cycle_breakdown" not in row
