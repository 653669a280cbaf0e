"""Deep Compression steps: pruning, k-means sharing, storage and Huffman sizes, dense format, compress CLI."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from _support import run_exit_code as _run
from hypothesis import given, settings
from hypothesis import strategies as st

from eiesim.errors import ModelFileError, UsageError
from eiesim.network.compress import (
    compress_layer,
    huffman_code_lengths,
    kmeans_share,
    padding_entries,
    prune_to_density,
    relative_index_streams,
    storage_report,
)
from eiesim.network.dense import dense_from_workload, load_dense, save_dense
from eiesim.network.synthetic import eie_fc_layer
from eiesim.network.workload_file import load_workload

SHARED = Path(__file__).resolve().parents[2] / "shared"
NET = SHARED / "models" / "squeezenet_dc" / "compressed_SqueezeNet.net"


# -- pruning -----------------------------------------------------------------------

def test_prune_keeps_exact_count_of_largest():
    w = np.array([[0.1, -3.0, 0.5], [2.0, -0.05, 1.0]])
    mask = prune_to_density(w, 0.5)
    assert mask.tolist() == [[False, True, False], [True, False, True]]


def test_prune_ties_keep_earlier_positions():
    mask = prune_to_density(np.ones(10), 0.35)  # round(3.5) = 4
    assert mask.tolist() == [True] * 4 + [False] * 6


def test_prune_equals_a_stable_sort_by_magnitude_with_many_ties():
    # The slow obvious reference: sort positions by decreasing |w| (stable: earlier position first).
    rng = np.random.default_rng(4)
    for trial in range(200):
        n = int(rng.integers(1, 60))
        w = rng.integers(-4, 5, size=n).astype(np.float32) * (0.5 if trial % 2 else 1.0)  # many equal magnitudes
        if trial % 5 == 0:  # float32 magnitudes one step apart, and the same values in float64 and float16
            w = (np.float32(1) + np.arange(n, dtype=np.float32) % 3 * np.finfo(np.float32).eps) * np.sign(w)
            w = w.astype([np.float32, np.float64][trial % 2])
        if trial % 7 == 0:
            w = w.astype(np.float16)
        density = float(rng.random())
        keep = int(round(density * n))
        order = sorted(range(n), key=lambda i: (-abs(float(w[i])), i))
        expected = np.zeros(n, bool)
        expected[order[:keep]] = True
        np.testing.assert_array_equal(prune_to_density(w, density), expected)


@pytest.mark.parametrize("density", [-0.1, 1.5, float("nan")])
def test_prune_rejects_bad_density(density):
    with pytest.raises(UsageError):
        prune_to_density(np.ones(4), density)


# -- k-means --------------------------------------------------------------------------

def slow_kmeans(values: np.ndarray, bits: int, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Textbook Lloyd loop: nearest centroid (ties to the upper), mean update, empty clusters stay."""
    v = [float(x) for x in np.asarray(values, dtype=np.float32)]
    k = 2 ** bits
    lo, hi = min(v), max(v)
    cents = [lo + (hi - lo) * i / (k - 1) for i in range(k)]

    def nearest(x: float) -> int:
        best = 0
        for c in range(1, k):
            if abs(x - cents[c]) <= abs(x - cents[best]):
                best = c
        return best

    for _ in range(iters):
        groups: list[list[float]] = [[] for _ in range(k)]
        for x in v:
            groups[nearest(x)].append(x)
        cents = [sum(g) / len(g) if g else cents[i] for i, g in enumerate(groups)]
    return np.array(cents), np.array([nearest(x) for x in v])


def test_kmeans_matches_slow_reference():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(-1, 0.1, 300), rng.normal(0.5, 0.2, 200), rng.normal(2, 0.05, 100)])
    cb, codes = kmeans_share(values.astype(np.float32), 3, iters=10)
    ref_cb, ref_codes = slow_kmeans(values, 3, iters=10)
    np.testing.assert_allclose(cb, ref_cb, rtol=1e-5, atol=1e-6)
    assert np.array_equal(codes, ref_codes)
    assert cb.dtype == np.float32 and codes.dtype == np.uint8 and len(cb) == 8


def test_kmeans_recovers_well_separated_clusters():
    values = np.array([-2.0] * 5 + [1.0] * 3 + [4.0] * 7, dtype=np.float32)
    cb, codes = kmeans_share(values, 2)
    assert np.array_equal(cb[codes], values)


def test_kmeans_never_uses_a_zero_centroid():
    # Linear init puts centroids at -1 and 10; the cluster {-1, 1} has mean exactly 0.
    cb, codes = kmeans_share(np.array([-1.0, 1.0, 10.0], dtype=np.float32), 1)
    assert np.all(cb[codes] != 0)
    assert cb[codes].tolist() == [-1.0, -1.0, 10.0]


