"""eiesim: a cycle-approximate simulator of the EIE sparse inference accelerator.

Public API (imported lazily so ``import eiesim`` and the CLI stay fast):

* ``load_arch(path=None, overrides=None)`` -> ArchConfig (``arch.derive({...})`` for validated variants)
* ``load_workload(path)`` -> Workload
* ``simulate(arch, workload, input=None, engine="fast")`` -> SimulationResult
  (``result.to_records()`` / ``to_dataframe()``: per-layer rows)
* ``simulate_images(arch, workload, images)`` -> MultiImageResult (one simulation per image)
* ``forward(workload, x, precision="float32")`` -> ForwardResult (functional reference)
* ``sweep(...)`` -> SweepResult (design-space sweeps)

``eiesim.simulate`` and ``eiesim.sweep`` are the *functions*, on every call and however
the package was imported; the modules of the same names are reached with
``from eiesim.simulate import ...`` or ``importlib.import_module("eiesim.sweep")``
(``import eiesim.sweep as m`` binds the function, as ``from eiesim import sweep`` does).
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:  # what type checkers see: the real objects and their signatures
    from eiesim.arch import ArchConfig as ArchConfig
    from eiesim.arch import load_arch as load_arch
    from eiesim.errors import EiesimError as EiesimError
    from eiesim.functional import forward as forward
    from eiesim.multi import MultiImageResult as MultiImageResult
    from eiesim.multi import simulate_images as simulate_images
    from eiesim.result import SimulationResult as SimulationResult
    from eiesim.simulate import simulate as simulate
    from eiesim.sweep import SweepResult as SweepResult
    from eiesim.sweep import sweep as sweep
    from eiesim.workload import Layer as Layer
    from eiesim.workload import Workload as Workload
    from eiesim.workload import load_workload as load_workload
    from eiesim.workload import save_workload as save_workload

#: Public name -> the module that defines it (a test checks this against the TYPE_CHECKING imports).
_EXPORTS = {
    "load_arch": "eiesim.arch",
    "ArchConfig": "eiesim.arch",
    "load_workload": "eiesim.workload",
    "save_workload": "eiesim.workload",
    "Workload": "eiesim.workload",
    "Layer": "eiesim.workload",
    "simulate": "eiesim.simulate",
    "SimulationResult": "eiesim.result",
    "simulate_images": "eiesim.multi",
    "MultiImageResult": "eiesim.multi",
    "forward": "eiesim.functional",
    "sweep": "eiesim.sweep",
    "SweepResult": "eiesim.sweep",
    "EiesimError": "eiesim.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # cached: later lookups never come here again
        return value
    raise AttributeError(f"module 'eiesim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package module, guarded against its submodules hiding its public functions.

    Importing the submodule ``eiesim.simulate`` makes Python bind it as the package
    attribute ``simulate``, which would replace the function of that name (the bug of
    issue 12: ``eiesim.simulate(...)`` worked once, then raised "'module' object is not
    callable"). Here that one binding is ignored for public names, so the attribute is
    always the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
