"""Outputs are one run or nothing: concurrent runs, signals at chosen points, full and read-only disks.

Faults are performed for real on ``eiesim run`` processes (``tests/fault_runner.py`` stops a
process at a chosen point of its commit and sends it a real signal, or caps the size of the
files it may write with RLIMIT_FSIZE, which makes the kernel fail the write with EFBIG just
as a full disk fails it with ENOSPC). After each fault the test checks that every output
directory holds exactly one run's four files, that the message says truthfully what was
kept, and that no temporary file is left behind after the next run.
"""

from __future__ import annotations

import csv
import errno
import importlib
import importlib.util
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _support import run_cli, run_exit_code

from eiesim.errors import OutputError
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import save_workload
from eiesim.outputs.commit import OutputSet
from eiesim.outputs.journal import JOURNAL_PREFIX
from eiesim.outputs.paths import check_output_file
from eiesim.outputs.temporaries import TEMP_MARK

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"
RUNNER = ROOT / "tests" / "fault_runner.py"
RUN_FILES = ["layers.csv", "report.html", "report.json", "report.run.json"]
WAIT_S = 120.0


@pytest.fixture(scope="module")
def fc_npz(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "fc.npz"
    save_workload(eie_fc_layer("fc", 256, 128, 0.3, 0.5, bits=4, seed=2), path)
    return path


def _lines(err: str) -> list[str]:
    """stderr without warnings (tiny-4pe's 256-B activation SRAM is outside the CACTI grid: every run warns)."""
    return [line for line in err.strip().splitlines() if not line.startswith("eiesim: warning: ")]


def run_args(fc_npz: Path, out: Path, num_pes: int, *extra: str) -> list[str]:
    return ["run", str(TINY), str(fc_npz), "--set", f"num_pes={num_pes}", "--out", str(out), *extra]


def start(spec: dict, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(RUNNER), json.dumps(spec), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended before reaching the fault point: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.005)


def one_run(directory: Path) -> int:
    """The PE count of the single run ``directory`` holds; fails if its files come from different runs."""
    assert sorted(os.listdir(directory)) == RUN_FILES, os.listdir(directory)
    report = json.loads((directory / "report.json").read_text())
    meta = json.loads((directory / "report.run.json").read_text())
    html = (directory / "report.html").read_text()
    with open(directory / "layers.csv") as fh:
        csv_cycles = [int(r["cycles"]) for r in csv.DictReader(fh)]
    pes = {report["arch"]["num_pes"],
           int(next(a for a in meta["command"] if a.startswith("num_pes=")).split("=")[1]),
           *map(int, re.findall(r"num_pes&quot;: (\d+)", html))}
    assert len(pes) == 1, f"{directory} mixes runs: {pes}"
    assert csv_cycles == [layer["cycles"] for layer in report["layers"]], "layers.csv is from another run"
    return pes.pop()


def no_litter(directory: Path) -> None:
    assert not [p for p in directory.rglob("*") if TEMP_MARK in p.name], list(directory.rglob("*"))


@pytest.mark.slow
def test_concurrent_runs_never_mix_a_directory(fc_npz, tmp_path):
    """Two runs into one --out, both held at their commit and released together, three times."""
    out = tmp_path / "out"
    for round_ in range(3):
        gate = tmp_path / f"gate{round_}"
        procs = []
        for pes in (2, 4):
            ready = tmp_path / f"ready{round_}-{pes}"
            procs.append((start({"at": "pre-commit", "ready": str(ready), "gate": str(gate)},
                                run_args(fc_npz, out, pes)), ready))
        for proc, ready in procs:
            wait_for(ready, proc)
        gate.touch()
        for proc, _ in procs:
            _, err = proc.communicate(timeout=WAIT_S)
            assert proc.returncode == 0, err
        assert one_run(out) in (2, 4)
        no_litter(tmp_path)


def test_sigterm_before_the_commit_keeps_the_previous_run_and_says_nothing_was_written(fc_npz, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
    assert code == 0, err
    before = {name: (out / name).read_bytes() for name in RUN_FILES}
    json_out = tmp_path / "r.json"
    proc = start({"at": "pre-commit", "signal": "SIGTERM"}, run_args(fc_npz, out, 4, "--json", str(json_out)))
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130
    assert _lines(err) == ["eiesim: interrupted; no output was written"]
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before
    assert not json_out.exists()
    no_litter(tmp_path)


def test_sigterm_inside_the_commit_finishes_it_and_says_what_was_kept(fc_npz, tmp_path):
    out = tmp_path / "out"
    proc = start({"at": "in-commit", "signal": "SIGTERM"}, run_args(fc_npz, out, 4))
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130
    assert _lines(err) == [f"eiesim: interrupted; kept the complete outputs written before: {out}"]
    assert one_run(out) == 4
    no_litter(tmp_path)


@pytest.mark.parametrize("at", ["pre-commit", "in-commit"])
def test_sigkill_leaves_one_run_and_the_next_run_removes_the_litter(fc_npz, tmp_path, at, capsys):
    out = tmp_path / "out"
    code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
    assert code == 0, err
    proc = start({"at": at, "signal": "SIGKILL"}, run_args(fc_npz, out, 4, "--json", str(tmp_path / "r.json")))
    proc.communicate(timeout=WAIT_S)
    assert proc.returncode == -signal.SIGKILL
    assert one_run(out) == 2  # the directory is not swapped yet
    litter = [p.name for p in tmp_path.iterdir() if TEMP_MARK in p.name]
    assert litter, "the killed process should have had temporaries in flight"
    if at == "in-commit":  # killed after the --json pair's renames, before the directory's: the set is journaled
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(JOURNAL_PREFIX)]
        # the next eiesim write into the directory completes the killed set: all of it is the new run
        code, _, err = run_cli(["run", str(TINY), str(fc_npz), "--set", "num_pes=1", "--json",
                                str(tmp_path / "other.json")], capsys)
        assert code == 0, err
        assert one_run(out) == 4 and pair_pes(tmp_path / "r.json") == 4
        (tmp_path / "other.json").unlink()
        (tmp_path / "other.run.json").unlink()
    code, _, err = run_cli(run_args(fc_npz, out, 8), capsys)
    assert code == 0, err
    assert one_run(out) == 8
    no_litter(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    if at == "pre-commit":
        assert names == ["out"]
    else:
        assert names == ["out", "r.json", "r.run.json"]
        assert pair_pes(tmp_path / "r.json") == 4


def pair_pes(json_path: Path) -> int:
    """The PE count of the ``run --json`` pair at ``json_path``; fails if report and run record differ."""
    report = json.loads(json_path.read_text())
    meta = json.loads(json_path.with_name(json_path.stem + ".run.json").read_text())
    recorded = int(next(a for a in meta["command"] if a.startswith("num_pes=")).split("=")[1])
    assert report["arch"]["num_pes"] == recorded, f"{json_path} pairs a report of {report['arch']['num_pes']} PEs " \
                                                  f"with the run record of {recorded}"
    return recorded


def json_args(fc_npz: Path, json_path: Path, num_pes: int) -> list[str]:
    return ["run", str(TINY), str(fc_npz), "--set", f"num_pes={num_pes}", "--json", str(json_path)]


@pytest.mark.parametrize("at, kept", [("pre-commit", 2), ("after-journal", 4), ("between-renames", 4)])
def test_sigkill_anywhere_in_the_json_pairs_commit_leaves_one_whole_pair(at, kept, fc_npz, tmp_path, capsys):
    """kill -9 before the journal (the old pair stays), after it, or between the two renames (the new pair
    is completed by the next eiesim write into the directory): never a new report beside an old run record."""
    pair = tmp_path / "r.json"
    code, _, err = run_cli(json_args(fc_npz, pair, 2), capsys)
    assert code == 0, err
    proc = start({"at": at, "signal": "SIGKILL"}, json_args(fc_npz, pair, 4))
    proc.communicate(timeout=WAIT_S)
    assert proc.returncode == -signal.SIGKILL
    if at == "between-renames":  # the fault really happened: on disk, the report is new and the record old
        assert json.loads(pair.read_text())["arch"]["num_pes"] == 4
        assert "num_pes=2" in json.loads((tmp_path / "r.run.json").read_text())["command"]
    code, _, err = run_cli(json_args(fc_npz, tmp_path / "next.json", 1), capsys)  # any write into the directory
    assert code == 0, err
    assert pair_pes(pair) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["next.json", "next.run.json", "r.json", "r.run.json"]


def test_a_set_is_flushed_before_its_renames_and_its_directory_after(tmp_path, monkeypatch):
    """fsync order of an OutputSet commit: every temporary before any rename, the directory after the last."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst, **kw):
        events.append(("rename", str(dst)))
        real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    outputs = OutputSet()
    outputs.add_file(tmp_path / "a.json", "{}")
    outputs.add_file(tmp_path / "a.run.json", "[]")
    outputs.commit()
    renames = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    assert [events[i][1] for i in renames] == [str(tmp_path / "a.json"), str(tmp_path / "a.run.json")]
    flushed_before = {path for kind, path in events[:renames[0]] if kind == "fsync"}
    assert sum(TEMP_MARK in p and p.endswith(".json") for p in flushed_before) == 2  # both temporaries
    assert any(p.startswith(str(tmp_path / JOURNAL_PREFIX)) for p in flushed_before)  # and the journal
    assert ("fsync", str(tmp_path)) in events[renames[-1]:]
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.run.json"]


def test_file_size_limit_fails_cleanly_before_replacing_anything(fc_npz, tmp_path, capsys):
    """A real EFBIG from the kernel (RLIMIT_FSIZE) on the biggest file: nothing replaced, nothing left."""
    out = tmp_path / "out"
    code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
    assert code == 0, err
    before = {name: (out / name).read_bytes() for name in RUN_FILES}
    json_out = tmp_path / "r.json"
    limit = len(before["report.json"]) + 4096  # report.json fits, report.html does not
    assert len(before["report.html"]) > limit
    proc = start({"fsize": limit}, run_args(fc_npz, out, 4, "--json", str(json_out)))
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 2, err
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"eiesim: error: {out}/report.html: cannot write (file too large")
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before
    assert not json_out.exists() and not json_out.with_name("r.run.json").exists()
    no_litter(tmp_path)


class FullDisk:
    """A fault-injecting writer: the n-th write of output data fails with ENOSPC."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at, self.count = fail_at, 0

    def __call__(self, path: Path, data) -> None:  # noqa: ANN001
        self.count += 1
        if self.count == self.fail_at:
            with open(path, "w") as fh:
                fh.write("partial")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        self.real(path, data)


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5, 6])
def test_disk_full_at_every_file_of_the_set(fc_npz, tmp_path, monkeypatch, capsys, fail_at):
    import eiesim.outputs.commit as atomic

    out = tmp_path / "out"
    code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
    assert code == 0, err
    before = {name: (out / name).read_bytes() for name in RUN_FILES}
    writer = FullDisk(fail_at)
    writer.real = atomic._write
    monkeypatch.setattr(atomic, "_write", writer)
    json_out = tmp_path / "r.json"
    code, _, err = run_cli(run_args(fc_npz, out, 4, "--json", str(json_out)), capsys)
    assert code == 2
    assert len(_lines(err)) == 1 and "(no space left on device); no output was written" in err
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before
    assert not json_out.exists()
    no_litter(tmp_path)


