"""Functional reference: float forward against direct loops, fixed16 against float, plan, graph plumbing."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from eiesim.errors import InputDataError, UsageError, WorkloadError
from eiesim.network.fixed_point import LayerFormat, accumulate_reference, dequantize, quantize
from eiesim.network.functional import (
    FixedPointPlan,
    forward,
    gather_input,
    plan_fixed_point,
    run_fixed,
    softmax,
)
from eiesim.network.workload import Pool, Workload, layer_from_dense

SHARED = Path(__file__).resolve().parents[2] / "shared"
NET = SHARED / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"


# -- helpers: tiny workloads and slow, obvious reference computations ----------------------

def sparse_codebook_weights(rng: np.random.Generator, shape: tuple[int, ...], density: float = 0.5,
                            levels: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Random weights drawn from a small codebook (no zeros in it), with ~``density`` non-zeros."""
    codebook = np.linspace(-1.0, 1.0, levels + 1).astype(np.float32)
    codebook = codebook[codebook != 0]
    w = codebook[rng.integers(0, len(codebook), size=shape)]
    w = np.where(rng.random(shape) < density, w, 0).astype(np.float32)
    return w, codebook


def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Direct nested-loop convolution (cross-correlation), float64."""
    c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.zeros((c, h + 2 * pad, wd + 2 * pad))
    xp[:, pad:pad + h, pad:pad + wd] = x
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((m, oh, ow))
    for o in range(m):
        for oy in range(oh):
            for ox in range(ow):
                patch = xp[:, oy * stride:oy * stride + kh, ox * stride:ox * stride + kw]
                out[o, oy, ox] = np.sum(patch * w[o]) + b[o]
    return out


def naive_maxpool(x: np.ndarray, k: int, s: int, out_hw: tuple[int, int]) -> np.ndarray:
    out = np.zeros((x.shape[0], *out_hw))
    for oy in range(out_hw[0]):
        for ox in range(out_hw[1]):
            out[:, oy, ox] = x[:, oy * s:oy * s + k, ox * s:ox * s + k].max(axis=(1, 2))
    return out


@pytest.fixture(scope="module")
def tiny():
    """conv1 (stride 2, pad 1, max-pool 3/2 ceil) -> two branches (1x1, 3x3 pad 1) -> concat -> fc.

    Returns the workload, its input, and the raw float weights/biases used to build it.
    """
    rng = np.random.default_rng(7)
    raw = {}
    w1, cb1 = sparse_codebook_weights(rng, (6, 3, 3, 3), 0.6)
    w2, cb2 = sparse_codebook_weights(rng, (4, 6, 1, 1), 0.7)
    w3, cb3 = sparse_codebook_weights(rng, (5, 6, 3, 3), 0.4)
    w4, cb4 = sparse_codebook_weights(rng, (10, 9 * 3 * 3), 0.5)
    b = {n: rng.normal(0, 0.2, size=k).astype(np.float32) for n, k in (("c1", 6), ("b1", 4), ("b3", 5), ("fc", 10))}
    raw.update(w1=w1, w2=w2, w3=w3, w4=w4, **b)
    layers = [
        layer_from_dense("c1", w1, codebook=cb1, bias=b["c1"], stride=(2, 2), padding=(1, 1),
                         pool=Pool("max", 3, 2, True)),
        layer_from_dense("b1", w2, codebook=cb2, bias=b["b1"], inputs=("c1",)),
        layer_from_dense("b3", w3, codebook=cb3, bias=b["b3"], padding=(1, 1), inputs=("c1",)),
        layer_from_dense("fc", w4, codebook=cb4, bias=b["fc"], kind="fc", inputs=("b1", "b3"), relu=False),
    ]
    wl = Workload(name="tiny", source="test", input_shape=(3, 12, 12), preprocess=None, layers=layers)
    x = rng.normal(0, 1, size=(3, 12, 12)).astype(np.float32)
    return wl, x, raw


# -- float reference ------------------------------------------------------------------------

def test_float_forward_matches_direct_loops(tiny):
    wl, x, raw = tiny
    res = forward(wl, x, "float32")
    c1 = np.maximum(naive_conv(x, raw["w1"], raw["c1"], 2, 1), 0)  # 6x6x6
    assert c1.shape == (6, 6, 6)
    c1p = naive_maxpool(c1, 3, 2, (3, 3))  # ceil mode: 6 -> 3 (floor mode would give 2)
    b1 = np.maximum(naive_conv(c1p, raw["w2"], raw["b1"], 1, 0), 0)
    b3 = np.maximum(naive_conv(c1p, raw["w3"], raw["b3"], 1, 1), 0)
    fc = raw["w4"] @ np.concatenate([b1.reshape(-1), b3.reshape(-1)]) + raw["fc"]
    for name, expected in (("c1", c1p), ("b1", b1), ("b3", b3), ("fc", fc)):
        assert res.outputs[name].dtype == np.float32
        np.testing.assert_allclose(res.outputs[name], expected, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(res.logits, fc, rtol=1e-4, atol=1e-5)
    e = np.exp(fc - fc.max())
    np.testing.assert_allclose(res.probabilities, e / e.sum(), rtol=1e-5)
    assert res.output_density_before_pool["c1"] == pytest.approx(np.count_nonzero(c1) / c1.size)
    assert res.output_density["c1"] == pytest.approx(np.count_nonzero(c1p) / c1p.size)
    assert res.input_density["fc"] == pytest.approx(
        (np.count_nonzero(b1) + np.count_nonzero(b3)) / (b1.size + b3.size))
    assert res.max_abs_before_relu["fc"] == pytest.approx(np.abs(fc).max(), rel=1e-5)


def test_top5_order_and_ties():
    from eiesim.network.functional import ForwardResult

    probs = np.array([0.1, 0.3, 0.05, 0.3, 0.2, 0.05], np.float32)
    r = ForwardResult("float32", {}, {}, {}, {}, {}, probs, probs, np.zeros(1))
    assert [i for i, _ in r.top5] == [1, 3, 4, 0, 2]
    assert r.top5[0][1] == pytest.approx(0.3)
    assert [i for i, _ in r.top(2)] == [1, 3]


def test_softmax_is_stable_for_large_logits():
    p = softmax(np.array([1000.0, 1000.0, 0.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-7)


def test_global_average_pool_and_avg_pool_shapes():
    rng = np.random.default_rng(1)
    w, cb = sparse_codebook_weights(rng, (4, 2, 1, 1), 1.0)
    x = rng.normal(size=(2, 6, 6)).astype(np.float32)
    w2, cb2 = sparse_codebook_weights(rng, (3, 4, 1, 1), 1.0)
    wl = Workload("g", "t", (2, 6, 6), None, [
        layer_from_dense("a", w, codebook=cb, pool=Pool("avg", 3, 2, True)),
        layer_from_dense("g", w2, codebook=cb2, inputs=("a",), relu=False, pool=Pool("global_avg")),
    ])
    res = forward(wl, x)
    pre = np.maximum(np.einsum("oc,chw->ohw", w[:, :, 0, 0], x), 0)
    assert res.outputs["a"].shape == (4, 3, 3)
    # Ceil mode on a 6-wide map: windows start at 0, 2, 4; the last one is clipped to 2x2 and averages 4 values.
    np.testing.assert_allclose(res.outputs["a"][:, 2, 2], pre[:, 4:6, 4:6].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.outputs["a"][:, 0, 0], pre[:, 0:3, 0:3].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert res.outputs["g"].shape == (3, 1, 1)
    expected = np.einsum("oc,chw->ohw", w2[:, :, 0, 0], res.outputs["a"]).mean(axis=(1, 2))
    np.testing.assert_allclose(res.outputs["g"].reshape(-1), expected, rtol=1e-5, atol=1e-6)
    assert res.logits.shape == (3,)


# -- graph plumbing ---------------------------------------------------------------------------

def test_gather_input_concatenates_in_order_and_flattens_for_fc(tiny):
    wl, _, _ = tiny
    a = np.arange(4 * 3 * 3).reshape(4, 3, 3)
    b = 100 + np.arange(5 * 3 * 3).reshape(5, 3, 3)
    fc_in = gather_input(wl, wl.layer("fc"), {"b1": a, "b3": b}, None)
    assert fc_in.shape == (81,) and fc_in.dtype == a.dtype
    np.testing.assert_array_equal(fc_in, np.concatenate([a.ravel(), b.ravel()]))
    conv_layer = dataclasses.replace(wl.layer("b1"), inputs=("b3", "b1"))
    cat = gather_input(wl, conv_layer, {"b1": a, "b3": b}, None)
    assert cat.shape == (9, 3, 3)
    np.testing.assert_array_equal(cat[:5], b)
    np.testing.assert_array_equal(cat[5:], a)
    x = np.ones((3, 12, 12), np.float32)
    assert gather_input(wl, wl.layer("c1"), {}, x) is x
    with pytest.raises(WorkloadError, match="has not been computed"):
        gather_input(wl, wl.layer("fc"), {"b1": a}, None)


# -- fixed point ------------------------------------------------------------------------------

def test_docs_worked_example():
    """The numbers of docs/fixed-point.md's worked example, computed by hand there."""
    layer = layer_from_dense("fc", np.array([[0.75, -0.3]], np.float32), codebook=np.array([-0.3, 0.75], np.float32),
                             bias=np.array([0.1], np.float32), kind="fc", relu=False)
    wl = Workload("ex", "t", (2,), None, [layer])
    plan = FixedPointPlan(16, 13, {"fc": LayerFormat(weight_frac=15, in_frac=13, out_frac=14)})
    res = forward(wl, np.array([2.5, 1.2], np.float32), "fixed16", plan=plan)
    assert res.outputs["fc"].tolist() == [26461]
    assert res.dequantized("fc")[0] == pytest.approx(26461 / 2**14)
    # and the calibrated plan picks the formats the example states (calibration max |x| = 2.5 < 4 -> 13)
    auto = plan_fixed_point(wl, np.array([2.5, 1.2], np.float32))
    assert auto.format("fc") == LayerFormat(15, 13, 14)


