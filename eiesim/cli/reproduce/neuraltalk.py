"""``eiesim reproduce neuraltalk``: renders ``eiesim.reproduce.neuraltalk``'s rows."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eiesim.outputs.commit import write_text
from eiesim.reproduce.neuraltalk import SEED, neuraltalk_rows


@click.command("neuraltalk")
@click.option("--engine", type=click.Choice(["fast", "event"]), default="fast", show_default=True,
              help="Engine to run (event is very slow on these layers).")
@click.option("--words", type=click.IntRange(2, 1000), default=20, show_default=True, help="Caption length.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the rows as JSON to this file.")
def command(engine: str, words: int, json_path: Path | None) -> None:
    """NeuralTalk (NT-We, NT-Wd, NT-LSTM) vs Table IV; NT-LSTM as one M x V and as a full recurrent step."""
    from rich.console import Console
    from rich.table import Table

    doc = neuraltalk_rows(engine, SEED, words)
    console = Console(width=max(Console().width, 120))
    table = Table(title=f"NeuralTalk on EIE (eie-64pe.yaml, synthetic layers, seed {SEED}) vs Table IV, us")
    for col in ("layer", "paper actual", "simulated", "error"):
        table.add_column(col, justify="left" if col == "layer" else "right", no_wrap=True)
    for r in doc["rows"]:
        table.add_row(r["layer"], f"{r['paper_actual_us']:.1f}", f"{r['simulated_us']:.2f}", f"{r['error_pct']:+.1f} %")
    rec = doc["recurrent"]
    table.add_row(rec["layer"], f"{rec['paper_actual_us']:.1f}", f"{rec['simulated_us']:.2f}",
                  f"{rec['error_pct']:+.1f} %")
    console.print(table)
    console.print(
        f"NT-LSTM step (steps 2-{words}): M x V {rec['mxv_us']:.3f} us + load of x_t {rec['load_us']:.3f} us + "
        f"element-wise {rec['elementwise_us']:.3f} us = {rec['simulated_us']:.3f} us, "
        f"{rec['one_mxv_vs_step']:.3f}x the one-M x V row (what the paper timed); step 1 (h_0 = 0) M x V "
        f"{rec['step1_mxv_us']:.3f} us. Functional check: {rec['functional']}, saturations {rec['saturations']}.")
    cap = doc["caption"]
    console.print(f"{words}-word caption: {cap['simulated_us']:.1f} us (paper's times: {cap['paper_based_us']:.1f} us, "
                  f"{cap['error_pct']:+.1f} %); {cap['formula']}.")
    console.print("simulated = (load + compute + store cycles) / 800 MHz, DRAM I/O excluded (weights resident); "
                  "the recurrent step's store phase is its element-wise phase (docs/timing-model.md section 8).")
    if json_path is not None:
        write_text(json_path, json.dumps(doc, indent=2) + "\n")
