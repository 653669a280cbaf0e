"""The sweep grid: every axis is one architecture key and its values, the sweep their Cartesian product.

A grid is a mapping ``{"num_pes": [16, 32], "fifo_depth": [4, 8]}`` (the library's form) or a
list of ``KEY=V1,V2,...`` strings (the command line's ``--set``; the values are parsed as
YAML scalars); both give the same axes. Axes take any architecture key (dotted for nested sections) and are expanded in the order
given; each point is validated as an architecture, and two points that resolve to the same
architecture, or an axis that lists a value twice, are usage errors. ``auto`` keys get a
``resolved.<key>`` column saying what each point resolved them to.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eiesim.config.arch import ArchConfig, apply_overrides, arch_from_dict
from eiesim.errors import UsageError
from eiesim.sweeps.keys import point_key


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: the overrides that define it and the resolved architecture."""

    overrides: dict[str, Any]
    arch: ArchConfig

    def key(self, inputs_digest: str) -> str:
        """The point's store key (``eiesim.sweeps.keys.point_key``)."""
        return point_key(self.arch, inputs_digest)


#: A sweep grid: ``{"num_pes": [16, 32]}`` or ``["num_pes=16,32"]``.
Grid = Mapping[str, Any] | Sequence[str]


def parse_set(expr: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` -> (key, values); values are parsed as YAML scalars."""
    import yaml

    if not isinstance(expr, str) or "=" not in expr:
        raise UsageError(f"sweep axis {expr!r}: expected KEY=V1,V2,... e.g. num_pes=1,2,4,8")
    key, raw = (s.strip() for s in expr.split("=", 1))
    values = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            raise UsageError(f"sweep axis {expr!r}: empty value in the list")
        try:
            values.append(yaml.safe_load(item))
        except yaml.YAMLError:
            values.append(item)
        except (ValueError, RecursionError):  # e.g. an integer of more than 4300 digits
            raise UsageError(f"sweep axis {key}={item[:24]}{'...' if len(item) > 24 else ''}: the value cannot be "
                             "converted") from None
    return key, values


def grid_axes(grid: Grid) -> list[tuple[str, list[Any]]]:
    """The axes of ``grid``, in order: ``(key, values)`` per axis.

    A mapping's value is a list, tuple or range of values, or one value (an axis of one
    point); a sequence holds ``KEY=V1,V2,...`` strings. A lone string is one such axis.
    """
    if isinstance(grid, Mapping):
        axes = []
        for key, values in grid.items():
            if not isinstance(key, str) or not key:
                raise UsageError(f"sweep grid: the key {key!r} is not an architecture key (a non-empty string)")
            listed = list(values) if isinstance(values, list | tuple | range) else [values]
            if not listed:
                raise UsageError(f"sweep axis {key}: no values")
            axes.append((key, listed))
        return axes
    if isinstance(grid, str):
        return [parse_set(grid)]
    if not isinstance(grid, Sequence):
        raise UsageError(f"a sweep grid is a mapping of keys to value lists or a list of KEY=V1,V2 strings, "
                         f"not {type(grid).__name__}")
    return [parse_set(s) for s in grid]


def grid_strings(grid: Grid) -> list[str]:
    """The grid as ``KEY=V1,V2,...`` strings (what ``manifest.json`` records; YAML scalars parse back)."""
    def scalar(value: Any) -> str:
        if value is None or isinstance(value, bool):
            return {None: "null", True: "true", False: "false"}[value]
        return str(value)

    if isinstance(grid, Mapping):
        return [f"{key}={','.join(scalar(v) for v in values)}" for key, values in grid_axes(grid)]
    return [grid] if isinstance(grid, str) else list(grid)


#: Most points a sweep grid may have unless the caller raises the limit (``max_points``; ``eiesim sweep
#: --max-points``): each point is validated as an architecture before any work, which for 10^6 points took
#: 1.6 GB and minutes.
MAX_GRID_POINTS = 10_000


def expand_grid(base: dict[str, Any], grid: Grid, source: str | None = None,
                max_points: int = MAX_GRID_POINTS) -> list[SweepPoint]:
    """All combinations of the grid's axes applied to ``base`` (validated, in order).

    A grid of more than ``max_points`` points is refused before any point is built.
    """
    axes = grid_axes(grid)
    size = math.prod(len(values) for _, values in axes)
    if size > max_points:
        raise UsageError(f"sweep grid: the grid has {size:,} points, more than the limit of {max_points:,}; sweep "
                         "fewer values, or raise the limit (max_points; on the command line --max-points N)")
    keys = [k for k, _ in axes]
    if len(set(keys)) != len(keys):
        raise UsageError(f"sweep grid: a key appears twice in {keys}")
    for key, values in axes:
        _check_distinct(key, values)
    points = []
    for combo in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
        overrides = dict(zip(keys, combo))
        data = apply_overrides(base, overrides)
        points.append(SweepPoint(overrides, arch_from_dict(data, source)))
    _check_distinct_points(points)
    return points


def _check_distinct(key: str, values: list[Any]) -> None:
    """``num_pes=4,4`` is an error: each value of an axis is one point (it was computed twice)."""
    seen: list[Any] = []
    for value in values:
        if any(value == s and isinstance(value, bool) == isinstance(s, bool) for s in seen):  # 4 and 4.0 too
            raise UsageError(f"sweep axis {key}: the value {value!r} is given twice; each value of an axis is one "
                             "point of the grid, so list each value once")
        seen.append(value)


def _check_distinct_points(points: list[SweepPoint]) -> None:
    """Two grid points that resolve to the same architecture would be one simulation shown twice."""
    first: dict[str, dict[str, Any]] = {}
    for point in points:
        key = json.dumps(point.arch.to_dict(), sort_keys=True)
        if key in first:
            raise UsageError(f"sweep grid: the points {first[key]} and {point.overrides} are the same architecture; "
                             "list each configuration once")
        first[key] = point.overrides


#: 'auto' keys that resolve per layer, not to one value per point (the layers' results say what each chose).
PER_LAYER_AUTO_KEYS = ("mapping.pixel_groups",)


def auto_keys(arch: ArchConfig) -> list[str]:
    """Dotted keys whose value is 'auto' and resolves to one value per point (per workload)."""
    data = arch.to_dict()
    return [f"{section}.{key}" for section, body in data.items() if isinstance(body, dict)
            for key, value in body.items() if value == "auto" and f"{section}.{key}" not in PER_LAYER_AUTO_KEYS]


def resolved_columns(arch: ArchConfig, resolved: dict[str, Any]) -> dict[str, Any]:
    """``{"resolved.spmat_sram.size_bytes": 262144, ...}`` for every 'auto' key of the point."""
    out = {}
    for dotted in auto_keys(arch):
        section, key = dotted.split(".", 1)
        out[f"resolved.{dotted}"] = resolved.get(section, {}).get(key)
    return out
