"""``eiesim reproduce squeezenet-mapping``: the rows are the runs they claim to be, and the outputs are complete.

The synthetic SqueezeNet runs through the CLI once (G = 1, 4 and the two auto rows, to keep
it fast); the checks recompute each claimed number from what the study cannot fake: a
plain ``eiesim.simulate`` run, the per-layer action counts, the published YAML.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import numpy as np
import pytest
import yaml
from _support import NET, ROOT, replace_simulate, run_cli

from eiesim.cli.reproduce.squeezenet_mapping_report import OUT_FILES
from eiesim.reproduce import squeezenet_mapping as study_mod

ARCH = ROOT / "arch_configs" / "eie-64pe-8bit.yaml"
SYNTHETIC = ROOT / "workloads" / "squeezenet-1.0-synthetic.npz"
STUDY_GROUPS = (1, 4)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The command as a user runs it (80 columns, --json and --out), on the synthetic workload."""
    from eiesim.cli import main

    d = tmp_path_factory.mktemp("sqmap")
    json_path, out_dir = d / "study.json", d / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(study_mod, "GROUPS", STUDY_GROUPS)
        mp.setenv("COLUMNS", "80")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["reproduce", "squeezenet-mapping", "--synthetic", "--json", str(json_path),
                      "--out", str(out_dir)])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "json": json_path, "out": out_dir,
            "study": json.loads(json_path.read_text()) if json_path.is_file() else None}


@pytest.fixture(scope="module")
def study(cli_run):
    assert cli_run["code"] == 0, cli_run["stderr"]
    return cli_run["study"]


def _row(study, label):
    return next(r for r in study["rows"] if r["label"] == label)


def test_rows_are_the_configurations_asked_for(study):
    assert [r["label"] for r in study["rows"]] == ["G = 1", "G = 4", "auto", "auto, published SRAMs"]
    assert [r["srams"] for r in study["rows"]] == ["auto", "auto", "auto", "published"]
    assert study["workload"]["kind"] == "synthetic" and "SYNTHETIC" in study["workload"]["label"]


def test_every_mapping_computes_the_reference_outputs(study):
    assert [r["functional"] for r in study["rows"]] == ["pass"] * len(study["rows"])


def test_g1_row_is_a_plain_simulate_at_g1(study):
    import eiesim

    arch = eiesim.load_arch(str(ARCH), ["spmat_sram.size_bytes=auto", "ptr_sram.size_bytes=auto"])
    assert arch.mapping.pixel_groups == 1  # the YAML's default mapping
    plain = eiesim.simulate(arch, eiesim.load_workload(str(SYNTHETIC)), input="chelsea", check=False)
    g1 = _row(study, "G = 1")
    assert g1["cycles"] == plain.cycles
    assert g1["compute_cycles"] == sum(s.compute_cycles for s in plain.layers)
    assert g1["ptr_reads"] == sum(s.actions["ptr_reads"] for s in plain.layers)
    assert [layer["ptr_reads"] for layer in g1["layers"]] == [s.actions["ptr_reads"] for s in plain.layers]
    assert g1["spmat_bytes_per_pe"] == plain.storage.spmat_bytes_max
    assert g1["energy_pj"] == plain.costs["energy"]["total_pj"]  # read from the result, not recomputed
    assert g1["chip_mm2"] == plain.costs["area"]["chip_mm2"]


def test_speedups_are_ratios_of_cycles(study):
    g1 = _row(study, "G = 1")
    for r in study["rows"]:
        assert r["speedup"] == pytest.approx(g1["cycles"] / r["cycles"], rel=1e-12)
        assert r["compute_speedup"] == pytest.approx(g1["compute_cycles"] / r["compute_cycles"], rel=1e-12)
    assert _row(study, "G = 4")["speedup"] > 1  # replicas shorten conv1's rounds of short broadcasts


