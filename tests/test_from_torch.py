"""``eiesim.from_torch``: a PyTorch module exported to ONNX in memory and imported (skipped without torch).

The imported model's float output is compared with the module's own output (torch is the
independent implementation here); without torch the call is one EiesimError naming the extra.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import eiesim
from eiesim.errors import EiesimError


def test_without_torch_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(EiesimError, match=r"pip install 'eiesim\[torch\]'"):
        eiesim.from_torch(object(), None)


def test_transformer_encoder_layer_with_a_head_equals_torch():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from eiesim.network.dense import to_workload
    from eiesim.network.functional import forward

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.TransformerEncoderLayer(d_model=64, nhead=2, dim_feedforward=128, batch_first=True, dropout=0.0),
        torch.nn.Linear(64, 10))
    net.eval()
    x = torch.randn(1, 8, 64)
    model = eiesim.from_torch(net, x, name="encoder")
    assert model.name == "encoder" and model.input_shape == (512,)
    assert [dl.spec.out_channels for dl in model.layers] == [192, 64, 128, 64, 10]
    with torch.no_grad():
        ref = net(x).numpy().reshape(-1)
    got = forward(to_workload(model, strict=False), x.numpy().reshape(-1)).logits
    assert np.max(np.abs(got - ref)) < 1e-4
