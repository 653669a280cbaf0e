"""Issue 14, "Where the cycles go": the cycle breakdown wherever a user looks (terminal, JSON, HTML, sweeps, records).

Every expected number is worked by hand in docs/timing-model.md section 4.1 (``SECTION_4_1_HAND``): the
workload is that section's layer twice, c1 and c2, both reading the network input, on its 4-PE chip, so each
layer's compute, load and store are the hand-derived ones at G = 1 and G = 2 and only I/O differs: c1 reads the
12-byte input and keeps its output on chip (ceil(12 / 16) = 1 cycle), c2 reads the input and writes the network's
output (ceil(24 / 16) = 2 cycles). None is rebuilt from the report under test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _support import small_workload
from click.testing import CliRunner

from eiesim.cli import _register, cli
from eiesim.network.workload_file import save_workload
from eiesim.run.simulate import simulate

from _support import SECTION_4_1_ARCH, SECTION_4_1_HAND, section_4_1_example

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "arch_configs" / "eie-64pe.yaml"
SETS = [arg for key, value in SECTION_4_1_ARCH.items() for arg in ("--set", f"{key}={value}")]
N = SECTION_4_1_ARCH["num_pes"]
PARTS = ("ideal", "idle_pes", "imbalance", "finder", "drain", "load", "store", "io")
HEADERS = ("ideal", "idle PEs", "imbalance", "finder", "drain", "load", "store", "I/O")
IO_CYCLES = {"c1": 1, "c2": 2}
#: The parts as the HTML tables and legends name them (words, not report.json's keys).
PART_WORDS = {"ideal": "ideal", "idle_pes": "idle PEs", "imbalance": "imbalance", "finder": "finder", "drain": "drain",
              "load": "load", "store": "store", "io": "I/O"}


def hand_layer(groups: int, name: str) -> tuple[int, dict[str, int]]:
    """(cycles, PE cycles by part) of layer ``name`` at ``groups``, from section 4.1 with this layer's I/O."""
    hand = SECTION_4_1_HAND[groups]
    return hand["cycles"] - hand["io"] + IO_CYCLES[name], {**hand["breakdown"], "io": N * IO_CYCLES[name]}


def hand_network(groups: int) -> tuple[int, dict[str, int]]:
    """(cycles, PE cycles by part) of the network: the sums over c1 and c2."""
    layers = [hand_layer(groups, name) for name in IO_CYCLES]
    return sum(c for c, _ in layers), {k: sum(parts[k] for _, parts in layers) for k in PARTS}


@pytest.fixture(scope="module")
def runner():
    _register()
    return CliRunner()


@pytest.fixture(scope="module")
def example_npz(tmp_path_factory):
    _, wl = section_4_1_example(1, copies=2)
    return save_workload(wl, tmp_path_factory.mktemp("wl") / "section-4-1.npz")


