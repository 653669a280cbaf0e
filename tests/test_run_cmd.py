"""``eiesim run``: defaults, options, outputs and error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _support import small_workload
from click.testing import CliRunner

from eiesim.cli import _register, cli
from eiesim.network.workload_file import save_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


@pytest.fixture(scope="module")
def runner():
    _register()
    return CliRunner()


@pytest.fixture()
def small_npz(tmp_path):
    wl = small_workload()
    return save_workload(wl, tmp_path / "small.npz")


def test_run_prints_tables_and_writes_json(runner, small_npz, tmp_path):
    out = tmp_path / "r.json"
    res = runner.invoke(cli, ["run", str(TINY), str(small_npz), "--json", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "Totals" in res.output and "c1" in res.output and "pass" in res.output
    body = json.loads(out.read_text())
    assert body["workload"]["name"] == "small" and len(body["layers"]) == 2
    assert body["arch"]["num_pes"] == 4 and body["check"]["functional"] == "pass"


def test_set_overrides_and_engine_choice(runner, small_npz, tmp_path):
    paths = {}
    for label, extra in (("d1", ["--set", "fifo_depth=1"]), ("d8", ["--set", "fifo_depth=8", "--engine", "event"])):
        paths[label] = tmp_path / f"{label}.json"
        res = runner.invoke(cli, ["run", str(TINY), str(small_npz), *extra, "--json", str(paths[label])],
                            catch_exceptions=False)
        assert res.exit_code == 0, res.output
    d1, d8 = (json.loads(paths[k].read_text()) for k in ("d1", "d8"))
    assert d1["arch"]["fifo_depth"] == 1 and d8["arch"]["fifo_depth"] == 8
    meta = json.loads((tmp_path / "d8.run.json").read_text())  # run metadata lives beside the report
    assert meta["engine"] == "event" and meta["wall_time_s"] >= 0 and "engine" not in d8
    assert d1["totals"]["cycles"] >= d8["totals"]["cycles"]


def test_out_dir_writes_report_and_csv(runner, small_npz, tmp_path):
    res = runner.invoke(cli, ["run", str(TINY), str(small_npz), "--out", str(tmp_path / "o")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o" / "report.json").read_text())["totals"]["cycles"] > 0
    lines = (tmp_path / "o" / "layers.csv").read_text().splitlines()
    assert lines[0].startswith("name,") and [ln.split(",")[0] for ln in lines[1:]] == ["c1", "fc"]
    html = (tmp_path / "o" / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert json.loads((tmp_path / "o" / "report.run.json").read_text())["engine"] == "fast"


def test_out_without_dir_uses_reports_folder(runner, small_npz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(cli, ["run", str(TINY), str(small_npz), "--out"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "reports" / "small-tiny-4pe" / "report.json").is_file()


def test_default_run_uses_bundled_arch_and_workload(runner, tmp_path):
    """No arguments: the authors' Deep-Compression SqueezeNet (the counts its SOURCE states: 26 layers, 415,921
    non-zero weights) on the default architecture and the bundled photo chelsea, which it classifies as a cat."""
    out = tmp_path / "d.json"
    res = runner.invoke(cli, ["run", "--json", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    body = json.loads(out.read_text())
    assert body["arch"]["name"] == "eie-64pe-8bit" and body["check"]["functional"] == "pass"
    assert body["workload"]["name"] == "squeezenet-1.0-dc" and body["workload"]["input"] == "chelsea"
    assert body["workload"]["source"].endswith("e4ab6960ae8cd81505e1c2136921201507e930966c53deaf15862a395b3a3261")
    assert (len(body["layers"]), body["workload"]["nnz"]) == (26, 415_921)
    assert 281 <= body["check"]["top1"] <= 285  # ImageNet's five domestic-cat classes: tabby ... Egyptian cat


def _eiesim(*args):
    return subprocess.run([sys.executable, "-m", "eiesim", *args], capture_output=True, text=True, timeout=120)


def test_errors_are_one_line_with_exit_code_2(tmp_path, small_npz):
    missing = _eiesim("run", str(TINY), str(tmp_path / "nope.npz"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("eiesim: error: ") and "nope.npz" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad_set = _eiesim("run", str(TINY), str(small_npz), "--set", "fifo_depth=0")
    assert bad_set.returncode == 2 and "fifo_depth" in bad_set.stderr
    overflow = _eiesim("run", str(TINY), str(small_npz), "--set", "spmat_sram.size_bytes=64",
                       "--set", "dram.sram_overflow=error")
    assert overflow.returncode == 2 and "tiny-4pe.yaml" in overflow.stderr and "auto" in overflow.stderr


def test_reproduce_group_discovers_table4(runner):
    res = runner.invoke(cli, ["reproduce", "--help"], catch_exceptions=False)
    assert res.exit_code == 0 and "eie-table4" in res.output
