"""The one number format of every table eiesim shows (terminal, Markdown, HTML).

Why one function: the same quantity printed as ``2.492e+07`` in one table, ``13224099``
in the next and ``9,698,194`` in a third (issue 26) cannot go into a paper as is. Every
table cell that holds a number goes through :func:`format_number` (counts through
:func:`format_count`, fractions shown as percentages through :func:`format_percent`).
CSV and JSON files are not formatted: they keep the raw numbers.

The rule (also in docs/report-schema.md, "How tables show numbers"):

* an integer (a Python ``int``: a count, a size) is written in full with thousands
  separators: ``13,224,099``;
* a float has 4 significant digits in fixed notation with thousands separators, but its
  integer part is never rounded away: ``0.8693``, ``40.79``, ``1,234``, ``4,558`` (4,558.33),
  ``24,920,001`` (24,920,000.5);
* a float of magnitude 1e9 or more, or below 1e-3 (and not zero), is written in scientific
  notation with 4 significant digits: ``2.492e+09``, ``1.250e-04``;
* zero is ``0``; a missing or non-finite value is ``–``; ``True`` / ``False`` are
  ``true`` / ``false``;
* a count held as a float (e.g. a mean of cycles over images) is rounded to a whole number
  and written like an integer (:func:`format_count`);
* a share shown as a percentage (0-100, the header says ``%``) has one decimal, so that a
  column of shares lines up: 0.8693 -> ``86.9``, 0.05 -> ``5.0`` (:func:`format_percent`).
"""

from __future__ import annotations

import math
from typing import Any

#: Significant digits of a float.
SIGNIFICANT_DIGITS = 4
#: Floats at or above this magnitude are written in scientific notation.
SCIENTIFIC_ABOVE = 1e9
#: Non-zero floats below this magnitude are written in scientific notation.
SCIENTIFIC_BELOW = 1e-3
#: Decimals of a percentage.
PERCENT_DECIMALS = 1
#: What a missing or non-finite value is shown as.
MISSING = "–"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value: Any) -> str:
    """``value`` by the rule of this module's docstring; a non-number is shown as ``str(value)``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return MISSING
    if not _is_number(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    v = float(value)
    if not math.isfinite(v):
        return MISSING
    if v == 0:
        return "0"
    if abs(v) >= SCIENTIFIC_ABOVE or abs(v) < SCIENTIFIC_BELOW:
        return f"{v:.{SIGNIFICANT_DIGITS - 1}e}"
    rounded = float(f"{v:.{SIGNIFICANT_DIGITS - 1}e}")  # 9.99996 -> 10.0: count the digits after rounding
    digits = max(SIGNIFICANT_DIGITS - 1 - int(math.floor(math.log10(abs(rounded)))), 0)
    text = f"{v:,.{digits}f}"
    return "0" if float(text.replace(",", "")) == 0 else text


def format_count(value: Any) -> str:
    """A count (cycles, entries, bytes): a whole number with thousands separators, even when held as a float."""
    if not _is_number(value):
        return format_number(value)
    v = float(value)
    if not math.isfinite(v):
        return MISSING
    return f"{int(round(v)):,}"


def format_percent(fraction: Any) -> str:
    """A fraction in [0, 1] as a percentage (without the sign) with one decimal: 0.8693 -> ``86.9``."""
    if not _is_number(fraction) or not math.isfinite(float(fraction)):
        return MISSING
    return f"{100.0 * float(fraction):,.{PERCENT_DECIMALS}f}"


__all__ = ["MISSING", "format_count", "format_number", "format_percent"]
