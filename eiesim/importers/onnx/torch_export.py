"""``from_torch``: a PyTorch module to eiesim's dense model in one call (docs/onnx.md, "From PyTorch").

The module is exported with ``torch.onnx.export`` (opset 17, the TorchScript exporter: the
torch.export-based default of torch >= 2.9 needs the optional ``onnxscript`` package) into a
temporary directory, and the file is imported by ``eiesim.importers.onnx.walker.import_onnx``
exactly as ``eiesim import-onnx`` would (same rules, same coverage report, same refusals).
torch is optional: without it the call raises one EiesimError naming what to install.
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from eiesim.errors import EiesimError, UsageError
from eiesim.importers.onnx.walker import import_onnx
from eiesim.network.dense import DenseModel

#: Operator set of the export (what the issue's recipe and the documented one use).
TORCH_OPSET = 17


def require_torch() -> ModuleType:
    """Return the ``torch`` module, or raise EiesimError naming the package to install."""
    try:
        import torch
    except ImportError:
        raise EiesimError("this needs PyTorch; install it (pip install torch), then the onnx extra: "
                          "pip install 'eiesim[onnx]'") from None
    return torch


def from_torch(module: Any, example_input: Any, *, name: str = "model", opset: int = TORCH_OPSET) -> DenseModel:
    """Export ``module`` (in eval mode) on ``example_input`` (a tensor of batch 1) to ONNX and import it.

    Returns the dense model (``eiesim.network.dense.DenseModel``, named ``name``): save it with
    ``save_dense`` and run ``eiesim compress`` on it, or use ``to_workload(model, strict=False)``
    for the float reference. Raises ModelFileError for what eiesim cannot map (every blocking node).
    """
    torch = require_torch()
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"name must be a plain file stem, got {name!r}")
    kwargs = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    was_training = bool(getattr(module, "training", False))
    module.eval()
    try:
        with tempfile.TemporaryDirectory(prefix="eiesim-torch-") as tmp:
            path = Path(tmp) / f"{name}.onnx"
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 on the TorchScript exporter
                torch.onnx.export(module, example_input, str(path), opset_version=opset, **kwargs)
            return import_onnx(path)
    finally:
        module.train(was_training)
