"""``eiesim sweep``: a resumable grid of full simulations."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from eiesim.atomic import check_output_dir
from eiesim.cli import cli
from eiesim.errors import UsageError
from eiesim.tables import shown


@cli.command("sweep")
@click.argument("arch", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=V1,V2,...",
              help="One axis of the grid: an architecture key and its values (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for points/, results.csv and results.jsonl (default reports/sweep-<workload>-<arch>).")
@click.option("--image", default=None, help="Input image: path or bundled photo name (default: the workload's input).")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True, help="Local worker processes.")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS|local",
              help="Run points on a Dask distributed cluster ('local' starts one).")
def sweep_command(arch: Path, workload: Path, sets: tuple[str, ...], out_dir: Path | None, image: str | None,
                  workers: int, dask_address: str | None) -> None:
    """Simulate every combination of the --set values; finished points survive interruption."""
    from eiesim.sweep import sweep

    for path in (arch, workload):
        if not path.is_file():
            raise UsageError("no such file", path)
    if out_dir is None:
        out_dir = Path("reports") / f"sweep-{workload.stem}-{arch.stem}"
    check_output_dir(out_dir)
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task("points", total=None)

        def on_point(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = sweep(arch, workload, list(sets), out_dir, image=image, workers=workers,
                       dask_address=dask_address, on_point=on_point)
    wall = time.perf_counter() - t0
    out = Console() if sys.stdout.isatty() else Console(width=200)
    out.print(_results_table(result, f"sweep of {workload.name} on {arch.name}"))
    out.print(f"{len(result.rows)} points: {result.computed} computed, {result.reused} reused from {out_dir}; "
              f"wall time {wall:.1f} s; table in {out_dir / 'results.csv'}")
    for rejected in result.rejected:
        console.print(f"eiesim: recomputed a stored point that failed verification: {rejected}", highlight=False,
                      soft_wrap=True)
    if result.retried:
        console.print(f"eiesim: {result.retried} point attempt(s) repeated because their worker was lost",
                      highlight=False)


#: Metric columns shown in the terminal (all of them are in results.csv), with their headers.
SHOWN_METRICS = {
    "cycles": "cycles", "time_us": "time us", "frames_per_s": "frames/s", "energy_uj": "energy uJ",
    "chip_power_mw": "chip mW", "pe_area_um2": "PE um^2", "chip_area_mm2": "chip mm^2",
    "load_balance_efficiency": "ALU util.", "padding_entries": "padding", "dram_bytes": "DRAM B",
    "functional": "check",
}


def _results_table(result, title: str) -> Table:  # noqa: ANN001 - SweepResult
    """Swept keys that vary, then the main metrics, one row per point."""
    swept = [c for c in result.columns if c not in SHOWN_METRICS and c != "point" and c in result.rows[0]]
    varying = [c for c in swept if len({str(r.get(c)) for r in result.rows}) > 1] or swept[:1]
    table = Table(title=title)
    for col in varying:
        table.add_column(col, justify="right", no_wrap=True)
    for header in SHOWN_METRICS.values():
        table.add_column(header, justify="right", no_wrap=True)
    for row in shown(result.rows, table, "points", "all of them: results.csv"):
        table.add_row(*[_fmt(row.get(c)) for c in varying], *[_fmt(row.get(c)) for c in SHOWN_METRICS])
    return table


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
