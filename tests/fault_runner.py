"""Run ``eiesim ARGS`` in a subprocess with faults injected at chosen points (used by the fault tests).

Usage: ``python tests/fault_runner.py SPEC_JSON ARGS...`` where SPEC is a JSON object:

* ``"ready"``/``"gate"``: paths. At the fault point the process creates ``ready`` and waits
  until ``gate`` exists -- the test then knows exactly where the process is.
* ``"at"``: ``"pre-commit"`` (every temporary of an output set is written, nothing renamed
  yet, interrupts not held back), ``"in-commit"`` (inside the commit, interrupts held, before a
  directory is swapped in), ``"after-journal"`` (a set's journal is written, nothing renamed) or
  ``"between-renames"`` (the first output of a set renamed, the others not).
* ``"signal"``: a signal name the process sends itself at that point (after the gate).
* ``"fsize"``: RLIMIT_FSIZE in bytes (files may not grow beyond it: a real EFBIG from the
  kernel, like a full disk, without root).
* ``"log"``: a path; every real point evaluation of a sweep appends ``<num_pes> <pid>``.
* ``"slow_s"``: seconds each sweep point evaluation sleeps first (makes sweeps overlap).

Nothing here is used by eiesim itself; it only wraps eiesim's functions from outside.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path


def _pause(spec: dict) -> None:
    if spec.get("ready"):
        Path(spec["ready"]).touch()
    if spec.get("gate"):
        deadline = time.monotonic() + 120
        while not Path(spec["gate"]).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
    if spec.get("signal"):
        os.kill(os.getpid(), getattr(signal, spec["signal"]))
        time.sleep(0.05)  # let an undeferred signal be handled here


def main() -> None:
    spec = json.loads(sys.argv[1])
    args = sys.argv[2:]
    if spec.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes beyond the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (spec["fsize"], spec["fsize"]))
    sys.argv = ["eiesim", *args]
    import eiesim.outputs.commit as atomic

    at = spec.get("at")
    if at == "pre-commit":
        real_deferred = atomic._signals_deferred

        @contextlib.contextmanager
        def deferred():
            _pause(spec)
            with real_deferred():
                yield

        atomic._signals_deferred = deferred
    elif at == "in-commit":
        real_swap = atomic._swap_dir

        def swap(tmp, target):
            _pause(spec)
            real_swap(tmp, target)

        atomic._swap_dir = swap
    elif at == "after-journal":
        real_journal = atomic.write_journal

        def journal(entries):
            written = real_journal(entries)
            _pause(spec)
            return written

        atomic.write_journal = journal
    elif at == "between-renames":
        real_entry = atomic._commit_entry
        renamed = []

        def entry(tmp, target, is_dir):
            if renamed:
                _pause(spec)
            real_entry(tmp, target, is_dir)
            renamed.append(target)

        atomic._commit_entry = entry
    if spec.get("log") or spec.get("slow_s"):
        import eiesim.sweeps.points as points_mod

        real_eval = points_mod.evaluate_point

        def logged(arch, workload, network_input):
            if spec.get("slow_s"):
                time.sleep(spec["slow_s"])
            result = real_eval(arch, workload, network_input)
            if spec.get("log"):
                fd = os.open(spec["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                os.write(fd, f"{arch.num_pes} {os.getpid()}\n".encode())
                os.close(fd)
            return result

        points_mod.evaluate_point = logged
    from eiesim.cli import main as eiesim_main

    eiesim_main(args)


if __name__ == "__main__":
    main()
