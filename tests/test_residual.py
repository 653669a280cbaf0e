"""Residual connections: an Add (or Sum) of two layers' outputs, added on the later layer's write-back path.

The rule (docs/timing-model.md, "Residual"; docs/fixed-point.md, "Residual"): the layer that
produces the later operand carries ``residual: <the other layer>``; the sum is formed before its
ReLU and pool; in fixed point the skip operand is shifted from its own format to the layer's
``out_frac`` (round half up) and the sum saturates once, counted. The store phase first reads the
skip operands, ceil(rows_in_block / N') cycles per (pixel, block).

Independent checks: onnxruntime on the same ONNX file (float), hand-worked fixed-point numbers and
hand-derived cycle counts (both engines), and a workload file round trip.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _onnx_support import (
    TINY_ARCH, assert_engines_bit_exact, assert_float_output_matches_onnxruntime, initializer, needs_onnx, onnx,
    save_model,
)
from _support import with_edited_meta
from eiesim.config.arch import load_arch
from eiesim.errors import ModelFileError, WorkloadError
from eiesim.network.dense import to_workload
from eiesim.network.functional import FixedPointPlan, forward
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.network.workload_file import load_workload, save_workload
from eiesim.run.simulate import simulate

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.walker import import_onnx

#: Allowed max |eiesim - onnxruntime|, relative to the largest |onnxruntime| output (float32 rounding).


def _w(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=shape).astype(np.float32)


def _conv(name: str, x: str, w: str, out: str, pads: int = 1, **kw):
    return helper.make_node("Conv", [x, w], [out], name=name, pads=[pads] * 4, **kw)


def _head(x: str) -> list:
    return [helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"),
            helper.make_node("Flatten", ["gap"], ["flat"], name="flat"),
            helper.make_node("Gemm", ["flat", "fc.weight"], ["y"], name="fc", transB=1)]


def _graphs(rng: np.random.Generator) -> dict[str, tuple[list, list, list[int]]]:
    """name -> (nodes, initializers, input shape): the residual patterns of ResNet and MobileNetV2."""
    c = 4
    conv_w = {"w1": _w(rng, c, c, 3, 3), "w2": _w(rng, c, c, 3, 3), "w3": _w(rng, c, c, 1, 1)}
    bn = [initializer(n, v) for n, v in (("g", rng.uniform(0.5, 2, c).astype(np.float32)), ("b", _w(rng, c)),
                                         ("mu", _w(rng, c)), ("var", rng.uniform(0.5, 2, c).astype(np.float32)))]
    stem = [_conv("conv1", "x", "w0", "c1"), helper.make_node("Relu", ["c1"], ["r1"], name="relu1")]
    stem_init = [initializer("w0", _w(rng, c, 3, 3, 3)), initializer("fc.weight", _w(rng, 5, c))]
    inits = stem_init + [initializer(n, v) for n, v in conv_w.items()]
    basic = stem + [  # ResNet basic block: relu(bn(conv(relu(conv(r1)))) + r1)
        _conv("conv2", "r1", "w1", "c2"), helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        _conv("conv3", "r2", "w2", "c3"),
        helper.make_node("BatchNormalization", ["c3", "g", "b", "mu", "var"], ["n3"], name="bn3"),
        helper.make_node("Add", ["n3", "r1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r3"], name="relu3")] + _head("r3")
    down = stem + [  # ResNet downsample block: both operands are fresh convs (stride 2); the later one carries
        _conv("conv2", "r1", "w1", "c2", strides=[2, 2]), helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        _conv("conv3", "r2", "w2", "c3"),
        _conv("downsample", "r1", "w3", "d", pads=0, strides=[2, 2]),
        helper.make_node("Add", ["c3", "d"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r3"], name="relu3")] + _head("r3")
    inverted = stem + [  # MobileNetV2: x + conv(relu(conv(x))), no activation after the sum; then a max pool
        _conv("conv2", "r1", "w1", "c2"), helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        _conv("conv3", "r2", "w2", "c3"),
        helper.make_node("Sum", ["r1", "c3"], ["s"], name="sum"),
        helper.make_node("MaxPool", ["s"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        _conv("conv4", "p", "w3", "c4", pads=0)] + _head("c4")
    fc = [helper.make_node("Flatten", ["x"], ["xf"], name="flatten"),
          helper.make_node("Gemm", ["xf", "f1"], ["h1"], name="fc1", transB=1),
          helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
          helper.make_node("Gemm", ["a1", "f2"], ["h2"], name="fc2", transB=1),
          helper.make_node("Add", ["a1", "h2"], ["s"], name="add"),
          helper.make_node("Relu", ["s"], ["a2"], name="relu2"),
          helper.make_node("Gemm", ["a2", "f3"], ["y"], name="fc3", transB=1)]
    fc_init = [initializer("f1", _w(rng, 6, 12)), initializer("f2", _w(rng, 6, 6)), initializer("f3", _w(rng, 3, 6))]
    return {"resnet-basic": (basic, inits + bn, [1, 3, 6, 6]), "resnet-downsample": (down, inits, [1, 3, 7, 7]),
            "mobilenet-sum": (inverted, inits, [1, 3, 6, 6]), "fc": (fc, fc_init, [1, 12])}


#: The layer that carries the residual, and the layer it adds, per graph.
CARRIERS = {"resnet-basic": ("conv3", "conv1"), "resnet-downsample": ("downsample", "conv3"),
            "mobilenet-sum": ("conv3", "conv1"), "fc": ("fc2", "fc1")}


@needs_onnx
@pytest.mark.parametrize("case", sorted(CARRIERS))
def test_residual_add_matches_onnxruntime_and_both_engines_agree(tmp_path, case):
    nodes, inits, shape = _graphs(np.random.default_rng(3))[case]
    path = save_model(tmp_path, nodes, inits, shape)
    model = import_onnx(path)
    carrier, skip = CARRIERS[case]
    layer = next(dl for dl in model.layers if dl.spec.name == carrier)
    assert layer.extra == {"residual": skip}
    x = np.random.default_rng(4).normal(size=shape[1:]).astype(np.float32)
    wl = to_workload(model)
    assert_float_output_matches_onnxruntime(wl, path, x)
    rows = {r["node"]: r for r in model.extra["onnx_coverage"]}
    add = rows["sum" if case == "mobilenet-sum" else "add"]
    assert add["where"] == "folded" and "residual" in add["why"]
    assert_engines_bit_exact(wl, x)


@needs_onnx
@pytest.mark.parametrize("nodes, message", [
    (lambda: [_conv("conv1", "x", "w", "c"), helper.make_node("Add", ["c", "x"], ["y"], name="add")],
     # Not a residual: an Add of the network input runs on the host (docs/onnx.md), and a graph that
     # ends in host work is refused.
     r"the graph output 'y' must be the output of one Conv/Gemm/MatMul layer"),
    (lambda: [_conv("conv1", "x", "w", "c"), helper.make_node("Add", ["c", "c"], ["y"], name="add")],
     r"residual Add of layer 'conv1'.s output to itself"),
    (lambda: [_conv("conv1", "x", "w", "c"), helper.make_node("Relu", ["c"], ["r"], name="relu1"),
              _conv("conv2", "r", "w2", "c2"), helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
              helper.make_node("Add", ["r2", "r"], ["y"], name="add")],
     r"residual Add: layer 'conv2' \(the later operand\) already has a ReLU"),
    (lambda: [_conv("conv1", "x", "w", "c"), _conv("conv2", "c", "w2", "c2"), _conv("conv3", "c2", "w2", "c3"),
              helper.make_node("Sum", ["c", "c2", "c3"], ["y"], name="sum3")],
     r"node 'sum3' \(Sum\): a Sum of 3 tensors is not supported"),
    (lambda: [_conv("conv1", "x", "w", "c"), _conv("conv2", "c", "w2", "c2"),
              helper.make_node("Add", ["c2", "c"], ["s"], name="add"),
              helper.make_node("BatchNormalization", ["s", "g", "b", "m", "v"], ["y"], name="bn")],
     r"node 'bn' \(BatchNormalization\): a BatchNormalization after layer 'conv2'.s residual Add cannot be folded"),
], ids=["network-input", "itself", "after-relu", "sum-of-three", "batchnorm-after"])
def test_unrepresentable_residuals_are_refused_with_a_reason(tmp_path, nodes, message):
    inits = [initializer("w", np.ones((3, 3, 3, 3), np.float32)), initializer("w2", np.ones((3, 3, 3, 3), np.float32))]
    inits += [initializer(n, np.ones(3, np.float32)) for n in ("g", "b", "m", "v")]
    path = save_model(tmp_path, nodes(), inits, [1, 3, 4, 4])
    with pytest.raises(ModelFileError, match=message):
        import_onnx(path)


# -- hand-worked fixed point and cycles (docs/fixed-point.md and docs/timing-model.md, "Residual") --------

def _tiny_residual_workload(residual: bool = True) -> Workload:
    """input [1.0] -> a: fc 1->2, w [0.5, 1.0] -> b: fc 2->2, w [[1, 0], [0, -1]], ReLU, + a (residual)."""
    a = layer_from_dense("a", np.array([[0.5], [1.0]], np.float32), codebook=[0.5, 1.0], kind="fc", relu=False)
    b = layer_from_dense("b", np.array([[1.0, 0.0], [0.0, -1.0]], np.float32), codebook=[-1.0, 1.0], kind="fc",
                         inputs=("a",), relu=True, extra={"residual": "a"} if residual else None)
    return Workload("tiny-residual", "hand-written", (1,), None, [a, b], np.array([1.0], np.float32))


def _plan(b_out_frac: int) -> FixedPointPlan:
    return FixedPointPlan.from_dict({"bits": 16, "input_frac": 14, "layers": {
        "a": {"weight_frac": 14, "in_frac": 14, "out_frac": 14},
        "b": {"weight_frac": 14, "in_frac": 14, "out_frac": b_out_frac}}})


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_hand_worked_fixed_point_residual_alignment_and_saturation(engine):
    wl = _tiny_residual_workload()
    arch = load_arch(TINY_ARCH)
    # a = [0.5, 1.0] at frac 14: [8192, 16384]. b's products at acc_frac 28: [16384 x 8192, -16384 x 16384]
    # = [2^27, -2^28]; requantized to frac 13 (shift 15): [4096, -8192]. The skip operand shifted from
    # frac 14 to 13 (round half up): [(8192 + 1) >> 1, (16384 + 1) >> 1] = [4096, 8192]. Sum [8192, 0],
    # ReLU [8192, 0] = [1.0, 0.0]. No saturation.
    res = simulate(arch, wl, engine=engine, plan=_plan(13))
    assert res.outputs["a"].tolist() == [8192, 16384]
    assert res.outputs["b"].tolist() == [8192, 0]
    assert res.check["functional"] == "pass" and res.layers[1].saturations == 0
    # At frac 15: products shifted by 13 give [16384, -32768], the skip shifted left by 1 gives
    # [16384, 32768]: sums [32768, 0]; 32768 > 32767 saturates to 32767 (1.0 - 2^-15), counted once.
    res = simulate(arch, wl, engine=engine, plan=_plan(15))
    assert res.outputs["b"].tolist() == [32767, 0]
    assert res.layers[1].saturations == 1 and res.check["functional"] == "pass"
    assert forward(wl, np.array([1.0], np.float32), "fixed16", _plan(15)).outputs["b"].tolist() == [32767, 0]


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_residual_store_phase_costs_one_cycle_per_output_per_pe(engine):
    arch = load_arch(TINY_ARCH)  # N = 4 PEs, R = 4 registers: cap 16
    plain = simulate(arch, _tiny_residual_workload(False), engine=engine)
    res = simulate(arch, _tiny_residual_workload(True), engine=engine)
    p, r = plain.layers[1], res.layers[1]
    # b is fc with M = 2 <= cap: no store phase of its own; the residual read takes ceil(2 / 4) = 1 cycle.
    assert (p.store_cycles, r.store_cycles) == (0, 1)
    assert r.cycles == p.cycles + 1 and r.compute_cycles == p.compute_cycles and r.io_cycles == p.io_cycles
    assert r.actions["residual_adds"] == 2 and "residual_adds" not in p.actions
    assert r.actions["act_sram_reads"] == p.actions["act_sram_reads"] + 2
    assert r.actions["dst_reg_reads"] == p.actions["dst_reg_reads"] + 2
    assert r.actions["dst_reg_writes"] == p.actions["dst_reg_writes"] + 2
    assert res.totals()["actions"]["residual_adds"] == 2


@pytest.mark.parametrize("engine", ["fast", "event"])
def test_conv_residual_store_phase_per_pixel_and_block(engine):
    """conv a: 2 -> 6 channels on a 3x3 map (9 pixels); conv b: 6 -> 6, 1x1, + a. On 4 PEs (cap 16, one block)
    b's store phase per pixel is ceil(6 / 4) = 2 residual-read cycles + 2 store cycles: 9 x 4 = 36 (18 without)."""
    rng = np.random.default_rng(0)
    wa = np.round(rng.normal(size=(6, 2, 1, 1)) * 4) / 4
    wb = np.round(rng.normal(size=(6, 6, 1, 1)) * 4) / 4
    wb[wb == 0] = 0.25
    wa[wa == 0] = 0.25

    def build(residual: bool) -> Workload:
        a = layer_from_dense("a", wa, codebook=np.unique(wa), relu=True)
        b = layer_from_dense("b", wb, codebook=np.unique(wb), inputs=("a",), relu=True,
                             extra={"residual": "a"} if residual else None)
        return Workload("conv-residual", "hand-written", (2, 3, 3), None, [a, b],
                        rng.normal(size=(2, 3, 3)).astype(np.float32))

    arch = load_arch(TINY_ARCH)
    plain, res = simulate(arch, build(False), engine=engine), simulate(arch, build(True), engine=engine)
    assert plain.layers[1].store_cycles == 18 and res.layers[1].store_cycles == 36
    assert res.layers[1].actions["residual_adds"] == 54
    assert res.check["functional"] == "pass"
    # Two pixel groups of N' = 2 PEs: per pixel ceil(6 / 2) = 3 read + 3 store cycles; group 0 has pixels
    # 0, 2, 4, 6, 8 (the slowest): 5 x 6 = 30. Every output is still read once: 54 residual adds.
    grouped = simulate(arch.derive({"mapping.pixel_groups": 2}), build(True), engine=engine)
    assert grouped.layers[1].store_cycles == 30 and grouped.layers[1].actions["residual_adds"] == 54
    assert grouped.check["functional"] == "pass"


