"""Content-keyed caches (eiesim.run.content_cache): shared work is reused, never leaked.

The expectations do not come from the caches themselves: a changed layer must give the
result of the plain (uncached) computations of ``eiesim.functional`` on the changed
layer, and a matrix product written out here by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eiesim.config.arch import load_arch
from eiesim.errors import WorkloadError
from eiesim.network.fixed_point import dequantize, quantize
from eiesim.network.functional import plan_fixed_point, run_fixed
from eiesim.network.workload import Workload
from eiesim.run.content_cache import (ACCUMULATORS, ENCODINGS, PLANS, REFERENCES, VALIDATED_LAYERS, ContentCache,
                                      array_digest, checked_layer_digests, clear_caches, layer_digest)
from eiesim.run.simulate import simulate

from _support import random_fc_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _fc_workload(seed: int = 5) -> Workload:
    return random_fc_workload(12, 10, seed)


def test_digest_follows_bytes_dtype_and_shape():
    a = np.arange(12, dtype=np.int32)
    assert array_digest(a) == array_digest(a.copy())  # content, not identity
    changed = a.copy()
    changed[7] += 1
    assert array_digest(changed) != array_digest(a)
    assert array_digest(a.astype(np.int64)) != array_digest(a)  # same values, other bytes
    assert array_digest(a.reshape(3, 4)) != array_digest(a)  # same bytes, other shape
    assert array_digest(a[:11]) != array_digest(a)  # a shorter tail (zero padding does not hide it)
    assert array_digest(a, extra=1) != array_digest(a, extra=2)
    with pytest.raises(TypeError):
        array_digest(np.array(["x"], dtype=object))


def test_cache_is_bounded_least_recently_used_out():
    cache = ContentCache("t", budget_bytes=3 * 800, max_entries=10)
    for key in "abc":
        cache.get_or_compute(key, lambda: np.zeros(100))  # 800 bytes each
    cache.get_or_compute("a", lambda: pytest.fail("a is cached"))  # a is now the most recent
    cache.get_or_compute("d", lambda: np.zeros(100))  # over budget: b (least recent) goes
    calls = []
    cache.get_or_compute("b", lambda: calls.append(1) or np.zeros(100))
    assert calls == [1] and len(cache) == 3
    few = ContentCache("n", max_entries=2)
    for key in range(5):
        few.get_or_compute(key, lambda: key)
    assert len(few) == 2
    big = ContentCache("big", budget_bytes=100)
    value = big.get_or_compute("x", lambda: np.zeros(1000))  # larger than the budget: returned, not kept
    assert value.shape == (1000,) and len(big) == 0


def test_cached_arrays_are_read_only():
    cache = ContentCache("t")
    value = cache.get_or_compute("k", lambda: {"a": np.zeros(3), "b": [np.ones(2)]})
    with pytest.raises(ValueError):
        value["a"][0] = 1
    with pytest.raises(ValueError):
        value["b"][0][0] = 1


def test_an_edited_layer_is_validated_again():
    wl = _fc_workload()
    checked_layer_digests(wl)
    assert layer_digest(wl.layers[0]) in VALIDATED_LAYERS._values
    wl.layers[0].codes[0] = 9  # beyond the 4-entry codebook, edited in place after a successful check
    with pytest.raises(WorkloadError, match="codes must be < codebook size"):
        checked_layer_digests(wl)


def test_an_edited_layer_is_simulated_afresh():
    """Warm caches, then a layer edited in place: the run gives the edited network's exact products."""
    arch = load_arch(TINY)
    wl = _fc_workload()
    first = simulate(arch, wl)
    layer = wl.layers[0]
    layer.codes[:] = (layer.codes + 1) % 4  # every weight changes, the sparsity pattern stays
    second = simulate(arch, wl)
    # Independent expectation: the fixed-point product written out here, with a plan calibrated afresh.
    plan = plan_fixed_point(wl, wl.input)
    fmt = plan.format("fc")
    x_q, _ = quantize(wl.input, plan.input_frac, plan.bits)
    w_q, _ = quantize(np.asarray(layer.codebook)[layer.codes], fmt.weight_frac, plan.bits)
    dense = np.zeros((layer.rows, layer.cols), dtype=np.int64)
    for r in range(layer.rows):
        for k in range(layer.indptr[r], layer.indptr[r + 1]):
            dense[r, layer.indices[k]] = w_q[k]
    acc = dense @ x_q.astype(np.int64)
    assert np.array_equal(second.outputs["fc"], run_fixed(wl, x_q, plan)["fc"])
    assert not np.any(layer.bias)  # no bias term to add
    shift = fmt.acc_frac - fmt.out_frac  # requantize with round-half-up
    expected = (acc + (1 << (shift - 1))) >> shift if shift > 0 else acc << -shift
    lo, hi = -(1 << (plan.bits - 1)), (1 << (plan.bits - 1)) - 1
    assert np.array_equal(second.outputs["fc"], np.clip(expected, lo, hi))
    assert second.check["functional"] == "pass"
    assert not np.array_equal(first.outputs["fc"], second.outputs["fc"])
    assert np.abs(dequantize(second.outputs["fc"], fmt.out_frac)).max() > 0


