"""eiesim: a cycle-approximate simulator of the EIE sparse inference accelerator.

Public API (plain functions that import their implementation when first called, so that
``import eiesim`` and the CLI stay fast):

* ``load_arch(path=None, overrides=None)`` -> ArchConfig (``arch.derive({...})`` for validated variants)
* ``load_workload(path)`` -> Workload; ``save_workload(workload, path)``
* ``simulate(arch, workload, input=None, engine="fast")`` -> SimulationResult
  (``result.to_records()`` / ``to_dataframe()``: per-layer rows)
* ``simulate_images(arch, workload, input)`` -> MultiImageResult (one simulation per image)
* ``forward(workload, x, precision="float32")`` -> ForwardResult (functional reference)
* ``sweep(arch, workload, grid, out_dir=None, input=None)`` -> SweepResult (design-space sweeps;
  ``grid``: ``{"num_pes": [16, 32]}``; ``arch`` and ``workload``: paths or loaded objects)
* ``from_torch(module, example_input)`` -> the dense model of a PyTorch module (exported to ONNX in
  memory and imported; needs the ``torch`` and ``onnx`` extras)

The network input has one keyword, ``input``, in ``simulate``, ``simulate_images`` and
``sweep``; None means the workload's own input, else the bundled photo "chelsea".

The classes (``ArchConfig``, ``Workload``, ``Layer``, ``SimulationResult``,
``MultiImageResult``, ``SweepResult``, ``EiesimError``) are loaded on first use. The
implementations live in the stage folders (docs/architecture.md): ``eiesim.config``,
``eiesim.network``, ``eiesim.run``, ``eiesim.sweeps``. The old flat module paths
(``eiesim.workload``, ``eiesim.atomic``, ...) still import for one release, with a
DeprecationWarning (``eiesim/_deprecated/``); ``eiesim.simulate`` and ``eiesim.sweep`` are
only the functions (their modules are ``eiesim.run.simulate`` and ``eiesim.sweeps.sweep``).
"""

from __future__ import annotations

import os as _os

from eiesim.version import __version__ as __version__

#: ``typing.TYPE_CHECKING`` without importing typing (``eiesim --version`` stays a few imports long); type
#: checkers treat a name ``TYPE_CHECKING`` as true whatever its origin.
TYPE_CHECKING = False
if TYPE_CHECKING:  # what type checkers see: the real classes (the functions below carry their own signatures)
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from typing import Any

    import numpy as np

    from eiesim.config.arch import ArchConfig as ArchConfig
    from eiesim.errors import EiesimError as EiesimError
    from eiesim.network.dense import DenseModel
    from eiesim.network.functional import FixedPointPlan, ForwardResult
    from eiesim.network.workload import Layer as Layer
    from eiesim.network.workload import Workload as Workload
    from eiesim.run.multi_image import MultiImageResult as MultiImageResult
    from eiesim.run.result import SimulationResult as SimulationResult
    from eiesim.run.simulate import Progress
    from eiesim.sweeps.sweep import SweepResult as SweepResult

# The old flat module paths (eiesim.atomic, eiesim.workload, ...) are found in _deprecated/ for one
# release; each warns and re-exports its new module (the list: eiesim/_deprecated/__init__.py).
__path__.append(_os.path.join(_os.path.dirname(__file__), "_deprecated"))  # noqa: F821 - the package's __path__

#: Public functions and the module that implements each (a test compares their signatures).
FUNCTIONS = {
    "load_arch": "eiesim.config.arch",
    "load_workload": "eiesim.network.workload_file",
    "save_workload": "eiesim.network.workload_file",
    "simulate": "eiesim.run.simulate",
    "simulate_images": "eiesim.run.multi_image",
    "forward": "eiesim.network.functional",
    "sweep": "eiesim.sweeps.sweep",
    "from_torch": "eiesim.importers.onnx.from_torch",
}
#: Public classes and the module that defines each (loaded on first use by ``__getattr__``).
CLASSES = {
    "ArchConfig": "eiesim.config.arch",
    "Workload": "eiesim.network.workload",
    "Layer": "eiesim.network.workload",
    "SimulationResult": "eiesim.run.result",
    "MultiImageResult": "eiesim.run.multi_image",
    "SweepResult": "eiesim.sweeps.sweep",
    "EiesimError": "eiesim.errors",
}

__all__ = sorted([*FUNCTIONS, *CLASSES, "__version__"])


