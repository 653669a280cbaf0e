"""Run every test file alone, each in a pytest process of its own (a developer's tool; CI does not run it).

A test that passes only after another file has run (a fixture, a file, a warm cache or a
module-level setting that some other file leaves behind) fails here. With ``--cold`` every
file also gets an empty Numba cache of its own, as on a fresh install.

Usage::

    python tools/each_file_alone.py [--cold] [--seed N] [tests/test_x.py ...]

Runs the files given, or every ``tests/test_*.py``, with the interpreter running this tool
(run it from the project's virtual environment). Prints one line per file and a total; the
exit code is 1 if any file failed or collected no tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_alone(path: Path, cold: bool, seed: int | None) -> tuple[int, float, float, str]:
    """(pytest's exit code, wall seconds, CPU seconds, its closing line) for ``path`` run on its own.

    CPU seconds (user + system, the subprocesses the tests start included) compare runs on a busy machine."""
    # -q comes from addopts; -n 0: the file runs in this one pytest process (no pytest-xdist workers).
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", str(path)]
    if seed is not None:
        cmd.append(f"--randomly-seed={seed}")
    env = dict(os.environ, MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        if cold:
            env["NUMBA_CACHE_DIR"] = cache
        start, cpu = time.monotonic(), _children_cpu_s()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        seconds, cpu = time.monotonic() - start, _children_cpu_s() - cpu
    lines = proc.stdout.strip().splitlines()
    closing = lines[-1] if lines else proc.stderr.strip()[-200:]
    if proc.returncode not in (0, 5):
        sys.stdout.write(proc.stdout[-4000:])
    return proc.returncode, seconds, cpu, closing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="test files (default: every tests/test_*.py)")
    parser.add_argument("--cold", action="store_true", help="an empty Numba cache for each file")
    parser.add_argument("--seed", type=int, help="pytest-randomly's seed (default: a new one per file)")
    args = parser.parse_args()
    files = args.files or sorted((ROOT / "tests").glob("test_*.py"))
    failed = []
    total = time.monotonic()
    for path in files:
        code, seconds, cpu, closing = run_alone(path.resolve(), args.cold, args.seed)
        # pytest's 5 ('no tests collected') after a module-level skip (an optional extra missing) is no failure
        ok = code == 0 or (code == 5 and "skipped" in closing)
        print(f"{'ok  ' if ok else 'FAIL'} {seconds:7.1f} s wall {cpu:7.1f} s CPU  {path.name}: {closing}", flush=True)
        if not ok:
            failed.append(path.name)
    print(f"{len(files) - len(failed)} passed, {len(failed)} failed (files, each alone"
          f"{', cold Numba cache' if args.cold else ''}) in {time.monotonic() - total:.0f} s")
    for name in failed:
        print(f"failed: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
