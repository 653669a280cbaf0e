"""render: results as files and pictures: report bodies, CSV, terminal tables, HTML / Markdown pages, plots.

* ``run_files``: a run's ``report.json`` body (docs/report-schema.md), ``report.run.json``
  metadata and ``layers.csv``; ``run_tables`` and ``bounded_tables``: the terminal tables.
* ``render_run(report, fmt)``: a run's JSON report as a self-contained HTML or Markdown page.
* ``render_sweep(rows, columns, fmt)``: a sweep's table (``eiesim.sweeps``) the same way.
* ``pareto_front(rows, x_key, y_key)``: which rows are Pareto-optimal (both minimised).
* ``load_run_report(path)`` / ``load_sweep_dir(path)``: read and check the inputs.

The page renderers (which import matplotlib) are loaded on first use, so that the light
modules here (the JSON body, the terminal tables) do not pull them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eiesim.render.inputs import load_run_report, load_sweep_dir, load_sweep_manifest
    from eiesim.render.run_report import render_run
    from eiesim.render.sweep_report import pareto_front, render_sweep

__all__ = ["load_run_report", "load_sweep_dir", "load_sweep_manifest", "pareto_front", "render_run", "render_sweep"]


def __getattr__(name: str) -> Any:
    """The renderers and readers above, imported on first use."""
    if name == "render_run":
        from eiesim.render.run_report import render_run as value
    elif name == "render_sweep":
        from eiesim.render.sweep_report import render_sweep as value
    elif name == "pareto_front":
        from eiesim.render.sweep_report import pareto_front as value
    elif name == "load_run_report":
        from eiesim.render.inputs import load_run_report as value
    elif name == "load_sweep_dir":
        from eiesim.render.inputs import load_sweep_dir as value
    elif name == "load_sweep_manifest":
        from eiesim.render.inputs import load_sweep_manifest as value
    else:
        raise AttributeError(f"module 'eiesim.render' has no attribute {name!r}")
    globals()[name] = value
    return value
