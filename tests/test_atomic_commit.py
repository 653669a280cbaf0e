"""How outputs are committed (eiesim.outputs.commit), checked with facts of the file system rather than eiesim's word.

* A file is *renamed* into place, never copied over the old one: after a rename the target is the
  temporary's inode, and a reader that opened the old version keeps reading the old bytes (a copy
  would rewrite the old inode in place, under the reader's feet).
* An output directory that exists is exchanged with the new one in one step
  (``renameat2(RENAME_EXCHANGE)`` where the file system has it): it is never renamed away, so there
  is no moment at which it is absent.
* A set's renames happen under a lock on their directory: a second writer committing at the same
  time waits (it shows as a blocked flock in ``/proc/locks``) and the two sets never mix.
* A commit that fails half-way names the outputs it already replaced.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

import eiesim.outputs.commit as atomic
from eiesim.errors import OutputError
from eiesim.outputs.commit import (
    OutputSet, atomic_directory, atomic_open, committed_outputs, reset_committed_outputs,
)
from eiesim.outputs.temporaries import TEMP_MARK

WAIT_S = 60.0


def _temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if TEMP_MARK in p.name)


# -- renames, not copies -----------------------------------------------------------------

@pytest.mark.parametrize("existing", [True, False], ids=["replaces", "creates"])
def test_a_single_file_is_renamed_into_place_not_copied(existing, tmp_path):
    target = tmp_path / "report.json"
    if existing:
        target.write_text("old version")
    reader = open(target) if existing else None  # noqa: SIM115 - a reader of the old version, open across the write
    try:
        with atomic_open(target) as fh:
            fh.write("new version")
            temp_inode = os.fstat(fh.fileno()).st_ino
        if reader is not None:
            assert reader.read() == "old version", "the old file was rewritten in place instead of replaced"
            assert os.fstat(reader.fileno()).st_ino != target.stat().st_ino
    finally:
        if reader is not None:
            reader.close()
    assert target.read_text() == "new version"
    assert target.stat().st_ino == temp_inode, "the target is not the temporary that was written"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]


def test_each_file_of_a_set_is_renamed_into_place_not_copied(tmp_path, monkeypatch):
    table, lines = tmp_path / "results.csv", tmp_path / "results.jsonl"
    table.write_text("old table")
    temp_inodes: dict[str, int] = {}
    real_write = atomic._write

    def observed(path: Path, data: str | bytes) -> None:  # records each temporary's inode as it is written
        real_write(path, data)
        temp_inodes[str(data)] = os.stat(path).st_ino

    monkeypatch.setattr(atomic, "_write", observed)
    outputs = OutputSet()
    outputs.add_file(table, "new table")
    outputs.add_file(lines, "new lines")
    with open(table) as reader:
        assert outputs.commit() == [table, lines]
        assert reader.read() == "old table", "the old table was rewritten in place instead of replaced"
    assert (table.read_text(), lines.read_text()) == ("new table", "new lines")
    assert table.stat().st_ino == temp_inodes["new table"]
    assert lines.stat().st_ino == temp_inodes["new lines"]
    assert sorted(os.listdir(tmp_path)) == ["results.csv", "results.jsonl"]


# -- a directory replaced in one step ------------------------------------------------------

def _file_system_exchanges(directory: Path) -> bool:
    """Whether ``directory``'s file system swaps two directories in one renameat2(RENAME_EXCHANGE) call
    (asked of the kernel directly, not through eiesim)."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    a, b = directory / "probe-a", directory / "probe-b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").touch()
    at_fdcwd, rename_exchange = -100, 2
    try:
        return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0 and (
            (b / "from-a").exists())
    finally:
        shutil.rmtree(a)
        shutil.rmtree(b)


def _replace_with_output_set(out: Path, files: dict[str, str]) -> None:
    outputs = OutputSet()
    outputs.add_dir(out, files)
    outputs.commit()


def _replace_with_atomic_directory(out: Path, files: dict[str, str]) -> None:
    with atomic_directory(out) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)


@pytest.mark.parametrize("replace", [_replace_with_output_set, _replace_with_atomic_directory],
                         ids=["output-set", "atomic-directory"])
