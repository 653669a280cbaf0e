"""Agreement with the EIE authors' simulator, the rest of its cases: Table III layers of seed 1, the real pruned
AlexNet fc8 with real activations, and the edge cases; the event engine on three small ones; the authors' one-slot
FIFO. What is compared and why: test_authors_sim.py's docstring."""

from __future__ import annotations

import pytest
from _authors_sim_support import (
    EVENT_CASES, Workloads, check_agreement, command, needs_reference, rows, runnable, simulate, table3_seed0,
)
from _support import run_exit_code

pytestmark = needs_reference


@pytest.fixture(scope="module")
def workloads(tmp_path_factory) -> Workloads:
    """The workloads this file's cases read, rebuilt on first use by the reference's own script."""
    return Workloads(tmp_path_factory.mktemp("authors-sim-more"))


@pytest.mark.parametrize("row", [r for r in runnable() if not table3_seed0(r)], ids=lambda r: r["case"])
def test_agrees_with_the_authors_simulator(row, workloads, tmp_path, capsys):
    check_agreement(row, workloads, tmp_path, capsys)


@pytest.mark.parametrize("case", EVENT_CASES)
def test_event_engine_agrees_on_small_cases(case, workloads, tmp_path, capsys):
    row = next(r for r in runnable() if r["case"] == case)
    fast = simulate(row, workloads, tmp_path, capsys, "fast")
    event = simulate(row, workloads, tmp_path, capsys, "event")
    assert fast == event


def test_an_authors_fifo_of_one_slot_holds_nothing(workloads, tmp_path, capsys):
    """The authors' B = 1 runs never finish (a 1-slot ring holds 0): fifo_depth = B - 1 = 0 is refused."""
    row = next(r for r in rows() if r["fifo_buffer_slots"] == "1")
    assert row["authors_cycles"] == "never finishes"
    code = run_exit_code(command(row, workloads[row["workload"]], tmp_path / "x.json"))
    assert code == 2 and "fifo_depth" in capsys.readouterr().err
