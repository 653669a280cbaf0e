"""CLI commands import-dc, workload, info, export-dense (run in-process through eiesim.cli.main)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _support import run_exit_code as run

from eiesim.network.dense import load_dense
from eiesim.network.workload_file import load_workload

SHARED = Path(__file__).resolve().parents[2] / "shared"
NET = SHARED / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"


@pytest.mark.skipif(not NET.is_file(), reason="the bundled Deep-Compression SqueezeNet is missing")
def test_import_dc_and_info(tmp_path, capsys):
    out = tmp_path / "dc.npz"
    assert run(["import-dc", str(NET), "-o", str(out)]) == 0
    assert "415,921 non-zero weights" in capsys.readouterr().out
    assert run(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fire9/conv3x3_2" in text and "415,921" in text
    assert run(["info", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["nnz"] == 415_921 and len(data["layers"]) == 26
    assert data["layers"][-1]["name"] == "conv_final" and data["layers"][-1]["padding"] == [1, 1]
    assert data["totals"]["padding_entries"] == 6_162


def test_workload_eie_fc_and_info_json(tmp_path, capsys):
    out = tmp_path / "fc.npz"
    argv = ["workload", "eie-fc", "--set", "in=256", "--set", "out=128", "--set", "weight_density=0.1",
            "--set", "act_density=0.25", "--bits", "4", "--seed", "3", "-o", str(out)]
    assert run(argv) == 0
    capsys.readouterr()
    assert run(["info", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    layer = data["layers"][0]
    assert (layer["kind"], layer["rows"], layer["cols"], layer["nnz"]) == ("fc", 128, 256, round(0.1 * 256 * 128))
    assert layer["codebook_bits"] == 4
    wl = load_workload(out)
    assert np.count_nonzero(wl.input) == 64


def test_workload_list(capsys):
    assert run(["workload", "--list"]) == 0
    out = capsys.readouterr().out
    assert "squeezenet-1.0" in out and "nt-lstm" in out


def test_export_dense_round_trip(tmp_path):
    wl_path, dense = tmp_path / "w.npz", tmp_path / "d.npz"
    assert run(["workload", "nt-lstm", "--bits", "4", "-o", str(wl_path)]) == 0
    assert run(["export-dense", str(wl_path), "-o", str(dense)]) == 0
    wl, model = load_workload(wl_path), load_dense(dense)
    np.testing.assert_array_equal(model.layers[0].weight, wl.layers[0].dense_weights())


@pytest.mark.parametrize("argv", [
    ["workload", "nonexistent", "-o", "x.npz"],
    ["workload", "eie-fc", "--set", "in", "-o", "x.npz"],
    ["workload", "alex-6", "--set", "in=3", "-o", "x.npz"],
    ["workload", "squeezenet-1.0"],
    ["info", "missing.npz"],
    ["export-dense", "missing.npz", "-o", "x.npz"],
])
def test_usage_errors_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eiesim: error: ")
    assert not (tmp_path / "x.npz").exists()
