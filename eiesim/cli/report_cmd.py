"""``eiesim report``: render a run's report.json or a sweep directory as HTML or Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eiesim.cli.group import cli
from eiesim.errors import UsageError

#: Files of a run or sweep directory that hold data (never an output of ``eiesim report``).
_DATA_FILES = ("report.json", "report.run.json", "layers.csv", "results.csv", "results.jsonl", "manifest.json")


@cli.command("report")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="Output format: a self-contained HTML page or a Markdown file (figures embedded in both).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: report.html or report.md next to the input).")
@click.option("--figures", "figures_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write every figure to this folder as SVG, PDF and PNG (300 dpi), each with its caption "
                   "in figNN-....caption.md beside it.")
@click.option("--figure-format", "figure_formats", multiple=True, type=click.Choice(["svg", "pdf", "png"]),
              help="With --figures: only these formats (repeatable; default all three).")
@click.option("--figure-width", default=None, metavar="column|page|INCHES",
              help="Width of every figure: a paper's column (3.5 in), its page (7 in) or inches; fonts and sizes "
                   "follow. Default: 7 in, wider for many bars.")
@click.option("--caption-in-figure", is_flag=True,
              help="With --figures: also draw each caption under its figure (default: caption file only).")
@click.option("--x", "x_key", default=None, metavar="KEY",
              help="Sweep: draw the metrics against this swept key only (default: one set of figures per swept "
                   "key that varies).")
@click.option("--layout", type=click.Choice(["lines", "facets", "heatmap"]), default="lines", show_default=True,
              help="Sweep: how the other swept keys show: one line per value, one panel per value, or (two "
                   "swept keys) a heatmap.")
def report_command(source: Path, fmt: str, output: Path | None, figures_dir: Path | None,
                   figure_formats: tuple[str, ...], figure_width: str | None, caption_in_figure: bool,
                   x_key: str | None, layout: str) -> None:
    """Render SOURCE (a run's report.json, or a sweep directory) with tables and embedded plots."""
    from eiesim.cli.progress import status_line
    from eiesim.outputs.commit import write_text
    from eiesim.outputs.paths import check_not_input, check_output_file
    from eiesim.render import load_run_report, load_sweep_dir, load_sweep_manifest
    from eiesim.render.document import render
    from eiesim.render.export import DEFAULT_FORMATS, export_figures
    from eiesim.render import style
    from eiesim.render.run_report import build_run_document
    from eiesim.render.sweep_report import build_sweep_document

    figure_style = style.FigureStyle.for_width(figure_width)
    if not source.exists():
        raise UsageError("no such file or directory", source)
    if source.is_dir():
        if not (source / "results.csv").is_file() and not (source / "results.jsonl").is_file() \
                and (source / "report.json").is_file():
            source = source / "report.json"  # the --out directory of `eiesim run`
    sweep = source.is_dir()
    target = output if output is not None else (source if sweep else source.parent) / f"report.{fmt}"
    check_output_file(target)
    # The report must never replace what it (or a later report) reads: a run's files, a sweep's store.
    data_dir = source if sweep else source.parent
    protected = [source] + [data_dir / name for name in _DATA_FILES]
    if sweep:
        protected += sorted((source / "points").glob("*"))
        if (source / "points").is_dir() and target.absolute().parent == (source / "points").absolute():
            raise UsageError("this is inside the sweep's point store; choose another -o", target)
    check_not_input(target, protected, "sweep's data file" if sweep else "run's data file")
    if not sweep and (x_key is not None or layout != "lines"):
        raise UsageError("--x and --layout apply to a sweep directory, not to a run's report", source)
    with style.use(figure_style), status_line(f"rendering the report of {source.name}: plots") as status:
        if sweep:
            rows, columns = load_sweep_dir(source)
            doc = build_sweep_document(rows, columns, load_sweep_manifest(source), x_key=x_key, layout=layout,
                                       base_dir=target.parent)
            kind = f"sweep of {len(rows)} points"
        else:
            doc = build_run_document(_with_engine(load_run_report(source), source), base_dir=target.parent)
            kind = "run"
        status(f"rendering the report of {source.name}: {fmt} page")
        text = render(doc, fmt)
        write_text(target, text)
        if figures_dir is not None:
            status(f"writing figure files to {figures_dir}")
            files = export_figures(doc, figures_dir, figure_formats or DEFAULT_FORMATS, caption_in_figure)
    click.echo(f"wrote {target} ({kind}, {fmt}, {len(text.encode()):,} bytes)")
    if figures_dir is not None:
        click.echo(f"wrote {len(files)} figure and caption files to {figures_dir}")


def _with_engine(report: dict[str, Any], source: Path) -> dict[str, Any]:
    """The run report with the engine its run metadata names (``eiesim run --out`` shows it on its page too)."""
    import json

    meta = source.parent / "report.run.json"
    if "engine" in report or source.name != "report.json" or not meta.is_file():
        return report
    try:
        engine = json.loads(meta.read_text(encoding="utf-8")).get("engine")
    except (OSError, ValueError, AttributeError):
        return report  # the metadata is a nicety; the report renders without it
    return {**report, "engine": engine} if isinstance(engine, str) else report

