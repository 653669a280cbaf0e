"""Transformers on EIE (issue 23 item 2): MatMuls with a constant weight as layers applied per token, the
rest (attention products, Softmax, LayerNormalization, GELU, Transpose, Gather, residual Adds) as host ops.

The float output of an imported model is checked against onnxruntime running the same file (an
independent implementation); the host-work counts are written out by hand from the graph's shapes;
the fixed-point path is checked bit for bit by ``simulate``'s functional check (engine vs reference).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

import _transformer_graphs as graphs  # noqa: E402
from _onnx_support import initializer as init  # noqa: E402
from _onnx_support import save_model  # noqa: E402

from eiesim.cli.compress_cmd import compress_model  # noqa: E402
from eiesim.config.arch import load_arch  # noqa: E402
from eiesim.errors import WorkloadError  # noqa: E402
from eiesim.importers.onnx.walker import import_onnx, import_onnx_report  # noqa: E402
from eiesim.network.dense import to_workload  # noqa: E402
from eiesim.network.functional import forward  # noqa: E402
from eiesim.network.host_ops import host_work  # noqa: E402
from eiesim.network.workload import infer_shapes  # noqa: E402
from eiesim.network.workload_file import load_workload, save_workload  # noqa: E402
from eiesim.run.simulate import simulate  # noqa: E402

ARCH = Path(__file__).resolve().parents[1] / "arch_configs" / "tiny-4pe.yaml"


def _ort(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _max_error_vs_ort(model, path: Path, x: np.ndarray) -> float:
    """Max |eiesim's float pass of imported ``model`` - onnxruntime on ``path``|; ``x`` as onnxruntime takes it."""
    got = forward(to_workload(model, strict=False), x.reshape(-1)).logits
    return float(np.max(np.abs(got - _ort(path, x).reshape(-1))))


