"""Real torchvision exports (random weights, opset 17, unedited graphs): import, compress, simulate, check.

Skipped cleanly without torch / torchvision (they are not a dependency). Each model is exported by
``torch.onnx.export`` (the TorchScript exporter: the default torch.export-based one needs the
optional ``onnxscript`` package) at a small input (3 x 64 x 64) to keep the test short; eiesim's
float pass of the imported dense model must match onnxruntime on the same file, and the
compressed workload must pass the bit-exact functional check on the fast engine.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from _onnx_support import needs_onnx, onnxruntime_output
from _support import run_cli

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from eiesim.config.arch import load_arch  # noqa: E402
from eiesim.importers.onnx.walker import import_onnx  # noqa: E402
from eiesim.network.dense import save_dense, to_workload  # noqa: E402
from eiesim.network.functional import forward  # noqa: E402
from eiesim.network.workload_file import load_workload  # noqa: E402
from eiesim.run.simulate import simulate  # noqa: E402

pytestmark = needs_onnx

#: model -> (what it exercises in the importer, the layers it must have)
FAMILIES = {
    "resnet18": ("padded max pool, residual Add after BatchNorm with and without a downsample conv", 21),
    "mobilenet_v2": ("ReLU6 (Clip), depthwise convs, residual Add without an activation", 53),
}


def _export(name: str, path) -> None:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    kwargs = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, torch.randn(1, 3, 64, 64), str(path), opset_version=17, **kwargs)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_torchvision_family_imports_matches_onnxruntime_and_passes_the_functional_check(tmp_path, capsys, name):
    path = tmp_path / f"{name}.onnx"
    _export(name, path)
    model = import_onnx(path)
    assert model.name == name and len(model.layers) == FAMILIES[name][1]
    x = np.random.default_rng(0).normal(size=model.input_shape).astype(np.float32)
    ours, ref = forward(to_workload(model, strict=False), x).logits, onnxruntime_output(path, x)
    assert ours.shape == ref.shape and np.max(np.abs(ours - ref)) <= 1e-4 * np.max(np.abs(ref))
    dense = save_dense(model, tmp_path / "dense.npz")
    code, _, err = run_cli(["compress", str(dense), "-o", str(tmp_path / "wl.npz"), "--density", "0.1", "--bits", "4",
                            "--no-agreement"], capsys)
    assert code == 0, err
    result = simulate(load_arch(), load_workload(tmp_path / "wl.npz"), input=x)
    assert result.check["functional"] == "pass" and result.cycles > 0
