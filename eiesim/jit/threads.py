"""Running a Numba kernel's outer loop on several threads.

The heavy kernels (``eiesim.encoding.kernels``, ``eiesim.timing.kernels``) are compiled
with ``nogil=True`` and take the range of their outer loop (PEs, rows or output pixels)
as arguments. ``run_ranges``
splits that loop over a shared thread pool. Every chunk writes disjoint outputs or its
own partial sums, which the caller adds up, and the arithmetic is integer, so results
are identical for any number of threads (the tests check 1 against several).

The number of threads is ``EIESIM_THREADS`` if set, else the CPUs this process may use;
``set_thread_count`` overrides both (sweep workers use 1: they already run one point per
CPU).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from eiesim.errors import UsageError

T = TypeVar("T")

_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_OVERRIDE: int | None = None


def thread_count() -> int:
    """Threads the kernels may use (>= 1)."""
    if _OVERRIDE is not None:
        return _OVERRIDE
    raw = os.environ.get("EIESIM_THREADS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise UsageError(f"EIESIM_THREADS must be a positive integer, got {raw!r}")
        return value
    return _usable_cpus()


@functools.cache
def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def set_thread_count(count: int | None) -> None:
    """Use ``count`` threads from now on in this process (None: back to the default)."""
    global _OVERRIDE
    if count is not None and count < 1:
        raise UsageError(f"thread count must be at least 1, got {count}")
    _OVERRIDE = count


def split(total: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """``[0, total)`` cut into at most ``parts`` contiguous ranges whose starts are multiples of ``align``."""
    if total <= 0:
        return [(0, 0)]
    units = -(-total // align)
    parts = max(1, min(parts, units))
    bounds = [min(total, (units * k // parts) * align) for k in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False) if hi > lo]


def _forget_pool_after_fork() -> None:
    """A forked child inherits the pool object but none of its threads: start afresh."""
    global _POOL, _LOCK
    _POOL, _LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _pool() -> ThreadPoolExecutor:
    """The process's one pool, created on first use and never replaced (a concurrent caller may be using it).

    It has one worker fewer than the CPUs this process may use (at least one): the
    calling thread runs a range itself. A request for more ranges than workers + 1
    queues the rest, which changes the wall time, never the results.
    """
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(1, _usable_cpus() - 1), thread_name_prefix="eiesim")
        return _POOL


def run_ranges(fn: Callable[[int, int], T], total: int, work: int, min_work: int = 200_000,
               align: int = 1) -> list[T]:
    """Call ``fn(lo, hi)`` over ranges covering ``[0, total)``, in parallel when worth it.

    ``work`` estimates the whole job (e.g. non-zeros visited); below ``min_work`` per
    thread, or with one thread, ``fn(0, total)`` runs on the calling thread. Otherwise the
    calling thread runs the first range and the shared pool the others. Results are
    returned in range order; if a range fails, the others are waited for before the
    error propagates (no worker is left writing into the caller's arrays).
    """
    if work < 2 * min_work:  # the common case for small layers: no thread bookkeeping at all
        return [fn(0, total)]
    threads = min(thread_count(), work // max(1, min_work))
    ranges = split(total, threads, align)
    if len(ranges) == 1:
        return [fn(*ranges[0])]
    pool = _pool()
    futures = [pool.submit(fn, lo, hi) for lo, hi in ranges[1:]]
    try:
        first = fn(*ranges[0])
    finally:
        wait(futures)
    return [first, *(f.result() for f in futures)]