def _encoder_input(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A (1, 8, 64) sequence for onnxruntime and the same as eiesim carries it: flat, token after token."""
    x = np.random.default_rng(seed).standard_normal((1, 8, 64)).astype(np.float32)
    return x, x.reshape(-1)


def test_encoder_layer_imports_with_token_layers_and_host_ops(tmp_path):
    model, rows, error = import_onnx_report(graphs.encoder_layer(tmp_path))
    assert error is None
    assert model.input_shape == (512,)
    layers = {dl.spec.name: dl for dl in model.layers}
    # in-projection (q, k, v fused), out-projection, the two feed-forward layers, the head: 1 x 1 convs on 1 x 8.
    assert list(layers) == ["self_attn.in_proj", "self_attn.out_proj", "linear1", "linear2", "head"]
    assert all(dl.spec.kind == "conv" and dl.spec.kernel == (1, 1) and dl.extra["tokens"] for dl in model.layers)
    assert [dl.spec.out_channels for dl in model.layers] == [192, 64, 128, 64, 10]
    assert layers["linear1"].spec.relu and layers["linear2"].spec.inputs == ("linear1",)
    where = {}
    for row in rows:
        where.setdefault(row.op, set()).add(row.where)
    assert where["MatMul"] == {"EIE layer", "host"}  # weights on EIE, Q.K^T and attention x V on the host
    assert where["Softmax"] == where["LayerNormalization"] == where["Split"] == where["Transpose"] == {"host"}
    assert where["Add"] == {"folded", "host"}  # biases folded, the two residual Adds on the host
    assert where["Relu"] == {"folded"}


def test_encoder_float_output_equals_onnxruntime(tmp_path):
    path = graphs.encoder_layer(tmp_path)
    x_ort, x = _encoder_input()
    ref = _ort(path, x_ort)  # (1, 8, 10)
    got = forward(to_workload(import_onnx(path), strict=False), x).logits
    assert got.shape == (80,)
    assert np.max(np.abs(got - ref.reshape(-1))) < 1e-4


def test_decoder_block_with_embedding_and_lm_head_equals_onnxruntime(tmp_path):
    path = graphs.decoder_block(tmp_path)
    ids = np.array([[3, 17, 0, 49, 8, 8, 21, 5]], np.int64)
    model = import_onnx(path)
    assert model.input_shape == (8,)
    assert [dl.spec.name for dl in model.layers] == ["attn.q", "attn.k", "attn.v", "attn.proj", "mlp.fc",
                                                     "mlp.proj", "lm_head"]
    got = forward(to_workload(model, strict=False), ids[0].astype(np.float32)).logits
    ref = _ort(path, ids)
    assert np.max(np.abs(got - ref.reshape(-1))) < 1e-4
    # The causal mask: changing the last token changes only the last position's logits.
    later = ids.copy()
    later[0, -1] = 40
    got2 = forward(to_workload(model, strict=False), later[0].astype(np.float32)).logits.reshape(8, 50)
    assert np.array_equal(got2[:7], got.reshape(8, 50)[:7]) and not np.array_equal(got2[7], got.reshape(8, 50)[7])


def test_host_work_counts_by_hand(tmp_path):
    wl = to_workload(import_onnx(graphs.encoder_layer(tmp_path)), strict=False)
    rows = {(r.op, r.multiplies, r.adds, r.exps, r.divides, r.others) for r in host_work(wl)}
    # Q.K^T: (1,2,8,32) x (1,2,32,8): 128 outputs of 32 products and 31 sums.
    assert ("MatMul", 128 * 32, 128 * 31, 0, 0, 0) in rows
    # attention x V: (1,2,8,8) x (1,2,8,32): 512 outputs of 8 products and 7 sums.
    assert ("MatMul", 512 * 8, 512 * 7, 0, 0, 0) in rows
    # Softmax over rows of 8 (16 rows): 7 compares for the max, 128 subtractions + 16 x 7 sums, 128 exps and divides.
    assert ("Softmax", 0, 128 + 16 * 7, 128, 128, 16 * 7) in rows
    # LayerNorm over 64 (8 rows): adds 63 + 64 + 63 + 1 + 64, multiplies 2 x 64, divides 2 + 64, one sqrt; per row.
    assert ("LayerNormalization", 8 * 128, 8 * 255, 0, 8 * 66, 8) in rows
    # Scaling Q: 512 products; the residual Adds: 512 sums each.
    assert ("Mul", 512, 0, 0, 0, 0) in rows and ("Add", 0, 512, 0, 0, 0) in rows
    work = host_work(wl)
    # Leaving the chip (2 bytes a value, once per tensor): the in-projection's 8 x 192, out_proj's and linear2's 8 x 64.
    assert sum(r.bytes_from_chip for r in work) == 2 * 8 * (192 + 64 + 64)
    # Coming back: the merged heads (for out_proj), norm1 (for linear1) and norm2 (for the head), 8 x 64 each.
    assert sum(r.bytes_to_chip for r in work) == 2 * 8 * 64 * 3


@pytest.mark.parametrize("build", [graphs.encoder_layer, graphs.decoder_block])
def test_compressed_transformer_simulates_bit_exact(tmp_path, build):
    """Compress, save, load, simulate: the engine's fixed-point outputs equal the reference's bit for bit,
    the host work is in the report, and the fixed-point logits stay close to the float ones."""
    model = import_onnx(build(tmp_path))
    wl = compress_model(model, {dl.spec.name: 0.5 for dl in model.layers}, bits=4)
    path = save_workload(wl, tmp_path / "wl.npz")
    loaded = load_workload(path)
    assert loaded.extra["host_ops"] == wl.extra["host_ops"]
    x = _encoder_input()[1] if build is graphs.encoder_layer else np.arange(8, dtype=np.float32) * 5
    result = simulate(load_arch(ARCH), loaded, x)
    assert result.check["functional"] == "pass" and result.check["layers_mismatched"] == []
    report = result.to_dict()
    assert report["host_work"]["ops"] == len(host_work(loaded)) > 0
    assert report["host_work"]["time_modelled"] is False
    fixed, flt = forward(loaded, x, "fixed16"), forward(loaded, x)
    assert np.max(np.abs(fixed.logits - flt.logits)) < 0.05 * np.max(np.abs(flt.logits))


def test_host_tensor_read_by_a_layer_comes_from_dram(tmp_path):
    model = import_onnx(graphs.encoder_layer(tmp_path))
    wl = to_workload(model, strict=False)
    from eiesim.timing.contract import layer_io

    arch = load_arch()  # the 64-PE chip: 1,024 activations fit on chip
    io = {layer.name: layer_io(wl, layer, arch, 0) for layer in wl.layers}
    # out_proj reads the host's merged heads (8 x 64 values) and its output goes to the host's residual Add.
    assert io["self_attn.out_proj"].bytes_read == 2 * 64 * 8 and io["self_attn.out_proj"].bytes_written == 2 * 64 * 8
    # linear2 reads linear1 on chip (nothing from DRAM) and writes for the host's Add.
    assert io["linear2"].bytes_read == 0 and io["linear2"].bytes_written == 2 * 64 * 8


def test_add_of_layer_output_and_network_input_runs_on_the_host(tmp_path):
    """A residual Add whose operands are not both EIE layer outputs (here the network input) is host work."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node("Add", ["x", "h"], ["r"], name="residual"),
             helper.make_node("Softmax", ["r"], ["s"], name="inner_softmax", axis=-1),
             helper.make_node("Gemm", ["s", "w2"], ["y"], name="fc2", transB=1)]
    inits = [init("w1", rng.standard_normal((16, 16)).astype(np.float32)),
             init("b1", rng.standard_normal(16).astype(np.float32)),
             init("w2", rng.standard_normal((4, 16)).astype(np.float32))]
    path = save_model(tmp_path, nodes, inits, [1, 16], opset=17)
    model, rows, error = import_onnx_report(path)
    assert error is None
    assert [(r.node, r.where) for r in rows] == [("fc1", "EIE layer"), ("residual", "host"),
                                                 ("inner_softmax", "host"), ("fc2", "EIE layer")]
    x = rng.standard_normal(16).astype(np.float32)
    assert _max_error_vs_ort(model, path, x[None]) < 1e-5