def _run(runner, npz, out: Path, *extra: str, columns: int = 80):
    res = runner.invoke(cli, ["run", str(PUBLISHED), str(npz), *SETS, *extra, "--json", str(out)],
                        env={"COLUMNS": str(columns)}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output, json.loads(out.read_text())


@pytest.mark.parametrize("groups", [1, 2])
def test_json_breakdown_is_the_hand_derived_one(runner, example_npz, tmp_path, groups):
    _, body = _run(runner, example_npz, tmp_path / "r.json", "--set", f"mapping.pixel_groups={groups}")
    hand = SECTION_4_1_HAND[groups]
    assert body["schema_version"] == 3 and body["arch"]["num_pes"] == N
    assert [layer["name"] for layer in body["layers"]] == list(IO_CYCLES)
    for layer in body["layers"]:
        cycles, parts = hand_layer(groups, layer["name"])
        assert (layer["cycles"], layer["io_cycles"]) == (cycles, IO_CYCLES[layer["name"]])
        assert layer["mapping"]["pixel_groups"] == groups and layer["mapping"]["group_pes"] == N // groups
        assert layer["mapping"]["group_cycles"] == hand["group_cycles"] and layer["mapping"]["slowest_group"] == 0
        per_pe = list(zip(*(layer["pe_cycles"][k] for k in ("busy", "empty", "starved", "stalled", "drain")),
                          strict=True))
        assert per_pe == hand["per_pe"]
        assert list(layer["cycle_breakdown"]["pe_cycles"]) == list(PARTS)
        assert layer["cycle_breakdown"]["pe_cycles"] == parts
        assert layer["cycle_breakdown"]["cycles"] == {k: v / N for k, v in parts.items()}
        assert sum(parts.values()) == N * cycles  # the hand values add up, as section 3 says they must
    cycles, parts = hand_network(groups)
    totals = body["totals"]
    assert totals["cycles"] == cycles == {1: 59, 2: 37}[groups]
    assert totals["cycle_breakdown"]["pe_cycles"] == parts
    assert totals["cycle_breakdown"]["cycles"] == {k: v / N for k, v in parts.items()}


def _cells(cycles: int, parts: dict[str, int]) -> list[str]:
    """The terminal table's cells of one row: a part's cycles (PE cycles / N) and its share of the row's cycles."""
    return [f"{parts[k] / N:,.0f} {100 * parts[k] / N / cycles:5.1f}%" for k in PARTS]


def _breakdown_block(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "Where the cycles go" in line)
    end = next(i for i, line in enumerate(lines) if "Energy per layer" in line)
    return lines[start:end]


@pytest.mark.parametrize("groups, columns", [(1, 80), (1, 50), (2, 80)])
def test_terminal_table_shows_the_hand_derived_cells_and_folds_without_cutting(runner, example_npz, tmp_path,
                                                                               groups, columns):
    out, _ = _run(runner, example_npz, tmp_path / "t.json", "--set", f"mapping.pixel_groups={groups}",
                  columns=columns)
    lines = _breakdown_block(out)
    block = "\n".join(lines)
    assert max(len(line) for line in lines) <= columns
    assert "…" not in block
    for header in HEADERS:
        assert header in block, header
    assert block.count("network") >= 1
    assert (" G " in block) == (groups != 1) and "vs G=1" not in block  # a G column only with groups; no auto
    for name in IO_CYCLES:
        for cell in _cells(*hand_layer(groups, name)):
            assert cell in block, (name, cell)
    for cell in _cells(*hand_network(groups)):
        assert cell in block, cell
    if columns == 50:
        assert "(2/" in block  # folded into parts, each repeating the layer column
        assert len([line for line in lines if "layer" in line]) >= 3


def test_terminal_table_shows_pixel_groups_and_auto(runner, example_npz, tmp_path):
    out, body = _run(runner, example_npz, tmp_path / "a.json", "--set", "mapping.pixel_groups=auto", columns=200)
    for layer in body["layers"]:
        tried = layer["mapping"]["auto_cycles"]
        assert set(tried) == {"1", "2", "4"}  # the powers of two dividing 4 PEs
        # section 4.1: 28 cycles with one group, 17 with two; four groups (not worked by hand) take longer
        assert (tried["1"], tried["2"]) == (28, 17) and tried["4"] > 17
        assert layer["mapping"]["pixel_groups"] == 2
        row = next(line for line in out.splitlines() if line.startswith(f"│ {layer['name']} ") and "%" in line)
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert cells[1] == "2" and cells[2] == "1.647x"  # 28 / 17 = 1.6470..., 4 significant digits
    assert "vs G=1" in out and "pixel groups" in out


def test_html_has_the_figure_and_the_table_from_report_json(runner, example_npz, tmp_path):
    _run(runner, example_npz, tmp_path / "h.json")
    res = runner.invoke(cli, ["report", str(tmp_path / "h.json"), "-o", str(tmp_path / "h.html")],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (tmp_path / "h.html").read_text()
    start = html.index('id="cycle-breakdown"')
    section = html[start:html.index("<section", start) if "<section" in html[start:] else len(html)]
    assert section.count("<img") == 2 and "data:image/png;base64," in section
    for k in PARTS:
        assert f"{PART_WORDS[k]} (cycles, % of the layer)" in section
    assert "idle_pes" not in section
    assert "5 (8.5 %)" in section  # the network's ideal part: 20 PE cycles / 4 = 5 of its 59 cycles
    for name in IO_CYCLES:
        assert f">{name}<" in section


def test_old_report_without_breakdown_still_renders(runner, example_npz, tmp_path):
    _, body = _run(runner, example_npz, tmp_path / "o.json")
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


def test_sweep_rows_carry_the_network_breakdown(runner, example_npz, tmp_path):
    out = tmp_path / "s"
    res = runner.invoke(cli, ["sweep", str(PUBLISHED), str(example_npz), *SETS, "--set", "mapping.pixel_groups=1,2",
                              "--out", str(out), "--workers", "1"], env={"COLUMNS": "80"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "cycle_breakdown" not in res.output  # not a swept key in the terminal table
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["mapping.pixel_groups"] for r in rows] == ["1", "2"]
    for row in rows:
        cycles, parts = hand_network(int(row["mapping.pixel_groups"]))
        assert int(row["cycles"]) == cycles
        for k in PARTS:
            assert float(row[f"cycle_breakdown.{k}"]) == parts[k] / N, k
    res = runner.invoke(cli, ["report", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert 'id="cycle-breakdown"' in html and "ideal (cycles, % of the point)" in html
    assert "idle PEs (cycles, % of the point)" in html and "I/O (cycles, % of the point)" in html


def test_records_flatten_mapping_and_breakdown():
    rows = simulate(*section_4_1_example(2, copies=2)).to_records()
    assert [row["name"] for row in rows] == list(IO_CYCLES)
    for row in rows:
        cycles, parts = hand_layer(2, row["name"])
        assert row["cycles"] == cycles and row["mapping.pixel_groups"] == 2 and row["mapping.slowest_group"] == 0
        for k in PARTS:
            assert row[f"cycle_breakdown.pe_cycles.{k}"] == parts[k]
            assert row[f"cycle_breakdown.cycles.{k}"] == parts[k] / N
        assert not any(isinstance(v, (list, dict)) for v in row.values())  # scalars only
        assert "mapping.group_cycles" not in row and "cycle_breakdown" not in row