def test_an_output_directory_is_replaced_in_one_exchange(replace, tmp_path, monkeypatch):
    if not _file_system_exchanges(tmp_path):
        pytest.skip("this file system cannot exchange two directories in one call (eiesim then uses two renames)")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("old run")
    (out / "layers.csv").write_text("old run")
    old_inode = out.stat().st_ino
    moved_away: list[str] = []
    real_rename = os.rename

    def watched(src, dst, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if os.path.abspath(src) == str(out):
            moved_away.append(str(dst))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", watched)
    replace(out, {"report.json": "new run"})
    assert moved_away == [], f"the old directory was renamed away (absent for a moment): {moved_away}"
    assert out.stat().st_ino != old_inode
    assert sorted(os.listdir(out)) == ["report.json"] and (out / "report.json").read_text() == "new run"
    assert sorted(os.listdir(tmp_path)) == ["out"]


# -- a failed commit says what it kept ------------------------------------------------------

def test_a_failed_commit_names_the_outputs_already_written(tmp_path):
    report, meta = tmp_path / "r.json", tmp_path / "r.run.json"
    report.write_text("old report")
    meta.mkdir()  # a directory where the set's second file goes: its rename fails (EISDIR) after the first's
    (meta / "keep").write_text("mine")
    reset_committed_outputs()
    outputs = OutputSet()
    outputs.add_file(report, "new report")
    outputs.add_file(meta, "new meta")
    with pytest.raises(OutputError) as failed:
        outputs.commit()
    assert failed.value.source == str(meta)
    assert re.fullmatch(rf"cannot write \([^)]+\); already written: {re.escape(str(report))}", failed.value.message), (
        failed.value.message)
    assert report.read_text() == "new report" and committed_outputs() == [report]
    assert (meta / "keep").read_text() == "mine"
    assert _temporaries(tmp_path) == []


def test_a_commit_failing_at_its_first_rename_says_nothing_was_kept(tmp_path):
    meta, report = tmp_path / "r.run.json", tmp_path / "r.json"
    meta.mkdir()
    report.write_text("old report")
    reset_committed_outputs()
    outputs = OutputSet()
    outputs.add_file(meta, "new meta")
    outputs.add_file(report, "new report")
    with pytest.raises(OutputError) as failed:
        outputs.commit()
    assert failed.value.source == str(meta) and "already written" not in failed.value.message
    assert report.read_text() == "old report" and committed_outputs() == []
    assert _temporaries(tmp_path) == []


# -- two writers at once ---------------------------------------------------------------------

def _blocked_flock_on(inode: int) -> bool:
    """Whether some process waits for a flock on ``inode`` (a '->' line of /proc/locks)."""
    with open("/proc/locks") as fh:
        for line in fh:
            fields = line.split()
            if "->" in fields and "FLOCK" in fields:
                ids = [f for f in fields if re.fullmatch(r"[0-9a-f]+:[0-9a-f]+:\d+", f)]
                if ids and int(ids[0].rsplit(":", 1)[1]) == inode:
                    return True
    return False


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="watches the kernel's lock table in /proc/locks")
def test_two_sets_committed_at_once_do_not_mix(tmp_path, monkeypatch):
    """Writer A stops inside its commit after its first rename; writer B then commits the same two files.
    B must wait for A's lock on the directory; without it B's files land between A's renames."""
    table, lines = tmp_path / "results.csv", tmp_path / "results.jsonl"
    a_half_done, gate = threading.Event(), threading.Event()
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        real_replace(src, dst, *args, **kwargs)
        if threading.current_thread().name == "writer-A" and Path(dst) == table:
            a_half_done.set()
            gate.wait(WAIT_S)

    monkeypatch.setattr(os, "replace", replace)
    errors: list[BaseException] = []

    def writer(name: str) -> threading.Thread:
        def commit() -> None:
            try:
                outputs = OutputSet()
                outputs.add_file(table, f"table by {name}")
                outputs.add_file(lines, f"lines by {name}")
                outputs.commit()
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)
        thread = threading.Thread(target=commit, name=f"writer-{name}", daemon=True)
        thread.start()
        return thread

    a = writer("A")
    try:
        assert a_half_done.wait(WAIT_S), "writer A never reached its first rename"
        b = writer("B")
        deadline = time.monotonic() + WAIT_S
        while b.is_alive() and not _blocked_flock_on(tmp_path.stat().st_ino):
            assert time.monotonic() < deadline, "writer B neither finished nor waited for the lock"
            time.sleep(0.005)
    finally:
        gate.set()
    a.join(WAIT_S)
    b.join(WAIT_S)
    assert not errors and not a.is_alive() and not b.is_alive(), errors
    assert (table.read_text(), lines.read_text()) == ("table by B", "lines by B"), "the two sets were mixed"
    assert _temporaries(tmp_path) == []
