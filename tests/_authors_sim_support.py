"""What the two authors'-simulator test files share: the reference's cases, the workloads rebuilt on demand by its
own script, the eiesim command each case runs, and the comparison with the authors' numbers.

The cases are split over two files (test_authors_sim.py: Table III layers of seed 0; test_authors_sim_more.py:
seed 1, the real Alex-8 and the edge cases) so that pytest-xdist, which runs a file whole in one worker, can run
them side by side; each file rebuilds only the workloads its cases read.
"""

from __future__ import annotations

import csv
import json
import runpy
import sys
import warnings
from pathlib import Path

import pytest
from _support import ROOT, SHARED, run_exit_code
from scipy.sparse import SparseEfficiencyWarning

REF = SHARED / "reference" / "eie-authors-sim"
CASES = REF / "cases.csv"
ARCH = ROOT / "arch_configs" / "eie-64pe.yaml"
#: Small cases the event (SimPy) engine also runs, and must agree on with the fast engine.
EVENT_CASES = ("edge-one-pe|N1|B8|W64", "edge-one-pe|N64|B8|W64", "edge-pad-1pe|N1|B8|W64")

needs_reference = pytest.mark.skipif(not CASES.is_file(), reason="../shared/reference/eie-authors-sim not available")


def rows() -> list[dict[str, str]]:
    if not CASES.is_file():
        return []
    with CASES.open(newline="") as fh:
        return list(csv.DictReader(fh))


def runnable() -> list[dict[str, str]]:
    return [r for r in rows() if r["authors_cycles"].isdigit()]


def table3_seed0(row: dict[str, str]) -> bool:
    """A case on a Table III layer drawn with seed 0 (test_authors_sim.py runs these, the other file the rest)."""
    return row["workload"].startswith("t3-") and row["workload"].endswith("-s0")


class Workloads(dict):
    """Workload id -> .npz path, each rebuilt by the reference's own script (digest-checked) when first asked for."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, wid: str) -> Path:
        path = self.folder / f"{wid}.npz"
        _make_workload(wid, path)
        self[wid] = path
        return path


def _make_workload(wid: str, path: Path) -> None:
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


def command(row: dict[str, str], workload, json_path, engine: str = "fast") -> list[str]:
    slots = int(row["fifo_buffer_slots"])
    return ["run", str(ARCH), str(workload), "--set", f"num_pes={row['num_pes']}", "--set", f"fifo_depth={slots - 1}",
            "--set", f"spmat_sram.width_bits={row['line_bits']}", "--set", f"act_regs_per_pe={row['act_regs_per_pe']}",
            "--set", "spmat_sram.size_bytes=auto", "--set", "ptr_sram.size_bytes=auto", "--engine", engine,
            "--json", str(json_path)]


def simulate(row, workloads, tmp_path, capsys, engine="fast") -> dict:
    out = tmp_path / f"{engine}.json"
    code = run_exit_code(command(row, workloads[row["workload"]], out, engine))
    capsys.readouterr()
    assert code == 0
    return json.loads(out.read_text())


def _doc_rows() -> dict[tuple[str, str, str, str], list[str]]:
    """docs/validation.md's case table: (workload, N, B, line bits) -> its cells."""
    text = (ROOT / "docs" / "validation.md").read_text()
    table = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 11 and cells[1].isdigit():
            table[tuple(cells[:4])] = cells
    return table


def _int(cell: str) -> int:
    return int(cell.rstrip("*").replace(",", ""))


def check_agreement(row, workloads, tmp_path, capsys) -> None:
    """Run ``row``'s case and compare with the authors' printed numbers (see test_authors_sim.py's docstring)."""
    report = simulate(row, workloads, tmp_path, capsys)
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