def test_fixed16_single_layer_within_quantization_bound():
    rng = np.random.default_rng(3)
    w, cb = sparse_codebook_weights(rng, (8, 4, 3, 3), 0.5)
    bias = rng.normal(0, 0.3, 8).astype(np.float32)
    wl = Workload("one", "t", (4, 9, 9), None,
                  [layer_from_dense("c", w, codebook=cb, bias=bias, padding=(1, 1), relu=False)])
    x = rng.normal(0, 2, size=(4, 9, 9)).astype(np.float32)
    res_q = forward(wl, x, "fixed16")
    fmt = res_q.plan.format("c")
    # Bound: |x| e_w + |w| e_x + e_w e_x per product, plus bias and output rounding (half an LSB each).
    e_w, e_x, e_o = 2.0 ** -(fmt.weight_frac + 1), 2.0 ** -(fmt.in_frac + 1), 2.0 ** -(fmt.out_frac + 1)
    ones = np.ones_like(w)
    bound = (naive_conv(np.abs(x), (w != 0) * ones, np.zeros(8), 1, 1) * e_w
             + naive_conv(np.ones_like(x), np.abs(w), np.zeros(8), 1, 1) * e_x
             + naive_conv(np.ones_like(x), (w != 0) * ones, np.zeros(8), 1, 1) * e_w * e_x
             + 2.0 ** -(fmt.acc_frac + 1) + e_o)
    exact = naive_conv(x.astype(np.float64), w.astype(np.float64), bias, 1, 1)
    err = np.abs(res_q.dequantized("c") - exact)
    assert np.all(err <= bound * 1.0001 + 1e-6)
    assert res_q.total_saturations == 0
    assert err.max() > 0  # really quantized


