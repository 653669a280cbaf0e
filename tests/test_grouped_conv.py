"""Grouped and depthwise convolutions: one block-diagonal layer whose structural zeros are never stored.

The rule (docs/onnx.md, "Grouped and depthwise convolutions"): the CSR and the per-PE encoding hold
only the grouped weights' non-zeros; every broadcast still reaches all N PEs, and a PE without an
entry for the column spends its pointer read on it (docs/timing-model.md section 3). Checked by
counting: entries against the non-zeros of the per-group weights, and pointer reads against
broadcasts x N.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _onnx_support import initializer, needs_onnx, onnx, onnxruntime_output, save_model
from eiesim.config.arch import load_arch
from eiesim.encoding import encode_layer
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.run.simulate import simulate

if onnx is not None:
    from onnx import helper

    from eiesim.importers.onnx.walker import import_onnx

TINY_ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"


@needs_onnx
@pytest.mark.parametrize("channels, group", [(6, 6), (8, 2)], ids=["depthwise", "two-groups"])
def test_grouped_conv_stores_only_the_groups_non_zeros(tmp_path, channels, group):
    rng = np.random.default_rng(0)
    w = np.where(rng.random((channels, channels // group, 3, 3)) < 0.8,
                 rng.choice([-1.0, -0.5, 0.5, 1.0], size=(channels, channels // group, 3, 3)), 0.0).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=group, pads=[1, 1, 1, 1])]
    path = save_model(tmp_path, nodes, [initializer("w", w)], [1, channels, 3, 3])
    model = import_onnx(path)
    wl = to_workload(model)
    layer = wl.layers[0]
    assert layer.nnz == int(np.count_nonzero(w))  # none of the block-diagonal zeros
    x = np.maximum(rng.normal(size=(channels, 3, 3)), 0).astype(np.float32)
    ours, ref = forward(wl, x).logits, onnxruntime_output(path, x)
    assert np.max(np.abs(ours - ref)) <= 1e-5 * np.max(np.abs(ref))
    arch = load_arch(TINY_ARCH)
    enc = encode_layer(layer, arch)
    # Every stored entry of every PE is a real non-zero (no bias, no padding: 3 x 3 x C <= 16 rows apart).
    assert int(enc.entries_per_pe.sum()) == layer.nnz and int(enc.padding_per_pe.sum()) == 0
    res = simulate(arch, wl, input=x)
    acts = res.layers[0].actions
    assert acts["entries_processed"] == acts["real_macs"]  # no padding was issued
    # Each broadcast is pushed to, popped by and costs a pointer read on all 4 PEs, entries or not.
    assert acts["fifo_pushes"] == acts["ptr_reads"] == 4 * acts["lnzd_ops"]
    assert res.check["functional"] == "pass"