def test_real_full_tmpfs_when_it_can_be_mounted(fc_npz, tmp_path, capsys):
    """Only where the test may mount a 100 KiB tmpfs (root, outside most CI runners)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip("cannot mount a size-limited tmpfs here (needs root); the RLIMIT_FSIZE and "
                    "fault-injection tests cover the same paths")
    try:
        out = mnt / "out"
        code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
        assert code == 2 and "no space left on device" in err and len(_lines(err)) == 1
        assert sorted(os.listdir(mnt)) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_read_only_location_is_refused_before_simulating(fc_npz, tmp_path, monkeypatch, capsys):
    import eiesim.run.simulate as simulate_mod

    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() == 0:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(target)],
                             capture_output=True)
        if res.returncode != 0:
            pytest.skip("root cannot be denied by permissions and cannot mount here")
    else:
        target.chmod(0o555)
    try:
        def must_not_run(*args, **kwargs):
            raise AssertionError("the output should have been refused before simulating")

        monkeypatch.setattr(simulate_mod, "simulate", must_not_run)
        for args in (["--json", str(target / "r.json")], ["--out", str(target / "d")]):
            code, _, err = run_cli(["run", str(TINY), str(fc_npz), *args], capsys)
            assert code == 2
            assert re.fullmatch(rf"eiesim: error: {re.escape(str(target))}/\S+: cannot write in {re.escape(str(target))}: "
                                r"(read-only file system|permission denied)\n", err), err
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(target)], check=False)
        else:
            target.chmod(0o755)


def test_replaced_outputs_keep_their_mode(fc_npz, tmp_path, capsys):
    out, json_out = tmp_path / "out", tmp_path / "r.json"
    code, _, err = run_cli(run_args(fc_npz, out, 2, "--json", str(json_out)), capsys)
    assert code == 0, err
    (out / "report.json").chmod(0o600)
    out.chmod(0o750)
    json_out.chmod(0o640)
    code, _, err = run_cli(run_args(fc_npz, out, 4, "--json", str(json_out)), capsys)
    assert code == 0, err
    assert one_run(out) == 4
    assert stat.S_IMODE((out / "report.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE(json_out.stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "layers.csv").stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_directory_with_other_files_is_not_replaced(fc_npz, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run_cli(run_args(fc_npz, out, 2), capsys)
    assert code == 2 and "holds files eiesim did not write here (notes.txt)" in err
    assert sorted(os.listdir(out)) == ["notes.txt"]


def test_report_never_overwrites_the_data_it_reads(fc_npz, tmp_path, capsys):
    sweep_dir = tmp_path / "sweep"
    code, _, err = run_cli(["sweep", str(TINY), str(fc_npz), "--set", "num_pes=1,2", "--out", str(sweep_dir),
                            "--workers", "1"], capsys)
    assert code == 0, err
    data = {p: p.read_bytes() for p in sweep_dir.rglob("*") if p.is_file()}
    point = next((sweep_dir / "points").glob("*.json"))
    for target in (sweep_dir / "results.csv", sweep_dir / "results.jsonl", point, sweep_dir / "points" / "x.html"):
        code, _, err = run_cli(["report", str(sweep_dir), "-o", str(target)], capsys)
        assert code == 2 and len(_lines(err)) == 1, err
        assert {p: p.read_bytes() for p in sweep_dir.rglob("*") if p.is_file()} == data
    run_dir = tmp_path / "run"
    run_cli(run_args(fc_npz, run_dir, 2), capsys)
    for name in ("report.json", "layers.csv", "report.run.json"):
        code, _, err = run_cli(["report", str(run_dir), "-o", str(run_dir / name)], capsys)
        assert code == 2 and "destroy it" in err
    assert one_run(run_dir) == 2
    code, _, err = run_cli(["report", str(sweep_dir)], capsys)  # the default report.html is fine
    assert code == 0, err


@pytest.mark.parametrize("args", [
    ["run", "--out", "{file}"],
    ["run", "--json", "{file}/x.json"],
    ["run", "--json", "{dir}"],
    ["report", "{run}", "-o", "{file}/x.html"],
    ["report", "{run}", "-o", "{dir}"],
    ["workload", "eie-fc", "--set", "in=8", "--set", "out=8", "--set", "weight_density=0.5", "--set",
     "act_density=0.5", "-o", "{file}/w.npz"],
    ["reproduce", "eie-figures", "--out", "{file}"],
    ["reproduce", "eie-figures", "--out", "{dir}"],
    ["reproduce", "eie-table4", "--json", "{file}/x.json"],
    ["reproduce", "eie-table2", "--json", "{file}/x.json"],
    ["reproduce", "eie-energy", "--json", "{file}/x.json"],
    ["reproduce", "squeezenet-mapping", "--out", "{file}"],
    ["reproduce", "squeezenet-mapping", "--json", "{file}/x.json"],
    ["sweep", str(TINY), "{wl}", "--set", "num_pes=1", "--out", "{file}"],
    ["infer", "{wl}", "--json", "{file}/i.json"],
    ["trace", str(TINY), "{wl}", "--layer", "fc", "-o", "{file}/t.json"],
    ["export-dense", "{wl}", "-o", "{file}/d.npz"],
    ["compress", "{wl}", "-o", "{file}/c.npz"],
    ["import-dc", "{wl}", "-o", "{file}/c.npz"],
], ids=lambda a: " ".join(x for x in a[:3] if "{" not in x))
def test_bad_output_paths_are_one_line_before_any_work(args, fc_npz, tmp_path, monkeypatch, capsys):
    """Issue 12, bug 4: every output path is checked first; every problem is one line, exit 2."""
    import eiesim.run.simulate as simulate_mod

    afile = tmp_path / "afile"
    afile.write_text("a file, not a directory")
    adir = tmp_path / "adir"
    (adir / "stuff").mkdir(parents=True)
    run = tmp_path / "run.json"
    run.write_text("{}")

    def must_not_run(*a, **k):
        raise AssertionError("work started before the output path was checked")

    monkeypatch.setattr(simulate_mod, "simulate", must_not_run)
    args = [a.format(file=afile, dir=adir, run=run, wl=fc_npz) for a in args]
    code, out, err = run_cli(args, capsys)
    assert code == 2, err
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith("eiesim: error: ") and "Traceback" not in err, err
    assert str(afile) in lines[0] or str(adir) in lines[0]
    assert afile.read_text() == "a file, not a directory"
    assert sorted(os.listdir(adir)) == ["stuff"]


def test_every_output_option_of_every_command_is_checked():
    from eiesim.cli import _register, cli
    from eiesim.cli.outputs import CheckedOutput, all_commands, output_options

    _register()
    commands = all_commands(cli)
    checked = {name: [o.name for o in output_options(cmd)] for name, cmd in commands.items()}
    for name, cmd in commands.items():
        for option in cmd.params:
            if option.name in ("output", "json_path", "out_dir") and not getattr(option, "is_flag", False):
                assert isinstance(option.type, CheckedOutput) or name == "run", (name, option.name)
    assert {"reproduce eie-table4", "reproduce eie-figures", "export-onnx", "compress", "trace"} <= {
        n for n, opts in checked.items() if opts}


def test_output_set_commits_nothing_when_a_file_cannot_be_written(tmp_path):
    good, blocked = tmp_path / "a.txt", tmp_path / "sub" / "b.txt"
    (tmp_path / "sub").write_text("a file where a directory is needed")
    outputs = OutputSet()
    outputs.add_file(good, "a")
    outputs.add_file(blocked, "b")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        outputs.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
    with pytest.raises(OutputError, match="is a directory"):
        check_output_file(tmp_path)


#: Every writing command, with the output it writes ({out}) and what it reads.
WRITERS = {
    "run --json": ["run", str(TINY), "{wl}", "--json", "{out}/r.json"],
    "run --out": ["run", str(TINY), "{wl}", "--out", "{out}/d"],
    "sweep": ["sweep", str(TINY), "{wl}", "--set", "num_pes=1,2", "--out", "{out}/s", "--workers", "1"],
    "report": ["report", "{run}", "-o", "{out}/r.html"],
    "trace": ["trace", str(TINY), "{wl}", "--layer", "fc", "-o", "{out}/t.json"],
    "workload": ["workload", "eie-fc", "--set", "in=8", "--set", "out=8", "--set", "weight_density=0.5", "--set",
                 "act_density=0.5", "-o", "{out}/w.npz"],
    "export-dense": ["export-dense", "{wl}", "-o", "{out}/d.npz"],
    "compress": ["compress", "{dense}", "-o", "{out}/c.npz"],
    "infer": ["infer", "{wl}", "--json", "{out}/i.json"],
    "export-onnx": ["export-onnx", "{wl}", "-o", "{out}/m.onnx", "--no-check"],
    "import-onnx": ["import-onnx", "{onnx}", "-o", "{out}/d.npz"],
    "reproduce eie-table2": ["reproduce", "eie-table2", "--json", "{out}/t2.json"],
    "reproduce eie-figures": ["reproduce", "eie-figures", "--out", "{out}/f", "--layers", "Alex-7"],
}


@pytest.fixture(scope="module")
def writer_inputs(fc_npz, tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    run_json = d / "r.json"
    dense = d / "dense.npz"
    for args in (["run", str(TINY), str(fc_npz), "--json", str(run_json)], ["export-dense", str(fc_npz), "-o", str(dense)]):
        assert run_exit_code(args) == 0
    onnx_path = None
    if importlib.util.find_spec("onnx") is not None:
        onnx_path = d / "m.onnx"
        assert run_exit_code(["export-onnx", str(fc_npz), "-o", str(onnx_path), "--no-check"]) == 0
    return {"wl": fc_npz, "run": run_json, "dense": dense, "onnx": onnx_path}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writing_command_on_a_full_disk(name, writer_inputs, tmp_path):
    """RLIMIT_FSIZE of 1 byte: the kernel refuses the first byte of every output file (EFBIG)."""
    if "onnx" in name and writer_inputs["onnx"] is None:
        pytest.skip("needs the onnx extra")
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(out=out, **{k: v for k, v in writer_inputs.items() if v is not None}) for a in WRITERS[name]]
    proc = start({"fsize": 1}, args)
    _, err = proc.communicate(timeout=WAIT_S)
    lines = _lines(err)
    if name == "reproduce eie-figures":  # it logs its progress on stderr
        lines = lines[-1:] if "Traceback" not in err else lines
    assert proc.returncode == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"eiesim: error: {out}/") and "file too large" in lines[0], err
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert left in ([], ["s", "s/points"]), left  # a sweep directory is created before its first point


def test_a_cold_numba_cache_on_a_full_disk_adds_no_line(fc_npz, tmp_path):
    """A new install on a full disk: Numba compiles the kernels and cannot save them. The one line is still the
    output's (before, the cache guard's log record reached stderr through Python's last-resort handler)."""
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))  # empty: nothing compiled before
    proc = start({"fsize": 1}, ["trace", str(TINY), str(fc_npz), "--layer", "fc", "-o", f"{out}/t.json"], env)
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 2, err
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"eiesim: error: {out}/t.json: ") and "file too large" in lines[0], err
    assert not list(out.iterdir())


def test_a_symlinked_output_directory_keeps_its_link(fc_npz, tmp_path, capsys):
    real = tmp_path / "real"
    code, _, err = run_cli(run_args(fc_npz, real, 2), capsys)
    assert code == 0, err
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    code, _, err = run_cli(run_args(fc_npz, link, 4), capsys)
    assert code == 0, err
    assert link.is_symlink() and one_run(real) == 4
    no_litter(tmp_path)


def test_temporaries_of_older_eiesim_versions_are_removed_once_abandoned(fc_npz, tmp_path, capsys):
    """Before temporaries were locked, a killed write left e.g. '.report.json.p21vv_6u.json.tmp.json'."""
    old = tmp_path / ".r.json.p21vv_6u.json.tmp.json"
    fresh = tmp_path / ".r.json.q81ab_7c.json.tmp.json"
    for path in (old, fresh):
        path.write_text("{")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    code, _, err = run_cli(["run", str(TINY), str(fc_npz), "--json", str(tmp_path / "r.json")], capsys)
    assert code == 0, err
    assert not old.exists() and fresh.exists()  # a recent one may belong to an old version still running
