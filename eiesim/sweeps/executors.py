"""Running sweep points: in this process, on local worker processes, or on a Dask cluster.

One scheduling loop (:func:`run_points`) drives three runners. It keeps at most a few
points per worker in flight, claims each point in the store before submitting it
(points another sweep has claimed are done last, after waiting for that sweep: usually
they are then stored and simply reused), stores every result as soon as it arrives, and
retries a point whose *worker* was lost -- a local worker process that died
(``BrokenProcessPool``), or on Dask a ``KilledWorker``, a cancelled future, a lost
connection -- up to :data:`MAX_ATTEMPTS` times in all. A point that raises by itself
(an ``EiesimError`` or a bug) is deterministic and is not retried. Failures are raised
only after every other point has been stored.

* Local workers load the workload once each, run the kernels on one thread (one point
  per CPU already keeps every CPU busy) and exit by themselves when the sweep process
  dies, even by SIGKILL (a watchdog thread notices the new parent process).
* Dask: the workload and the input are scattered to the workers; when workers die and
  take every copy with them, the next retry scatters them again. Each point runs with
  one kernel thread. ``--dask local`` starts ``workers`` single-threaded worker
  processes. While eiesim reports failures itself, Dask's own log messages are muted.
  A cluster without any worker for :data:`NO_WORKERS_TIMEOUT_S` is an error.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eiesim.errors import EiesimError, SweepError, UsageError

#: Times a point is tried in all when its worker is lost (a crashing point is not retried).
MAX_ATTEMPTS = 3
#: Seconds a Dask cluster may have no worker at all before the sweep gives up.
NO_WORKERS_TIMEOUT_S = 120.0
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
        while queue and len(in_flight) < runner.capacity:
            i, claim = queue.popleft()
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
    raise SweepError(f"{len(items)} point(s) failed{where} ({first.__class__.__name__}: {_short(first)}); the other "
                     "points are stored: rerun the same command to retry only the failed ones", out_dir)


def _short(exc: BaseException) -> str:
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

_WORKER_STATE: dict[str, Any] = {}


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Start a daemon thread that ends this process as soon as ``parent_pid`` is no longer its parent."""
    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="eiesim-parent-watch", daemon=True).start()


def _init_worker(workload_bytes: bytes, network_input: Any, parent_pid: int) -> None:
    from eiesim.jit.threads import set_thread_count

    exit_with_parent(parent_pid)
    set_thread_count(1)  # one point per worker process already keeps every CPU busy
    _WORKER_STATE["workload"] = workload_from_bytes(workload_bytes)
    _WORKER_STATE["input"] = network_input


def _worker_point(arch_dict: dict[str, Any]) -> dict[str, Any]:
    import eiesim.sweeps.sweep as sweep_mod
    from eiesim.config.arch import arch_from_dict

    return sweep_mod.evaluate_point(arch_from_dict(arch_dict), _WORKER_STATE["workload"], _WORKER_STATE["input"])


def workload_from_bytes(data: bytes) -> Any:
    """Load a workload sent as the bytes of its .npz file (through the validating loader)."""
    import tempfile

    from eiesim.network.workload import load_workload

    with tempfile.NamedTemporaryFile(suffix=".npz") as fh:
        fh.write(data)
        fh.flush()
        return load_workload(fh.name)


class PoolRunner:
    """Points on ``workers`` local processes; a pool broken by a dead worker is replaced."""

    def __init__(self, workers: int, workload_bytes: bytes, network_input: Any,
                 arch_dicts: Callable[[int], dict[str, Any]]) -> None:
        self.workers = workers
        self.capacity = workers * IN_FLIGHT_PER_WORKER
        self.args = (workload_bytes, network_input, os.getpid())
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


# -- Dask ---------------------------------------------------------------------------------------

def check_dask_address(address: str) -> None:
    """A malformed ``--dask`` address is a usage error before any work (needs the dask extra)."""
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        raise UsageError("--dask needs the dask extra: pip install 'eiesim[dask]'") from None
    if address == "local":
        return
    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--dask {address!r}: not a Dask scheduler address ({_short(exc)}); expected "
                         "tcp://HOST:PORT, or 'local' to start a cluster here") from None


