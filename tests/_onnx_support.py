"""Helpers for tests that build small ONNX graphs with ``onnx.helper`` and run them in onnxruntime.

onnxruntime is the independent reference: eiesim's float forward pass of an imported model is
compared with onnxruntime running the same file. Without the onnx extra, ``onnx`` is None and
``needs_onnx`` skips; ``onnxruntime_output`` skips when onnxruntime alone is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # the optional extra is missing
    onnx = None

needs_onnx = pytest.mark.skipif(onnx is None, reason="the onnx extra is not installed")


def save_model(tmp_path: Path, nodes, inits, in_shape, out_name: str = "y", name: str = "m.onnx",
               opset: int = 13, graph_name: str = "main_graph") -> Path:
    """Write a one-input, one-output float graph of ``nodes`` (IR 8, the given default-domain opset), titled
    ``graph_name`` (by default what ``torch.onnx.export`` titles every graph)."""
    graph = helper.make_graph(nodes, graph_name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def initializer(name: str, arr: np.ndarray):
    """An initializer tensor holding ``arr``."""
    return numpy_helper.from_array(np.asarray(arr), name)


def onnxruntime_output(path: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime's first output for input ``x`` (without the batch axis), flattened."""
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x[None].astype(np.float32)})[0].reshape(-1)
