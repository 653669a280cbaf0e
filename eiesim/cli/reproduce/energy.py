"""``eiesim reproduce eie-energy``: renders ``eiesim.reproduce.energy.energy_study``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eiesim.outputs.commit import write_text
from eiesim.reproduce.energy import energy_study


@click.command("eie-energy")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results as JSON to this file.")
def command(json_path: Path | None) -> None:
    """Energy of the EIE Table IV layers (activity-based vs time x power) and the Spmat width study."""
    from rich.console import Console
    from rich.table import Table

    result = energy_study()
    console = Console()
    t = Table(title="Energy per layer, 64-PE EIE, 45 nm (uJ)")
    for col in ("layer", "time us", "activity total", "on-chip", "DRAM", "paper method (time x P)", "chip mW"):
        t.add_column(col, justify="left" if col == "layer" else "right")
    for r in result["layers"]:
        t.add_row(r["layer"], f"{r['time_us']:.2f}", f"{r['activity_energy_pj'] / 1e6:.3f}",
                  f"{r['on_chip_pj'] / 1e6:.3f}", f"{r['dram_pj'] / 1e6:.3f}",
                  f"{r['paper_method_energy_pj'] / 1e6:.3f}", f"{r['chip_mw']:.1f}")
    console.print(t)
    for r in result["layers"]:
        if not r["weights_resident"]:
            console.print(f"{r['layer']}: weights do not fit the published SRAMs (per PE: pointers "
                          f"{r['ptr_bytes_needed_per_pe']:,} B of {r['ptr_capacity_bytes']:,} B, entries "
                          f"{r['spmat_bytes_needed_per_pe']:,} B of {r['spmat_capacity_bytes']:,} B), so they are streamed from DRAM every inference (dram.sram_overflow: stream): "
                          "its time and DRAM energy include that transfer.")
    w = Table(title="Spmat SRAM width study: Spmat read energy per layer (nJ), 128 KB per PE")
    w.add_column("layer")
    widths = sorted(next(iter(result["width_study_spmat_read_pj"].values())))
    for width in widths:
        w.add_column(f"{width} bit", justify="right")
    w.add_column("minimum", justify="right")
    for name, by_w in result["width_study_spmat_read_pj"].items():
        w.add_row(name, *(f"{by_w[x] / 1e3:.1f}" for x in widths), f"{result['width_minimum_bits'][name]} bit")
    console.print(w)
    console.print("the EIE paper chose 64 bits; docs/cost-model.md explains why this model's minimum differs "
                  "(a PE reuses its last Spmat word across columns)")
    if json_path is not None:
        write_text(json_path, json.dumps(result, indent=2, default=str) + "\n")
