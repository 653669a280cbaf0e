"""eiesim: a cycle-approximate simulator of the EIE sparse inference accelerator.

Public API (imported lazily so ``import eiesim`` stays fast):

* ``load_arch(path=None, overrides=None)`` -> ArchConfig
* ``load_workload(path)`` -> Workload
* ``simulate(arch, workload, input=None, engine="fast")`` -> SimulationResult
* ``forward(workload, x, precision="float32")`` -> ForwardResult (functional reference)
* ``sweep(...)`` -> list of result rows (design-space sweeps)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "load_arch": "eiesim.arch",
    "ArchConfig": "eiesim.arch",
    "load_workload": "eiesim.workload",
    "save_workload": "eiesim.workload",
    "Workload": "eiesim.workload",
    "Layer": "eiesim.workload",
    "simulate": "eiesim.simulate",
    "SimulationResult": "eiesim.simulate",
    "forward": "eiesim.functional",
    "sweep": "eiesim.sweep",
    "EiesimError": "eiesim.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'eiesim' has no attribute {name!r}")