def test_host_results_clipped_back_to_fixed_point_are_reported(tmp_path):
    """fc1 -> Add (host) -> Softmax (host) -> fc2: the Softmax's 16 values are what fc2 reads from the host. With the
    plan calibrated on the input nothing clips; with 30 fractional bits for them (and fc2's input) every value above
    32767 / 2^30 (3.1e-5) clips, which is all 16 of them (each softmax value is at least 1e-3 here, checked with numpy)."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
             helper.make_node("Add", ["x", "h"], ["r"], name="residual"),
             helper.make_node("Softmax", ["r"], ["s"], name="inner_softmax", axis=-1),
             helper.make_node("Gemm", ["s", "w2"], ["y"], name="fc2", transB=1)]
    w1, b1 = rng.standard_normal((16, 16)).astype(np.float32) * 0.1, rng.standard_normal(16).astype(np.float32) * 0.1
    inits = [init("w1", w1), init("b1", b1), init("w2", rng.standard_normal((4, 16)).astype(np.float32))]
    wl = to_workload(import_onnx(save_model(tmp_path, nodes, inits, [1, 16], opset=17)), strict=False)
    x = rng.standard_normal(16).astype(np.float32)
    r = x + w1 @ x + b1
    softmax = np.exp(r - r.max()) / np.exp(r - r.max()).sum()
    assert softmax.min() > 1e-3
    arch = load_arch(ARCH).derive({"codebook_bits": 8})
    calibrated = simulate(arch, wl, x)
    assert calibrated.host_saturations == {"inner_softmax": 0}
    assert calibrated.to_dict()["host_work"]["saturations"] == 0
    plan = calibrated.plan  # fc2 reads the softmax in its format: both get 30 fractional bits
    narrow = dataclasses.replace(plan, host={"inner_softmax": 30}, layers={
        **plan.layers, "fc2": dataclasses.replace(plan.layers["fc2"], in_frac=30)})
    clipped = simulate(arch, wl, x, plan=narrow)
    work = clipped.to_dict()["host_work"]
    assert work["saturations"] == 16
    assert {row["name"]: row["saturations"] for row in work["per_op"]} == {"residual": 0, "inner_softmax": 16}
    assert clipped.check["functional"] == "pass"  # the engine reads the same clipped values as the reference


def test_gelu_reduce_mean_and_tanh_gelu_equal_onnxruntime(tmp_path):
    """Host ops one by one on a token sequence: ReduceMean, Sub, Gelu (exact and tanh), Sqrt, Div."""
    rng = np.random.default_rng(4)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("ReduceMean", ["h", "axes"], ["m"], name="mean", keepdims=1),
             helper.make_node("Sub", ["h", "m"], ["c"], name="centre"),
             helper.make_node("Gelu", ["c"], ["g"], name="gelu"),
             helper.make_node("Gelu", ["g"], ["g2"], name="gelu_tanh", approximate="tanh"),
             helper.make_node("MatMul", ["g2", "w2"], ["y"], name="fc2")]
    inits = [init("w1", rng.standard_normal((16, 24)).astype(np.float32)),
             init("w2", rng.standard_normal((24, 4)).astype(np.float32)), init("axes", np.array([-1], np.int64))]
    path = save_model(tmp_path, nodes, inits, [1, 5, 16], opset=20)
    model = import_onnx(path)
    x = rng.standard_normal((1, 5, 16)).astype(np.float32)
    assert _max_error_vs_ort(model, path, x) < 1e-4


def test_unsqueeze_and_squeeze_with_negative_axes_on_the_host(tmp_path):
    """Unsqueeze's negative axes count from the end of its output (rank + number of axes), Squeeze's from the end
    of its input: (1, 5, 24) -> axes [0, -1] -> (1, 1, 5, 24, 1) -> axes [0, -1] -> (1, 5, 24), as onnxruntime."""
    rng = np.random.default_rng(6)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
             helper.make_node("Softmax", ["h"], ["s"], name="softmax", axis=-1),
             helper.make_node("Unsqueeze", ["s", "axes"], ["u"], name="unsqueeze"),
             helper.make_node("Squeeze", ["u", "axes"], ["q"], name="squeeze"),
             helper.make_node("MatMul", ["q", "w2"], ["y"], name="fc2")]
    inits = [init("w1", rng.standard_normal((16, 24)).astype(np.float32)),
             init("w2", rng.standard_normal((24, 4)).astype(np.float32)), init("axes", np.array([0, -1], np.int64))]
    path = save_model(tmp_path, nodes, inits, [1, 5, 16], opset=17)
    model = import_onnx(path)
    x = rng.standard_normal((1, 5, 16)).astype(np.float32)
    assert _max_error_vs_ort(model, path, x) < 1e-5


def test_workload_without_host_ops_keeps_its_keys(tmp_path):
    """Networks that run entirely on EIE: no host_work in the report and no host key in the plan."""
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
    path = save_model(tmp_path, nodes, [init("w", np.eye(4, dtype=np.float32) * 0.5)], [1, 4])
    wl = to_workload(import_onnx(path))
    result = simulate(load_arch(ARCH), wl, np.ones(4, np.float32))
    assert "host_work" not in result.to_dict() and "host" not in result.plan.to_dict()
    assert "host_ops" not in wl.extra


def test_bad_host_ops_are_refused_on_load(tmp_path):
    wl = to_workload(import_onnx(graphs.encoder_layer(tmp_path)), strict=False)
    wl.extra["host_ops"][0]["op"] = "Conv3D"
    with pytest.raises(WorkloadError, match="'op' must be one of"):
        infer_shapes(wl)
    wl.extra["host_ops"][0]["op"] = "Slice"
    wl.extra["host_ops"][0]["inputs"] = ["nowhere"]
    with pytest.raises(WorkloadError, match="input 'nowhere' is not the network input, a layer or an earlier host op"):
        infer_shapes(wl)


def test_token_ids_out_of_range_are_an_input_error(tmp_path):
    from eiesim.errors import InputDataError

    wl = to_workload(import_onnx(graphs.decoder_block(tmp_path)), strict=False)
    with pytest.raises(InputDataError, match="token ids"):
        forward(wl, np.full(8, 50, np.float32))


def test_int_input_is_declared_in_the_graph(tmp_path):
    """The decoder's graph input is int64 token ids (what an LM exports)."""
    model = onnx.load(str(graphs.decoder_block(tmp_path)))
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.INT64