def test_pointer_reads_follow_the_group_size(study):
    """Each broadcast is pushed into the N / G FIFOs of its group and every pop reads one pointer pair."""
    n = study["arch"]["num_pes"]
    for r in study["rows"]:
        for layer in r["layers"]:
            g = layer["pixel_groups"]
            assert n % g == 0 and layer["group_pes"] == n // g, (r["label"], layer["name"])
            assert layer["ptr_reads"] == layer["fifo_pops"], (r["label"], layer["name"])
            assert layer["fifo_pushes"] == layer["lnzd_ops"] * (n // g), (r["label"], layer["name"])
        if isinstance(r["pixel_groups"], int):
            assert {layer["pixel_groups"] for layer in r["layers"]} == {r["pixel_groups"]}  # all conv, many pixels
        assert r["ptr_reads"] == sum(layer["ptr_reads"] for layer in r["layers"])


def test_auto_rows_add_up_over_their_layers(study):
    for label in ("auto", "auto, published SRAMs"):
        r = _row(study, label)
        assert r["cycles"] == sum(layer["cycles"] for layer in r["layers"])
        assert r["compute_cycles"] == sum(layer["compute_cycles"] for layer in r["layers"])
        assert sum(r["cycle_breakdown"].values()) == pytest.approx(r["cycles"], rel=1e-12)
        for layer in r["layers"]:
            assert sum(layer["cycle_breakdown"].values()) == pytest.approx(layer["cycles"], rel=1e-12)
        assert r["layer_groups"] == {layer["name"]: layer["pixel_groups"] for layer in r["layers"]}
        assert all(g in (1, 2, 4, 8, 16, 32, 64) for g in r["layer_groups"].values())


def test_the_bound_is_the_g1_work_over_n(study):
    g1 = _row(study, "G = 1")
    n = study["arch"]["num_pes"]
    entries = sum(layer["entries_processed"] for layer in g1["layers"])
    bound = study["bound"]
    assert bound["entries_processed"] == entries
    assert bound["ideal_compute_cycles"] == pytest.approx(entries / n, rel=1e-12)
    assert bound["speedup_cap"] == pytest.approx(g1["compute_cycles"] / (entries / n), rel=1e-12)
    gap = g1["compute_cycles"] - entries / n
    for r in study["rows"]:
        # No PE issues more than one entry a cycle: a row's compute phase is at least its own work / N.
        own = sum(layer["entries_processed"] for layer in r["layers"]) / n
        assert r["ideal_cycles"] == pytest.approx(own, rel=1e-12)
        assert r["compute_cycles"] >= own
        assert r["compute_over_bound"] == pytest.approx(r["compute_cycles"] / (entries / n), rel=1e-12)
        assert r["gap_recovered"] == pytest.approx((g1["compute_cycles"] - r["compute_cycles"]) / gap, rel=1e-12)


def test_fits_and_sizes_are_against_the_published_yaml(study):
    spec = yaml.safe_load(ARCH.read_text())
    spmat, ptr = spec["spmat_sram"]["size_bytes"], spec["ptr_sram"]["size_bytes"]
    for r in study["rows"]:
        assert r["fits_published_srams"] == (r["spmat_bytes_per_pe"] <= spmat and r["ptr_bytes_per_pe"] <= ptr)
    pub, auto = _row(study, "auto, published SRAMs"), _row(study, "auto")
    assert pub["fits_published_srams"] and pub["resident"]
    assert (pub["spmat_capacity_bytes"], pub["ptr_capacity_bytes"]) == (spmat, ptr)
    # The greedy reduction starts from auto's choice and only lowers G.
    assert all(pub["layer_groups"][name] <= g for name, g in auto["layer_groups"].items())
    assert pub["cycles"] >= auto["cycles"]
    # Replicas cost storage: G = 4 stores the conv weights four times over a quarter of the PEs' rows each.
    g1, g4 = _row(study, "G = 1"), _row(study, "G = 4")
    assert g4["spmat_bytes_per_pe"] > 2 * g1["spmat_bytes_per_pe"]


def test_terminal_output_fits_80_columns_and_says_synthetic(cli_run):
    assert cli_run["code"] == 0, cli_run["stderr"]
    lines = cli_run["stdout"].splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in cli_run["stdout"]
    assert "SYNTHETIC" in cli_run["stdout"]
    for text in ("G = 1", "G = 4", "auto, published SRAMs", "conv1", "fire9/conv3x3_2", "idle PEs", "network"):
        assert text in cli_run["stdout"], text


def test_json_and_out_directory_are_complete(cli_run, study):
    out = cli_run["out"]
    assert sorted(os.listdir(out)) == sorted(OUT_FILES)
    assert json.loads((out / "results.json").read_text()) == study
    for name in OUT_FILES:
        data = (out / name).read_bytes()
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG")
        elif name.endswith(".pdf"):
            assert data.startswith(b"%PDF")
        elif name.endswith(".svg"):
            assert b"<svg" in data[:2000] and b"SYNTHETIC" in data
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert "SYNTHETIC" in text and "auto, published SRAMs" in text and "fire9/conv3x3_2" in text
        assert f"{study['rows'][0]['cycles']:,}" in text
    assert not [p for p in out.parent.iterdir() if ".eiesim-tmp-" in p.name]


def test_without_shared_the_study_falls_back_to_synthetic(monkeypatch):
    monkeypatch.setattr(study_mod, "default_real_model", lambda: None)
    source = study_mod.study_workload()
    assert source.kind == "synthetic" and "SYNTHETIC" in source.label and source.path.endswith(SYNTHETIC.name)


def test_a_workload_file_is_labelled_by_what_it_is():
    assert study_mod.study_workload(SYNTHETIC).kind == "synthetic"


def test_groups_must_include_the_baseline():
    from eiesim.errors import UsageError

    with pytest.raises(UsageError, match="include 1"):
        study_mod.mapping_study(study_mod.study_workload(synthetic=True), groups=(2, 4))


@pytest.mark.parametrize("args", [
    ["--out", "{file}"],
    ["--out", "{dir}"],
    ["--json", "{file}/x.json"],
    ["--model", "{missing}"],
    ["--model", "{file}", "--synthetic"],
])
@pytest.mark.parametrize("study", ["squeezenet-mapping", "squeezenet-winograd"])
def test_bad_paths_are_one_line_and_exit_2_before_any_work(study, args, tmp_path, monkeypatch, capsys):
    """Both SqueezeNet studies check their output paths and model options before any simulation."""
    def must_not_run(*a, **k):
        raise AssertionError("work started before the paths were checked")

    replace_simulate(monkeypatch, must_not_run)
    afile = tmp_path / "afile"
    afile.write_text("a file")
    adir = tmp_path / "adir"
    (adir / "stuff").mkdir(parents=True)
    argv = [a.format(file=afile, dir=adir, missing=tmp_path / "nope.net") for a in args]
    code, _, err = run_cli(["reproduce", study, *argv], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("eiesim: error: "), err
    assert afile.read_text() == "a file" and sorted(os.listdir(adir)) == ["stuff"]


@pytest.mark.slow
@pytest.mark.skipif(not NET.is_file(), reason="the bundled Deep-Compression SqueezeNet is missing")
def test_real_model_rows_and_the_numbers_docs_validation_quotes():
    """The real model, decoded in memory, every row without the functional check (about 15-20 s)."""
    before = set(os.listdir(NET.parent))
    source = study_mod.study_workload(NET)
    assert source.kind == "real" and len(source.workload.layers) == 26
    s = study_mod.mapping_study(source, check=False)
    assert set(os.listdir(NET.parent)) == before  # nothing written beside the model
    g1, auto, pub = (_row(s, label) for label in ("G = 1", "auto", "auto, published SRAMs"))
    assert pub["fits_published_srams"] and pub["resident"]
    assert all(pub["layer_groups"][name] <= g for name, g in auto["layer_groups"].items())
    assert auto["cycles"] <= pub["cycles"] < g1["cycles"]
    n = s["arch"]["num_pes"]
    for r in s["rows"]:
        assert r["compute_cycles"] >= r["ideal_cycles"] == pytest.approx(
            sum(layer["entries_processed"] for layer in r["layers"]) / n, rel=1e-12)
        assert r["compute_speedup"] <= g1["compute_cycles"] / r["ideal_cycles"]
    assert np.isclose(s["bound"]["speedup_cap"], g1["compute_cycles"] / g1["ideal_cycles"])
    # docs/validation.md, "Where its cycles go, and what pixel groups win back": the page quotes these runs.
    page = (ROOT / "docs" / "validation.md").read_text()
    b = s["bound"]
    assert f"{b['entries_processed']:,} entries issued at G = 1" in page
    assert f"**{b['ideal_compute_cycles']:,.0f} cycles**" in page and f"**{b['speedup_cap']:.3f}x**" in page
    for r in s["rows"]:
        line = (f"| {r['label']} | {r['cycles']:,} | {r['compute_cycles']:,} | {r['speedup']:.3f}x | "
                f"{r['compute_over_bound']:.3f} | {100 * r['gap_recovered']:.1f} % | {r['spmat_bytes_per_pe']:,} | "
                f"{r['ptr_bytes_per_pe']:,} | {'yes' if r['fits_published_srams'] else 'no'} |")
        assert line in page, line
    assert f"gives up {pub['cycles'] - auto['cycles']:,} cycles" in page
    changed = [name for name, g in auto["layer_groups"].items() if pub["layer_groups"][name] != g]
    assert changed == ["fire8/conv3x3_2"] and f"{changed[0]} runs with G = {pub['layer_groups'][changed[0]]} " \
        f"instead of {auto['layer_groups'][changed[0]]}" in " ".join(page.split())