def test_kmeans_rejects_zero_values():
    with pytest.raises(UsageError):
        kmeans_share(np.array([0.0, 1.0]), 2)


def test_kmeans_16_bit_codes():
    cb, codes = kmeans_share(np.linspace(1, 2, 1000, dtype=np.float32), 9)
    assert len(cb) == 512 and codes.dtype == np.uint16


# -- compress_layer and storage -----------------------------------------------------------

def test_compress_layer_stores_pruned_nonzeros_in_csr_order():
    w = np.zeros((2, 1, 2, 2), np.float32)
    w[0, 0, 1, 1] = 3.0
    w[1, 0, 0, 0] = -1.0
    w[1, 0, 1, 0] = 0.01
    layer = compress_layer("l", w, np.array([1.0, 2.0]), density=0.5, bits=2)  # keep 4 largest, 2 are zero
    assert layer.indptr.tolist() == [0, 1, 3]
    assert layer.indices.tolist() == [3, 0, 2]
    np.testing.assert_allclose(layer.dense_weights(), w)


def test_storage_report_hand_computed():
    # One row of 40 columns with non-zeros at 0, 20, 39: gaps 0, 19, 18 -> 1 + 1 padding entries at 4-bit indices.
    w = np.zeros((1, 40), np.float32)
    w[0, [0, 20, 39]] = [1.0, 2.0, 3.0]
    layer = compress_layer("fc", w, None, density=1.0, bits=2, kind="fc")
    assert padding_entries(layer, 4) == 2
    assert padding_entries(layer, 5) == 0
    codes, index = relative_index_streams(layer, 4)
    assert index.tolist() == [0, 3, 2, 15, 15]
    r = storage_report(layer, 4)
    assert (r["nnz"], r["padding_entries"], r["stored_entries"], r["code_bits"]) == (3, 2, 5, 2)
    assert r["codes_stream_bits"] == 10 and r["index_stream_bits"] == 20
    # ceil(10/8) + ceil(20/8) + 4 codebook floats + 1 bias float
    assert r["total_bytes"] == 2 + 3 + 16 + 4
    assert r["dense_bytes"] == 4 * 41


def test_huffman_lengths_known_example():
    assert huffman_code_lengths({"a": 5, "b": 2, "c": 1, "d": 1}) == {"a": 1, "b": 2, "c": 3, "d": 3}
    assert huffman_code_lengths({"x": 7}) == {"x": 1}


def test_huffman_is_optimal_on_small_alphabets():
    """Against brute force over all complete prefix codes for 4 symbols (length multisets)."""
    freqs = {0: 10, 1: 7, 2: 3, 3: 3}
    lengths = huffman_code_lengths(freqs)
    assert sum(2.0 ** -n for n in lengths.values()) == 1.0
    best = min(sum(f * n for f, n in zip(freqs.values(), combo))
               for combo in itertools.product(range(1, 4), repeat=4) if sum(2.0 ** -n for n in combo) <= 1)
    assert sum(freqs[s] * lengths[s] for s in freqs) == best


# -- dense format ------------------------------------------------------------------------------

def _small_dense(tmp_path: Path) -> Path:
    wl = eie_fc_layer("fc", 64, 32, 0.3, 0.5, bits=4, seed=1)
    return save_dense(dense_from_workload(wl), tmp_path / "dense.npz")


def test_dense_round_trip(tmp_path):
    wl = eie_fc_layer("fc", 64, 32, 0.3, 0.5, bits=4, seed=1)
    model = load_dense(save_dense(dense_from_workload(wl), tmp_path / "d.npz"))
    assert model.layers[0].weight.shape == (32, 64, 1, 1)
    np.testing.assert_array_equal(model.layers[0].weight.reshape(32, 64), wl.layers[0].weights_csr().toarray())
    np.testing.assert_array_equal(model.input, wl.input)


def _rewrite(src: Path, dst: Path, **changes) -> Path:
    with np.load(src, allow_pickle=False) as f:
        members = {k: f[k] for k in f.files}
    members.update(changes)
    for k in [k for k, v in changes.items() if v is None]:
        del members[k]
    np.savez(dst, **members)
    return dst


