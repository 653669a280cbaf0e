"""``eiesim sweep``: a resumable grid of full simulations."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from eiesim.cli.group import cli
from eiesim.cli.tables import set_key_columns
from eiesim.errors import UsageError
from eiesim.inputs.files import require_regular_file
from eiesim.outputs.paths import check_output_dir
from eiesim.render.bounded_tables import shown


@cli.command("sweep")
@click.argument("arch", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("workload", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=V1,V2,...",
              help="One axis of the grid: an architecture key and its values (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for points/, results.csv and results.jsonl (default reports/sweep-<workload>-<arch>).")
@click.option("--image", "images", multiple=True, metavar="NAME|PATH|DIR",
              help="Input image: path, bundled photo name or folder; repeat for several (each point then "
                   "simulates every image: metrics are means, with _min/_max columns). Default: the workload's input, "
                   "else the photo chelsea.")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True, help="Local worker processes.")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS|local",
              help="Run points on a Dask distributed cluster ('local' starts one).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the table (columns and rows) as JSON to this file.")
@click.option("--max-points", type=click.IntRange(1), default=None, metavar="N",
              help="Largest grid accepted (default 10,000; a larger grid is refused before any work).")
def sweep_command(arch: Path, workload: Path, sets: tuple[str, ...], out_dir: Path | None, images: tuple[str, ...],
                  workers: int, dask_address: str | None, json_path: Path | None, max_points: int | None) -> None:
    """Simulate every combination of the --set values; finished points survive interruption."""
    import json

    from eiesim.cli.tables import out_console
    from eiesim.outputs.commit import write_text
    from eiesim.sweeps.grid import MAX_GRID_POINTS
    from eiesim.sweeps.sweep import sweep

    for path in (arch, workload):
        require_regular_file(path, UsageError)  # missing, a directory, a FIFO or a device: one line
    if out_dir is None:
        out_dir = Path("reports") / f"sweep-{workload.stem}-{arch.stem}"
    check_output_dir(out_dir)
    console = Console(stderr=True)
    root = click.get_current_context().find_root()
    t0 = time.perf_counter()
    with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task("points", total=None)

        def on_point(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = sweep(arch, workload, list(sets), out_dir, input=list(images) or None, workers=workers,
                       dask_address=dask_address, on_point=on_point, command=(root.obj or {}).get("argv"),
                       max_points=max_points or MAX_GRID_POINTS)
    wall = time.perf_counter() - t0
    out = out_console()
    out.print(_results_table(result, f"sweep of {workload.name} on {arch.name}"))
    for text in result.warnings:
        points = [r["point"] for r in result.rows if text in str(r.get("warnings") or "")]
        sys.stderr.write(f"eiesim: warning: {' '.join(text.split())} (points: {', '.join(points)})\n")
    if json_path is not None:
        write_text(json_path, json.dumps({"columns": result.columns, "rows": result.rows}, indent=2) + "\n")
    out.print(f"{len(result.rows)} points: {result.computed} computed, {result.reused} reused from {out_dir}; "
              f"wall time {wall:.1f} s; table in {out_dir / 'results.csv'}", highlight=False)
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
#: What the abbreviated headers mean (the table's legend).
LEGEND = ("ALU util.: busy PE cycles / (PEs x compute cycles), weighted over layers; padding: padding entries "
          "processed; DRAM B: bytes read + written; check: functional check vs the fixed-point reference")
#: Legend parts that apply only to some sweeps.
LEGEND_RESOLVED = "resolved: the size an 'auto' key resolved to"
LEGEND_IMAGES = "Several images: metrics are means (results.csv has _min/_max)"


def _results_table(result, title: str) -> Table:  # noqa: ANN001 - SweepResult
    """Swept keys that vary, then the main metrics and resolved 'auto' sizes, one row per point."""
    swept = [c for c in result.columns if c not in SHOWN_METRICS and c != "point" and c in result.rows[0]
             and not c.startswith(("resolved.", "cycle_breakdown.")) and c != "warnings"
             and not c.endswith(("_min", "_max"))
             and c != "images"]
    varying = [c for c in swept if len({str(r.get(c)) for r in result.rows}) > 1] or swept[:1]
    resolved = [c for c in result.columns if c.startswith("resolved.")]
    legend = LEGEND + ("; " + LEGEND_RESOLVED if resolved else "") + "."
    if "images" in result.columns:
        legend += " " + LEGEND_IMAGES
    table = Table(title=title, caption=legend, caption_justify="left")
    for col in varying:
        table.add_column(col, justify="right", no_wrap=True)
    for header in SHOWN_METRICS.values():
        table.add_column(header, justify="right", no_wrap=True)
    for col in resolved:
        table.add_column(col, justify="right", no_wrap=True)
    for row in shown(result.rows, table, "points", "all of them: results.csv"):
        table.add_row(*[_fmt(c, row.get(c)) for c in varying], *[_fmt(c, row.get(c)) for c in SHOWN_METRICS],
                      *[_fmt(c, row.get(c)) for c in resolved])
    return set_key_columns(table, len(varying))  # a folded part repeats every swept key


#: Columns that are counts: whole numbers even when a mean over images makes them floats.
_COUNTS = ("cycles", "padding_entries", "dram_bytes")


def _fmt(column: str, value: object) -> str:
    """A cell by the one number rule of every table (eiesim.render.numbers)."""
    from eiesim.render.numbers import format_count, format_number

    return format_count(value) if column in _COUNTS else format_number(value)
