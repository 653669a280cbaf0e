"""Activations other than ReLU on the write-back path: float and fixed-point definitions, ONNX import, cycles.

Independent references: numpy's tanh / exp (float definitions) for the fixed-point bound, hand-worked
fixed-point values, onnxruntime on the imported ONNX graphs, and both engines held to the functional
reference bit for bit; the cycles of the activation pass are derived by hand (docs/timing-model.md,
"Activations").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _onnx_support import initializer, needs_onnx, onnx, onnxruntime_output, save_model
from _support import with_edited_meta
from eiesim.config.arch import load_arch
from eiesim.errors import ModelFileError, WorkloadError
from eiesim.network.activations import apply_fixed, apply_float, lut_error_bound
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.run.simulate import simulate

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.export import export_onnx
    from eiesim.importers.onnx.walker import import_onnx

TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"
REL_TOLERANCE = 1e-5
ALL_Q = np.arange(-32768, 32768, dtype=np.int64)


# -- the definitions ------------------------------------------------------------------------------

def test_float_definitions_are_the_textbook_functions():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 7.0])
    sig = 1 / (1 + np.exp(-x))
    assert np.allclose(apply_float("sigmoid", x), sig, atol=1e-7)
    assert np.allclose(apply_float("silu", x), x * sig, atol=1e-6)
    assert np.allclose(apply_float("tanh", x), np.tanh(x), atol=1e-7)
    assert apply_float("clip", x, {"min": 0, "max": 6}).tolist() == [0.0, 0.0, 0.0, 0.5, 6.0]
    assert apply_float("leaky_relu", x, {"alpha": 0.1}).tolist() == pytest.approx([-0.3, -0.05, 0, 0.5, 7])
    assert apply_float("hard_sigmoid", x, {"alpha": 0.2, "beta": 0.5}).tolist() == pytest.approx([0, 0.4, 0.5, 0.6, 1])
    assert apply_float("hard_swish", x).tolist() == pytest.approx([0, -0.5 * 5 / 12, 0, 0.5 * 7 / 12, 7])
    prelu = apply_float("prelu", np.array([[-1.0, 1.0], [-1.0, 2.0]]), {"slope": [0.5, 0.25]})
    assert prelu.tolist() == [[-0.5, 1.0], [-0.25, 2.0]]


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "silu"])
@pytest.mark.parametrize("frac", [4, 8, 11, 15])
def test_table_activations_are_within_the_stated_bound_on_every_16_bit_input(name, frac):
    ours, sat = apply_fixed(name, ALL_Q, frac)
    ref = apply_float(name, ALL_Q / 2.0 ** frac).astype(np.float64)
    assert sat == 0
    assert np.max(np.abs(ours / 2.0 ** frac - ref)) <= lut_error_bound(name, frac)


@pytest.mark.parametrize("name, params", [("clip", {"min": 0, "max": 6}), ("leaky_relu", {"alpha": 0.1}),
                                          ("prelu", {"slope": [0.3]}), ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}),
                                          ("hard_swish", {})])
@pytest.mark.parametrize("frac", [6, 12])
def test_multiply_activations_are_within_two_output_lsb(name, params, frac):
    """A 16-bit coefficient (relative error <= 2^-16) and one rounding: within 2 LSB of the float function."""
    ours, sat = apply_fixed(name, ALL_Q, frac, params)
    ref = apply_float(name, ALL_Q / 2.0 ** frac, params).astype(np.float64)
    assert sat == 0 and np.max(np.abs(ours / 2.0 ** frac - ref)) <= 2 * 2.0 ** -frac


def test_hand_worked_fixed_point_values():
    # ReLU6 at frac 12: 6.0 = 24576; above it clamps, below 0 clamps to 0.
    assert apply_fixed("clip", np.array([24581, 100, -3]), 12, {"min": 0, "max": 6})[0].tolist() == [24576, 100, 0]
    # leaky 0.25: coefficient 8192 at frac 15; -100 x 8192 = -819200, + 2^14 then >> 15 = floor(-24.5) = -25.
    assert apply_fixed("leaky_relu", np.array([-100, 100]), 8, {"alpha": 0.25})[0].tolist() == [-25, 100]
    # hard sigmoid (0.2, 0.5) of 1.0 at frac 8 (256): 0.2 -> 6554 at frac 15; 256 x 6554 >> 8 = 6554,
    # + 0.5 (16384) = 22938 at frac 15, to frac 8: (22938 + 64) >> 7 = 179 (0.6992; float 0.7 = 179.2 LSB).
    assert apply_fixed("hard_sigmoid", np.array([256]), 8, {"alpha": 0.2, "beta": 0.5})[0].tolist() == [179]
    # sigmoid of 0 at frac 8: table index 0 >> 4 + 128 = 128, the bin [0, 1/16) whose centre 1/32 gives
    # sigmoid = 0.507812 -> 16640 at frac 15; to frac 8: (16640 + 64) >> 7 = 130 (0.5078; float 0.5).
    assert apply_fixed("sigmoid", np.array([0]), 8)[0].tolist() == [130]
    # Beyond the table: sigmoid 0 below -8, 32767 above 8; tanh -32768 / 32767 at frac 15 (1.0 saturates).
    assert apply_fixed("sigmoid", np.array([-8 * 256 - 1, 8 * 256]), 8)[0].tolist() == [0, 256]
    assert apply_fixed("tanh", np.array([-32768, 32767]), 12)[0].tolist() == [-4096, 4096]


def test_saturation_is_counted():
    # leaky with alpha 3 on -20000 at frac 0: -60000 does not fit 16 bits.
    out, sat = apply_fixed("leaky_relu", np.array([-20000, -5, 7]), 0, {"alpha": 3.0})
    assert out.tolist() == [-32768, -15, 7] and sat == 1


# -- ONNX import against onnxruntime, fixed point on both engines -------------------------------------

def _graph(op: str, rng: np.random.Generator):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["x", "w2"], ["c2"], name="conv_b", pads=[0, 0, 0, 0]),
             helper.make_node("Concat", ["c", "c2"], ["cat"], name="cat", axis=1)]
    extra = {"PRelu": ["slope"], "Clip": ["lo", "hi"], "ReLU6": ["zero", "six"]}.get(op, [])
    attrs = {"HardSigmoid": {"alpha": 0.3, "beta": 0.4}, "LeakyRelu": {"alpha": 0.2}}.get(op, {})
    if op == "SiLU":
        nodes += [helper.make_node("Sigmoid", ["cat"], ["s"], name="sig"),
                  helper.make_node("Mul", ["cat", "s"], ["a"], name="act")]
    else:
        nodes += [helper.make_node("Clip" if op == "ReLU6" else op, ["cat", *extra], ["a"], name="act", **attrs)]
    nodes += [helper.make_node("MaxPool", ["a"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
              helper.make_node("Flatten", ["p"], ["f"], name="flat"),
              helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1)]
    inits = [initializer("w", rng.normal(size=(4, 3, 3, 3)).astype(np.float32)),
             initializer("w2", rng.normal(size=(2, 3, 1, 1)).astype(np.float32)),
             initializer("fw", rng.normal(size=(5, 24)).astype(np.float32)),
             initializer("lo", np.array(-1.5, np.float32)), initializer("hi", np.array(2.0, np.float32)),
             initializer("zero", np.array(0.0, np.float32)), initializer("six", np.array(6.0, np.float32))]
    if op == "PRelu":
        inits.append(initializer("slope", rng.uniform(0, 0.5, size=(6, 1, 1)).astype(np.float32)))
    return nodes, inits


OPS = ["Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "PRelu", "Clip", "ReLU6", "SiLU"]
KINDS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hard_sigmoid", "HardSwish": "hard_swish",
         "LeakyRelu": "leaky_relu", "PRelu": "prelu", "Clip": "clip", "ReLU6": "clip", "SiLU": "silu"}


@needs_onnx
@pytest.mark.parametrize("op", OPS)
def test_activation_import_matches_onnxruntime_and_engines_agree(tmp_path, op):
    rng = np.random.default_rng(5)
    nodes, inits = _graph(op, rng)
    path = save_model(tmp_path, nodes, inits, [1, 3, 4, 4], opset=14)
    model = import_onnx(path)
    acts = [dl.extra.get("activation") for dl in model.layers[:2]]
    assert [a["kind"] for a in acts] == [KINDS[op]] * 2 and not any(dl.spec.relu for dl in model.layers)
    if op == "PRelu":  # the per-channel slopes split along the concatenation: 4 for conv, 2 for conv_b
        assert len(acts[0]["slope"]) == 4 and len(acts[1]["slope"]) == 2
    x = rng.normal(size=(3, 4, 4)).astype(np.float32) * 2
    wl = to_workload(model)
    ours, ref = forward(wl, x).logits, onnxruntime_output(path, x)
    assert np.max(np.abs(ours - ref)) <= REL_TOLERANCE * np.max(np.abs(ref))
    arch = load_arch(TINY_ARCH).derive({"codebook_bits": 8})
    fast, event = simulate(arch, wl, input=x, engine="fast"), simulate(arch, wl, input=x, engine="event")
    assert fast.check["functional"] == "pass" and event.check["functional"] == "pass"
    assert [s.to_dict() for s in fast.layers] == [s.to_dict() for s in event.layers]
    # The round trip through export-onnx: onnxruntime on the exported file equals eiesim's float pass.
    out = export_onnx(wl, tmp_path / "back.onnx")
    assert np.max(np.abs(onnxruntime_output(out, x) - ours)) <= REL_TOLERANCE * np.max(np.abs(ref))


@needs_onnx
@pytest.mark.parametrize("make, message", [
    (lambda: [helper.make_node("Sigmoid", ["x"], ["y"], name="act")], r"Sigmoid on the network input"),
    (lambda: [helper.make_node("Relu", ["c"], ["r"], name="relu"), helper.make_node("Tanh", ["r"], ["y"], name="act")],
     r"node 'act' \(Tanh\): Tanh after a ReLU of layer 'conv' cannot be folded"),
    (lambda: [helper.make_node("Tanh", ["c"], ["t"], name="t"), helper.make_node("Relu", ["t"], ["y"], name="relu")],
     r"node 'relu' \(Relu\): a ReLU after the activation 'tanh'"),
    (lambda: [helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
              helper.make_node("Mul", ["c", "s"], ["m"], name="mul"),
              helper.make_node("Concat", ["m", "s"], ["y"], name="cat", axis=1)],
     r"x \* Sigmoid\(x\) where x or Sigmoid\(x\) is also used elsewhere"),
], ids=["network-input", "after-relu", "relu-after-tanh", "silu-shared"])
def test_unrepresentable_activations_are_refused(tmp_path, make, message):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv")] + make()
    inits = [initializer("w", np.ones((3, 3, 1, 1), np.float32)), initializer("w1", np.ones((3, 3, 1, 1), np.float32))]
    with pytest.raises(ModelFileError, match=message):
        import_onnx(save_model(tmp_path, nodes, inits, [1, 3, 4, 4], opset=14))


@needs_onnx
def test_constant_mul_scales_the_layer_and_unbounded_clip_is_dropped(tmp_path):
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Mul", ["c", "k"], ["m"], name="scale"),
             helper.make_node("Clip", ["m"], ["y"], name="noclip")]
    inits = [initializer("w", rng.normal(size=(3, 3, 1, 1)).astype(np.float32)),
             initializer("k", rng.normal(size=(1, 3, 1, 1)).astype(np.float32))]
    path = save_model(tmp_path, nodes, inits, [1, 3, 2, 2], opset=14)
    model = import_onnx(path)
    x = rng.normal(size=(3, 2, 2)).astype(np.float32)
    ours, ref = forward(to_workload(model), x).logits, onnxruntime_output(path, x)
    assert np.max(np.abs(ours - ref)) <= REL_TOLERANCE * np.max(np.abs(ref))
    where = {r["node"]: r["where"] for r in model.extra["onnx_coverage"]}
    assert where == {"conv": "EIE layer", "scale": "folded", "noclip": "dropped"}


# -- the workload key, the activation pass and its counts ------------------------------------------------

def _fc_pair(activation: dict | None) -> Workload:
    a = layer_from_dense("a", np.array([[0.5], [1.0]], np.float32), codebook=[0.5, 1.0], kind="fc", relu=False)
    b = layer_from_dense("b", np.array([[1.0, 0.0], [0.0, -1.0]], np.float32), codebook=[-1.0, 1.0], kind="fc",
                         inputs=("a",), relu=activation is None,
                         extra={"activation": activation} if activation else None)
    return Workload("fc-act", "hand-written", (1,), None, [a, b], np.array([1.0], np.float32))


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_activation_pass_cycles_and_counts(engine):
    arch = load_arch(TINY_ARCH)  # N = 4, cap 16
    plain = simulate(arch, _fc_pair(None), engine=engine).layers[1]
    silu = simulate(arch, _fc_pair({"kind": "silu"}), engine=engine)
    s = silu.layers[1]
    # b (fc, M = 2, one block) keeps its outputs in the registers: its two outputs pass the unit back into
    # them, ceil(2 / 4) = 1 cycle. silu: one table read and one multiply per output.
    assert (plain.store_cycles, s.store_cycles) == (0, 1) and s.cycles == plain.cycles + 1
    counts = (s.actions["activation_lut_reads"], s.actions["activation_mults"], s.actions["activation_compares"])
    assert counts == (2, 2, 0)
    assert s.actions["residual_adds"] == 0 and "activation_mults" not in plain.actions
    assert silu.check["functional"] == "pass"


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_activation_on_a_storing_conv_layer_costs_no_cycle(engine):
    rng = np.random.default_rng(1)
    w = np.where(rng.random((6, 2, 1, 1)) < 0.5, 0.5, -0.5).astype(np.float32)

    def build(activation: dict | None) -> Workload:
        layer = layer_from_dense("c", w, codebook=[-0.5, 0.5], relu=activation is None,
                                 extra={"activation": activation} if activation else None)
        x = rng.normal(size=(2, 3, 3)).astype(np.float32)
        return Workload("conv-act", "hand-written", (2, 3, 3), None, [layer], x)

    arch = load_arch(TINY_ARCH)
    plain = simulate(arch, build(None), engine=engine).layers[0]
    leaky = simulate(arch, build({"kind": "leaky_relu", "alpha": 0.1}), engine=engine).layers[0]
    assert leaky.store_cycles == plain.store_cycles == 9 * 2  # 9 pixels x ceil(6 / 4): the unit is on the way out
    assert (leaky.actions["activation_compares"], leaky.actions["activation_mults"]) == (54, 54)


def test_activation_key_round_trip_and_validation(tmp_path):
    wl = _fc_pair({"kind": "prelu", "slope": [0.25, 0.5]})
    path = save_workload(wl, tmp_path / "a.npz")
    back = load_workload(path)
    assert back.layers[1].activation == "prelu" and back.layers[1].activation_params == {"slope": [0.25, 0.5]}
    assert back.layers[0].activation is None

    def broken(edit) -> Path:
        return with_edited_meta(path, lambda m: edit(m["layers"][1]), tmp_path / "bad.npz")

    for edit, message in [
        (lambda layer: layer.update(relu=True), r"a layer with an 'activation' has 'relu': false"),
        (lambda layer: layer.update(activation={"kind": "swishy"}), r"unknown activation 'swishy'"),
        (lambda layer: layer.update(activation={"kind": "relu"}), r"'kind' other than 'relu'"),
        (lambda layer: layer.update(activation={"kind": "prelu", "slope": [1.0, 2.0, 3.0]}), r"3 slopes for 2 channels"),
        (lambda layer: layer.update(activation={"kind": "leaky_relu", "alpha": "0.1"}), r"finite number"),
        (lambda layer: layer.update(activation={"kind": "clip", "min": 2, "max": 1}), r"clip min 2.0 is above max 1.0"),
    ]:
        with pytest.raises(WorkloadError, match=message):
            load_workload(broken(edit))