def test_fixed16_tracks_float_through_the_graph(tiny):
    wl, x, _ = tiny
    f = forward(wl, x, "float32")
    q = forward(wl, x, "fixed16")
    assert q.top5[0][0] == f.top5[0][0]
    for name in f.outputs:
        scale = np.abs(f.outputs[name]).max()
        assert np.abs(q.dequantized(name) - f.outputs[name]).max() <= 2e-3 * scale, name
        assert q.outputs[name].dtype == np.int64
    assert q.total_saturations == 0 and q.input_saturations == 0


def test_plan_shares_formats_of_concatenated_producers(tiny):
    wl, x, _ = tiny
    plan = plan_fixed_point(wl, x)
    f = forward(wl, x)
    b1, b3 = plan.format("b1"), plan.format("b3")
    assert b1.out_frac == b3.out_frac == plan.format("fc").in_frac
    # the shared format is the narrower of the two individual ones
    from eiesim.network.fixed_point import frac_bits_for
    # ReLU layers: only their non-negative outputs must fit (max after ReLU, before pooling)
    own = [frac_bits_for(f.max_abs_before_pool[n] if wl.layer(n).relu else f.max_abs_before_relu[n])
           for n in ("b1", "b3")]
    assert b1.out_frac == min(own)
    assert plan.format("b1").in_frac == plan.format("b3").in_frac == plan.format("c1").out_frac
    assert plan.format("c1").in_frac == plan.input_frac == frac_bits_for(float(np.abs(x).max()))


