"""Splitting kernels over threads changes nothing but the wall time."""

from __future__ import annotations

import numpy as np
import pytest
from _support import run_cli

from eiesim.config.arch import load_arch
from eiesim.errors import UsageError
from eiesim.jit import threads
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.run.simulate import simulate


@pytest.mark.parametrize("total,parts,align", [(10, 3, 1), (1000, 2, 64), (5, 8, 1), (130, 4, 64), (0, 2, 1)])
def test_split_covers_the_range_in_aligned_pieces(total, parts, align):
    ranges = threads.split(total, parts, align)
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(lo % align == 0 for lo, _ in ranges)
    assert len(ranges) <= max(1, parts)


def _workload() -> Workload:
    rng = np.random.default_rng(3)
    cb = np.array([-1.0, -0.5, 0.5, 1.0], np.float32)
    conv_w = np.where(rng.random((64, 16, 3, 3)) < 0.3, cb[rng.integers(0, 4, (64, 16, 3, 3))], 0)
    fc_w = np.where(rng.random((700, 64 * 36 * 36)) < 0.012, cb[rng.integers(0, 4, (700, 64 * 36 * 36))], 0)
    layers = [
        layer_from_dense("conv", conv_w, codebook=cb, padding=(1, 1)),
        layer_from_dense("fc", fc_w, codebook=cb, kind="fc", inputs=("conv",), relu=False),
    ]
    x = np.where(rng.random((16, 36, 36)) < 0.5, rng.random((16, 36, 36)), 0).astype(np.float32)
    return Workload("threads", "test", (16, 36, 36), None, layers, x)


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    wl = _workload()
    arch = load_arch(None, {"num_pes": 64, "dram.sram_overflow": "stream"})
    pieces: list[int] = []
    real_split = threads.split
    monkeypatch.setattr(threads, "split", lambda *a, **k: pieces.append(len(r := real_split(*a, **k))) or r)
    try:
        threads.set_thread_count(1)
        one = simulate(arch, wl)
        assert max(pieces) == 1
        threads.set_thread_count(3)
        pieces.clear()
        many = simulate(arch, wl)
    finally:
        threads.set_thread_count(None)
    assert max(pieces) >= 2, "the layers should be big enough to be split"
    assert one.check["functional"] == "pass" and many.check["functional"] == "pass"
    assert one.to_dict() == many.to_dict()
    for name in one.outputs:
        assert np.array_equal(one.outputs[name], many.outputs[name])


def test_bad_thread_counts_are_refused(monkeypatch, tmp_path, capsys):
    with pytest.raises(UsageError):
        threads.set_thread_count(0)
    monkeypatch.setenv("EIESIM_THREADS", "two")
    with pytest.raises(UsageError, match="EIESIM_THREADS"):
        threads.thread_count()
    monkeypatch.setenv("EIESIM_THREADS", "0")
    code, _, err = run_cli(["run", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "EIESIM_THREADS" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_forked_child_gets_its_own_pool():
    """A child forked after the pool started must not submit work to threads it does not have."""
    import multiprocessing

    wl = _workload()
    arch = load_arch(None, {"num_pes": 64, "dram.sram_overflow": "stream"})
    threads.set_thread_count(2)
    try:
        parent = simulate(arch, wl).to_dict()  # starts the pool in this process
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            child = pool.apply_async(_simulate_in_child, (arch.to_dict(),)).get(timeout=120)
    finally:
        threads.set_thread_count(None)
    assert child == parent


def _simulate_in_child(arch_dict):
    from eiesim.config.arch import arch_from_dict

    threads.set_thread_count(2)
    return simulate(arch_from_dict(arch_dict), _workload()).to_dict()


def test_the_pool_is_created_once_and_shared_by_concurrent_callers():
    """Asking for more threads never replaces the pool (a concurrent caller may be using it)."""
    from concurrent.futures import ThreadPoolExecutor

    def squares(lo, hi):
        return [i * i for i in range(lo, hi)]

    expected = [i * i for i in range(1000)]
    try:
        threads.set_thread_count(2)
        threads.run_ranges(squares, 1000, work=10**9, min_work=1)
        pool = threads._POOL
        assert pool is not None
        threads.set_thread_count(7)
        with ThreadPoolExecutor(4) as callers:  # four callers at once, each splitting into 7 ranges
            results = list(callers.map(lambda _: threads.run_ranges(squares, 1000, work=10**9, min_work=1), range(8)))
        assert threads._POOL is pool
    finally:
        threads.set_thread_count(None)
    for parts in results:
        assert len(parts) == 7 and [v for part in parts for v in part] == expected


def test_a_failing_range_is_raised_after_the_others_finish():
    import threading

    finished = []
    lock = threading.Lock()

    def work(lo, hi):
        if lo == 0:
            raise ValueError("first range")
        with lock:
            finished.append(lo)
        return lo

    try:
        threads.set_thread_count(3)
        with pytest.raises(ValueError, match="first range"):
            threads.run_ranges(work, 30, work=10**9, min_work=1)
    finally:
        threads.set_thread_count(None)
    assert sorted(finished) == [10, 20]
