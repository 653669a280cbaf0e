"""Load-balance-aware pruning (ESE): per-PE counts by an independent count, the density, the CLI option."""

from __future__ import annotations

import numpy as np
import pytest
from _support import run_exit_code as _run

from eiesim.errors import UsageError
from eiesim.network.balance import balanced_quotas, prune_balanced, prune_balanced_columns
from eiesim.network.compress import compress_layer, prune_to_density
from eiesim.network.dense import DenseLayer, DenseModel, save_dense
from eiesim.network.topologies import LayerSpec
from eiesim.network.workload_file import load_workload


def _count_by_loop(mask: np.ndarray, num_pes: int) -> list[int]:
    """Non-zeros per PE with a plain loop over every row and element (row r on PE r mod N)."""
    counts = [0] * num_pes
    rows = mask.reshape(mask.shape[0], -1)
    for r in range(rows.shape[0]):
        for value in rows[r]:
            if value:
                counts[r % num_pes] += 1
    return counts


@pytest.mark.parametrize("rows, cols, num_pes, density, seed", [
    (64, 50, 8, 0.1, 0), (67, 33, 8, 0.25, 1), (10, 40, 4, 0.07, 2), (30, 30, 64, 0.5, 3), (128, 9, 16, 0.33, 4)])
def test_every_pe_keeps_the_same_count_at_the_same_density(rows, cols, num_pes, density, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(rows, cols)).astype(np.float32)
    mask = prune_balanced(w, density, num_pes)
    assert int(mask.sum()) == round(density * rows * cols)  # the overall density of magnitude pruning
    counts = _count_by_loop(mask, num_pes)
    holding = [c for pe, c in enumerate(counts) if pe < rows]  # PEs without rows hold nothing
    assert max(holding) - min(holding) <= 1
    assert all(c == 0 for pe, c in enumerate(counts) if pe >= rows)


def test_plain_pruning_is_unbalanced_on_the_same_matrix():
    # Rows of PE 0 have large weights: magnitude pruning piles the kept weights there, ESE does not.
    rng = np.random.default_rng(7)
    w = rng.uniform(0.1, 1.0, size=(32, 20))
    w[::4] += 10
    plain = _count_by_loop(prune_to_density(w, 0.2), 4)
    balanced = _count_by_loop(prune_balanced(w, 0.2, 4), 4)
    assert plain == [128, 0, 0, 0]  # PE 0's 160 weights all outrank the others; the budget is 0.2 x 640 = 128
    assert balanced == [32, 32, 32, 32]


def test_each_pe_keeps_its_own_largest_weights():
    w = np.array([[5.0, -1.0, 0.5],    # PE 0
                  [0.2, 0.1, -0.3],    # PE 1
                  [4.0, -6.0, 0.25],   # PE 0
                  [0.4, 0.05, 0.06]])  # PE 1
    mask = prune_balanced(w, 0.5, 2)  # 6 of 12: 3 per PE
    assert mask.astype(int).tolist() == [[1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 0, 0]]


def test_a_pe_short_of_weights_keeps_all_and_the_others_share_the_rest():
    # PE 1 has 2 non-zeros; 9 kept of 16: PE 1 keeps 2, the 7 left go 4 and 3 to PEs 0 and 2 (index order).
    assert balanced_quotas(np.array([8, 2, 8]), 9).tolist() == [4, 2, 3]
    assert balanced_quotas(np.array([5, 5]), 10).tolist() == [5, 5]
    assert balanced_quotas(np.array([0, 3, 3]), 5).tolist() == [0, 3, 2]


def test_zeros_are_never_kept_and_ties_keep_earlier_positions():
    w = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    mask = prune_balanced(w, 0.75, 2)  # 6 wanted, 4 non-zeros: all of them
    assert mask.astype(int).tolist() == [[1, 1, 1, 0], [0, 0, 0, 1]]
    assert prune_balanced(np.ones((1, 5)), 0.4, 1).astype(int).tolist() == [[1, 1, 0, 0, 0]]


