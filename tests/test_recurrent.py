"""Recurrent layers (LSTM, GRU): the worked example of docs/timing-model.md section 8 on both engines,
the fixed-point non-linearities against the exact functions, engines against the reference, the format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from eiesim.config.arch import load_arch
from eiesim.errors import WorkloadError
from eiesim.network.functional import forward, plan_fixed_point
from eiesim.network.recurrent import sigmoid_fixed, tanh_fixed
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.run.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _tiny_lstm() -> Workload:
    """The worked example: H = 1, I = 2, every weight and bias non-zero, two steps."""
    w = np.array([[0.5, -0.5, 1.0], [0.25, 0.5, -0.5], [1.0, 0.25, 0.5], [-0.5, 1.0, 0.25]], np.float32)
    bias = np.array([0.25, -0.25, 0.5, 0.125], np.float32)
    layer = layer_from_dense("lstm", w, codebook=np.array([-0.5, 0.25, 0.5, 1.0]), bias=bias, kind="lstm",
                             relu=False, extra={"hidden": 1})
    return Workload("tiny-lstm", "hand", (4,), None, [layer], np.array([0.5, -0.25, 0.75, 0.5], np.float32))


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_worked_example_by_hand(engine):
    result = simulate(load_arch(TINY), _tiny_lstm(), engine=engine)
    s = result.layers[0]
    # Step 1: C = 12, step 2: C = 13; per step load 1 and element-wise 1 + 1 + 5 + 1 = 8; I/O 1.
    assert (s.cycles, s.compute_cycles, s.load_cycles, s.store_cycles, s.io_cycles) == (44, 25, 2, 16, 1)
    assert s.pixels == 2 and s.rounds == 2
    expected = {"lnzd_ops": 7, "fifo_pushes": 28, "fifo_pops": 28, "ptr_reads": 28, "src_reg_reads": 5,
                "codebook_lookups": 28, "macs": 28, "real_macs": 28, "dst_reg_reads": 36, "dst_reg_writes": 28,
                "entries_processed": 28, "padding_entries": 0, "act_sram_reads": 4, "act_sram_writes": 2,
                "src_reg_writes": 6, "dram_bytes_read": 8, "dram_bytes_written": 4,
                "elementwise_lookups": 10, "elementwise_mults": 16}
    assert {k: s.actions[k] for k in expected} == expected
    assert result.check["functional"] == "pass"
    assert result.costs["energy"]["total_pj"] > 0
    assert result.totals()["actions"]["elementwise_mults"] == 16


def test_step_two_waits_for_h_of_step_one():
    # With x_2 = 0 the second step broadcasts h_1 only; h_1 != 0 must reach it (its value comes from step 1).
    wl = _tiny_lstm()
    wl.input = np.array([0.5, -0.25, 0.0, 0.0], np.float32)
    s = simulate(load_arch(TINY), wl).layers[0]
    # Step 2: only column 2 (position 2): R = 0, B = 0, popped 2, done 3; c_done = 0 + 1 + 1 + 0 = 2;
    # bias B = 2, popped 4, done 5: C = max(3, 11, 9) = 11. Step 1 as in the example: 12.
    assert s.compute_cycles == 12 + 11
    assert s.actions["src_reg_reads"] == 2 + 1


# -- the non-linearities ---------------------------------------------------------------------

def test_sigmoid_and_tanh_fixed_against_the_exact_functions():
    x = np.arange(-(10 << 12), (10 << 12) + 1, 7, dtype=np.int64)
    xf = x / 4096.0
    sig = sigmoid_fixed(x) / 16384.0
    th = tanh_fixed(x) / 16384.0
    exact_sig = np.array([1 / (1 + math.exp(-v)) for v in xf])
    exact_tanh = np.array([math.tanh(v) for v in xf])
    assert np.max(np.abs(sig - exact_sig)) < 3e-4
    assert np.max(np.abs(th - exact_tanh)) < 1.6e-3  # h^2 / 8 x max |tanh''| = (1/8)^2 / 8 x 0.77 = 1.5e-3
    assert sigmoid_fixed(np.array([0]))[0] == 8192 and tanh_fixed(np.array([0]))[0] == 0
    assert np.all(np.diff(sigmoid_fixed(x)) >= 0) and np.all(np.diff(tanh_fixed(x)) >= 0)
    np.testing.assert_array_equal(sigmoid_fixed(-x), 16384 - sigmoid_fixed(x))
    np.testing.assert_array_equal(tanh_fixed(-x), -tanh_fixed(x))


# -- engines against the reference, and the fixed point against the float ----------------------

def _random_recurrent(kind: str, hidden: int, inputs: int, steps: int, density: float, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    m, v = 4 * hidden, inputs + hidden
    codebook = np.linspace(-0.9, 0.9, 16).astype(np.float32)
    codebook = codebook[codebook != 0]
    w = rng.choice(codebook, size=(m, v)) * (rng.random((m, v)) < density)
    if kind == "gru":  # n_x reads only x, n_h only h
        w[2 * hidden:3 * hidden, inputs:] = 0
        w[3 * hidden:, :inputs] = 0
    bias = rng.choice(codebook, size=m).astype(np.float32)
    layer = layer_from_dense(kind, w.astype(np.float32), codebook=codebook, bias=bias, kind=kind, relu=False,
                             extra={"hidden": hidden})
    x = rng.normal(0, 0.8, size=steps * inputs).astype(np.float32)
    return Workload(f"rand-{kind}", "test", (steps * inputs,), None, [layer], x)


@pytest.mark.parametrize("kind, hidden, inputs, steps, seed", [
    ("lstm", 5, 3, 4, 0), ("gru", 5, 3, 4, 1), ("lstm", 9, 7, 3, 2), ("gru", 3, 10, 5, 3)])
def test_engines_agree_and_match_the_reference_bit_for_bit(kind, hidden, inputs, steps, seed):
    wl = _random_recurrent(kind, hidden, inputs, steps, 0.6, seed)
    arch = load_arch(TINY)
    fast = simulate(arch, wl, engine="fast")
    event = simulate(arch, wl, engine="event")
    assert fast.check["functional"] == event.check["functional"] == "pass"
    assert fast.to_dict()["layers"] == event.to_dict()["layers"]
    np.testing.assert_array_equal(fast.outputs[wl.layers[0].name], event.outputs[wl.layers[0].name])
    # The fixed-point recurrence stays close to the float one (16-bit, piecewise-linear sigmoid / tanh).
    f32 = forward(wl, wl.input, "float32").logits
    f16 = forward(wl, wl.input, "fixed16").logits
    assert f32.shape == (steps * hidden,) and np.max(np.abs(f16 - f32)) < 0.02


def test_the_plan_gives_x_and_h_one_format():
    wl = _random_recurrent("lstm", 4, 3, 3, 0.7, 5)
    plan = plan_fixed_point(wl, wl.input)
    fmt = plan.format(wl.layers[0].name)
    assert fmt.in_frac == fmt.out_frac == plan.input_frac


def test_float_lstm_matches_the_onnx_equations_written_out():
    # An independent statement of ONNX's LSTM (iofc, exact sigmoid / tanh) on the layer's dense weights.
    wl = _random_recurrent("lstm", 3, 2, 4, 0.8, 6)
    layer = wl.layers[0]
    w = layer.weights_csr().toarray().astype(np.float64)
    h, c, outs = np.zeros(3), np.zeros(3), []
    for t in range(4):
        g = w @ np.concatenate([wl.input[2 * t:2 * t + 2], h]) + layer.bias
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        i, o, f, cc = sig(g[0:3]), sig(g[3:6]), sig(g[6:9]), np.tanh(g[9:12])
        c = f * c + i * cc
        h = o * np.tanh(c)
        outs.append(h)
    np.testing.assert_allclose(forward(wl, wl.input, "float32").logits, np.concatenate(outs), atol=1e-6)


# -- the format --------------------------------------------------------------------------------

def test_recurrent_layers_round_trip_and_are_validated(tmp_path):
    wl = _random_recurrent("gru", 2, 3, 2, 0.9, 7)
    path = tmp_path / "gru.npz"
    save_workload(wl, path)
    back = load_workload(path)
    assert back.layers[0].kind == "gru" and back.layers[0].extra["hidden"] == 2
    assert back.output_shapes()[back.layers[0].name] == (4,)
    bad = _random_recurrent("lstm", 2, 3, 2, 0.9, 8)
    bad.layers[0].extra["hidden"] = 3  # 4H = 12 rows expected, the matrix has 8
    with pytest.raises(WorkloadError, match="hidden"):
        bad.output_shapes()
    odd = _random_recurrent("lstm", 2, 3, 2, 0.9, 9)
    odd.input_shape = (7,)  # not whole 3-value steps
    with pytest.raises(WorkloadError, match="steps"):
        odd.output_shapes()


def test_trace_and_export_refuse_recurrent_layers(tmp_path):
    from _support import run_exit_code as run

    path = tmp_path / "tiny.npz"
    save_workload(_tiny_lstm(), path)
    assert run(["trace", str(TINY), str(path), "--layer", "lstm", "-o", str(tmp_path / "t.json")]) == 2
    assert run(["export-onnx", str(path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert not (tmp_path / "m.onnx").exists()
