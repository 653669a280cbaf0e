"""Helpers for tests that build small ONNX graphs with ``onnx.helper`` and run them in onnxruntime.

``onnx`` is imported lazily: a test module guards itself with ``pytest.importorskip("onnx")``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def save_graph(tmp_path: Path, nodes, inits, in_shape, out_name="y", name="m.onnx", opset=13) -> Path:
    """A one-input, one-output ONNX model of ``nodes`` written to ``tmp_path / name``."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "main_graph", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def init(name: str, arr) -> object:
    """An initializer holding ``arr``."""
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(arr), name)


def ort_output(path: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime's output for the batch-1 input ``x`` (without batch axis), flattened."""
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x[None].astype(np.float32)})[0].reshape(-1)