@pytest.mark.parametrize("change, match", [
    ({"L0.weight": np.zeros((32, 63, 1, 1), np.float32)}, "shape"),
    ({"L0.bias": None}, "missing"),
    ({"L0.weight": np.full((32, 64, 1, 1), np.nan, np.float32)}, "NaN"),
    ({"format": np.array("eiesim-workload")}, "format"),
    ({"meta": np.array("{not json")}, "JSON"),
])
def test_dense_errors(tmp_path, change, match):
    bad = _rewrite(_small_dense(tmp_path), tmp_path / "bad.npz", **change)
    with pytest.raises(ModelFileError, match=match) as info:
        load_dense(bad)
    assert info.value.source == str(bad)


def test_dense_pickle_refused(tmp_path):
    src = _small_dense(tmp_path)
    bad = tmp_path / "pickled.npz"
    with np.load(src) as f:
        members = {k: f[k] for k in f.files}
    members["L0.bias"] = np.array([object()] * 32, dtype=object)
    np.savez(bad, **members)
    with pytest.raises(ModelFileError, match="pickle"):
        load_dense(bad)


# -- compress CLI -------------------------------------------------------------------------------

def test_compress_cli_prunes_per_layer(tmp_path, capsys):
    dense = _small_dense(tmp_path)
    out = tmp_path / "c.npz"
    main_rc = _run(["compress", str(dense), "-o", str(out), "--density", "fc=0.1", "--bits", "3"])
    assert main_rc == 0
    wl = load_workload(out)
    assert wl.layers[0].nnz == round(0.1 * 64 * 32) and len(wl.layers[0].codebook) == 8
    assert "model size" in capsys.readouterr().out


def test_compress_cli_bad_density(tmp_path, capsys):
    dense = _small_dense(tmp_path)
    assert _run(["compress", str(dense), "-o", str(tmp_path / "c.npz"), "--density", "nolayer=0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nolayer" in err[0]


def test_compress_cli_unknown_suffix(tmp_path, capsys):
    p = tmp_path / "model.xyz"
    p.write_bytes(b"abc")
    assert _run(["compress", str(p), "-o", str(tmp_path / "c.npz")]) == 2
    assert "unknown dense model type" in capsys.readouterr().err


@pytest.mark.skipif(not NET.is_file(), reason="the bundled Deep-Compression SqueezeNet is missing")
@pytest.mark.parametrize("bits", [8, 6])
def test_real_model_size(tmp_path, bits, capsys):
    """export-dense then compress (no extra pruning): 8 bits within 10 % of the published 0.66 MB."""
    wl_path, dense, out = tmp_path / "dc.npz", tmp_path / "dense.npz", tmp_path / f"c{bits}.npz"
    assert _run(["import-dc", str(NET), "-o", str(wl_path)]) == 0
    assert _run(["export-dense", str(wl_path), "-o", str(dense)]) == 0
    assert _run(["compress", str(dense), "-o", str(out), "--bits", str(bits)]) == 0
    capsys.readouterr()
    assert _run(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    total = info["totals"]["storage_bytes"]
    assert info["totals"]["nnz"] == 415_921 and info["totals"]["padding_entries"] == 6_162
    # Entries (non-zeros + padding) x (bits + 4) + 26 codebooks of 2**bits floats + 3,976 float biases.
    assert abs(total - (422_083 * (bits + 4) / 8 + 26 * 4 * 2**bits + 4 * 3_976)) <= 26 * 2
    if bits == 8:
        assert abs(total / 0.66e6 - 1) < 0.10
    assert info["totals"]["huffman_bytes"] < total
    assert math.isfinite(total)


# -- property: padding count against a slow walk ------------------------------------------------


def slow_padding(flat_nonzero: list[bool], index_bits: int) -> int:
    """Walk the flattened layer, emitting a padding entry whenever the zero run would overflow the index."""
    limit = 2 ** index_bits - 1
    run = pads = 0
    for nz in flat_nonzero:
        if nz:
            run = 0
        elif run == limit:
            # Deep Compression's filler: this zero becomes a stored (padding) entry.
            pads += 1
            run = 0
        else:
            run += 1
    # Trailing zeros after the last non-zero are never stored.
    trailing = 0
    for nz in reversed(flat_nonzero):
        if nz:
            break
        trailing += 1
    pads -= sum(1 for k in range(1, trailing + 1) if k % (limit + 1) == 0)
    return pads


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 60), density=st.floats(0.0, 1.0), seed=st.integers(0, 1000),
       index_bits=st.integers(1, 5))
def test_padding_matches_slow_walk(rows, cols, density, seed, index_bits):
    rng = np.random.default_rng(seed)
    w = np.where(rng.random((rows, cols)) < density, rng.uniform(0.5, 1.0, (rows, cols)), 0.0).astype(np.float32)
    layer = compress_layer("p", w, None, density=1.0, bits=2, kind="fc")
    assert padding_entries(layer, index_bits) == slow_padding(list(w.ravel() != 0), index_bits)
