"""Large but valid inputs, measured in one run (``python benchmarks/bench_large_inputs.py [--baseline DIR]``).

Each case is timed as the user meets it (the CLI in a fresh process, start-up included) at
two sizes; the ratio between the sizes shows how the cost grows (about 10x for 10x the
input when it is linear, about 100x when it is quadratic). ``--baseline DIR`` (an older
eiesim source tree, e.g. ``git archive 78a09c6 | tar -x -C /tmp/base``) runs the same CLI
cases with that tree first on the path and prints the speed-up.

1. ``eiesim info`` and ``eiesim run`` on chains of 1,000 and 10,000 small fc layers
   (10,000 is the workload format's limit). Goals: info < 5 s and run < 15 s at 10,000
   layers; growth < 15x.
2. An 11 MB architecture YAML (a long list under an unknown key, refused after parsing):
   eiesim's loader vs ``yaml.safe_load``. Goal: >= 3x faster, less peak memory.
3. Reading the 10,000-layer workload's 50,004 npz members: ``eiesim.inputs.npz.read_npz``
   (every header checked) vs ``numpy.load``. Goal: < 2x numpy.
4. A sweep's store with a stub simulation: 200 vs 2,000 points. Goal: time per point
   constant (growth < 15x).
5. ``eiesim run --set num_pes=4096`` vs 64 PEs on the bundled SqueezeNet: the kernels' work
   grows with the PE count (every broadcast visits every PE); informative, no goal here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def chain_workload(n_layers: int, path: Path) -> None:
    """``n_layers`` fc layers 16 -> 16 in a chain, 30 % weights, diagonal kept so activations survive."""
    from eiesim.network.workload import Workload, layer_from_dense
    from eiesim.network.workload_file import save_workload

    rng = np.random.default_rng(0)
    cb = np.array([-0.125, 0.125, 0.25], np.float32)
    layers, prev = [], "input"
    for i in range(n_layers):
        w = (rng.random((16, 16)) < 0.3) * rng.choice(cb, (16, 16))
        np.fill_diagonal(w, 0.25)
        layers.append(layer_from_dense(f"fc{i}", w.astype(np.float32), codebook=cb, kind="fc", inputs=(prev,)))
        prev = f"fc{i}"
    save_workload(Workload(f"chain{n_layers}", "benchmark", (16,), None, layers,
                           input=rng.random(16).astype(np.float32)), path)


def timed_cli(args: list[str], tree: Path) -> tuple[float, float, int]:
    """(wall s, peak RSS MiB, exit code) of ``eiesim ARGS`` run with ``tree`` first on the path."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "eiesim", *args], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def bench_layers(tmp: Path, baseline: Path | None) -> None:
    paths = {}
    for n in (1_000, 10_000):
        paths[n] = tmp / f"chain{n}.npz"
        chain_workload(n, paths[n])
    print("[1] chains of small fc layers, the CLI in a fresh process (wall s / peak RSS MiB):")
    for command in ("info", "run"):
        results = {}
        for n, path in paths.items():
            args = ["info", str(path)] if command == "info" else ["run", str(TINY), str(path)]
            results[n] = timed_cli(args, ROOT)
        growth = results[10_000][0] / results[1_000][0]
        goal = 5 if command == "info" else 15
        line = (f"    {command:4s}: 1,000 layers {results[1_000][0]:6.2f} s, 10,000 layers {results[10_000][0]:6.2f} s "
                f"({results[10_000][1]:.0f} MiB); growth {growth:4.1f}x (goal < 15x: "
                f"{'met' if growth < 15 else 'NOT met'}); 10,000 < {goal} s: "
                f"{'met' if results[10_000][0] < goal else 'NOT met'}")
        if baseline is not None:
            base = timed_cli(args, baseline)
            line += f"; baseline {base[0]:.2f} s ({base[1]:.0f} MiB) -> {base[0] / results[10_000][0]:.1f}x faster"
        print(line)


