"""A run's files: the JSON report body, its run metadata and the per-layer CSV.

The JSON schema is documented in docs/report-schema.md and is stable: fields are
added, never renamed or removed. The tables the CLI prints are ``eiesim.render.run_tables``'.
Nothing here prints; the CLI does.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from eiesim.outputs.commit import write_text
from eiesim.run.multi_image import MultiImageResult
from eiesim.run.result import SimulationResult

#: Version of the report layout (docs/report-schema.md); bumped only when fields are added.
SCHEMA_VERSION = 3

#: Per-layer CSV columns (then one column per action).
CSV_COLUMNS = (
    "name", "kind", "rows", "cols", "pixels", "cycles", "time_us", "io_cycles", "load_cycles", "compute_cycles",
    "store_cycles", "rounds", "nonzero_activations", "input_density", "entries_processed", "padding_entries",
    "broadcast_stall_cycles", "load_balance_efficiency", "time_efficiency", "real_work_fraction",
)


def report_dict(result: SimulationResult | MultiImageResult) -> dict[str, Any]:
    """The JSON report: ``result.to_dict()`` plus the schema version."""
    body = result.to_dict()
    return {"schema_version": SCHEMA_VERSION, **body}


def report_json(result: SimulationResult | MultiImageResult) -> str:
    return json.dumps(report_dict(result), indent=2, allow_nan=False) + "\n"


def write_json(result: SimulationResult | MultiImageResult, path: str | Path) -> Path:
    """Write the JSON report atomically."""
    write_text(path, report_json(result))
    return Path(path)


def run_metadata(result: SimulationResult | MultiImageResult, wall_time_s: float, argv: list[str] | None = None) -> dict[str, Any]:
    """How this run was made: engine, wall time, date, host, versions, command line.

    Kept out of the report body so that reports of identical inputs are byte-identical
    across runs, machines, engines and worker counts.
    """
    import datetime
    import platform

    import numba
    import numpy

    engine = result.first.engine if isinstance(result, MultiImageResult) else result.engine
    return {
        "engine": engine,
        "wall_time_s": round(wall_time_s, 3),
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "command": list(argv) if argv is not None else None,
    }


def metadata_path(report_path: str | Path) -> Path:
    """Where a report's run metadata goes: ``report.json`` -> ``report.run.json``."""
    path = Path(report_path)
    return path.with_name(path.stem + ".run.json")


def run_metadata_json(meta: dict[str, Any]) -> str:
    """The text of a ``*.run.json`` file."""
    return json.dumps(meta, indent=2) + "\n"


def write_run_metadata(meta: dict[str, Any], report_path: str | Path) -> Path:
    """Write the run metadata beside a report (atomically); returns its path."""
    target = metadata_path(report_path)
    write_text(target, run_metadata_json(meta))
    return target


def layers_csv(result: SimulationResult) -> str:
    """One row per layer: the scalar statistics, then every action count."""
    buf = io.StringIO()
    rows = [s.to_dict() for s in result.layers]
    actions = list(rows[0]["actions"]) if rows else []
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *actions])
    for r in rows:
        writer.writerow([_csv_value(r[c]) for c in CSV_COLUMNS] + [r["actions"][a] for a in actions])
    return buf.getvalue()


def _csv_value(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def images_layers_csv(multi: MultiImageResult) -> str:
    """Like ``layers_csv`` with an ``image`` column first: one row per image and layer."""
    parts = [layers_csv(r).splitlines() for r in multi.results]
    lines = ["image," + parts[0][0]]
    for label, rows in zip(multi.labels, parts):
        cell = label if not any(c in label for c in ',"\n') else '"' + label.replace('"', '""') + '"'
        lines += [f"{cell},{row}" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def write_layers_csv(result: SimulationResult | MultiImageResult, path: str | Path) -> Path:
    """``layers.csv``: one row per layer (several images: per image and layer, ``image`` column first)."""
    if isinstance(result, MultiImageResult):
        write_text(path, images_layers_csv(result) if len(result.results) > 1 else layers_csv(result.first))
    else:
        write_text(path, layers_csv(result))
    return Path(path)
