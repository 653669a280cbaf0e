"""Renamed keyword arguments of the public functions, kept working for one release.

The network input has one keyword everywhere, ``input`` (``simulate``, ``simulate_images``,
``sweep``); eiesim 0.2 called it ``images`` in ``simulate_images`` and ``image`` in ``sweep``.
The old keyword still works until the release after this one, with a DeprecationWarning at
the caller's line.
"""

from __future__ import annotations

import warnings
from typing import Any

from eiesim.errors import UsageError


def renamed_input(input: Any, old_value: Any, old_name: str, function: str, stacklevel: int = 3) -> Any:
    """The input given as ``input`` or, deprecated, as ``old_name``; both at once is a UsageError.

    ``stacklevel``: how far up the warning points (3: the caller of the function that calls this).
    """
    if old_value is None:
        return input
    if input is not None:
        raise UsageError(f"{function}: give the input once, as input= (the keyword {old_name}= is its old name)")
    warnings.warn(f"{function}({old_name}=...) is deprecated; the keyword is input= (the same in simulate, "
                  f"simulate_images and sweep); {old_name}= goes in the next release", DeprecationWarning,
                  stacklevel=stacklevel)
    return old_value
