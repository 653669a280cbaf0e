"""The conv arithmetic kernel's two buffers: int32 when every weight and patch value fits, int64 otherwise.

``accumulate_conv`` picks its tile buffer from the values it is given; both paths must
give the exact integer products, wrapping modulo 2**64 like numpy's int64 arithmetic.
The reference is a dense int64 matrix product of the same CSR (numpy), a second method.
"""

from __future__ import annotations

import numpy as np
import pytest

from eiesim.timing.kernels import accumulate_conv

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def _csr(rng: np.random.Generator, rows: int, cols: int, codebook_size: int):
    dense_codes = rng.integers(0, codebook_size, size=(rows, cols)) * (rng.random((rows, cols)) < 0.4)
    indptr = np.zeros(rows + 1, np.int64)
    indices, codes = [], []
    for i in range(rows):
        nz = np.flatnonzero(dense_codes[i])
        indices.extend(nz)
        codes.extend(dense_codes[i, nz])
        indptr[i + 1] = len(indices)
    return indptr, np.asarray(indices, np.uint32), np.asarray(codes, np.uint8)


def _reference(patches, rows, indptr, indices, codes, codebook_q):
    weights = np.zeros((rows, patches.shape[0]), np.int64)
    for i in range(rows):
        for t in range(indptr[i], indptr[i + 1]):
            weights[i, indices[t]] += codebook_q[codes[t]]
    return weights @ patches  # (M, P) int64, wrapping like the kernel's sums


@pytest.mark.parametrize("case", ["small", "int32 edges", "wide patch", "wide weight", "int64 minimum"])
@pytest.mark.parametrize("tile", [1, 3, 512])
def test_both_buffers_give_the_exact_products(case: str, tile: int) -> None:
    rng = np.random.default_rng(27)
    rows, cols, pixels = 7, 11, 9
    indptr, indices, codes = _csr(rng, rows, cols, 6)
    codebook_q = np.zeros(256, np.int64)
    codebook_q[:6] = rng.integers(-300, 300, size=6)
    patches = rng.integers(-50, 50, size=(cols, pixels)) * (rng.random((cols, pixels)) < 0.6)
    patches = patches.astype(np.int64)
    if case == "int32 edges":  # still the int32 buffer: -2**31 and 2**31 - 1 fit
        codebook_q[1], codebook_q[2] = I32_MIN, I32_MAX
        patches[0, :], patches[1, :] = I32_MAX, I32_MIN
    elif case == "wide patch":
        patches[2, 4] = I32_MAX + 1
        patches[3, 0] = I32_MIN - 5
    elif case == "wide weight":
        codebook_q[3] = 1 << 40
    elif case == "int64 minimum":  # abs() of it overflows: the bound must not use abs
        patches[4, 1] = np.iinfo(np.int64).min
    acc = np.zeros((rows, pixels), np.int64)
    accumulate_conv(patches, rows, tile, indptr, indices, codes, codebook_q, acc)
    with np.errstate(over="ignore"):
        expected = _reference(patches, rows, indptr, indices, codes, codebook_q)
    np.testing.assert_array_equal(acc, expected)