def _peak_of(code: str) -> tuple[float, float]:
    """(wall s, peak RSS MiB) of a Python snippet in a fresh process (the import of yaml included)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss / 1024


def bench_yaml(tmp: Path, baseline: Path | None) -> None:
    path = tmp / "big.yaml"
    with open(path, "w") as fh:
        fh.write("num_pes: 4\ncodebook_bits: 8\nname: big\nnotes:\n")
        i = 0
        while fh.tell() < 11_000_000:
            fh.write("".join(f"  - {j}\n" for j in range(i, i + 10_000)))
            i += 10_000
    size = path.stat().st_size / 1e6
    ours = _peak_of(f"from eiesim.inputs.text import load_yaml; load_yaml({str(path)!r})")
    plain = _peak_of(f"import yaml; yaml.safe_load(open({str(path)!r}).read())")
    print(f"[2] {size:.1f} MB YAML ({i:,} list items): eiesim load_yaml {ours[0]:.2f} s / {ours[1]:.0f} MiB, "
          f"yaml.safe_load {plain[0]:.2f} s / {plain[1]:.0f} MiB: {plain[0] / ours[0]:.1f}x faster "
          f"(goal >= 3x: {'met' if plain[0] / ours[0] >= 3 else 'NOT met'})")
    run = timed_cli(["run", str(path), str(tmp / "chain1000.npz")], ROOT)
    line = f"    eiesim run with it (refused: unknown key 'notes'): {run[0]:.2f} s, {run[1]:.0f} MiB"
    if baseline is not None:
        base = timed_cli(["run", str(path), str(tmp / "chain1000.npz")], baseline)
        line += f"; baseline {base[0]:.2f} s, {base[1]:.0f} MiB"
    print(line)


def bench_npz(tmp: Path) -> None:
    from eiesim.inputs.npz import read_npz

    path = tmp / "chain10000.npz"

    def numpy_load():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    ours = min(_time(lambda: read_npz(path)) for _ in range(3))
    plain = min(_time(numpy_load) for _ in range(3))
    print(f"[3] 50,004 npz members: read_npz {ours:.2f} s, numpy.load {plain:.2f} s: ratio {ours / plain:.2f} "
          f"(goal < 2: {'met' if ours / plain < 2 else 'NOT met'})")


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


_SWEEP_SNIPPET = """
import sys, time
import eiesim.sweeps.points as points_mod
import eiesim.sweeps.sweep as sweep_mod
metrics = dict(cycles=1, time_us=0.1, frames_per_s=1e7, energy_uj=0.1, chip_power_mw=1.0, pe_area_um2=1.0,
               chip_area_mm2=1.0, load_balance_efficiency=1.0, padding_entries=0, dram_bytes=0, functional="pass")
points_mod.evaluate_point = lambda arch, workload, x: dict(metrics)
n, arch, wl, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
sweep_mod.sweep(arch, wl, ["fifo_depth=" + ",".join(str(v) for v in range(1, n + 1))], out)
print(time.perf_counter() - t0)
"""


def _sweep_time(n: int, wl: Path, out: Path, tree: Path) -> float:
    """Seconds for a fresh sweep of ``n`` points with a stub simulation, in a process running ``tree``."""
    res = subprocess.run([sys.executable, "-c", _SWEEP_SNIPPET, str(n), str(TINY), str(wl), str(out)],
                         env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def bench_sweep_store(tmp: Path, baseline: Path | None) -> None:
    from eiesim.network.synthetic import eie_fc_layer
    from eiesim.network.workload_file import save_workload

    wl = tmp / "fc.npz"
    save_workload(eie_fc_layer("fc", 64, 32, 0.3, 0.5, bits=4, seed=0), wl)
    times = {n: _sweep_time(n, wl, tmp / f"sweep{n}", ROOT) for n in (200, 2_000)}
    growth = times[2_000] / times[200]
    line = (f"[4] sweep store, stub simulation: 200 points {times[200]:.2f} s, 2,000 points {times[2_000]:.2f} s "
            f"({times[2_000] / 2_000 * 1e3:.2f} ms per point); growth {growth:.1f}x (goal < 15x: "
            f"{'met' if growth < 15 else 'NOT met'})")
    if baseline is not None:
        base = {n: _sweep_time(n, wl, tmp / f"base{n}", baseline) for n in (200, 2_000)}
        line += (f"; baseline {base[200]:.2f} s / {base[2_000]:.2f} s (growth {base[2_000] / base[200]:.1f}x)")
    print(line)


def bench_pes() -> None:
    t64 = timed_cli(["run", "--no-check"], ROOT)
    t4096 = timed_cli(["run", "--no-check", "--set", "num_pes=4096"], ROOT)
    print(f"[5] bundled SqueezeNet, eiesim run --no-check: 64 PEs {t64[0]:.2f} s, 4,096 PEs {t4096[0]:.2f} s "
          f"({t4096[0] / t64[0]:.1f}x; the kernels visit every PE per broadcast: eiesim/timing)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="an older eiesim source tree to compare with")
    args = parser.parse_args()
    print(f"eiesim large-input benchmarks (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        bench_layers(Path(tmp), args.baseline)
        bench_yaml(Path(tmp), args.baseline)
        bench_npz(Path(tmp))
        bench_sweep_store(Path(tmp), args.baseline)
    bench_pes()


if __name__ == "__main__":
    main()
