"""Running an ONNX model with onnxruntime: the independent reference the importer's output is compared with."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eiesim.errors import EiesimError, ModelFileError
from eiesim.importers.onnx.optional import require_onnx, require_onnxruntime
from eiesim.importers.onnx.reader import read_model


def onnx_feed(x: np.ndarray, onnx_type: str, input_layout: str | None = None) -> np.ndarray:
    """The eiesim input ``x`` as the ONNX graph takes it: with the batch axis; a token sequence stored as
    (D, 1, T) back to (1, T, D) (``input_layout`` "tokens"); token ids as int64."""
    x = np.asarray(x)
    if input_layout == "tokens":
        x = x.reshape(x.shape[0], -1).T
    if onnx_type == "tensor(int64)":
        return x.astype(np.int64)[None]
    if onnx_type == "tensor(int32)":
        return x.astype(np.int32)[None]
    return x.astype(np.float32)[None]


def onnxruntime_forward(path: str | Path, x: np.ndarray, output: str | None = None,
                        input_layout: str | None = None) -> np.ndarray:
    """Run the ONNX model at ``path`` with onnxruntime on one input (batch 1); returns one output flattened.

    ``x`` is the input without the batch axis (the dense model's input shape; ``input_layout`` the
    model's ``input_layout``, "tokens" for a token sequence).
    ``output`` names the tensor to return (default: the first graph output); an
    inner tensor is fetched by adding it to the graph outputs -- how the logits
    before a dropped final Softmax (``model.extra["onnx_output"]``) are compared.
    """
    ort = require_onnxruntime()
    onnx = require_onnx()
    path = Path(path)
    model = read_model(path)
    if output is not None and output not in {o.name for o in model.graph.output}:
        model.graph.output.append(onnx.ValueInfoProto(name=output))
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        init_names = {t.name for t in model.graph.initializer}
        feeds = [f for f in session.get_inputs() if f.name not in init_names]
        if len(feeds) != 1:
            raise ModelFileError(f"onnxruntime sees {len(feeds)} inputs; expected one", path)
        names = [output] if output is not None else None
        out = session.run(names, {feeds[0].name: onnx_feed(x, feeds[0].type, input_layout)})[0]
    except EiesimError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelFileError(f"onnxruntime could not run the model ({type(exc).__name__}: {exc})", path) from None
    return np.asarray(out, dtype=np.float32).reshape(-1)
