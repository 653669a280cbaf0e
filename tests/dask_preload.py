"""Preloaded into real ``dask worker`` processes by tests/test_sweep_cluster.py (``--preload``).

Wraps ``eiesim.sweeps.points.evaluate_point`` in the worker so the test counts real evaluations
instead of trusting the sweep's own counters. Each evaluation appends to the file named
by ``EIESIM_TEST_DASK_LOG``::

    start <num_pes> <pid>
    end <num_pes> <pid> <eiesim kernel thread count> <names of live eiesim pool threads or ->

``EIESIM_TEST_DASK_CONFIG`` names a JSON file read at every evaluation: ``slow_s`` (sleep
before simulating) and ``crash_on`` (PE counts whose evaluation kills the worker process).
"""

from __future__ import annotations

import json
import os
import threading
import time


def _config() -> dict:
    try:
        with open(os.environ["EIESIM_TEST_DASK_CONFIG"]) as fh:
            return json.load(fh)
    except (KeyError, OSError, ValueError):
        return {}


def _log(line: str) -> None:
    path = os.environ.get("EIESIM_TEST_DASK_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)


def dask_setup(worker) -> None:  # noqa: ANN001 - called by Dask with the Worker
    import eiesim.sweeps.points as points_mod
    from eiesim.jit.threads import thread_count

    real = points_mod.evaluate_point

    def counted(arch, workload, network_input):  # noqa: ANN001
        cfg = _config()
        _log(f"start {arch.num_pes} {os.getpid()}")
        if arch.num_pes in cfg.get("crash_on", []):
            os._exit(13)
        time.sleep(cfg.get("slow_s", 0))
        result = real(arch, workload, network_input)
        pool = sorted(t.name for t in threading.enumerate() if t.name.startswith("eiesim_"))
        _log(f"end {arch.num_pes} {os.getpid()} {thread_count()} {','.join(pool) or '-'}")
        return result

    points_mod.evaluate_point = counted
