"""Layer traces: valid Chrome/Perfetto JSON, spans that agree with the timing contract and the engines, bounded size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eiesim.config.arch import load_arch
from eiesim.errors import UsageError
from eiesim.network.workload import NETWORK_INPUT, Layer, Pool, Workload
from eiesim.timing.trace import layer_trace

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"

# docs/timing-model.md section 4: local rows holding non-zeros, per PE and column.
WORKED_EXAMPLE = {
    0: {0: [0, 1, 2, 3], 1: [1, 3], 2: [2], 4: [0], 5: [3]},
    1: {0: [2], 1: [0], 3: [0, 3], 5: [1]},
    2: {2: [0, 1, 3], 3: [2], 4: [1, 2]},
    3: {0: [3], 1: [2], 2: [1], 3: [0], 4: [3], 5: [0, 1]},
}


def _csr_layer(name: str, dense: np.ndarray, inputs=(NETWORK_INPUT,), kind="fc", in_channels=None,
               kernel=(1, 1), stride=(1, 1), padding=(0, 0), relu=False, pool=None) -> Layer:
    rows, cols = np.nonzero(dense)
    m = dense.shape[0]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    codebook = np.array([0.5, -0.25, 0.75, 1.0], dtype=np.float32)
    codes = (dense[rows, cols] - 1).astype(np.uint8)  # dense holds code + 1
    return Layer(name=name, kind=kind, in_channels=in_channels or dense.shape[1], out_channels=m, kernel=kernel,
                 stride=stride, padding=padding, inputs=tuple(inputs), relu=relu, pool=pool, indptr=indptr,
                 indices=cols.astype(np.int32), codes=codes, codebook=codebook, bias=np.zeros(m, np.float32))


def worked_example_workload() -> Workload:
    dense = np.zeros((16, 6), dtype=np.int64)
    for pe, cols in WORKED_EXAMPLE.items():
        for col, local_rows in cols.items():
            for r in local_rows:
                dense[r * 4 + pe, col] = 1 + (r + col) % 4
    x = np.array([3, 0, 1, 2, 0, 1], dtype=np.float32)
    return Workload("worked-example", "docs/timing-model.md section 4", (6,), None, [_csr_layer("fc", dense)], x)


def random_network(seed: int = 3) -> Workload:
    """A conv layer with two row blocks on tiny-4pe (20 rows > 16) feeding an fc layer with many input batches."""
    rng = np.random.default_rng(seed)
    conv = rng.integers(1, 5, size=(20, 27)) * (rng.random((20, 27)) < 0.3)
    fc = rng.integers(1, 5, size=(10, 20 * 3 * 3)) * (rng.random((10, 180)) < 0.2)
    layers = [
        _csr_layer("c1", conv, kind="conv", in_channels=3, kernel=(3, 3), padding=(1, 1), relu=True,
                   pool=Pool("max", 2, 2, True)),
        _csr_layer("f2", fc, inputs=("c1",)),
    ]
    x = rng.random((3, 6, 6)).astype(np.float32) * (rng.random((3, 6, 6)) < 0.6)
    return Workload("random-net", "test", (3, 6, 6), None, layers, x)


def _spans(trace: dict) -> list[dict]:
    return [e for e in trace["traceEvents"] if e["ph"] == "X"]


def _pe_spans(trace: dict, pe: int) -> list[dict]:
    return sorted((e for e in _spans(trace) if e["tid"] == 1 + pe), key=lambda e: e["ts"])


def test_worked_example_matches_the_hand_derivation():
    arch = load_arch(TINY)
    trace = json.loads(json.dumps(layer_trace(arch, worked_example_workload(), "fc")))
    meta = trace["metadata"]
    compute = [e for e in _spans(trace) if e["name"] == "compute"]
    # The worked example without bias entries (the bias column is empty everywhere): E = 10 (a5 at PE 3),
    # C = max(8 + 1, 10 + P + W, 9) = 16 cycles.
    assert len(compute) == 1 and compute[0]["dur"] == 16
    t0 = compute[0]["ts"]
    # I/O mode: 6 input + 16 output values x 2 bytes at 16 B/cycle = 3 cycles before the compute phase
    assert t0 == 3 and meta["layer_cycles"] == 19 and not meta["truncated"]
    # the statistics of section 4, with the bias column empty: every PE ends at 11 (the bias pop in 10)
    assert meta["pe_state_cycles"] == {"busy": [6, 4, 4, 5], "empty": [2, 2, 3, 1], "starved": [3, 5, 4, 5],
                                       "stalled": [0, 0, 0, 0], "drain": [5, 5, 5, 5]}
    assert meta["broadcast_stall_cycles"] == 3
    stalls = [(e["ts"] - t0, e["dur"]) for e in _spans(trace) if e["name"] == "broadcast stall"]
    assert stalls == [(3, 3)]  # cycles 3, 4, 5 (a5 waits for PE 0 to pop a2)
    # PE 0's pops S = 2, 6, 7, 8, 10 and dones F = 6, 7, 8, 9, 11 (the recurrence table; column 6 = the bias)
    work = [(e["ts"] - t0, e["ts"] - t0 + e["dur"], e["name"], e["args"]["column"])
            for e in _pe_spans(trace, 0) if e["name"] in ("busy", "empty")]
    assert work == [(2, 6, "busy", 0), (6, 7, "busy", 2), (7, 8, "empty", 3), (8, 9, "busy", 5),
                    (10, 11, "empty", 6)]


def test_worked_example_agrees_with_event_engine_trace():
    """The event engine's pop/done records equal the start/end of this module's busy/empty spans."""
    from eiesim.encoding import encode_layer
    from eiesim.network.fixed_point import quantize, quantized_codebook
    from eiesim.network.functional import plan_fixed_point
    from eiesim.timing.contract import TimingParams, layer_geometry
    from eiesim.timing.event import run_layer_event

    arch = load_arch(TINY)
    wl = worked_example_workload()
    layer = wl.layers[0]
    plan = plan_fixed_point(wl, wl.input)
    x_q, _ = quantize(wl.input, plan.input_frac)
    params = TimingParams.from_arch(arch)
    records: list = []
    run_layer_event(encode_layer(layer, arch), layer_geometry(layer, (6,), params), x_q,
                    quantized_codebook(layer, plan.format("fc")), params, trace=records)
    column = lambda label: layer.cols if label == "bias" else int(label)  # noqa: E731
    from_engine = sorted((who, column(ev.split()[1]), ev.split()[0], cyc) for cyc, who, ev in records if who != "ccu")
    trace = layer_trace(arch, wl, "fc")
    t0 = next(e["ts"] for e in _spans(trace) if e["name"] == "compute")
    mine = []
    for e in _spans(trace):
        if e["name"] in ("busy", "empty"):
            mine.append((e["tid"] - 1, e["args"]["column"], "pop", e["ts"] - t0))
            mine.append((e["tid"] - 1, e["args"]["column"], "done", e["ts"] - t0 + e["dur"]))
    assert sorted(mine) == from_engine
    broadcasts = sorted(cyc for cyc, who, _ in records if who == "ccu")
    assert broadcasts == [0, 1, 2, 6, 8]


@pytest.mark.parametrize("layer_name", ["c1", "f2"])
def test_spans_agree_with_engine_statistics_on_multi_round_layers(layer_name):
    from eiesim.run.simulate import simulate

    arch = load_arch(TINY)
    wl = random_network()
    report = simulate(arch, wl).to_dict()
    stats = next(layer for layer in report["layers"] if layer["name"] == layer_name)
    assert stats["rounds"] > 1
    trace = layer_trace(arch, wl, layer_name)
    meta = trace["metadata"]
    assert meta["layer_cycles"] == stats["cycles"]
    assert meta["pe_state_cycles"] == stats["pe_cycles"]
    assert meta["broadcast_stall_cycles"] == stats["broadcast_stall_cycles"]
    compute = [e for e in _spans(trace) if e["name"] == "compute"]
    assert sum(e["dur"] for e in compute) == stats["compute_cycles"]
    assert sum(e["dur"] for e in _spans(trace) if e["name"] == "load") == stats["load_cycles"]
    assert sum(e["dur"] for e in _spans(trace) if e["name"] == "store") == stats["store_cycles"]
    # per PE: spans never overlap, and inside every compute phase they tile it exactly
    for pe in range(arch.num_pes):
        spans = _pe_spans(trace, pe)
        assert all(a["ts"] + a["dur"] <= b["ts"] for a, b in zip(spans, spans[1:]))
        assert all(e["dur"] >= 1 for e in spans)
        assert sum(e["dur"] for e in spans) == stats["compute_cycles"]


def test_event_cap_is_honoured_and_reported():
    arch = load_arch(TINY)
    wl = random_network()
    full = layer_trace(arch, wl, "c1")
    n_full = len(_spans(full))
    assert n_full > 200
    cut = layer_trace(arch, wl, "c1", max_events=150)
    spans = _spans(cut)
    meta = cut["metadata"]
    assert len(spans) == 150 == meta["span_events"]
    assert meta["truncated"] is True and meta["max_events"] == 150
    edge = meta["complete_before_cycle"]
    # everything that starts before the edge is there, identical to the full trace
    key = lambda e: (e["ts"], e["tid"], e["name"], e["dur"])  # noqa: E731
    before_full = sorted(key(e) for e in _spans(full) if e["ts"] < edge)
    before_cut = sorted(key(e) for e in spans if e["ts"] < edge)
    assert before_cut == before_full
    assert all(e["ts"] <= edge for e in spans)
    # track names: process + CCU + one per PE (name and sort index each)
    assert sum(1 for e in cut["traceEvents"] if e["ph"] == "M") == 3 + 2 * arch.num_pes
    assert not full["metadata"]["truncated"] and len(json.dumps(cut)) < len(json.dumps(full))


def test_unknown_layer_and_bad_cap():
    arch = load_arch(TINY)
    with pytest.raises(UsageError, match="no layer 'nope'; its layers are: fc"):
        layer_trace(arch, worked_example_workload(), "nope")
    with pytest.raises(UsageError, match="max_events"):
        layer_trace(arch, worked_example_workload(), "fc", max_events=0)


def test_trace_command_writes_json(tmp_path):
    from click.testing import CliRunner

    import eiesim.cli.trace_cmd  # noqa: F401 - registers the command
    from eiesim.cli import cli
    from eiesim.network.workload_file import save_workload

    wl_path = save_workload(random_network(), tmp_path / "net.npz")
    out = tmp_path / "t.json"
    result = CliRunner().invoke(cli, ["trace", str(TINY), str(wl_path), "--layer", "f2", "-o", str(out),
                                      "--max-events", "40"])
    assert result.exit_code == 0, result.output
    assert "TRUNCATED" in result.output
    data = json.loads(out.read_text())
    assert len(_spans(data)) == 40 and data["metadata"]["layer"] == "f2"
