"""Helpers for tests that build small ONNX graphs with ``onnx.helper`` and run them in onnxruntime.

onnxruntime is the independent reference: eiesim's float forward pass of an imported model is
compared with onnxruntime running the same file. Without the onnx extra, ``onnx`` is None and
``needs_onnx`` skips; ``onnxruntime_output`` skips when onnxruntime alone is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eiesim.config.arch import load_arch
from eiesim.network.functional import forward
from eiesim.run.simulate import SimulationResult, simulate

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # the optional extra is missing
    onnx = None

needs_onnx = pytest.mark.skipif(onnx is None, reason="the onnx extra is not installed")

#: The 4-PE architecture the small graphs run on.
TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"
#: Allowed max |eiesim - onnxruntime|, relative to the largest |onnxruntime| output (float32 rounding).
REL_TOLERANCE = 1e-5


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


def assert_float_output_matches_onnxruntime(workload, path: Path, x: np.ndarray,
                                            rel: float = REL_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """eiesim's float forward pass of ``workload`` (imported from ``path``) equals onnxruntime's within ``rel`` of
    the largest |output|; returns both outputs (eiesim's, onnxruntime's)."""
    ours, ref = forward(workload, x).logits, onnxruntime_output(path, x)
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) <= rel * np.max(np.abs(ref))
    return ours, ref


def assert_engines_bit_exact(workload, x: np.ndarray) -> tuple[SimulationResult, SimulationResult]:
    """Fixed point on the tiny chip with 8-bit codebooks (every weight kept): both engines pass the functional check
    (bit for bit against the reference), give identical outputs and identical per-layer statistics."""
    arch = load_arch(TINY_ARCH).derive({"codebook_bits": 8})
    fast = simulate(arch, workload, input=x, engine="fast")
    event = simulate(arch, workload, input=x, engine="event")
    assert fast.check["functional"] == "pass" and event.check["functional"] == "pass"
    for name in fast.outputs:
        assert np.array_equal(fast.outputs[name], event.outputs[name])
    assert [s.to_dict() for s in fast.layers] == [s.to_dict() for s in event.layers]
    return fast, event