def load_arch(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> ArchConfig:
    """Load an architecture YAML (``None``: the default architecture, eie-64pe-8bit) and apply
    overrides (``["num_pes=32"]`` or a dict of dotted keys). ArchError if invalid."""
    from eiesim.config.arch import load_arch as implementation

    return implementation(path, overrides)


def load_workload(path: str | Path) -> Workload:
    """Load and fully validate a workload .npz (docs/workload-format.md); never unpickles anything."""
    from eiesim.network.workload_file import load_workload as implementation

    return implementation(path)


def save_workload(wl: Workload, path: str | Path) -> Path:
    """Write a workload atomically (compressed, deterministic npz); returns the path written."""
    from eiesim.network.workload_file import save_workload as implementation

    return implementation(wl, path)


def simulate(arch: ArchConfig, workload: Workload, input: Any = None, engine: str = "fast",
             plan: FixedPointPlan | None = None, progress: Progress | None = None,
             check: bool = True, event_limit_s: float | None = 300.0) -> SimulationResult:
    """Simulate one inference of ``workload`` on ``arch`` with the "fast" (Numba) or "event" (SimPy)
    engine; ``input``: an array, image path, bundled photo name or None (the workload's own input).
    The parameters are those of ``eiesim.run.simulate.simulate``, which documents each."""
    from eiesim.run.simulate import simulate as implementation

    return implementation(arch, workload, input, engine, plan, progress, check, event_limit_s)


def simulate_images(arch: ArchConfig, workload: Workload, input: Any = None, engine: str = "fast", *,
                    check: bool = True, event_limit_s: float | None = 300.0,
                    progress: Callable[[float, int, str], None] | None = None, images: Any = None) -> MultiImageResult:
    """Simulate ``workload`` once per image of ``input`` (paths, bundled photo names, arrays or
    folders) and summarise the results (``eiesim.run.multi_image.simulate_images``).
    ``images``: the old name of ``input`` (deprecated; warns)."""
    from eiesim.run.keywords import renamed_input
    from eiesim.run.multi_image import simulate_images as implementation

    input = renamed_input(input, images, "images", "simulate_images")
    return implementation(arch, workload, input, engine, check=check, event_limit_s=event_limit_s, progress=progress)


def forward(workload: Workload, x: np.ndarray, precision: str = "float32",
            plan: FixedPointPlan | None = None) -> ForwardResult:
    """Run the functional reference on input ``x``: "float32" (dense float) or "fixed16" (the
    chip's fixed-point datapath) precision (``eiesim.network.functional.forward``)."""
    from eiesim.network.functional import forward as implementation

    return implementation(workload, x, precision, plan)


def sweep(
    arch: ArchConfig | dict[str, Any] | str | Path | None,
    workload: Workload | str | Path,
    grid: Mapping[str, Any] | Sequence[str],
    out_dir: str | Path | None = None,
    *,
    input: Any = None,
    workers: int = 1,
    dask_address: str | None = None,
    on_point: Callable[[int, int], None] | None = None,
    command: Sequence[str] | None = None,
    image: Any = None,
    max_points: int = 10_000,
) -> SweepResult:
    """Run (or resume, with ``out_dir``) a design-space sweep of ``workload`` (a Workload or a
    path) on ``arch`` (an ArchConfig, a YAML path, a dict or None) over the axes ``grid``
    (``{"num_pes": [16, 32]}`` or ``["num_pes=16,32"]``); returns the table
    (``eiesim.sweeps.sweep.sweep`` documents every parameter). ``image``: the old name of
    ``input`` (deprecated; warns). A grid of more than ``max_points`` points
    (``eiesim.sweeps.grid.MAX_GRID_POINTS``) is refused before any work."""
    from eiesim.run.keywords import renamed_input
    from eiesim.sweeps.sweep import sweep as implementation

    input = renamed_input(input, image, "image", "sweep")
    return implementation(arch, workload, grid, out_dir, input=input, workers=workers,
                          dask_address=dask_address, on_point=on_point, command=command,
                          max_points=max_points)


def from_torch(module: Any, example_input: Any, *, name: str | None = None, opset: int = 17) -> DenseModel:
    """A PyTorch module as eiesim's dense model: exported with ``torch.onnx.export`` (opset 17) into
    memory and imported like ``eiesim import-onnx`` (``eiesim.importers.onnx.from_torch.from_torch``);
    an EiesimError naming the extra when torch is not installed."""
    from eiesim.importers.onnx.from_torch import from_torch as implementation

    return implementation(module, example_input, name=name, opset=opset)


def __getattr__(name: str) -> Any:
    """The public classes, imported on first use (``import eiesim`` stays light)."""
    value: Any  # each branch imports a different kind of object
    if name == "ArchConfig":
        from eiesim.config.arch import ArchConfig as value
    elif name == "Workload":
        from eiesim.network.workload import Workload as value
    elif name == "Layer":
        from eiesim.network.workload import Layer as value
    elif name == "SimulationResult":
        from eiesim.run.result import SimulationResult as value
    elif name == "MultiImageResult":
        from eiesim.run.multi_image import MultiImageResult as value
    elif name == "SweepResult":
        from eiesim.sweeps.sweep import SweepResult as value
    elif name == "EiesimError":
        from eiesim.errors import EiesimError as value
    else:
        raise AttributeError(f"module 'eiesim' has no attribute {name!r}")
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
