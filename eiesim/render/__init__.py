"""Reports and plots: one run or one sweep rendered as self-contained HTML or Markdown.

* ``render_run(report, fmt)``: a run's JSON report (docs/report-schema.md).
* ``render_sweep(rows, columns, fmt)``: a sweep's table (eiesim.sweep).
* ``pareto_front(rows, x_key, y_key)``: which rows are Pareto-optimal (both minimised).
* ``load_run_report(path)`` / ``load_sweep_dir(path)``: read and check the inputs.
"""

from __future__ import annotations

from eiesim.render.inputs import load_run_report, load_sweep_dir, load_sweep_manifest
from eiesim.render.run_report import render_run
from eiesim.render.sweep_report import pareto_front, render_sweep

__all__ = ["load_run_report", "load_sweep_dir", "load_sweep_manifest", "pareto_front", "render_run", "render_sweep"]
