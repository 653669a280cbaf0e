"""Synthetic workloads: topology, densities, determinism, EIE benchmark layers, embedded default."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from eiesim.cli import main
from eiesim.errors import UsageError
from eiesim.network.synthetic import BENCHMARK_LAYERS, eie_fc_layer, make_workload, squeezenet, workload_names
from eiesim.network.topologies import RELEASED_DC_NNZ
from eiesim.network.workload_file import load_workload, save_workload

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "workloads" / "squeezenet-1.0-synthetic.npz"


@pytest.fixture(scope="module")
def sq10():
    return squeezenet("1.0", bits=8, seed=0)


def test_squeezenet_10_shapes_and_densities(sq10):
    shapes = sq10.output_shapes()
    # Caffe arithmetic: 227 -7/2-> 111 -pool-> 55; fire4 pool -> 27; fire8 pool -> 13; conv10 pad 1 -> 15 -> global.
    assert shapes["conv1"] == (96, 55, 55)
    assert shapes["fire4/conv3x3_2"] == (128, 27, 27)
    assert shapes["fire8/conv1x1_2"] == (256, 13, 13)
    assert shapes["fire9/conv3x3_2"] == (256, 13, 13)
    assert shapes["conv_final"] == (1000, 1, 1)
    assert sq10.layer("conv_final").inputs == ("fire9/conv1x1_2", "fire9/conv3x3_2")
    assert sq10.nnz == 415_921
    assert {layer.name: layer.nnz for layer in sq10.layers} == RELEASED_DC_NNZ
    assert all(len(layer.codebook) == 256 for layer in sq10.layers)
    assert sq10.input.shape == (3, 227, 227) and np.all(np.isfinite(sq10.input))


def test_squeezenet_11_shapes():
    wl = squeezenet("1.1", bits=4, seed=0)
    shapes = wl.output_shapes()
    assert shapes["conv1"] == (64, 56, 56)  # 227 -3/2-> 113 -pool-> 56
    assert shapes["fire3/conv1x1_2"] == (64, 28, 28)
    assert shapes["fire5/conv3x3_2"] == (128, 14, 14)
    assert shapes["conv_final"] == (1000, 1, 1)
    assert wl.layer("conv_final").padding == (0, 0)
    assert all(len(layer.codebook) == 16 for layer in wl.layers)


def test_no_stored_zero_weights(sq10):
    for layer in sq10.layers:
        assert np.all(layer.codebook[layer.codes] != 0)


def test_same_seed_same_bytes_different_seed_different(tmp_path):
    a = save_workload(squeezenet("1.1", 6, 5), tmp_path / "a.npz").read_bytes()
    b = save_workload(squeezenet("1.1", 6, 5), tmp_path / "b.npz").read_bytes()
    c = save_workload(squeezenet("1.1", 6, 6), tmp_path / "c.npz").read_bytes()
    assert a == b and a != c


def test_eie_fc_layer_exact_counts():
    wl = eie_fc_layer("t", 300, 200, 0.07, 0.4, bits=4, seed=2)
    layer = wl.layers[0]
    assert (layer.kind, layer.rows, layer.cols, layer.relu) == ("fc", 200, 300, False)
    assert layer.nnz == round(0.07 * 300 * 200)
    assert np.count_nonzero(wl.input) == 120 and np.all(wl.input >= 0) and wl.input.max() <= 1
    assert len(layer.codebook) == 16 and np.all(layer.codebook[layer.codes] != 0)


def test_benchmark_table_matches_reference():
    assert [(n, i, o) for n, i, o, _, _ in BENCHMARK_LAYERS] == [
        ("Alex-6", 9216, 4096), ("Alex-7", 4096, 4096), ("Alex-8", 4096, 1000), ("VGG-6", 25088, 4096),
        ("VGG-7", 4096, 4096), ("VGG-8", 4096, 1000), ("NT-We", 4096, 600), ("NT-Wd", 600, 8791),
        ("NT-LSTM", 1201, 2400)]


def test_benchmark_layer_from_registry():
    wl = make_workload("nt-we", seed=0)
    assert wl.layers[0].nnz == round(0.10 * 4096 * 600)
    assert np.count_nonzero(wl.input) == 4096


def test_registry_names_and_errors():
    names = workload_names()
    assert {"squeezenet-1.0", "squeezenet-1.1", "eie-fc", "alex-6", "vgg-8", "nt-lstm"} <= set(names)
    with pytest.raises(UsageError, match="unknown workload"):
        make_workload("resnet")
    with pytest.raises(UsageError):
        make_workload("eie-fc", **{"in": 10})
    with pytest.raises(UsageError):
        make_workload("squeezenet-1.0", depth=3)
    with pytest.raises(UsageError):
        make_workload("eie-fc", **{"in": 10, "out": 10, "weight_density": 1.5, "act_density": 0.5})


def test_embedded_default_regenerates_identically(tmp_path):
    """Run the command written in workloads/README.md and compare bytes with the shipped file."""
    readme = (ROOT / "workloads" / "README.md").read_text()
    cmd = re.search(r"eiesim (workload squeezenet-1\.0 [^\n]*-o workloads/squeezenet-1\.0-synthetic\.npz)", readme)
    assert cmd is not None
    argv = cmd.group(1).split()
    out = tmp_path / "regen.npz"
    argv[argv.index("-o") + 1] = str(out)
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0
    assert out.read_bytes() == DEFAULT.read_bytes()
    assert DEFAULT.stat().st_size < 3 * 1024 * 1024
    wl = load_workload(DEFAULT)
    assert wl.nnz == 415_921 and wl.input is not None


def test_eie_fc_accepts_a_layer_name(tmp_path):
    from eiesim.network.synthetic import make_workload

    wl = make_workload("eie-fc", name="X", **{"in": 64, "out": 32}, weight_density=0.25, act_density=0.5)
    assert wl.layers[0].name == "X" and wl.layers[0].cols == 64 and wl.layers[0].rows == 32


def test_structured_fc_layer_skews_columns_and_can_tie_activations_to_them():
    uniform = eie_fc_layer("s", 2000, 300, 0.1, 0.3, 4, 5)
    skewed = eie_fc_layer("s", 2000, 300, 0.1, 0.3, 4, 5, column_skew=1.0)
    tied = eie_fc_layer("s", 2000, 300, 0.1, 0.3, 4, 5, column_skew=1.0, act_follows_weights=True)
    for wl in (skewed, tied):
        layer = wl.layers[0]
        assert abs(layer.nnz / (2000 * 300) - 0.1) < 0.01          # close to the target density
        assert np.count_nonzero(wl.input) == 600                    # exactly round(0.3 * 2000)
        assert wl.extra["generator"]["column_skew"] == 1.0
    per_col = [np.bincount(w.layers[0].indices, minlength=2000) for w in (uniform, skewed, tied)]
    cv = [c.std() / c.mean() for c in per_col]
    assert cv[0] < 0.3 < 0.8 < cv[1]                                # binomial spread vs skew 1.0
    # Tied activations land on denser columns; untied ones see the average column.
    active = [per_col[k][np.flatnonzero(w.input)].mean() / per_col[k].mean() for k, w in ((1, skewed), (2, tied))]
    assert active[0] == pytest.approx(1.0, abs=0.15) and active[1] > 1.5
    with pytest.raises(ValueError, match="column_skew"):
        eie_fc_layer("s", 20, 30, 0.1, 0.3, column_skew=-1.0)


def test_the_network_graph_of_squeezenet(sq10):
    """The networkx graph: fire modules branch and concatenate in the topology's order, shapes on the nodes."""
    import networkx as nx

    from eiesim.network.workload import producers

    g = sq10.graph()
    assert nx.is_directed_acyclic_graph(g)
    assert list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["index"])) == [
        "input", *(layer.name for layer in sq10.layers)]
    assert producers(g, "fire3/conv1x1_1") == ["fire2/conv1x1_2", "fire2/conv3x3_2"]  # concat order
    assert sq10.consumers()["fire2/conv1x1_1"] == ["fire2/conv1x1_2", "fire2/conv3x3_2"]
    assert g.nodes["fire3/conv1x1_1"]["shape"] == (16, 55, 55) and g.nodes["input"]["shape"] == (3, 227, 227)
    assert sq10.input_shape_of(sq10.layer("fire3/conv1x1_1")) == (128, 55, 55)
