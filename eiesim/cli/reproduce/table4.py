"""``eiesim reproduce eie-table4``: renders ``eiesim.reproduce.table4``'s rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from eiesim.outputs.commit import write_text
from eiesim.reproduce.table4 import (
    SEED,
    TOLERANCE,
    default_real_alex8,
    real_alex8_row,
    structure_rows,
    table4_document,
    table4_rows,
)


def _print_structure(console: Any, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="Sensitivity to sparsity structure (input non-zeros follow the denser columns)")
    for col in ("layer", "column skew", "weight density", "model theor.", "paper theor.", "simulated",
                "paper actual", "error"):
        table.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)
    for r in rows:
        table.add_row(r["layer"], f"{r['column_skew']:.1f}", f"{100 * r['weight_density']:.2f} %",
                      f"{r['model_theoretical_us']:.1f}", f"{r['published_theoretical_us']:.1f}",
                      f"{r['simulated_us']:.1f}", f"{r['published_actual_us']:.1f}", f"{100 * r['error']:+.1f} %")
    console.print(table)
    console.print(
        "column skew = coefficient of variation of the per-column weight density (0: the uniform layers above). "
        "The published densities fix neither; this shows how much the answer depends on them.")


def _print_real(console: Any, row: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="The real Alex-8: the EIE authors' pruned AlexNet fc8 with its real input activations")
    for col in ("layer", "cycles", "authors' sim.", "simulated", "paper actual", "error", "result"):
        table.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)
    table.add_row(row["layer"], f"{row['compute_cycles']:,}", f"{row['authors_sim_cycles']:,}",
                  f"{row['simulated_us']:.2f}", f"{row['published_actual_us']:.1f}", f"{row['error_pct']:+.1f} %",
                  "[green]pass[/]" if row["pass"] else "[red]FAIL[/]")
    console.print(table)
    console.print(
        "simulated = compute cycles / 800 MHz (one round: the input is in the registers, the weights resident); "
        "authors' sim. = the EIE authors' cycle-accurate simulator on the same layer "
        "(../shared/reference/eie-authors-sim). A prediction: nothing was fitted to this layer.")


@click.command("eie-table4")
@click.option("--engine", type=click.Choice(["fast", "event"]), default="fast", show_default=True,
              help="Engine to run (event is very slow on these layers).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the rows as JSON to this file.")
@click.option("--structure", is_flag=True,
              help="Also show how Alex-8, VGG-6 and VGG-8 move when their sparsity is structured (about 20 s).")
@click.option("--real-alex8", "real_alex8", type=click.Path(dir_okay=False, path_type=Path),
              help="The real Alex-8 workload (default: ../shared/reference/eie-authors-sim/alex8-real.npz beside "
                   "the checkout, when it is there).")
def command(engine: str, json_path: Path | None, structure: bool, real_alex8: Path | None) -> None:
    """Simulated vs published EIE time per layer (Table IV): six AlexNet/VGG fc layers, +-10 %."""
    from rich.console import Console
    from rich.table import Table

    from eiesim.errors import UsageError

    if real_alex8 is not None and not real_alex8.is_file():
        raise UsageError("real Alex-8 workload not found", real_alex8)
    real_path = real_alex8 or default_real_alex8()
    rows = table4_rows(engine)
    table = Table(title=f"EIE Table IV (batch 1, us) vs eiesim: eie-64pe.yaml, synthetic layers, seed {SEED}")
    for col in ("layer", "paper theor.", "model theor.", "paper actual", "simulated", "error", "result",
                "work gap", "overhead paper", "overhead model", "padding entries"):
        table.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)
    for r in rows:
        table.add_row(
            r["layer"], f"{r['published_theoretical_us']:.1f}", f"{r['model_theoretical_us']:.1f}",
            f"{r['published_actual_us']:.1f}", f"{r['simulated_us']:.1f}", f"{100 * r['error']:+.1f} %",
            "[green]pass[/]" if r["pass"] else "[red]FAIL[/]", f"{100 * (r['workload_ratio'] - 1):+.1f} %",
            f"{r['published_overhead']:.3f}", f"{r['model_overhead']:.3f}", f"{r['padding_entries']:,}")
    console = Console(width=max(Console().width, 120))
    console.print(table)
    console.print(
        "simulated = (load + compute + store cycles of the layer's rounds) / 800 MHz; DRAM I/O is excluded "
        "because Table IV assumes the weights resident and the input on chip.\n"
        "model theor. = entries processed (real + padding) / 64 PEs / 800 MHz (the paper's definition applied "
        "to our encoding).\n"
        "simulated / paper actual = (model theor. / paper theor.) x (overhead model / overhead paper): "
        "'work gap' is the first factor (the synthetic layer's work vs the paper's), the overheads are "
        "actual / theoretical (load imbalance, pipeline drain, load and store phases).")
    wide = [f"{r['layer']} ({r['pointer_bits']} bits)" for r in rows if r["pointer_bits"] > 16]
    if wide:
        console.print(f"pointers wider than the published 16 bits (a PE holds more than 65,535 entries of the layer): "
                      f"{', '.join(wide)}")
    n_pass = sum(r["pass"] for r in rows)
    verdict = "PASS" if n_pass == len(rows) else "FAIL"
    console.print(f"{n_pass}/{len(rows)} synthetic layers within +-{TOLERANCE:.0%} of the published actual time: "
                  f"{verdict}")
    overhead_ok = [abs(r["model_overhead"] / r["published_overhead"] - 1) <= TOLERANCE for r in rows]
    work_off = [f"{r['layer']} {100 * (r['workload_ratio'] - 1):+.0f} %" for r in rows
                if abs(r["workload_ratio"] - 1) > TOLERANCE]
    console.print(
        f"overhead (actual / theoretical) within +-{TOLERANCE:.0%} of the paper's: {sum(overhead_ok)}/{len(rows)}; "
        f"work more than {TOLERANCE:.0%} off the paper's theoretical time: {', '.join(work_off) or 'none'} "
        "(see docs/validation.md)")
    real = real_alex8_row(real_path, engine) if real_path is not None else None
    if real is not None:
        _print_real(console, real)
    else:
        console.print("(the real Alex-8 row needs ../shared/reference/eie-authors-sim/alex8-real.npz or "
                      "--real-alex8 PATH)")
    extra = structure_rows(engine) if structure else None
    if extra is not None:
        _print_structure(console, extra)
    if json_path is not None:
        write_text(json_path, json.dumps(table4_document(rows, real, extra, engine), indent=2) + "\n")
