"""Sweep points on a Dask cluster (``--dask ADDRESS``, or ``--dask local``).

The workload and the input are scattered to the workers; when workers die and take every
copy with them, the next retry scatters them again. Each point runs with one kernel
thread. ``--dask local`` starts ``workers`` single-threaded worker processes. While
eiesim reports failures itself, Dask's own log messages are muted. A cluster without any
worker for :data:`NO_WORKERS_TIMEOUT_S` is an error; a lost scheduler stops the sweep at once
(``ClusterLost``: the finished points are stored and the same command resumes). The scheduling loop and its retry
rules are ``eiesim.sweeps.executors.run_points``'s.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from eiesim.config.arch import arch_from_dict
from eiesim.errors import EiesimError, SweepError, UsageError
from eiesim.jit.threads import set_thread_count
from eiesim.sweeps import points as point_rows
from eiesim.sweeps.executors import (
    IN_FLIGHT_PER_WORKER,
    WORKER_STATE,
    ClusterLost,
    short_text,
    workload_from_bytes,
)

#: Seconds a Dask cluster may have no worker at all before the sweep gives up.
NO_WORKERS_TIMEOUT_S = 120.0


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
        raise UsageError(f"--dask {address!r}: not a Dask scheduler address ({short_text(exc)}); expected "
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
    set_thread_count(1)  # the worker runs one task per thread already: no extra kernel threads
    from eiesim.run.content_cache import keep_first_accumulators

    keep_first_accumulators()  # the worker's points run one workload (per sweep) on one input
    cache = WORKER_STATE.setdefault("dask_cache", {})
    digest = hashlib.sha256(workload_bytes).hexdigest()
    if digest not in cache:
        cache.clear()
        cache[digest] = workload_from_bytes(workload_bytes)
    return point_rows.evaluate_point(arch_from_dict(arch_dict), cache[digest], network_input)


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
            raise SweepError(f"cannot reach the Dask scheduler ({short_text(exc)})", f"--dask {address}") from None
        self.address = address
        self.data = (workload_bytes, network_input)
        self.arch_dicts = arch_dicts
        self.scattered: tuple[Any, Any] | None = None
        self._scatter()
        threads = sum(self.client.nthreads().values())
        self.capacity = max(1, threads) * IN_FLIGHT_PER_WORKER
        self.no_workers_since: float | None = None

    def _lost(self, exc: BaseException | None = None) -> ClusterLost:
        why = f" ({exc.__class__.__name__}: {short_text(exc)})" if exc is not None and short_text(exc) else ""
        return ClusterLost(f"lost the Dask scheduler{why}", f"--dask {self.address}")

    def _scheduler_gone(self) -> bool:
        """The client lost its scheduler: it is reconnecting or closed (a worker's death leaves it running)."""
        return getattr(self.client, "status", "running") not in ("running", "newly-created")

    def _scatter(self) -> None:
        try:
            self.scattered = (self.client.scatter(self.data[0], broadcast=True, hash=False),
                              self.client.scatter(self.data[1], broadcast=True, hash=False))
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from None

    def submit(self, i: int) -> Any:
        assert self.scattered is not None
        if self._scheduler_gone():
            raise self._lost()
        try:
            return self.client.submit(_dask_point, *self.scattered, self.arch_dicts(i), pure=False)
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from None

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
        if self._scheduler_gone():
            raise self._lost()
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
        if self._scheduler_gone():  # not the point's fault, and no retry can succeed: stop here
            raise self._lost(exc)
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


__all__ = ["NO_WORKERS_TIMEOUT_S", "DaskRunner", "check_dask_address", "quiet_dask_logs"]
