"""Read what ``eiesim report`` renders: a run's JSON report or a sweep directory.

Both readers check the shape of what they read and raise ``UsageError`` naming the
file and what was expected, so that ``eiesim report some.json`` on the wrong kind
of JSON says so in one line instead of rendering an empty page.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from eiesim.errors import UsageError
from eiesim.inputs.text import parse_json, read_text

#: Refuse absurdly large inputs before reading them into memory.
MAX_INPUT_BYTES = 512 << 20


def _read_text(path: Path) -> str:
    return read_text(path, UsageError, "file", MAX_INPUT_BYTES)


def _parse_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def load_run_report(path: str | Path) -> dict[str, Any]:
    """A run report (``report.json`` of ``eiesim run``); refuses other JSON with a clear message."""
    path = Path(path)
    data = parse_json(_read_text(path), path, UsageError, parse_constant=_parse_constant)
    if not isinstance(data, dict):
        raise UsageError(f"expected an eiesim run report (a JSON object), got a JSON {type(data).__name__}", path)
    if not isinstance(data.get("layers"), list) or not isinstance(data.get("totals"), dict):
        present = ", ".join(sorted(map(str, data))[:8]) or "none"
        raise UsageError("not an eiesim run report: expected a JSON object with 'totals' (object) and 'layers' "
                         f"(list), as written by `eiesim run --json/--out`; keys found: {present}", path)
    return data


def _coerce(text: str) -> Any:
    """A CSV cell back to int, float, bool or str."""
    if text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "true": True, "false": False}.get(text, text)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(header, rows) of a results.csv; a row with more or fewer cells than the header is an error."""
    try:
        records = list(csv.reader(_read_text(path).splitlines()))
    except csv.Error as exc:
        raise UsageError(f"not a readable CSV table ({exc})", path) from None
    if not records:
        return [], []
    header, rows = records[0], []
    for n, record in enumerate(records[1:], 2):
        if not record:
            continue
        if len(record) != len(header):
            raise UsageError(f"line {n} has {len(record)} cells but the header has {len(header)}; "
                             "the table is damaged (rerun the sweep to regenerate it)", path)
        rows.append({k: _coerce(v) for k, v in zip(header, record)})
    return header, rows


#: Columns every row of an eiesim sweep has (the stored point's key and the first metric).
SWEEP_ROW_KEYS = ("point", "cycles")


def load_sweep_dir(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows, columns) of a sweep directory: rows from results.jsonl, column order from results.csv."""
    path = Path(path)
    csv_path, jsonl_path = path / "results.csv", path / "results.jsonl"
    if not csv_path.is_file() and not jsonl_path.is_file():
        raise UsageError("not a sweep directory: it has neither results.csv nor results.jsonl "
                         "(written by `eiesim sweep --out DIR`)", path)
    columns: list[str] = []
    csv_rows: list[dict[str, Any]] = []
    if csv_path.is_file():
        columns, csv_rows = _read_csv(csv_path)
    rows: list[dict[str, Any]] = []
    if jsonl_path.is_file():
        for n, line in enumerate(_read_text(jsonl_path).splitlines(), 1):
            if not line.strip():
                continue
            row = parse_json(line, jsonl_path, UsageError, f"line {n}", parse_constant=_parse_constant)
            if not isinstance(row, dict):
                raise UsageError(f"line {n} is not a JSON object", jsonl_path)
            rows.append(row)
    else:
        rows = csv_rows
    if not columns:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    if not rows:
        raise UsageError("the sweep has no finished points yet", path)
    missing = [key for key in SWEEP_ROW_KEYS if any(key not in row for row in rows)]
    if missing:  # any folder with a results.csv is not a sweep: eiesim's rows name their point and its cycles
        raise UsageError(f"not an eiesim sweep: its results have no {' or '.join(repr(k) for k in missing)} "
                         "column (written by `eiesim sweep --out DIR`)", path)
    return rows, columns


def load_sweep_manifest(path: str | Path) -> dict[str, Any] | None:
    """A sweep directory's manifest.json (None when absent: sweeps written before manifests existed)."""
    target = Path(path) / "manifest.json"
    if not target.is_file():
        return None
    data = parse_json(_read_text(target), target, UsageError, parse_constant=_parse_constant)
    if not isinstance(data, dict) or data.get("kind") != "eiesim-sweep":
        raise UsageError("not an eiesim sweep manifest (written by `eiesim sweep`)", target)
    return data
