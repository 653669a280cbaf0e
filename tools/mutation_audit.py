"""Mutation audit: apply each listed single-line mutation, run the tests meant to catch it, revert.

A developer's tool, not a test (CI does not run it). Each module in ``tools/mutations/`` lists
``MUTATIONS``: dicts with

* ``id``: a short name;
* ``file``: the source file, relative to the repository root;
* ``old`` / ``new``: an exact snippet that occurs once in the file, and what replaces it;
* ``tests``: pytest node ids (or files) that must fail once the mutation is applied;
* ``why``: one line saying what the mutation breaks.

For every mutation the script checks that the snippet occurs exactly once, writes the mutated
file, runs ``python -m pytest -x -q -p no:randomly -p no:cacheprovider -n 0 TESTS``, restores the
original bytes (always, also on Ctrl-C), and records whether the tests failed ("caught") or
passed ("ALIVE"). The baseline (no mutation) must pass first. Exit status 1 when any mutation
is alive or any snippet is missing.

    python tools/mutation_audit.py                 # every mutation
    python tools/mutation_audit.py -k onnx         # ids or files containing 'onnx'
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "mutations"


def load_mutations() -> list[dict]:
    found = []
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"_mutations_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for m in module.MUTATIONS:
            found.append({**m, "area": path.stem})
    return found


def run_tests(tests: list[str]) -> tuple[int, float]:
    start = time.perf_counter()
    # No bytecode written: Python trusts a cached .pyc whose recorded source mtime (whole seconds) and size
    # match, so a mutation applied within a second of another one of the same length would run the other's
    # bytecode (this happened: two mutations of commit.py, each 5 characters longer).
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "-n", "0", *tests], cwd=ROOT, capture_output=True, text=True, env=env)  # -n 0: one process
    return proc.returncode, time.perf_counter() - start


def drop_bytecode(path: Path) -> None:
    """Remove the cached bytecode of ``path`` (any interpreter's), so that its next import reads the source."""
    for pyc in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only mutations whose area, id or file contains this")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    args = parser.parse_args()
    mutations = [m for m in load_mutations()
                 if args.k in m["id"] or args.k in m["file"] or args.k in m["area"]]
    if not args.no_baseline:
        tests = sorted({t for m in mutations for t in m["tests"]})
        rc, seconds = run_tests(tests)
        if rc != 0:
            print(f"baseline: the tests fail without any mutation (exit {rc}); fix that first", file=sys.stderr)
            return 1
        print(f"baseline: {len(tests)} test selections pass ({seconds:.0f} s)")
    alive = 0
    print(f"{'area':<14} {'mutation':<34} {'result':<8} {'s':>5}  tests")
    for m in mutations:
        path = ROOT / m["file"]
        original = path.read_bytes()
        text = original.decode()
        count = text.count(m["old"])
        if count != 1:
            print(f"{m['area']:<14} {m['id']:<34} {'MISSING':<8} {'':>5}  snippet found {count} times in {m['file']}")
            alive += 1
            continue
        try:
            path.write_text(text.replace(m["old"], m["new"]))
            drop_bytecode(path)
            rc, seconds = run_tests(m["tests"])
        finally:
            path.write_bytes(original)
            drop_bytecode(path)
        caught = rc == 1
        alive += not caught
        result = "caught" if caught else ("ALIVE" if rc == 0 else f"rc={rc}")
        print(f"{m['area']:<14} {m['id']:<34} {result:<8} {seconds:5.0f}  {' '.join(m['tests'])}")
    print(f"{len(mutations) - alive} of {len(mutations)} caught")
    return 1 if alive else 0


if __name__ == "__main__":
    sys.exit(main())