def test_points_that_keep_the_function_share_plan_reference_and_encoding():
    """Another FIFO depth reuses everything; another PE count reuses the plan and the reference only."""
    clear_caches()
    arch = load_arch(TINY)
    wl = _fc_workload(seed=11)
    base = simulate(arch, wl)
    counts = {c.name: (c.hits, c.misses) for c in (PLANS, REFERENCES, ENCODINGS)}
    assert counts == {"fixed-point plans": (0, 1), "fixed-point references": (0, 1), "encodings": (0, 1)}
    deeper = simulate(arch.derive({"fifo_depth": arch.fifo_depth + 4}), wl)
    assert (PLANS.hits, REFERENCES.hits, ENCODINGS.hits, ENCODINGS.misses) == (1, 1, 1, 1)
    fewer = simulate(arch.derive({"num_pes": arch.num_pes // 2}), wl)
    assert (PLANS.hits, REFERENCES.hits, ENCODINGS.hits, ENCODINGS.misses) == (2, 2, 1, 2)
    # The M x V products depend on neither key; they are kept once computed twice (run 2), run 3 finds them.
    assert (ACCUMULATORS.hits, ACCUMULATORS.misses) == (1, 2)
    for run in (deeper, fewer):
        assert np.array_equal(run.outputs["fc"], base.outputs["fc"]) and run.check["functional"] == "pass"
    assert fewer.layers[0].storage != base.layers[0].storage  # the encoding was made for 2 PEs, not reused


def test_kept_accumulators_follow_the_input():
    """Warm caches, then other inputs: each run's outputs are the plain reference's on that input
    (``run_fixed`` with scipy's products, no cache); the products of an input are kept once computed
    twice, and only that input finds them."""
    clear_caches()
    arch = load_arch(TINY)
    wl = _fc_workload(seed=3)
    rng = np.random.default_rng(8)
    other = rng.integers(0, 4, size=(10,)).astype(np.float32)
    inputs = [wl.input, other, wl.input, other, wl.input]
    for x in inputs:
        run = simulate(arch, wl, input=x)
        x_q, _ = quantize(x, run.plan.input_frac, run.plan.bits)
        assert np.array_equal(run.outputs["fc"], run_fixed(wl, x_q, run.plan)["fc"])
        assert run.check["functional"] == "pass"
    assert (ACCUMULATORS.hits, ACCUMULATORS.misses) == (1, 4)  # A, B, A (kept), B (kept), A (found)


def test_a_sweep_worker_keeps_accumulators_from_their_first_computation():
    """``keep_first_accumulators`` (set in sweep workers): the second run finds the products computed by the
    first, and they are the plain reference's; ``keep=False`` restores keeping them only the second time."""
    from eiesim.run.content_cache import keep_first_accumulators

    clear_caches()
    arch = load_arch(TINY)
    wl = _fc_workload(seed=4)
    keep_first_accumulators()
    try:
        first = simulate(arch, wl)
        second = simulate(arch.derive({"fifo_depth": arch.fifo_depth + 1}), wl)
        assert (ACCUMULATORS.hits, ACCUMULATORS.misses) == (1, 1)  # run 1 computed and kept, run 2 found
        x_q, _ = quantize(wl.input, second.plan.input_frac, second.plan.bits)
        assert np.array_equal(second.outputs["fc"], run_fixed(wl, x_q, second.plan)["fc"])
        assert np.array_equal(first.outputs["fc"], second.outputs["fc"]) and second.check["functional"] == "pass"
    finally:
        keep_first_accumulators(False)
    clear_caches()
    simulate(arch, wl)
    simulate(arch, wl)
    assert (ACCUMULATORS.hits, ACCUMULATORS.misses) == (0, 2)  # the default again: kept the second time only
