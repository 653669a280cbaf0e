"""``eiesim.from_torch``: a PyTorch module exported to ONNX and imported in one call (skipped without torch).

The reference is the PyTorch module itself: eiesim's float pass of the imported dense model must
give the module's output on the same input.
"""

from __future__ import annotations

import numpy as np
import pytest

from _onnx_support import needs_onnx

torch = pytest.importorskip("torch")

import eiesim  # noqa: E402
from eiesim.network.dense import to_workload  # noqa: E402
from eiesim.network.functional import forward  # noqa: E402

pytestmark = needs_onnx


class Block(torch.nn.Module):
    """conv-BN-ReLU6, conv-BN, + the block input (a residual), then hard swish."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = torch.nn.Sequential(torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.BatchNorm2d(c), torch.nn.ReLU6())
        self.b = torch.nn.Sequential(torch.nn.Conv2d(c, c, 1), torch.nn.BatchNorm2d(c))
        self.act = torch.nn.Hardswish()

    def forward(self, x):
        return self.act(self.b(self.a(x)) + x)


def test_from_torch_imports_a_module_that_matches_pytorch():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.BatchNorm2d(8), torch.nn.SiLU(),
        Block(8), torch.nn.Conv2d(8, 8, 1), torch.nn.LeakyReLU(0.1), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, 5), torch.nn.Sigmoid())
    for m in net.modules():  # non-trivial running statistics, so that the folded BatchNorm matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net.train()
    x = torch.randn(1, 3, 16, 16)
    model = eiesim.from_torch(net, x, name="tiny")
    assert net.training  # the module's mode is restored
    with torch.no_grad():
        ref = net.eval()(x).numpy().reshape(-1)
    assert model.name == "tiny" and [dl.spec.kind for dl in model.layers] == ["conv"] * 4 + ["fc"]
    ours = forward(to_workload(model, strict=False), x.numpy()[0]).logits
    assert np.max(np.abs(ours - ref)) <= 1e-5 * max(1.0, float(np.max(np.abs(ref))))
