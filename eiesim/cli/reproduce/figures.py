"""``eiesim reproduce eie-figures``: runs ``eiesim.reproduce.figures.run_all`` and prints its findings."""

from __future__ import annotations

from pathlib import Path

import click

from eiesim.outputs.paths import check_output_dir
from eiesim.reproduce.figures import FIGURE_FILES, run_all


@click.command("eie-figures")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports/eie-figures"),
              show_default=True, help="Directory for the PNGs, CSVs and README.md.")
@click.option("--layers", default=None, metavar="NAME,NAME,...",
              help="Only these benchmark layers (default: all nine of Table III).")
def command(out_dir: Path, layers: str | None) -> None:
    """Design-space figures of the EIE paper: FIFO depth, SRAM width, PE count (plots, CSVs, checked findings)."""
    from rich.console import Console

    check_output_dir(out_dir, FIGURE_FILES)
    console = Console(stderr=True)
    names = [s.strip() for s in layers.split(",") if s.strip()] if layers else None
    _studies, findings, _readme_text = run_all(out_dir, names, log=lambda s: console.log(s))
    out = Console()
    for f in findings:
        out.print(f"[{'green' if f.holds else 'red'}]{'CONFIRMED' if f.holds else 'NOT CONFIRMED'}[/]: {f.claim}")
        out.print(f"   {f.evidence}", highlight=False)
    out.print(f"wrote {out_dir}/README.md and {len(_studies)} figures + CSVs")
