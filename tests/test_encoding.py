"""Per-PE encoding against a slow, obvious reference written from docs/timing-model.md section 1."""

from __future__ import annotations

import numpy as np
import pytest
from _support import doc_example_layer

from eiesim.config.arch import load_arch
from eiesim.encoding import encode_layer
from eiesim.network.workload import layer_from_dense

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
#: docs/timing-model.md section 4: local rows holding non-zeros, per PE and column.


def reference_encode(dense_codes: np.ndarray, num_pes: int, cap: int, rel_bits: int, bias=None):
    """{(block, pe): [(col, [(row, code, z), ...]) ...]} by the rules in words. ``dense_codes``: -1 = zero.

    ``bias`` (per row, or None for no bias column): each block gets column V, one entry (code 0) per row
    with a non-zero bias."""
    if bias is not None:
        dense_codes = np.concatenate([dense_codes, np.where(np.asarray(bias) != 0, 0, -1)[:, None]], axis=1)
    m, v = dense_codes.shape
    span = 1 << rel_bits
    out = {}
    for b in range(max(1, -(-m // cap))):
        for p in range(num_pes):
            rows = [i for i in range(b * cap, min(m, (b + 1) * cap)) if i % num_pes == p]
            cols = []
            for j in range(v):
                entries = []
                prev_local = -1
                for i in rows:
                    if dense_codes[i, j] < 0:
                        continue
                    local = (i % cap) // num_pes
                    z = local - prev_local - 1
                    while z > span - 1:
                        entries.append((-1, 0, span - 1))
                        z -= span
                    entries.append((i, int(dense_codes[i, j]), z))
                    prev_local = local
                cols.append((j, entries))
            out[(b, p)] = cols
    return out


def _random_layer(rng, m, v, density, n_codes=5):
    codes = np.where(rng.random((m, v)) < density, rng.integers(0, n_codes, (m, v)), -1)
    codebook = np.linspace(-1.0, 1.0, n_codes + 1)[1:].astype(np.float32)  # no zero value
    weights = np.where(codes >= 0, codebook[np.maximum(codes, 0)], 0.0)
    return codes, layer_from_dense("L", weights, codes_dense=np.maximum(codes, 0), codebook=codebook, kind="fc")


@pytest.mark.parametrize("bias_path", ["column", "output_path"])
@pytest.mark.parametrize("m,v,density,pes,regs,bits", [
    (16, 6, 0.4, 4, 4, 4),        # one block
    (70, 9, 0.3, 4, 4, 4),        # several row blocks (cap = 16)
    (300, 5, 0.05, 2, 200, 2),    # long zero runs with 2-bit indices -> much padding
    (9, 12, 0.0, 4, 4, 4),        # empty matrix
    (33, 7, 1.0, 1, 64, 4),       # dense, one PE
    (200, 3, 0.02, 1, 256, 4),    # zero runs > 15 and exactly 16/31/32 possible
])
def test_encoding_matches_reference(m, v, density, pes, regs, bits, bias_path):
    rng = np.random.default_rng(m * 1000 + v)
    codes, layer = _random_layer(rng, m, v, density)
    bias = np.where(rng.random(m) < 0.3, rng.normal(size=m), 0.0).astype(np.float32)  # long runs of zero bias
    layer = __import__("dataclasses").replace(layer, bias=bias)
    arch = load_arch(None, {"num_pes": pes, "act_regs_per_pe": regs, "rel_index_bits": bits, "ccu.bias": bias_path})
    enc = encode_layer(layer, arch)
    ref = reference_encode(codes, pes, pes * regs, bits, bias if bias_path == "column" else None)
    assert enc.stored_cols == v + (bias_path == "column")
    pad_total = np.zeros(pes, np.int64)
    for (b, p), cols in ref.items():
        for j, entries in cols:
            rows, cds, zs = enc.column_entries(p, b, j)
            assert list(zip(rows.tolist(), cds.tolist(), zs.tolist(), strict=True)) == entries, (b, p, j)
            pad_total[p] += sum(1 for e in entries if e[0] < 0)
    assert enc.padding_per_pe.tolist() == pad_total.tolist()
    # Stream order (block, column, row) and pointers consistent with entries per PE.
    for p in range(pes):
        stream = enc.pe_stream(p)[0]
        expected = [e[0] for b in range(enc.num_blocks) for _, es in ref[(b, p)] for e in es]
        assert stream.tolist() == expected
        assert enc.entries_per_pe[p] == len(expected)


def test_padding_example_from_the_doc():
    # docs/timing-model.md: entries at local rows 3 and 40 of one PE column, 4-bit indices.
    weights = np.zeros((4 * 50, 1), np.float32)
    weights[4 * 3, 0] = 1.0
    weights[4 * 40, 0] = 2.0
    layer = layer_from_dense("p", weights, codebook=np.array([1.0, 2.0]), kind="fc")
    enc = encode_layer(layer, load_arch(None, {"num_pes": 4, "act_regs_per_pe": 64}))
    rows, codes, z = enc.column_entries(0, 0, 0)
    assert rows.tolist() == [12, -1, -1, 160]
    assert z.tolist() == [3, 15, 15, 4]
    assert codes.tolist()[0] == 0 and codes.tolist()[3] == 1


def test_zero_runs_at_the_padding_boundary():
    # z = 15 needs no padding, z = 16 one, z = 31 one (+15), z = 32 two (+0).
    arch = load_arch(None, {"num_pes": 1, "act_regs_per_pe": 256})
    for z, pads, rest in ((15, 0, 15), (16, 1, 0), (31, 1, 15), (32, 2, 0)):
        w = np.zeros((z + 1, 1), np.float32)
        w[z, 0] = 1.0
        enc = encode_layer(layer_from_dense("z", w, codebook=np.array([1.0]), kind="fc"), arch)
        rows, _, zz = enc.column_entries(0, 0, 0)
        assert rows.tolist() == [-1] * pads + [z] and zz.tolist() == [15] * pads + [rest]


def test_doc_example_pointers_and_storage():
    arch = load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml")
    enc = encode_layer(doc_example_layer(), arch)
    # docs/timing-model.md section 4: V' + 1 = 8 pointers, the last column the bias column.
    assert enc.ptr[0, :, 0].tolist() == [0, 4, 6, 7, 7, 8, 9, 10]
    assert enc.ptr[0, :, 1].tolist() == [0, 1, 2, 2, 4, 4, 5, 5]
    assert enc.ptr[0, :, 2].tolist() == [0, 0, 0, 3, 4, 6, 6, 7]
    assert enc.ptr[0, :, 3].tolist() == [0, 1, 2, 3, 4, 5, 7, 7]
    # The bias entries: matrix rows 0 (PE 0, local row 0, z = 0) and 6 (PE 2, local row 1, z = 1).
    assert [e.tolist() for e in enc.column_entries(0, 0, 6)] == [[0], [0], [0]]
    assert [e.tolist() for e in enc.column_entries(2, 0, 6)] == [[6], [0], [1]]
    # 32-bit words hold four 8-bit entries: PE 0 has 10 entries -> 3 words = 12 bytes; the others 5, 7, 7.
    assert enc.spmat_bytes_per_pe.tolist() == [12, 8, 8, 8]
    # One block of 8 pointers of 16 bits.
    assert enc.ptr_bytes_per_pe.tolist() == [16, 16, 16, 16]
    no_bias = encode_layer(doc_example_layer(), load_arch(ROOT / "arch_configs" / "tiny-4pe.yaml",
                                                          ["ccu.bias=output_path"]))
    assert no_bias.ptr[0, :, 0].tolist() == [0, 4, 6, 7, 7, 8, 9] and no_bias.ptr_bytes_per_pe.tolist() == [14] * 4


def test_eight_bit_codes_pack_five_per_word():
    arch = load_arch(ROOT / "arch_configs" / "eie-64pe-8bit.yaml")
    assert arch.entries_per_word == 5
    w = np.zeros((64, 11), np.float32)
    w[0, :] = 1.0  # PE 0 holds 11 entries -> ceil(11/5) = 3 words of 8 bytes
    enc = encode_layer(layer_from_dense("w", w, codebook=np.array([1.0]), kind="fc"), arch)
    assert int(enc.spmat_bytes_per_pe[0]) == 24 and int(enc.spmat_bytes_per_pe[1]) == 0


def _count_with(kernel, layer, num_pes, regs, bits, biased):
    from eiesim.encoding import csr_arrays

    cap = num_pes * regs
    blocks = max(1, -(-layer.rows // cap))
    indptr, indices, _ = csr_arrays(layer)
    stride = layer.cols + (biased.shape[0] > 0)
    nbv = blocks * stride
    out = (np.empty((num_pes, nbv + 1), np.int32), np.zeros(nbv, np.int64), np.zeros(num_pes, np.int64),
           np.zeros(num_pes, np.int64))
    kernel(indptr, indices, biased, layer.rows, layer.cols, stride, num_pes, cap, blocks, bits, 0, num_pes, *out)
    return out


@pytest.mark.parametrize("regs", [1, 5, 16, 17, 33, 64])
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6, 16])
def test_mask_and_packed_counting_kernels_agree(regs, bits):
    """The two counting algorithms (bit masks for blocks of <= 64 rows, packed state for any) agree,
    and both agree with the entries the fill pass writes."""
    from eiesim.encoding import bias_rows, kernels

    rng = np.random.default_rng(regs * 100 + bits)
    for density in (0.01, 0.05, 0.3, 0.9):
        pes = 3
        _, layer = _random_layer(rng, 7 * pes * regs + 5, 11, density)  # several row blocks, a partial last one
        layer = __import__("dataclasses").replace(layer, bias=np.where(rng.random(layer.rows) < density, 1.0, 0.0))
        arch = load_arch(None, {"num_pes": pes, "act_regs_per_pe": regs, "rel_index_bits": bits})
        biased = bias_rows(layer, arch)
        masked = _count_with(kernels.count_entries_masked, layer, pes, regs, bits, biased)
        packed = _count_with(kernels.count_entries_packed, layer, pes, regs, bits, biased)
        for a, b in zip(masked, packed, strict=True):
            assert np.array_equal(a, b)
        enc = encode_layer(layer, arch)
        padding = np.array([int((enc.pe_stream(p)[0] < 0).sum()) for p in range(pes)])
        assert np.array_equal(masked[2], padding)
        assert np.array_equal(masked[3], enc.entries_per_pe)


def test_layout_rejects_column_indices_outside_the_matrix():
    from eiesim.encoding import layout_layer
    from eiesim.errors import WorkloadError

    layer = layer_from_dense("w", np.ones((4, 3), np.float32), codebook=np.array([1.0]), kind="fc")
    bad = __import__("dataclasses").replace(layer, indices=np.where(layer.indices == 2, 7, layer.indices))
    with pytest.raises(WorkloadError, match="column indices"):
        layout_layer(bad, load_arch(None, {"num_pes": 2}))


def test_the_encoding_does_not_import_the_timing_engines():
    """The encoding is one room: the engines use it, it never uses them (no import cycle)."""
    import subprocess
    import sys

    code = ("import sys, eiesim.encoding; "
            "print(sorted(m for m in sys.modules if m.startswith('eiesim.timing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
