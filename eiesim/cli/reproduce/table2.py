"""``eiesim reproduce eie-table2``: renders ``eiesim.reproduce.table2.table2_comparison``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eiesim.outputs.commit import write_text
from eiesim.reproduce.table2 import table2_comparison


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


@click.command("eie-table2")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison as JSON to this file.")
@click.option("--no-engine", is_flag=True, help="Use the stored Alex-7 activity instead of running the engine.")
def command(json_path: Path | None, no_engine: bool) -> None:
    """Cost model vs EIE Table II, which it is calibrated to: per-PE area and power, chip mm^2 and W, fit residuals."""
    from rich.console import Console
    from rich.table import Table

    result = table2_comparison(use_engine=not no_engine)
    table = Table(title=f"EIE Table II and the eiesim cost model, which is calibrated to it (Alex-7 activity: "
                        f"{result['activity_source']}, {result['compute_cycles']} compute cycles)")
    for col in ("item", "model", "paper", "unit", "residual %", "role"):
        table.add_column(col, justify="left" if col in ("item", "unit", "role") else "right")
    for r in result["rows"]:
        table.add_row(r["item"], _fmt(r["model"]), _fmt(r["paper"]), r["unit"], f"{r['residual_pct']:+.2f}", r["role"])
    console = Console()
    console.print(table)
    if "whole_layer_with_io" in result:
        w = result["whole_layer_with_io"]
        console.print(f"whole layer incl. I/O ({w['cycles']} cycles, {w['time_us']:.2f} us): "
                      f"{w['per_pe_mw']:.3f} mW per PE, {w['chip_mw']:.1f} mW chip, "
                      f"{w['energy_pj'] / 1e6:.3f} uJ (DRAM {w['dram_pj'] / 1e6:.3f} uJ)")
    console.print(
        f"calibrated to these numbers: the largest fit residual is {result['max_fit_residual_pct']:.3f} % "
        "(Table II's module powers add up to 9.158 mW, its total says 9.157). Agreement here shows that the fit "
        "converged, not that the model predicts Table II; the chip lines follow from the fitted PE plus the "
        "LNZD tree and CCU.")
    console.print(f"where the numbers come from: {result['provenance']}")
    if json_path is not None:
        write_text(json_path, json.dumps(result, indent=2) + "\n")
