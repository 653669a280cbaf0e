"""Import the exported nn.LSTM / nn.GRU (benchmarks/rnn_torch_export.py), compare with onnxruntime, compress, run."""
import numpy as np, onnxruntime as ort
from eiesim.importers.onnx.walker import import_onnx
from eiesim.network.dense import to_workload
from eiesim.network.functional import forward
from eiesim.cli.compress_cmd import compress_model
from eiesim.config.arch import load_arch
from eiesim.run.simulate import simulate
for n in ("lstm", "gru"):
    p = f"/tmp/i24/torch_{n}.onnx"
    model = import_onnx(p)
    print(n, [(d.spec.kind, d.weight.shape[:2], d.extra) for d in model.layers], model.input_shape)
    x = np.random.default_rng(0).normal(0, 1, model.input_shape).astype(np.float32)
    s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
    ref = s.run(None, {"x": x.reshape(7, 1, 10)})[0].reshape(-1)
    ours = forward(to_workload(model, strict=False), x, "float32").logits
    print("  float vs onnxruntime max abs err", float(np.max(np.abs(ours - ref))))
    wl = compress_model(model, {d.spec.name: 0.5 for d in model.layers}, 8)
    wl.input = x
    f32 = forward(wl, x, "float32").logits
    f16 = forward(wl, x, "fixed16")
    print("  compressed(0.5, 8-bit) float vs onnxruntime max abs err", float(np.max(np.abs(f32 - ref))),
          "fixed16 vs compressed float", float(np.max(np.abs(f16.logits - f32))), "saturations", f16.total_saturations)
    arch = load_arch("arch_configs/eie-64pe-8bit.yaml")
    rf, re = simulate(arch, wl, engine="fast"), simulate(arch, wl, engine="event")
    print("  fast", rf.cycles, rf.check["functional"], "event", re.cycles, re.check["functional"],
          "same layers", rf.to_dict()["layers"] == re.to_dict()["layers"])
    for st in rf.layers:
        print("   ", st.name, st.kind, "cycles", st.cycles, "compute", st.compute_cycles, "load", st.load_cycles, "elementwise(store)", st.store_cycles, "io", st.io_cycles)
