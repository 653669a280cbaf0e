"""``eiesim sweep``: a resumable grid of full simulations."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from eiesim.cli import cli
from eiesim.errors import UsageError


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
    table = Table(title=f"sweep of {workload.name} on {arch.name}")
    shown = [c for c in result.columns if c != "point"]
    for col in shown:
        table.add_column(col, justify="right")
    for row in result.rows:
        table.add_row(*[_fmt(row.get(c)) for c in shown])
    out = Console()
    out.print(table)
    out.print(f"{len(result.rows)} points: {result.computed} computed, {result.reused} reused from {out_dir}; "
              f"wall time {wall:.1f} s; table in {out_dir / 'results.csv'}")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
