"""``eiesim report``: render a run's report.json or a sweep directory as HTML or Markdown."""

from __future__ import annotations

from pathlib import Path

import click

from eiesim.cli import cli
from eiesim.errors import UsageError


@cli.command("report")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="Output format: a self-contained HTML page or a Markdown file (figures embedded in both).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: report.html or report.md next to the input).")
def report_command(source: Path, fmt: str, output: Path | None) -> None:
    """Render SOURCE (a run's report.json, or a sweep directory) with tables and embedded plots."""
    from eiesim.atomic import write_text
    from eiesim.render import load_run_report, load_sweep_dir, render_run, render_sweep

    if not source.exists():
        raise UsageError("no such file or directory", source)
    if source.is_dir():
        if not (source / "results.csv").is_file() and not (source / "results.jsonl").is_file() \
                and (source / "report.json").is_file():
            source = source / "report.json"  # the --out directory of `eiesim run`
    if source.is_dir():
        rows, columns = load_sweep_dir(source)
        text = render_sweep(rows, columns, fmt)
        kind, default_dir = f"sweep of {len(rows)} points", source
    else:
        report = load_run_report(source)
        text = render_run(report, fmt)
        kind, default_dir = "run", source.parent
    target = output if output is not None else default_dir / f"report.{fmt}"
    if target.resolve() == source.resolve():
        raise UsageError("the output would overwrite the input; choose another -o", target)
    write_text(target, text)
    click.echo(f"wrote {target} ({kind}, {fmt}, {len(text.encode()):,} bytes)")
