"""Import of the authors' Deep-Compression SqueezeNet file, checked against an independent decoder."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from eiesim.cli import main
from eiesim.errors import ModelFileError
from eiesim.importers.caffe.deep_compression import import_dc
from eiesim.importers.caffe.prototxt import parse_prototxt, topology_from_prototxt
from eiesim.network.compress import storage_summary
from eiesim.network.topologies import squeezenet_topology
from eiesim.network.workload_file import load_workload, save_workload

# The authors' files as the package ships them (tests/test_default_network.py checks them against the published hashes).
DC_DIR = Path(__file__).resolve().parents[1] / "eiesim" / "data" / "squeezenet_dc"
NET = DC_DIR / "compressed_SqueezeNet.net"
PROTOTXT = DC_DIR / "SqueezeNet_deploy.prototxt"
needs_net = pytest.mark.skipif(not NET.is_file(), reason="bundled Deep-Compression SqueezeNet file not present")

# (name, out, in, k) of the 26 conv layers, written out by hand from the deploy prototxt.
EXPECTED_LAYERS = [("conv1", 96, 3, 7)]
_cin = 96
for _n, (_s, _e) in zip(range(2, 10), [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192),
                                       (64, 256), (64, 256)]):
    EXPECTED_LAYERS += [(f"fire{_n}/conv1x1_1", _s, _cin, 1), (f"fire{_n}/conv1x1_2", _e, _s, 1),
                        (f"fire{_n}/conv3x3_2", _e, _s, 3)]
    _cin = 2 * _e
EXPECTED_LAYERS.append(("conv_final", 1000, 512, 1))


def slow_decode(data: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    """Obviously-correct byte-by-byte decoding: per layer (dense weights incl. padding zeros, bias)."""
    counts = struct.unpack_from("<26I", data, 0)
    pos = 4 * 26
    out = []
    for (name, n_out, n_in, k), n in zip(EXPECTED_LAYERS, counts):
        codebook = struct.unpack_from("<256f", data, pos)
        pos += 1024
        bias = struct.unpack_from(f"<{n_out}f", data, pos)
        pos += 4 * n_out
        codes = data[pos:pos + n]
        pos += n
        nibbles = []
        for byte in data[pos:pos + (n + 1) // 2]:
            nibbles.append(byte & 15)
            nibbles.append(byte >> 4)
        pos += (n + 1) // 2
        flat = [0.0] * (n_out * n_in * k * k)
        where = -1
        for e in range(n):
            where += nibbles[e] + 1
            flat[where] = codebook[codes[e]]
        out.append((np.array(flat, dtype=np.float32).reshape(n_out, n_in, k, k), np.array(bias, dtype=np.float32)))
    assert pos == len(data)
    return out


@pytest.fixture(scope="module")
def dc_workload():
    return import_dc(NET)


@needs_net
def test_real_file_counts(dc_workload):
    wl = dc_workload
    assert len(wl.layers) == 26
    assert wl.nnz == 415_921
    assert wl.extra["import"]["padding_entries_dropped"] == 6_162
    assert wl.extra["import"]["stored_entries"] == 415_921 + 6_162
    assert [(layer.name, layer.out_channels, layer.in_channels, layer.kernel[0]) for layer in wl.layers] == EXPECTED_LAYERS
    assert all(len(layer.codebook) == 256 and layer.codebook_bits == 8 for layer in wl.layers)
    assert wl.layer("conv_final").padding == (1, 1)
    assert wl.output_shapes()["conv_final"] == (1000, 1, 1)
    assert wl.input_shape == (3, 227, 227)
    assert wl.preprocess["channel_order"] == "BGR" and wl.preprocess["mean"] == [104.0, 117.0, 123.0]
    assert "e4ab6960ae8cd81505e1c2136921201507e930966c53deaf15862a395b3a3261" in wl.source


@needs_net
def test_every_layer_matches_independent_decoder(dc_workload):
    reference = slow_decode(NET.read_bytes())
    for layer, (w_ref, b_ref) in zip(dc_workload.layers, reference):
        assert np.array_equal(layer.dense_weights(), w_ref), layer.name
        assert np.array_equal(layer.bias, b_ref), layer.name
        assert layer.nnz == int(np.count_nonzero(w_ref)), layer.name


@needs_net
def test_saved_workload_loads_and_has_no_zero_entries(dc_workload, tmp_path):
    path = save_workload(dc_workload, tmp_path / "dc.npz")
    wl = load_workload(path)
    assert wl.nnz == 415_921
    for layer in wl.layers:
        assert np.all(layer.codebook[layer.codes] != 0)


@needs_net
def test_padding_rule_reproduces_the_file(dc_workload):
    """The relative-index rule with 4-bit indices gives the file's padding entries and its exact size."""
    summary = storage_summary(dc_workload, index_bits=4)
    assert summary["totals"]["padding_entries"] == 6_162
    assert summary["totals"]["file_bytes"] == NET.stat().st_size == 675_763


