"""Agreement with the EIE authors' own cycle-accurate simulator (../shared/reference/eie-authors-sim).

Every runnable row of the reference's ``cases.csv`` is rebuilt with its ``make_workload.py``
(which checks the CSR digest the reference run used) and simulated with exactly

    eiesim run arch_configs/eie-64pe.yaml WL --set num_pes=N --set fifo_depth=B-1
        --set spmat_sram.width_bits=W --set act_regs_per_pe=R
        --set spmat_sram.size_bytes=auto --set ptr_sram.size_bytes=auto

Where the authors' run lost no entries (its early stop, docs/timing-model.md section 7,
rule 5), compute cycles, pointer-pair reads and Spmat line reads must equal theirs; where
it lost entries, the cycles must be within max(8, 0.1 %) of the cycles their run would have
taken to write back its last real entry. The expected values are the reference's
printed numbers, not eiesim's. Skipped when ../shared is absent.
"""

from __future__ import annotations

import csv
import json
import runpy
import sys
import warnings

from _support import ROOT, SHARED, run_exit_code
import pytest
from scipy.sparse import SparseEfficiencyWarning

REF = SHARED / "reference" / "eie-authors-sim"
CASES = REF / "cases.csv"
ARCH = ROOT / "arch_configs" / "eie-64pe.yaml"
#: Small cases the event (SimPy) engine also runs, and must agree on with the fast engine.
EVENT_CASES = ("edge-one-pe|N1|B8|W64", "edge-one-pe|N64|B8|W64", "edge-pad-1pe|N1|B8|W64")

pytestmark = pytest.mark.skipif(not CASES.is_file(), reason="../shared/reference/eie-authors-sim not available")


def _rows() -> list[dict[str, str]]:
    if not CASES.is_file():
        return []
    with CASES.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _runnable() -> list[dict[str, str]]:
    return [r for r in _rows() if r["authors_cycles"].isdigit()]


@pytest.fixture(scope="module")
def workloads(tmp_path_factory):
    """Every workload id of the table, rebuilt once by the reference's own script (digest-checked)."""
    out = tmp_path_factory.mktemp("authors-sim")
    paths = {}
    for wid in sorted({r["workload"] for r in _runnable()}):
        path = out / f"{wid}.npz"
        _make_workload(wid, path)
        paths[wid] = path
    return paths


def _make_workload(wid: str, path) -> None:
    """``python make_workload.py WID -o PATH``, run in this process (one interpreter start instead of one per id)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", [str(REF / "make_workload.py"), wid, "-o", str(path)])
        mp.chdir(path.parent)
        try:
            with warnings.catch_warnings():  # its scipy edits of a CSC matrix warn (unseen when it ran as a process)
                warnings.simplefilter("ignore", SparseEfficiencyWarning)
                runpy.run_path(str(REF / "make_workload.py"), run_name="__main__")
        except SystemExit as exc:  # its only exit after writing: a digest mismatch, so cases.csv does not apply
            pytest.fail(f"make_workload.py {wid}: {exc.code}")
    assert path.is_file()


def _command(row: dict[str, str], workload, json_path, engine: str = "fast") -> list[str]:
    slots = int(row["fifo_buffer_slots"])
    return ["run", str(ARCH), str(workload), "--set", f"num_pes={row['num_pes']}", "--set", f"fifo_depth={slots - 1}",
            "--set", f"spmat_sram.width_bits={row['line_bits']}", "--set", f"act_regs_per_pe={row['act_regs_per_pe']}",
            "--set", "spmat_sram.size_bytes=auto", "--set", "ptr_sram.size_bytes=auto", "--engine", engine,
            "--json", str(json_path)]


def _simulate(row, workloads, tmp_path, capsys, engine="fast") -> dict:
    out = tmp_path / f"{engine}.json"
    code = run_exit_code(_command(row, workloads[row["workload"]], out, engine))
    capsys.readouterr()
    assert code == 0
    return json.loads(out.read_text())


def _doc_rows() -> dict[tuple[str, str, str, str], list[str]]:
    """docs/validation.md's case table: (workload, N, B, line bits) -> its cells."""
    text = (ROOT / "docs" / "validation.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[1].isdigit():
            rows[tuple(cells[:4])] = cells
    return rows


def _int(cell: str) -> int:
    return int(cell.rstrip("*").replace(",", ""))


@pytest.mark.parametrize("row", _runnable(), ids=lambda r: r["case"])
def test_agrees_with_the_authors_simulator(row, workloads, tmp_path, capsys):
    report = _simulate(row, workloads, tmp_path, capsys)
    totals = report["totals"]
    cycles = totals["compute_cycles"]
    assert report["check"]["functional"] == "pass"
    # docs/validation.md quotes this run: its authors' numbers are cases.csv's, its eiesim numbers today's.
    doc = _doc_rows()[(row["workload"], row["num_pes"], row["fifo_buffer_slots"], row["line_bits"])]
    assert (_int(doc[4]), _int(doc[5]), _int(doc[6])) == (
        int(row["authors_cycles"]), int(row["authors_lost_entries"]), int(row["authors_cycles_if_completed"]))
    ptr, spmat = (cell.split(" / ") for cell in doc[9:11])
    assert (_int(doc[7]), _int(ptr[1]), _int(spmat[1])) == (
        cycles, totals["actions"]["ptr_reads"], totals["actions"]["spmat_word_reads"])
    assert (_int(ptr[0]), _int(spmat[0])) == (int(row["authors_ptr_reads"]), int(row["authors_spmat_reads"]))
    if int(row["authors_lost_entries"]) == 0:
        assert (cycles, totals["actions"]["ptr_reads"], totals["actions"]["spmat_word_reads"]) == (
            int(row["authors_cycles"]), int(row["authors_ptr_reads"]), int(row["authors_spmat_reads"]))
    else:
        completed = int(row["authors_cycles_if_completed"])
        assert abs(cycles - completed) <= max(8, 0.001 * completed), (cycles, completed)


@pytest.mark.parametrize("case", EVENT_CASES)
def test_event_engine_agrees_on_small_cases(case, workloads, tmp_path, capsys):
    row = next(r for r in _runnable() if r["case"] == case)
    fast = _simulate(row, workloads, tmp_path, capsys, "fast")
    event = _simulate(row, workloads, tmp_path, capsys, "event")
    assert fast == event


def test_an_authors_fifo_of_one_slot_holds_nothing(workloads, tmp_path, capsys):
    """The authors' B = 1 runs never finish (a 1-slot ring holds 0): fifo_depth = B - 1 = 0 is refused."""
    row = next(r for r in _rows() if r["fifo_buffer_slots"] == "1")
    assert row["authors_cycles"] == "never finishes"
    code = run_exit_code(_command(row, workloads[row["workload"]], tmp_path / "x.json"))
    assert code == 2 and "fifo_depth" in capsys.readouterr().err