def test_residual_workload_round_trip_and_validation(tmp_path):
    wl = _tiny_residual_workload()
    path = save_workload(wl, tmp_path / "r.npz")
    back = load_workload(path)
    assert back.layers[1].residual == "a" and back.layers[0].residual is None
    meta = json.loads(str(np.load(path)["meta"]))
    assert meta["layers"][1]["residual"] == "a" and "residual" not in meta["layers"][0]

    def broken(edit) -> Path:
        return with_edited_meta(path, lambda m: edit(m["layers"]), tmp_path / "bad.npz")

    for edit, message in [
        (lambda ls: ls[1].update(residual="input"), r"'residual' must be the name of an earlier layer"),
        (lambda ls: ls[1].update(residual="b"), r"residual 'b' is not an earlier layer"),
        (lambda ls: ls[0].update(residual="b"), r"residual 'b' is not an earlier layer"),
        (lambda ls: ls[1].update(residual=3), r"'residual' must be the name of an earlier layer"),
    ]:
        with pytest.raises(WorkloadError, match=message):
            load_workload(broken(edit))


def test_residual_of_a_different_shape_is_refused(tmp_path):
    a = layer_from_dense("a", np.ones((3, 1), np.float32), codebook=[1.0], kind="fc", relu=False)
    b = layer_from_dense("b", np.ones((2, 3), np.float32), codebook=[1.0], kind="fc", inputs=("a",),
                         extra={"residual": "a"})
    wl = Workload("bad", "hand-written", (1,), None, [a, b])
    with pytest.raises(WorkloadError, match=r"residual 'a' has shape \[3\] but the layer's output before pooling "
                                            r"has shape \[2\]"):
        wl.output_shapes()


def test_info_shows_the_residual(tmp_path, capsys):
    from _support import run_cli

    path = save_workload(_tiny_residual_workload(), tmp_path / "r.npz")
    code, out, _ = run_cli(["info", str(path), "--json"], capsys)
    layers = json.loads(out)["layers"]
    assert code == 0 and layers[1]["residual"] == "a" and "residual" not in layers[0]
    code, out, _ = run_cli(["info", str(path)], capsys)
    assert code == 0 and "write-back / load" in out and "+ a" in out
