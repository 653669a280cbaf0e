"""Export a 2-layer nn.LSTM and nn.GRU (10 -> 16, 7 steps) with torch.onnx.export (needs torch; run in a venv with it)."""
import torch, sys
torch.manual_seed(0)
class Wrap(torch.nn.Module):
    def __init__(self, rnn): super().__init__(); self.rnn = rnn
    def forward(self, x): return self.rnn(x)[0]
for name, rnn in [("lstm", torch.nn.LSTM(10, 16, num_layers=2)), ("gru", torch.nn.GRU(10, 16, num_layers=2))]:
    m = Wrap(rnn).eval()
    x = torch.randn(7, 1, 10)
    torch.onnx.export(m, (x,), f"/tmp/i24/torch_{name}.onnx", dynamo=False, input_names=["x"], output_names=["y"], opset_version=17)
    print(name, "exported")
