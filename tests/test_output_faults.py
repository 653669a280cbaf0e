"""Outputs are one run or nothing on full and read-only disks, bad paths and odd directories.

Faults are performed for real where it matters: ``tests/fault_runner.py`` caps the size of the files an
``eiesim`` process may write with RLIMIT_FSIZE, which makes the kernel fail the write with EFBIG just as a
full disk fails it with ENOSPC; in-process tests inject ENOSPC at every file of an output set. After each
fault the test checks that every output directory holds exactly one run's four files, that the message says
truthfully what was kept, and that no temporary file is left behind after the next run. Signals and
concurrent runs: test_output_signals.py; every writing command on a full disk: test_output_full_disk.py.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
from _output_fault_support import (
    TINY, RUN_FILES, WAIT_S, fc_npz, _lines, run_args, first_run, start, one_run, no_litter,
)
from _support import replace_simulate, run_cli

from eiesim.errors import OutputError
from eiesim.outputs.commit import OutputSet
from eiesim.outputs.journal import JOURNAL_PREFIX
from eiesim.outputs.paths import check_output_file
from eiesim.outputs.temporaries import TEMP_MARK

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
    before = first_run(fc_npz, out, capsys)
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
    before = first_run(fc_npz, out, capsys)
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

        replace_simulate(monkeypatch, must_not_run)
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
    afile = tmp_path / "afile"
    afile.write_text("a file, not a directory")
    adir = tmp_path / "adir"
    (adir / "stuff").mkdir(parents=True)
    run = tmp_path / "run.json"
    run.write_text("{}")

    def must_not_run(*a, **k):
        raise AssertionError("work started before the output path was checked")

    replace_simulate(monkeypatch, must_not_run)
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
