"""Outputs are one run or nothing when a run is killed, interrupted or racing another run.

``tests/fault_runner.py`` stops a real ``eiesim run`` process at a chosen point of its commit and sends it a
real signal (SIGTERM, SIGKILL), or holds two runs at their commit and releases them together. After each fault
the test checks that every output directory holds exactly one run's four files, that the message says
truthfully what was kept, and that no temporary file is left behind after the next run.
"""

from __future__ import annotations

import json
import signal

import pytest
from _output_fault_support import (
    TINY, RUN_FILES, WAIT_S, fc_npz, _lines, run_args, first_run, start, wait_for, one_run, no_litter, pair_pes,
    json_args,
)
from _support import run_cli

from eiesim.outputs.journal import JOURNAL_PREFIX
from eiesim.outputs.temporaries import TEMP_MARK

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
    before = first_run(fc_npz, out, capsys)
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


