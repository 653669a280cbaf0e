"""NeuralTalk: the workloads (sizes and densities of Table III, NT-LSTM recurrent) and the reproduce row."""

from __future__ import annotations

import json

import numpy as np
from _support import run_exit_code as run

from eiesim.network.neuraltalk import neuraltalk, nt_lstm_steps
from eiesim.network.workload_file import load_workload


def test_neuraltalk_workload_has_the_table3_layers():
    wl = neuraltalk()
    assert [(layer.name, layer.kind, layer.rows, layer.cols) for layer in wl.layers] == [
        ("NT-We", "fc", 600, 4096), ("NT-LSTM", "lstm", 2400, 1200), ("NT-Wd", "fc", 8791, 600)]
    lstm = wl.layers[1]
    assert lstm.extra["hidden"] == 600 and lstm.nnz == round(0.10 * 2400 * 1200)
    assert np.count_nonzero(lstm.bias) == 2400  # the 1201st input of the paper's matrix: every row's bias
    assert wl.output_shapes() == {"NT-We": (600,), "NT-LSTM": (600,), "NT-Wd": (8791,)}
    steps = nt_lstm_steps(steps=3)
    assert steps.input_shape == (1800,) and steps.output_shapes()["NT-LSTM"] == (1800,)


def test_workload_command_writes_and_lists_them(tmp_path, capsys):
    out = tmp_path / "nt.npz"
    assert run(["workload", "nt-lstm-steps", "-o", str(out)]) == 0
    assert load_workload(out).layers[0].kind == "lstm"
    capsys.readouterr()
    assert run(["workload", "--list", "--json"]) == 0
    names = json.loads(capsys.readouterr().out)
    assert "neuraltalk" in names and "nt-lstm-steps" in names


def test_reproduce_row_decomposes_a_step(tmp_path):
    from eiesim.reproduce.neuraltalk import neuraltalk_rows

    doc = neuraltalk_rows(words=2)
    rec, cap = doc["recurrent"], doc["caption"]
    # Per step on 64 PEs: load ceil(600 / 64) = 10 cycles; element-wise ceil(2400 / 64) + ceil(600 / 64) + 5
    # + ceil(600 / 64) = 38 + 10 + 5 + 10 = 63 cycles (docs/timing-model.md section 8), at 800 MHz.
    assert rec["load_us"] == 10 / 800 and rec["elementwise_us"] == 63 / 800
    assert abs(rec["simulated_us"] - (rec["mxv_us"] + rec["load_us"] + rec["elementwise_us"])) < 1e-9
    assert rec["functional"] == "pass"
    by_layer = {r["layer"]: r["simulated_us"] for r in doc["rows"]}
    assert abs(cap["simulated_us"] - (by_layer["NT-We"] + rec["lstm_all_steps_us"] + 2 * by_layer["NT-Wd"])) < 1e-9
    assert cap["paper_based_us"] == 8.0 + 2 * (7.5 + 13.9)