def test_event_and_fast_engines_agree_on_a_decoder(tmp_path):
    """Both engines give the same fixed-point outputs and cycles on a small decoder, and pass the check."""
    model = import_onnx(graphs.decoder_block(tmp_path, vocab=20, d=16, ff=32, seq=4))
    wl = compress_model(model, {dl.spec.name: 0.5 for dl in model.layers}, bits=4)
    arch, ids = load_arch(ARCH), np.array([1, 5, 19, 0], np.float32)
    event, fast = simulate(arch, wl, ids, engine="event"), simulate(arch, wl, ids)
    assert event.check["functional"] == fast.check["functional"] == "pass"
    assert all(np.array_equal(event.outputs[name], fast.outputs[name]) for name in fast.outputs)
    assert [s.cycles for s in event.layers] == [s.cycles for s in fast.layers]
    # Token layers run their tokens as rounds: 4 tokens, 4 pixels per layer.
    assert {s.pixels for s in fast.layers} == {4}


def test_host_graph_order_and_cycles_are_checked(tmp_path):
    wl = to_workload(import_onnx(graphs.encoder_layer(tmp_path)), strict=False)
    ops = wl.extra["host_ops"]
    # The first host op (the Split's first slice) made to read the out-projection, which reads it back.
    ops[0]["inputs"] = ["self_attn.out_proj"]
    with pytest.raises(WorkloadError, match="cycle|later layer"):
        infer_shapes(wl)
    ops[0]["inputs"] = ["self_attn.in_proj"]
    wl.layers[1].extra["tokens"] = "eight"
    with pytest.raises(WorkloadError, match="'tokens' must be a list of positive integers"):
        infer_shapes(wl)


