"""Running sweep points: in this process or on local worker processes (Dask: ``eiesim.sweeps.dask_runner``).

One scheduling loop (:func:`run_points`) drives three runners. It keeps at most a few
points per worker in flight, claims each point in the store before submitting it
(points another sweep has claimed are done last, after waiting for that sweep: usually
they are then stored and simply reused), stores every result as soon as it arrives, and
retries a point whose *worker* was lost -- a local worker process that died
(``BrokenProcessPool``), or on Dask a ``KilledWorker``, a cancelled future, a lost
connection -- up to :data:`MAX_ATTEMPTS` times in all, one retried point in flight at a
time (a dying worker fails every point queued on it, and an innocent point must not use up its
attempts beside one that kills its worker every time). A point that raises by itself
(an ``EiesimError`` or a bug) is deterministic and is not retried. Failures are raised
only after every other point has been stored.

* Local workers start from the parent's loaded workload (a forked worker inherits it), run the kernels on one thread (one point
  per CPU already keeps every CPU busy) and exit by themselves when the sweep process
  dies, even by SIGKILL (a watchdog thread notices the new parent process).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eiesim.config.arch import arch_from_dict
from eiesim.errors import EiesimError, SweepError
from eiesim.jit.threads import set_thread_count
from eiesim.network.workload_file import load_workload
from eiesim.sweeps import points as point_rows

#: Times a point is tried in all when its worker is lost (a crashing point is not retried).
MAX_ATTEMPTS = 3
#: Points kept in flight per worker (enough to hide the round trip, few enough to bound memory and claims).
IN_FLIGHT_PER_WORKER = 2


@dataclass
class RunStats:
    """What happened to the points that were not already stored."""

    computed: int = 0
    reused_from_others: int = 0
    retried: int = 0
    failures: list[tuple[int, BaseException]] = field(default_factory=list)


# -- the scheduling loop -----------------------------------------------------------------------

def run_points(todo: Sequence[int], runner: Any, keys: Sequence[str], store: Any,
               finish: Callable[[int, dict[str, Any]], None],
               reuse: Callable[[int], dict[str, Any] | None]) -> RunStats:
    """Compute the points ``todo`` with ``runner``; ``finish(i, metrics)`` stores each result.

    ``reuse(i)`` returns the stored row of point i if another sweep has stored it meanwhile
    (it is called after claiming). ``store`` may be None (no claims: an in-memory sweep).
    """
    stats = RunStats()
    queue: deque[tuple[int, Any]] = deque((i, None) for i in todo)  # (point, claim already held)
    deferred: list[int] = []
    attempts: Counter[int] = Counter()
    in_flight: dict[Any, tuple[int, Any]] = {}

    def release(claim: Any) -> None:
        if claim is not None:
            claim.release()

    def fill() -> None:
        held: list[tuple[int, Any]] = []
        while queue and len(in_flight) < runner.capacity:
            i, claim = queue.popleft()
            if attempts[i] and any(attempts[j] for j, _ in in_flight.values()):
                # One retried point in flight at a time: a worker that dies takes every point queued on it
                # along, so a point that kills its worker must not use up an innocent retried point's attempts.
                held.append((i, claim))
                continue
            if store is not None and claim is None:
                claim = store.claim(keys[i])
                if claim is None:  # another sweep is computing it: come back to it at the end
                    deferred.append(i)
                    continue
                if reuse(i) is not None:
                    stats.reused_from_others += 1
                    release(claim)
                    continue
            try:
                handle = runner.submit(i)
            except BaseException:
                release(claim)
                raise
            in_flight[handle] = (i, claim)
        queue.extendleft(reversed(held))

    try:
        while True:
            fill()
            if not in_flight:
                if not deferred:
                    break
                i = deferred.pop(0)
                claim = store.claim(keys[i], blocking=True)  # wait for the sweep that holds it
                if reuse(i) is not None:
                    stats.reused_from_others += 1
                    release(claim)
                else:  # that sweep died or failed on it: compute it here
                    queue.append((i, claim))
                continue
            for handle, outcome in runner.wait(list(in_flight)):
                i, claim = in_flight.pop(handle)
                if isinstance(outcome, BaseException):
                    attempts[i] += 1
                    if runner.retryable(outcome) and attempts[i] < MAX_ATTEMPTS:
                        stats.retried += 1
                        runner.recover(outcome)
                        queue.appendleft((i, claim))  # keep the claim: nobody else should start it
                        continue
                    stats.failures.append((i, outcome))
                    release(claim)
                    continue
                try:
                    finish(i, outcome)
                    stats.computed += 1
                finally:
                    release(claim)
    finally:
        for _, claim in in_flight.values():
            release(claim)
        for _, claim in queue:
            release(claim)
    return stats


class ClusterLost(SweepError):
    """The machinery running the points is gone (the Dask scheduler died or became unreachable).

    Raised by a runner; ``sweep`` adds what was kept and that the same command resumes.
    """


def raise_failures(failures: list[tuple[int, BaseException]] | list[BaseException], out_dir: str | Path | None,
                   describe: Callable[[int], str] | None = None) -> None:
    """After every other point is stored: re-raise a user error as is, wrap anything else in SweepError."""
    if not failures:
        return
    items = [f if isinstance(f, tuple) else (-1, f) for f in failures]
    index, first = items[0]
    if isinstance(first, EiesimError):
        raise first
    where = f" (first: {describe(index)})" if describe is not None and index >= 0 else ""
    raise SweepError(f"{len(items)} point(s) failed{where} ({first.__class__.__name__}: {short_text(first)}); the "
                     "other points are stored: rerun the same command to retry only the failed ones", out_dir)


def short_text(exc: BaseException) -> str:
    """An exception's message on one line, at most 300 characters (for error messages)."""
    return " ".join(str(exc).split())[:300]


