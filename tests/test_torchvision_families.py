"""Real PyTorch exports (torchvision with random weights, opset 17, unedited graphs; a small module with every
write-back op): import, compress, simulate, check.

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
    "shufflenet_v2_x0_5": ("channel shuffle and chunk on the host, ReduceMean over H, W as a global average pool", 57),
    "mobilenet_v3_small": ("squeeze-excite (pool and Mul on the host, HardSigmoid gate), HardSwish", 54),
    "efficientnet_b0": ("squeeze-excite with SiLU and a Sigmoid gate, SiLU as x * Sigmoid(x)", 82),
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


class _Block(torch.nn.Module):
    """conv-BN-ReLU6, conv-BN, + the block input (a residual), then hard swish."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = torch.nn.Sequential(torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.BatchNorm2d(c), torch.nn.ReLU6())
        self.b = torch.nn.Sequential(torch.nn.Conv2d(c, c, 1), torch.nn.BatchNorm2d(c))
        self.act = torch.nn.Hardswish()

    def forward(self, x):
        return self.act(self.b(self.a(x)) + x)


def test_a_pytorch_module_with_every_write_back_op_matches_pytorch(tmp_path):
    """SiLU, ReLU6, a residual, hard swish, leaky ReLU and a final sigmoid, as torch exports them."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.BatchNorm2d(8), torch.nn.SiLU(),
        _Block(8), torch.nn.Conv2d(8, 8, 1), torch.nn.LeakyReLU(0.1), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, 5), torch.nn.Sigmoid())
    for m in net.modules():  # non-trivial running statistics, so that the folded BatchNorm matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    x = torch.randn(1, 3, 16, 16)
    kwargs = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(net, x, str(tmp_path / "net.onnx"), opset_version=17, **kwargs)
        ref = net(x).numpy().reshape(-1)
    model = import_onnx(tmp_path / "net.onnx")
    kinds = [dl.extra.get("activation", {}).get("kind") for dl in model.layers]
    assert kinds == ["silu", "clip", "hard_swish", "leaky_relu", "sigmoid"]
    assert model.layers[2].extra["residual"] == model.layers[0].spec.name
    ours = forward(to_workload(model, strict=False), x.numpy()[0]).logits
    assert np.max(np.abs(ours - ref)) <= 1e-5 * max(1.0, float(np.max(np.abs(ref))))
