"""Running an ONNX model with onnxruntime: the independent reference the importer's output is compared with."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eiesim.errors import EiesimError, ModelFileError
from eiesim.importers.onnx.optional import require_onnx, require_onnxruntime
from eiesim.importers.onnx.reader import read_model


def onnxruntime_forward(path: str | Path, x: np.ndarray, output: str | None = None) -> np.ndarray:
    """Run the ONNX model at ``path`` with onnxruntime on one input (batch 1); returns one output flattened.

    ``x`` is the input without the batch axis (the dense model's input shape; token ids, stored as
    floats, are given to the graph as its integer type).
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
        dims = feeds[0].shape
        if len(dims) == 3 and all(isinstance(d, int) for d in dims):  # a sequence, carried flat by eiesim
            batched = np.asarray(x, np.float32).reshape(dims)
        else:
            batched = np.asarray(x, np.float32)[None]
        if feeds[0].type in ("tensor(int64)", "tensor(int32)"):  # token ids (an embedding Gather reads them)
            batched = batched.astype(np.int64 if feeds[0].type == "tensor(int64)" else np.int32)
        out = session.run(names, {feeds[0].name: batched})[0]
    except EiesimError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelFileError(f"onnxruntime could not run the model ({type(exc).__name__}: {exc})", path) from None
    return np.asarray(out, dtype=np.float32).reshape(-1)
