"""Results as data: per-layer rows a user can hand to pandas, csv or a plotting library.

``records(result)`` flattens each layer of a ``SimulationResult`` into one dict of
scalars: the layer's statistics, its energy, and the nested sections as dotted columns
(``actions.macs``, ``stall_breakdown.busy``, ``storage.entries_max``,
``energy_by_component_pj.spmat_sram``, ``mapping.pixel_groups``, ``mapping.auto_cycles.4``,
``cycle_breakdown.cycles.ideal``, ``cycle_breakdown.pe_cycles.ideal``). Lists (the per-PE
``pe_cycles``, the per-group ``mapping.group_cycles``) are left out (they are in the JSON
report). ``dataframe(rows)`` builds a pandas DataFrame when pandas is
installed; pandas is not a dependency of eiesim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eiesim.errors import UsageError

#: Nested per-layer sections flattened into dotted columns.
FLATTENED = ("actions", "stall_breakdown", "storage", "energy_by_component_pj", "mapping", "cycle_breakdown")
#: Per-layer fields not in the records (lists: see the JSON report).
LEFT_OUT = ("pe_cycles",)


def flatten_layer(layer: Mapping[str, Any]) -> dict[str, Any]:
    """One layer dict (``SimulationResult.to_dict()["layers"][i]``) as a flat dict of scalars."""
    row: dict[str, Any] = {}
    for key, value in layer.items():
        if key in LEFT_OUT:
            continue
        if key in FLATTENED and isinstance(value, Mapping):
            _flatten_into(row, key, value)
        else:
            row[key] = value
    return row


def _flatten_into(row: dict[str, Any], prefix: str, section: Mapping[str, Any]) -> None:
    """``section``'s scalars as ``prefix.key`` columns, nested sections as ``prefix.key.sub``; lists left out."""
    for sub, v in section.items():
        if isinstance(v, Mapping):
            _flatten_into(row, f"{prefix}.{sub}", v)
        elif not isinstance(v, (list, tuple)):
            row[f"{prefix}.{sub}"] = v


def records(report: Mapping[str, Any], **extra: Any) -> list[dict[str, Any]]:
    """Per-layer rows of a report body, each starting with ``extra`` columns (e.g. ``image=...``)."""
    return [{**extra, "layer_index": i, **flatten_layer(layer)} for i, layer in enumerate(report["layers"])]


def dataframe(rows: Iterable[Mapping[str, Any]]):  # noqa: ANN201 - pandas.DataFrame, pandas optional
    """``pandas.DataFrame(rows)``; a UsageError saying how to get pandas when it is not installed."""
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("to_dataframe() needs pandas, which eiesim does not install: pip install pandas "
                         "(to_records() gives the same rows as plain dicts)") from None
    return pd.DataFrame(list(rows))