def test_plan_round_trips_and_pinned_plan_is_used(tiny):
    wl, x, _ = tiny
    plan = plan_fixed_point(wl, x)
    assert FixedPointPlan.from_dict(plan.to_dict(), wl) == plan
    pinned = dict(plan.to_dict())
    pinned["layers"] = {k: dict(v) for k, v in plan.to_dict()["layers"].items()}
    for v in pinned["layers"].values():  # a visibly different plan: one bit less everywhere
        v["in_frac"] -= 1
        v["out_frac"] -= 1
    pinned["input_frac"] -= 1
    wl2 = dataclasses.replace(wl, extra={"fixed_point": pinned})
    res = forward(wl2, x, "fixed16")
    assert res.plan.input_frac == plan.input_frac - 1
    assert plan_fixed_point(wl2, x, use_pinned=False) == plan


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["layers"].pop("fc"), "no format for layers"),
    (lambda d: d["layers"]["fc"].update(in_frac=d["layers"]["fc"]["in_frac"] + 1), "in_frac"),
    (lambda d: d.update(bits="16"), "'bits'"),
    (lambda d: d["layers"]["b1"].update(out_frac=99), "out_frac"),
])
def test_bad_plans_are_rejected(tiny, mutate, match):
    wl, x, _ = tiny
    d = plan_fixed_point(wl, x).to_dict()
    d["layers"] = {k: dict(v) for k, v in d["layers"].items()}
    mutate(d)
    with pytest.raises(WorkloadError, match=match):
        FixedPointPlan.from_dict(d, wl)


def test_run_fixed_uses_the_given_accumulate(tiny):
    wl, x, _ = tiny
    plan = plan_fixed_point(wl, x)
    x_q, _ = quantize(x, plan.input_frac)
    ref = run_fixed(wl, x_q, plan)
    calls = []

    def dense_accumulate(layer, xq, fmt):
        calls.append(layer.name)
        return accumulate_reference(layer, xq, fmt)

    same = run_fixed(wl, x_q, plan, dense_accumulate)
    assert calls == [layer.name for layer in wl.layers]
    for name in ref:
        np.testing.assert_array_equal(same[name], ref[name])

    def off_by_one_lsb(layer, xq, fmt):
        acc = accumulate_reference(layer, xq, fmt)
        return acc + (1 << (fmt.acc_frac - fmt.out_frac)) if layer.name == "fc" else acc

    bumped = run_fixed(wl, x_q, plan, off_by_one_lsb)
    np.testing.assert_array_equal(bumped["fc"], ref["fc"] + 1)
    assert ref.saturations == {n: 0 for n in ref}
    assert set(ref.density_before_pool) == set(ref.input_density) == set(ref)


def test_fixed_saturation_is_counted():
    w = np.array([[1.0, 1.0]], np.float32)
    wl = Workload("s", "t", (2,), None, [layer_from_dense("fc", w, codebook=np.array([1.0], np.float32), kind="fc")])
    plan = FixedPointPlan(16, 8, {"fc": LayerFormat(weight_frac=14, in_frac=8, out_frac=10)})
    res = forward(wl, np.array([30.0, 30.0], np.float32), "fixed16", plan=plan)  # 60 > 32767 / 2**10
    assert res.saturations["fc"] == 1
    assert res.outputs["fc"].tolist() == [32767]
    assert dequantize(res.outputs["fc"], 10)[0] == pytest.approx(32767 / 1024)


