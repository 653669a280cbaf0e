"""How much memory an input may make eiesim use, checked before anything is allocated.

Every loader estimates the bytes an input will need from what its headers or shapes
declare (an npz member's header, an image's dimensions, a workload's layer shapes in
``eiesim.network.memory``, an ONNX constant's shape) and calls :func:`check_memory`
before allocating. A small file that declares a huge tensor is therefore refused with
one clear line instead of exhausting the machine.

The limit is ``EIESIM_MEMORY_LIMIT`` (bytes, or with a binary suffix -- K, M, G, T are
powers of 1024, with or without ``iB``/``B``: ``512M``, ``8G``, ``16GiB``, ``4k`` = 4096)
when set, else :data:`DEFAULT_MEMORY_LIMIT_BYTES` (4 GiB); library code can also call
:func:`set_memory_limit`. An input may use exactly the limit; one byte more is refused.
The estimates are deliberately simple upper bounds of the largest arrays involved, not
exact peak usage.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from eiesim.errors import EiesimError, InputDataError

#: Default memory budget of one input (bytes): well below a laptop's RAM, far above any real network.
DEFAULT_MEMORY_LIMIT_BYTES = 4 * 1024**3
#: Environment variable that overrides the default.
MEMORY_LIMIT_ENV = "EIESIM_MEMORY_LIMIT"

_OVERRIDE: int | None = None
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(text: str) -> int:
    """``"4096"``, ``"512M"``, ``"8G"``, ``"16GiB"``, ``"2.5g"`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if m is None:
        raise ValueError(text)
    value = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(value) or value < 1:
        raise ValueError(text)
    return int(value)


def memory_limit_bytes() -> int:
    """The current budget in bytes (``set_memory_limit``, else ``EIESIM_MEMORY_LIMIT``, else the default)."""
    if _OVERRIDE is not None:
        return _OVERRIDE
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_MEMORY_LIMIT_BYTES
    try:
        return parse_bytes(raw)
    except ValueError:
        raise EiesimError(f"{MEMORY_LIMIT_ENV}={raw!r}: expected a size such as 8G, 512M or 4294967296") from None


def set_memory_limit(nbytes: int | None) -> None:
    """Use ``nbytes`` as the budget from now on in this process (None: back to the environment/default)."""
    global _OVERRIDE
    if nbytes is not None and (not isinstance(nbytes, int) or nbytes < 1):
        raise EiesimError(f"memory limit must be a positive number of bytes, got {nbytes!r}")
    _OVERRIDE = nbytes


def format_bytes(nbytes: float) -> str:
    """1536 -> '1.5 KiB'; readable sizes for error messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} EiB"  # pragma: no cover - unreachable


def check_memory(nbytes: int | float, what: str, source: str | Path | None = None,
                 error: type[EiesimError] = InputDataError) -> None:
    """Raise ``error`` if ``what`` would need more than the memory budget.

    ``nbytes`` is an estimate from declared shapes, computed before any allocation.
    """
    limit = memory_limit_bytes()
    if nbytes > limit:
        raise error(f"{what} would need about {format_bytes(nbytes)} of memory, above the "
                    f"{format_bytes(limit)} limit (set {MEMORY_LIMIT_ENV}, e.g. {MEMORY_LIMIT_ENV}=16G, "
                    "if this input is really meant)", source)


__all__ = [
    "DEFAULT_MEMORY_LIMIT_BYTES", "MEMORY_LIMIT_ENV", "check_memory", "format_bytes", "memory_limit_bytes",
    "parse_bytes", "set_memory_limit",
]