@pytest.mark.parametrize("density, pes", [(1.5, 4), (-0.1, 4), (0.5, 0)])
def test_bad_arguments(density, pes):
    with pytest.raises(UsageError):
        prune_balanced(np.ones((4, 4)), density, pes)


def test_compress_layer_balances_conv_rows():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(24, 3, 3, 3)).astype(np.float32)
    layer = compress_layer("c", w, None, density=0.3, bits=4, balance_pes=8)
    per_row = np.diff(layer.indptr)
    counts = [int(per_row[pe::8].sum()) for pe in range(8)]
    assert sum(counts) == round(0.3 * w.size) and max(counts) - min(counts) <= 1


def test_compress_cli_balance_pes(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.normal(size=(20, 16)).astype(np.float32)
    w[::4] *= 8
    dense = tmp_path / "dense.npz"
    save_dense(DenseModel("m", "test", (16,), None,
                          [DenseLayer(LayerSpec("fc1", "fc", 16, 20, relu=False), w[:, :, None, None], np.zeros(20, np.float32))]), dense)
    out = tmp_path / "wl.npz"
    assert _run(["compress", str(dense), "-o", str(out), "--density", "0.25", "--balance-pes", "4", "--bits", "4"]) == 0
    wl = load_workload(out)
    per_row = np.diff(wl.layers[0].indptr)
    assert [int(per_row[pe::4].sum()) for pe in range(4)] == [20, 20, 20, 20]
    assert wl.extra["compress"]["balance_pes"] == 4
    assert _run(["compress", str(dense), "-o", str(out), "--balance-pes", "0"]) == 2


def _column_counts_by_loop(mask: np.ndarray, num_pes: int) -> list[list[int]]:
    """counts[j][p]: non-zeros of column j on PE p, by a plain loop."""
    rows = mask.reshape(mask.shape[0], -1)
    counts = [[0] * num_pes for _ in range(rows.shape[1])]
    for r in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            if rows[r, j]:
                counts[j][r % num_pes] += 1
    return counts


@pytest.mark.parametrize("rows, cols, num_pes, density, seed", [(64, 30, 8, 0.2, 0), (50, 17, 4, 0.35, 1),
                                                                 (96, 12, 16, 0.1, 2)])
def test_per_column_balance(rows, cols, num_pes, density, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(rows, cols))
    w[:, ::3] *= 5  # columns of different importance: magnitude pruning keeps more of them
    plain = prune_to_density(w, density)
    mask = prune_balanced_columns(w, plain, num_pes)
    assert mask.sum(axis=0).tolist() == plain.sum(axis=0).tolist()  # every column keeps its own count
    for per_pe in _column_counts_by_loop(mask, num_pes):
        assert max(per_pe) - min(per_pe) <= 1
    totals = _count_by_loop(mask, num_pes)
    assert max(totals) - min(totals) <= 2 + cols // num_pes  # remainders rotate over the PEs


def test_per_column_keeps_each_pes_largest_in_the_column():
    w = np.array([[9.0], [1.0], [8.0], [2.0], [0.5], [3.0]])  # PEs 0, 1, 0, 1, 0, 1 (two PEs)
    plain = np.array([[True], [False], [True], [False], [True], [False]])  # 3 kept in the column, all on PE 0
    assert prune_balanced_columns(w, plain, 2).ravel().astype(int).tolist() == [1, 0, 1, 0, 0, 1]


def test_compress_cli_balance_columns_needs_balance_pes(tmp_path):
    dense = tmp_path / "dense.npz"
    save_dense(DenseModel("m", "test", (8,), None, [DenseLayer(LayerSpec("fc1", "fc", 8, 8, relu=False),
                                                               np.ones((8, 8, 1, 1), np.float32),
                                                               np.zeros(8, np.float32))]), dense)
    assert _run(["compress", str(dense), "-o", str(tmp_path / "w.npz"), "--balance-columns"]) == 2
    assert _run(["compress", str(dense), "-o", str(tmp_path / "w.npz"), "--density", "0.5", "--balance-pes", "2",
                 "--balance-columns", "--bits", "2"]) == 0