def test_forward_rejects_bad_inputs(tiny):
    wl, x, _ = tiny
    with pytest.raises(InputDataError, match="shape"):
        forward(wl, x[:, :5])
    with pytest.raises(InputDataError, match="NaN"):
        forward(wl, np.full_like(x, np.nan))
    with pytest.raises(UsageError, match="precision"):
        forward(wl, x, "fixed8")


# -- the real Deep-Compression SqueezeNet -----------------------------------------------------

needs_real_model = pytest.mark.skipif(
    not NET.is_file() or importlib.util.find_spec("eiesim.importers.caffe.deep_compression") is None,
    reason="real model file or eiesim.importers.caffe.deep_compression not available")


@pytest.fixture(scope="module")
def squeezenet():
    from eiesim.importers.caffe.deep_compression import import_dc

    return import_dc(NET)


@needs_real_model
@pytest.mark.parametrize("photo, cls", [("chelsea", 285), ("coffee", 967)])
def test_real_squeezenet_top1(squeezenet, photo, cls):
    from eiesim.network.network_input import prepare_input

    x = prepare_input(squeezenet, photo)
    f = forward(squeezenet, x, "float32")
    q = forward(squeezenet, x, "fixed16")
    assert f.top5[0][0] == cls  # 285 Egyptian cat, 967 espresso (ImageNet class indices)
    assert q.top5[0][0] == cls
    assert q.total_saturations == 0
    # activation sparsity is real: some layers feed EIE less than half non-zeros
    assert min(f.output_density.values()) < 0.5
    assert q.output_density == pytest.approx(f.output_density, abs=0.02)


def test_format_groups_close_transitively():
    """Tensors read together share a format, transitively: a reads (x, y), b reads (y, z) => {x, y, z}."""
    from eiesim.network.functional import format_groups
    from eiesim.network.workload import Workload, layer_from_dense

    w = np.ones((2, 1, 1, 1), np.float32)
    cb = np.array([1.0], np.float32)
    layers = [layer_from_dense("x", w[:, :1], codebook=cb), layer_from_dense("y", w[:, :1], codebook=cb),
              layer_from_dense("z", w[:, :1], codebook=cb), layer_from_dense("q", w[:, :1], codebook=cb),
              layer_from_dense("a", np.ones((2, 4, 1, 1), np.float32), codebook=cb, inputs=("x", "y")),
              layer_from_dense("b", np.ones((2, 4, 1, 1), np.float32), codebook=cb, inputs=("y", "z"))]
    wl = Workload("g", "test", (1, 3, 3), None, layers)
    groups = sorted(sorted(g) for g in format_groups(wl))
    assert groups == [["a"], ["b"], ["input"], ["q"], ["x", "y", "z"]]


@pytest.mark.parametrize("scale", [1, 1 << 14, 1 << 30])
def test_the_reference_conv_accumulators_are_exact_at_any_magnitude(scale):
    """Exact integers whether the float64 path applies (small values) or not (2**30 x 2**30 products)."""
    from eiesim.network.fixed_point import LayerFormat, accumulate_reference, im2col, layer_matrix_q
    from eiesim.network.workload import layer_from_dense

    rng = np.random.default_rng(scale)
    cb = np.array([-1.0, -0.5, 0.5, 1.0], np.float32) * 0.9
    codes = rng.integers(0, 4, (5, 3, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.6, cb[codes], 0).astype(np.float32)
    layer = layer_from_dense("c", w, codes_dense=codes, codebook=cb, padding=(1, 1))
    fmt = LayerFormat(weight_frac=30 if scale > 1 << 20 else 14, in_frac=0, out_frac=0, bits=32)
    x = rng.integers(-scale, scale, (3, 6, 6), endpoint=True)
    got = accumulate_reference(layer, x, fmt)
    # Independent: Python integers (no overflow, no rounding), from the decoded CSR and the patches.
    wq = layer_matrix_q(layer, fmt).toarray().astype(object)
    cols = im2col(x, layer.kernel, layer.stride, layer.padding).astype(object)
    want = (wq.dot(cols)).reshape(got.shape)
    assert got.dtype == np.int64 and (got.astype(object) == want).all()