# -- in this process ----------------------------------------------------------------------------

class SerialRunner:
    """Evaluates each point at once, in the calling process."""

    capacity = 1

    def __init__(self, evaluate: Callable[[int], dict[str, Any]]) -> None:
        self.evaluate = evaluate
        self.done: dict[int, Any] = {}
        self.serial = 0

    def submit(self, i: int) -> int:
        self.serial += 1
        try:
            self.done[self.serial] = self.evaluate(i)
        except Exception as exc:  # noqa: BLE001 -- stored, reported after the other points
            self.done[self.serial] = exc
        return self.serial

    def wait(self, handles: list[int]) -> list[tuple[int, Any]]:
        return [(h, self.done.pop(h)) for h in handles]

    def retryable(self, exc: BaseException) -> bool:
        return False

    def recover(self, exc: BaseException) -> None:
        pass

    def close(self) -> None:
        pass


# -- local worker processes ---------------------------------------------------------------------

#: What a worker process keeps between points: its workload and input (pool workers), its decoded workloads (Dask).
WORKER_STATE: dict[str, Any] = {}


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Start a daemon thread that ends this process as soon as ``parent_pid`` is no longer its parent."""
    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="eiesim-parent-watch", daemon=True).start()


def _init_worker(workload: Any, network_input: Any, parent_pid: int) -> None:
    """``workload``: the parent's loaded Workload (inherited as is by a forked worker, pickled otherwise)
    or the bytes of its file (loaded here)."""
    exit_with_parent(parent_pid)
    set_thread_count(1)  # one point per worker process already keeps every CPU busy
    from eiesim.run.content_cache import keep_first_accumulators

    keep_first_accumulators()  # every point of this worker runs the same workload on the same input
    WORKER_STATE["workload"] = workload_from_bytes(workload) if isinstance(workload, bytes) else workload
    WORKER_STATE["input"] = network_input


def _worker_point(arch_dict: dict[str, Any]) -> dict[str, Any]:
    # Looked up on the module at call time, so that a test's replacement reaches forked workers.
    return point_rows.evaluate_point(arch_from_dict(arch_dict), WORKER_STATE["workload"], WORKER_STATE["input"])


def workload_from_bytes(data: bytes) -> Any:
    """Load a workload sent as the bytes of its .npz file (through the validating loader)."""
    with tempfile.NamedTemporaryFile(suffix=".npz") as fh:
        fh.write(data)
        fh.flush()
        return load_workload(fh.name)


class PoolRunner:
    """Points on ``workers`` local processes; a pool broken by a dead worker is replaced."""

    def __init__(self, workers: int, workload: Any, network_input: Any,
                 arch_dicts: Callable[[int], dict[str, Any]]) -> None:
        """``workload``: a validated Workload (forked workers inherit it instead of loading it again),
        or the bytes of its file."""
        self.workers = workers
        self.capacity = workers * IN_FLIGHT_PER_WORKER
        self.args = (workload, network_input, os.getpid())
        self.arch_dicts = arch_dicts
        self.pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        try:
            return cf.ProcessPoolExecutor(max_workers=self.workers, initializer=_init_worker, initargs=self.args)
        except OSError as exc:  # e.g. no semaphores (a full or missing /dev/shm)
            raise SweepError(f"cannot start {self.workers} worker processes ({exc.strerror or exc}); "
                             "--workers 1 runs the points in this process") from None

    def submit(self, i: int) -> cf.Future:
        return self.pool.submit(_worker_point, self.arch_dicts(i))

    def wait(self, handles: list[cf.Future]) -> list[tuple[cf.Future, Any]]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        out = []
        for fut in done:
            exc = fut.exception()
            out.append((fut, exc if exc is not None else fut.result()))
        return out

    def retryable(self, exc: BaseException) -> bool:
        return isinstance(exc, cf.process.BrokenProcessPool)

    def recover(self, exc: BaseException) -> None:
        if isinstance(exc, cf.process.BrokenProcessPool) and getattr(self.pool, "_broken", False):
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = self._new_pool()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["IN_FLIGHT_PER_WORKER", "MAX_ATTEMPTS", "WORKER_STATE", "PoolRunner", "RunStats", "SerialRunner",
           "exit_with_parent", "raise_failures", "run_points", "short_text", "workload_from_bytes"]
