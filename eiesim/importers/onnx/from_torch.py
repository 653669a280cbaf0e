"""``from_torch``: a PyTorch module into eiesim's dense model, through ONNX in memory (docs/onnx.md, "From PyTorch").

The module is exported with ``torch.onnx.export`` (opset 17, batch 1, the TorchScript exporter so that
no extra package is needed) into a byte buffer, parsed by ``onnx`` and read by the same walker as
``eiesim import-onnx``: nothing is written to disk. torch is an optional extra
(``pip install 'eiesim[torch]'``); without it the call raises ``EiesimError`` naming the extra.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

from eiesim.errors import EiesimError, ModelFileError
from eiesim.importers.onnx.optional import require_onnx
from eiesim.importers.onnx.walker import GraphWalker, check_nonempty
from eiesim.network.dense import DenseModel

#: The ONNX opset ``from_torch`` exports at (the one the importer is tested with).
TORCH_EXPORT_OPSET = 17


def require_torch() -> Any:
    """Return the ``torch`` module, or raise EiesimError naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise EiesimError("from_torch needs the 'torch' package; install the torch extra: "
                          "pip install 'eiesim[torch]'") from None
    return torch


def from_torch(module: Any, example_input: Any, *, name: str | None = None,
               opset: int = TORCH_EXPORT_OPSET) -> DenseModel:
    """Export ``module`` (a ``torch.nn.Module``) on ``example_input`` (a tensor with batch 1: an image
    (1, C, H, W), a vector (1, K), a token sequence (1, T, D) or token ids (1, T)) to ONNX in memory and
    import it as a dense model (``eiesim.importers.onnx.walker.import_onnx``).

    ``name``: the model's name (default: the module's class name). The module is put in eval mode
    (dropout off, batch-norm statistics frozen). Compress the result with ``eiesim compress`` (after
    ``eiesim.network.dense.save_dense``) or use ``eiesim.network.dense.to_workload(model, strict=False)``
    as a float reference.
    """
    torch = require_torch()
    onnx = require_onnx()
    if not isinstance(module, torch.nn.Module):
        raise EiesimError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(example_input, torch.Tensor) or example_input.ndim < 2 or example_input.shape[0] != 1:
        raise EiesimError("from_torch needs an example input tensor with batch size 1, e.g. torch.randn(1, 3, 224, 224)")
    title = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or type(module).__name__) or "model"
    buffer = io.BytesIO()
    module.eval()
    try:
        # Not under torch.no_grad(): there, nn.TransformerEncoderLayer takes its fused "fast path"
        # (aten::_transformer_encoder_layer_fwd), which has no ONNX form.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes and the TorchScript exporter announcing its successor
            torch.onnx.export(module, (example_input,), buffer, opset_version=opset, input_names=["input"],
                              output_names=["output"], dynamo=False)
    except Exception as exc:  # torch raises many exception types while tracing or exporting
        raise ModelFileError(f"torch.onnx.export failed ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})",
                             title) from None
    model = onnx.load_from_string(buffer.getvalue())
    path = Path(f"{title}.onnx")  # names the model in messages; nothing is read or written there
    return check_nonempty(GraphWalker(model, path, None).run(), path)


__all__ = ["TORCH_EXPORT_OPSET", "from_torch", "require_torch"]