def _probe_scheduler(address: str) -> None:
    """Fail at once when nothing listens at a tcp:// address (Dask itself retries for its connect timeout)."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return
    host, port = parse_host_port(location)
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except (ConnectionRefusedError, socket.gaierror) as exc:
        raise OSError(f"nothing answers at {host}:{port}: {exc.strerror or exc}") from None
    except OSError:
        pass  # slow or filtered network: let Dask try for its own connect timeout


def _dask_point(workload_bytes: bytes, network_input: Any, arch_dict: dict[str, Any]) -> dict[str, Any]:
    """One point on a Dask worker: the workload is decoded once per worker process and cached."""
    import hashlib

    import eiesim.sweeps.sweep as sweep_mod
    from eiesim.config.arch import arch_from_dict
    from eiesim.jit.threads import set_thread_count

    set_thread_count(1)  # the worker runs one task per thread already: no extra kernel threads
    cache = _WORKER_STATE.setdefault("dask_cache", {})
    digest = hashlib.sha256(workload_bytes).hexdigest()
    if digest not in cache:
        cache.clear()
        cache[digest] = workload_from_bytes(workload_bytes)
    return sweep_mod.evaluate_point(arch_from_dict(arch_dict), cache[digest], network_input)


@contextlib.contextmanager
def quiet_dask_logs() -> Iterator[None]:
    """Mute the ``distributed`` loggers (eiesim reports lost workers and failed points itself)."""
    names = [n for n in list(logging.root.manager.loggerDict) if n == "distributed" or n.startswith("distributed.")]
    loggers = [logging.getLogger(n) for n in names] + [logging.getLogger("distributed")]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level, propagate in saved:
            lg.setLevel(level)
            lg.propagate = propagate


class DaskRunner:
    """Points on a Dask cluster (an address, or 'local' for ``workers`` local single-threaded processes)."""

    def __init__(self, address: str, workers: int, workload_bytes: bytes, network_input: Any,
                 arch_dicts: Callable[[int], dict[str, Any]]) -> None:
        check_dask_address(address)
        from distributed import Client, LocalCluster

        self.cluster = None
        try:
            if address == "local":
                # dashboard_address=None still binds the scheduler's HTTP server to 8787 (and warns when
                # that port is taken): ':0' lets it take any free port.
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=":0", silence_logs=logging.CRITICAL)
                self.client = Client(self.cluster)
            else:
                _probe_scheduler(address)
                self.client = Client(address)
        except (OSError, TimeoutError) as exc:
            if self.cluster is not None:
                self.cluster.close()
            raise SweepError(f"cannot reach the Dask scheduler ({_short(exc)})", f"--dask {address}") from None
        self.data = (workload_bytes, network_input)
        self.arch_dicts = arch_dicts
        self.scattered: tuple[Any, Any] | None = None
        self._scatter()
        threads = sum(self.client.nthreads().values())
        self.capacity = max(1, threads) * IN_FLIGHT_PER_WORKER
        self.no_workers_since: float | None = None

    def _scatter(self) -> None:
        self.scattered = (self.client.scatter(self.data[0], broadcast=True, hash=False),
                          self.client.scatter(self.data[1], broadcast=True, hash=False))

    def submit(self, i: int) -> Any:
        assert self.scattered is not None
        return self.client.submit(_dask_point, *self.scattered, self.arch_dicts(i), pure=False)

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any]]:
        from distributed import wait as dask_wait

        while True:
            # Returns when one is done; raises for a timeout or for cancelled futures (which are done too).
            with contextlib.suppress(Exception):
                dask_wait(handles, timeout=5, return_when="FIRST_COMPLETED")
            done = [f for f in handles if f.done()]
            if done:
                self.no_workers_since = None
                break
            self._check_workers()
        out = []
        for fut in done:
            try:
                outcome: Any = fut.result()
            except Exception as exc:  # noqa: BLE001 -- classified by retryable()
                outcome = exc
            finally:
                # Drop our reference at once: Dask recomputes a lost result while a client holds
                # its future, so a worker dying later would re-run points already stored.
                fut.release()
            out.append((fut, outcome))
        return out

    def _check_workers(self) -> None:
        try:
            workers = self.client.scheduler_info().get("workers", {})
        except Exception:  # noqa: BLE001 -- the scheduler is unreachable: its futures will fail
            return
        if workers:
            self.no_workers_since = None
            return
        now = time.monotonic()
        if self.no_workers_since is None:
            self.no_workers_since = now
        elif now - self.no_workers_since > NO_WORKERS_TIMEOUT_S:
            raise SweepError(f"the Dask cluster has had no workers for {NO_WORKERS_TIMEOUT_S:.0f} s; the finished "
                             "points are stored: start workers and rerun the same command")

    def retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, EiesimError):
            return False
        from distributed import CancelledError
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker | CancelledError | cf.CancelledError | CommClosedError
                          | OSError | TimeoutError)

    def recover(self, exc: BaseException) -> None:
        assert self.scattered is not None
        if any(f.status != "finished" for f in self.scattered):  # every copy was lost with its workers
            for f in self.scattered:
                f.release()
            self._scatter()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()


__all__ = ["DaskRunner", "MAX_ATTEMPTS", "NO_WORKERS_TIMEOUT_S", "PoolRunner", "RunStats", "SerialRunner",
           "check_dask_address", "exit_with_parent", "quiet_dask_logs", "raise_failures", "run_points",
           "workload_from_bytes"]
