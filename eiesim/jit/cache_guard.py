"""Calling Numba kernels so that a broken on-disk cache never breaks a run.

The kernels are compiled with ``cache=True``: Numba stores machine code beside the
package (or in ``NUMBA_CACHE_DIR``). An unwritable directory only costs a
recompilation, but a stale or corrupted index file makes Numba raise while it loads
the cache, and a full disk (or a file-size limit) makes it raise while it saves a
kernel it has just compiled. ``call`` runs a kernel; if a call fails before any version
of the kernel was compiled, or right after compiling a new one, caching is switched off
for that kernel and the call is retried once (so a genuine error, which fails again,
still surfaces).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)
# The library never prints: this record goes to the handlers an application configures, and without
# one nowhere (not to the last-resort handler that would put it on stderr beside the CLI's own lines).
log.addHandler(logging.NullHandler())


def call(kernel: Any, *args: Any) -> Any:
    """Run a Numba dispatcher, recovering from an unusable on-disk cache.

    A kernel that calls other kernels loads their cache entries while it compiles, so
    on failure caching is switched off for every kernel of the module that has not been
    compiled yet, not only for the one called.
    """
    compiled = len(kernel.overloads)
    try:
        return kernel(*args)
    except Exception:
        if compiled and len(kernel.overloads) == compiled:  # nothing new was compiled or saved: a genuine error
            raise
        disable_cache(kernel)  # compiled (if it was) but not saved: the retry runs the compiled version
        for other in _module_kernels(kernel):
            if not other.signatures:
                disable_cache(other)
        log.warning("Numba cache for %s is unusable; compiling without it", kernel.__name__)
        return kernel(*args)


def _module_kernels(kernel: Any) -> list[Any]:
    """The Numba dispatchers defined in ``kernel``'s module (``kernel`` included)."""
    from numba.core.dispatcher import Dispatcher

    module = sys.modules.get(getattr(kernel, "__module__", ""), None)
    found = [obj for obj in vars(module).values() if isinstance(obj, Dispatcher)] if module else []
    return found if kernel in found else [*found, kernel]


def disable_cache(kernel: Any) -> None:
    """Stop ``kernel`` from reading or writing Numba's on-disk cache."""
    from numba.core.caching import NullCache

    kernel._cache = NullCache()