def test_cli_import_compress_info_and_run_a_transformer(tmp_path, capsys, monkeypatch):
    """import-onnx --report, compress, info and run on the encoder: host rows, host work, a passing check."""
    from _support import run_cli

    monkeypatch.setenv("COLUMNS", "200")
    model = graphs.encoder_layer(tmp_path)
    code, out, _ = run_cli(["import-onnx", str(model), "--report"], capsys)
    assert code == 0 and "EIE layer: 5" in out and "host: 18" in out
    wl = tmp_path / "wl.npz"
    code, _, err = run_cli(["compress", str(model), "--density", "0.5", "--bits", "4", "-o", str(wl)], capsys)
    assert code == 0, err
    code, out, _ = run_cli(["info", str(wl)], capsys)
    assert code == 0 and "22 host ops, 25,088 operations" in " ".join(out.split())
    x = tmp_path / "x.npy"
    np.save(x, _encoder_input()[1])
    report = tmp_path / "report.json"
    code, _, err = run_cli(["run", str(ARCH), str(wl), "--image", str(x), "--json", str(report)], capsys)
    assert code == 0, err
    import json

    body = json.loads(report.read_text())
    assert body["check"]["functional"] == "pass"
    assert body["host_work"]["bytes_from_chip"] == 2 * 8 * (192 + 64 + 64)


def test_input_shape_override_for_a_symbolic_sequence(tmp_path):
    """A (1, T, D) input with a symbolic T takes --input-shape T,D (here T = 6)."""
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")]
    path = save_model(tmp_path, nodes, [init("w", rng.standard_normal((16, 3)).astype(np.float32))],
                      [1, "T", 16], opset=17)
    model = import_onnx(path, input_shape=(6, 16))
    assert model.input_shape == (96,) and model.layers[0].extra["tokens"] == [1, 6]
    x = rng.standard_normal((1, 6, 16)).astype(np.float32)
    assert _max_error_vs_ort(model, path, x) < 1e-5


def test_a_host_record_smaller_than_its_inputs_is_refused_before_computing(tmp_path):
    """The memory budget counts the declared host shapes, so an op whose inputs would give more is refused."""
    wl = to_workload(import_onnx(graphs.encoder_layer(tmp_path)), strict=False)
    scores = next(r for r in wl.extra["host_ops"] if r["op"] == "MatMul")
    assert scores["shape"] == [1, 2, 8, 8]
    scores["shape"] = [1, 2, 8, 1]
    with pytest.raises(WorkloadError, match=r"its inputs give shape \[1, 2, 8, 8\], its record says \[1, 2, 8, 1\]"):
        forward(wl, _encoder_input()[1])


def test_agreement_of_an_lm_head_is_per_token(tmp_path):
    """The decoder's LM head gives 8 tokens of 50 logits: the agreement report counts tokens (onnxruntime's
    per-token argmax computed here independently), not one argmax of the 400 flattened values."""
    from eiesim.importers.agreement import agreement_report

    path = graphs.decoder_block(tmp_path)
    model = import_onnx(path)
    wl = compress_model(model, {dl.spec.name: 0.3 for dl in model.layers}, bits=2)
    ids = np.array([3, 17, 0, 49, 8, 8, 21, 5], np.float32)
    report = agreement_report(wl, model, [("ids", ids)], onnx_path=path)
    entry = report["inputs"][0]
    ref_classes = np.argmax(_ort(path, ids[None].astype(np.int64)).reshape(8, 50), axis=1)
    ours = np.argmax(forward(wl, ids).logits.reshape(8, 50), axis=1)
    assert entry["tokens"] == 8 and entry["top1_reference"] == ref_classes.tolist()
    assert entry["tokens_agree"] == int(np.count_nonzero(ours == ref_classes))
    assert report["top1_agreement"] == entry["tokens_agree"] / 8