@needs_net
def test_prototxt_gives_the_builtin_topology():
    shape, specs = topology_from_prototxt(PROTOTXT)
    assert shape == (3, 227, 227)
    assert specs == squeezenet_topology("1.0")


@needs_net
def test_import_with_prototxt_equals_default(dc_workload):
    wl = import_dc(NET, PROTOTXT)
    for a, b in zip(wl.layers, dc_workload.layers):
        assert np.array_equal(a.indices, b.indices) and np.array_equal(a.codes, b.codes)


def test_parse_prototxt_subset():
    text = 'name: "n"  # comment\nlayer { name: "a" top: "x" top: "y" p { k: 3 f: -1.5e-2 b: true e: MAX } }\n'
    tree = parse_prototxt(text)
    assert tree["name"] == ["n"]
    layer = tree["layer"][0]
    assert layer["top"] == ["x", "y"]
    assert layer["p"] == [{"k": [3], "f": [-0.015], "b": [True], "e": ["MAX"]}]


@pytest.mark.parametrize("text", ['layer { name: "a"', 'layer }', 'name: ', 'a: @'])
def test_parse_prototxt_errors(text):
    with pytest.raises(ModelFileError):
        parse_prototxt(text, "bad.prototxt")


def test_unsupported_layer_type(tmp_path):
    p = tmp_path / "bad.prototxt"
    p.write_text('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
                 'layer { name: "l" type: "LRN" bottom: "data" top: "l" }\n')
    with pytest.raises(ModelFileError, match="LRN"):
        topology_from_prototxt(p)


def _header_for(counts: list[int]) -> bytes:
    return struct.pack("<26I", *counts)


def test_huge_claim_refused_without_allocating(tmp_path):
    """A 1-KB file whose header claims 10^9 entries is refused from the header alone."""
    bad = tmp_path / "huge.net"
    bad.write_bytes(_header_for([10**9] + [1] * 25) + b"\0" * (1024 - 104))
    tracemalloc.start()
    with pytest.raises(ModelFileError, match="huge.net"):
        import_dc(bad)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


def test_size_mismatch_refused(tmp_path):
    bad = tmp_path / "small.net"
    bad.write_bytes(_header_for([1] * 26) + b"\0" * 100)
    with pytest.raises(ModelFileError, match="header describes"):
        import_dc(bad)


def test_too_short_for_header(tmp_path):
    bad = tmp_path / "tiny.net"
    bad.write_bytes(b"\1\2\3")
    with pytest.raises(ModelFileError, match="too short"):
        import_dc(bad)


