"""``eiesim reproduce squeezenet-winograd``: renders ``eiesim.reproduce.squeezenet_winograd.winograd_study``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eiesim.cli.reproduce.squeezenet_winograd_report import (OUT_FILES, comparison_table, functional_table,
                                                             layer_table, out_files, repruned_table, results_json,
                                                             run_table, summary, tag)
from eiesim.cli.reproduce.squeezenet_source import finish_study, source_options, study_source


def _print(console: Any, title: str, table: tuple[list[str], list[list[str]]]) -> None:
    from rich.table import Table

    head, rows = table
    t = Table(title=title)
    for i, col in enumerate(head):
        t.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        t.add_row(*row)
    console.print(t)


@click.command("squeezenet-winograd")
@source_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write report.md, report.html and results.json to this directory (replaced as a whole).")
def command(model: Path | None, synthetic: bool, json_path: Path | None, out_dir: Path | None) -> None:
    """SqueezeNet's 3x3 layers as Winograd F(2x2,3x3) vs im2col, with and without pixel groups.

    Six full-network runs and the 19-photo accuracy check: about 10 minutes on 2 cores.
    """
    from rich.console import Console

    from eiesim.reproduce.squeezenet_winograd import winograd_study

    source, err = study_source(model, synthetic, out_dir, OUT_FILES)
    study = winograd_study(source, progress=lambda label: err.log(label))
    console = Console()
    if source.kind == "synthetic":
        console.print("SYNTHETIC workload: the numbers below are for a synthetic SqueezeNet with the real model's "
                      "per-layer densities, not for the real model.", highlight=False)
    _print(console, f"Winograd vs im2col on {tag(study)}: the runs", run_table(study))
    for key, rows in study["comparison"].items():
        _print(console, f"im2col / Winograd, {key} (> 1: Winograd better)", comparison_table(rows))
    for run in study["runs"]:
        _print(console, f"3x3 layers, {run['label']}", layer_table(run))
    _print(console, "Accuracy of the Winograd layers", functional_table(study))
    _print(console, "Winograd-domain pruning, no retraining (timed in the 're-pruned' runs)", repruned_table(study))
    console.print(summary(study), highlight=False)
    finish_study(study, {w for r in study["runs"] for w in r["warnings"]}, json_path, out_dir, results_json, out_files,
                 "report.md, report.html and results.json", console, err)