@needs_net
@pytest.mark.parametrize("damage", ["truncate", "append", "index_overrun", "odd_nibble", "nan"])
def test_damaged_real_file(tmp_path, damage):
    data = bytearray(NET.read_bytes())
    counts = struct.unpack_from("<26I", data, 0)
    if damage == "truncate":
        data = data[:-10]
    elif damage == "append":
        data += b"\0"
    elif damage == "index_overrun":
        # Last layer's index bytes end the file: make every relative index 15 so positions run past the end.
        n = counts[-1]
        data[len(data) - (n + 1) // 2:] = b"\xff" * ((n + 1) // 2 - 1) + b"\x0f"
    elif damage == "odd_nibble":
        odd = next(i for i, c in enumerate(counts) if c % 2)
        offset = 104 + sum(1024 + 4 * EXPECTED_LAYERS[j][1] + counts[j] + (counts[j] + 1) // 2 for j in range(odd))
        end = offset + 1024 + 4 * EXPECTED_LAYERS[odd][1] + counts[odd] + (counts[odd] + 1) // 2
        data[end - 1] |= 0xF0
    elif damage == "nan":
        data[104:108] = struct.pack("<f", float("nan"))
    bad = tmp_path / "bad.net"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as info:
        import_dc(bad)
    assert str(bad) in info.value.one_line()


def test_cli_import_error_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.net"
    bad.write_bytes(b"\0" * 50)
    out = tmp_path / "out.npz"
    with pytest.raises(SystemExit) as exc:
        main(["import-dc", str(bad), "-o", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"eiesim: error: {bad}: ")
    assert not out.exists()


_NET = 'input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
_CONV = 'layer {{ name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param {{ {p} }} }}\n'


@pytest.mark.parametrize("text, message", [
    (_NET + _CONV.format(p="num_output: 4 kernel_size: 3 strid: 2"), "convolution_param has no field 'strid'"),
    (_NET + 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_parm { num_output: 4 } }\n',
     "layer has no field 'convolution_parm'"),
    ('input: "data" input_dims: 1\n', "the net has no field 'input_dims'"),
    (_NET + _CONV.format(p="num_output: 4 kernel_size: 3 weight_filler { type: \"xavier\" sdt: 1 }"),
     "weight_filler has no field 'sdt'"),
    (_NET + _CONV.format(p="num_output: 4 kernel_size: 3")
     + 'layer { name: "r" type: "ReLU" bottom: "c" top: "c" relu_param { negative_slope: 0.1 } }\n', "leaky ReLU"),
    (_NET + _CONV.format(p="num_output: 4 kernel_size: 3")
     + 'layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { kernel_size: 2 round_mode: FLOOR } }\n',
     "'round_mode' must be CEIL"),
    (_NET + _CONV.format(p="num_output: 4 kernel_size: 3")
     + 'layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { kernel_h: 2 kernel_w: 1 } }\n',
     "'kernel_h' is not supported"),
])
def test_prototxt_fields_outside_the_schema_or_the_model_are_refused(tmp_path, text, message):
    """``strid: 2`` used to import silently as stride 1: every field is checked against Caffe's schema."""
    p = tmp_path / "deploy.prototxt"
    p.write_text(text)
    with pytest.raises(ModelFileError, match=message):
        topology_from_prototxt(p)


def test_prototxt_ignores_fields_that_cannot_change_the_topology(tmp_path):
    p = tmp_path / "deploy.prototxt"
    p.write_text(_NET + _CONV.format(p='num_output: 4 kernel_size: 3 stride: 2 bias_term: true engine: CAFFE '
                                       'weight_filler { type: "gaussian" std: 0.01 }')
                 + 'layer { name: "r" type: "ReLU" bottom: "c" top: "c" param { lr_mult: 1 } }\n')
    _, specs = topology_from_prototxt(p)
    assert [(s.name, s.stride, s.relu) for s in specs] == [("c", (2, 2), True)]


def test_import_dc_applies_the_memory_budget_of_every_loader(tmp_path, capsys):
    """Issue 22: a prototxt declaring a 3 x 2^20 x 2^20 input imported into a workload every command refused."""
    proto = tmp_path / "huge.prototxt"
    proto.write_text('input: "data" input_dim: 1 input_dim: 3 input_dim: 1048576 input_dim: 1048576\n'
                     + _CONV.format(p="num_output: 4 kernel_size: 1"))
    net = tmp_path / "huge.net"
    # The .net format by hand: one header count (0 entries), a 256-entry float codebook, 4 float biases.
    net.write_bytes(b"\0" * 4 + b"\0" * (4 * 256) + b"\0" * (4 * 4))
    out = tmp_path / "huge.npz"
    with pytest.raises(SystemExit) as exc:
        main(["import-dc", str(net), "--prototxt", str(proto), "-o", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"eiesim: error: {proto}: ") and "memory" in err[0], err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["huge.net", "huge.prototxt"]
    # the same file with a small input imports (the budget, not the format, refused it)
    proto.write_text('input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8\n'
                     + _CONV.format(p="num_output: 4 kernel_size: 1"))
    assert import_dc(net, proto).input_shape == (3, 8, 8)
