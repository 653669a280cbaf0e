"""The shortcuts ``simulate`` takes on small arrays give numpy's plain numbers.

Each expectation is the plain numpy formula, written out here as it stood before the
shortcut (``np.clip`` and one count of both sides; ``a.max()`` / ``a.mean()``), run on
inputs that reach every branch: values inside and outside the range, NaN and infinities,
scalars, empty arrays and other dtypes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eiesim.network.fixed_point import quantize, saturate
from eiesim.run.simulate import _max_mean


def _plain_quantize(x, frac: int, bits: int = 16):  # noqa: ANN001, ANN202
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    scaled = np.floor(np.asarray(x, dtype=np.float64) * (2.0 ** frac) + 0.5)
    sat = int(np.count_nonzero((scaled < lo) | (scaled > hi)))
    return np.clip(scaled, lo, hi).astype(np.int64), sat


def _plain_saturate(v, bits: int = 16):  # noqa: ANN001, ANN202
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    sat = int(np.count_nonzero((v < lo) | (v > hi)))
    return np.clip(v, lo, hi), sat


_RNG = np.random.default_rng(27)
_FLOATS = [
    _RNG.normal(size=1000).astype(np.float32) * 100,  # inside the 16-bit range at small fracs
    _RNG.normal(size=(3, 4, 5)) * 1e5,  # some values saturate
    np.array([np.nan, 0.5]), np.array([np.inf, 1.0]), np.array([-np.inf]),
    np.zeros(0), np.array([-0.0, -0.2, 0.49999999999999994, -0.5]),
    3.7, np.float32(-2.5), np.array(1e9),  # scalars and a 0-d array
]


@pytest.mark.parametrize("index", range(len(_FLOATS)))
@pytest.mark.parametrize("frac", [-3, 0, 7, 14, 40])
@pytest.mark.parametrize("bits", [8, 16, 62])
def test_quantize_is_the_plain_formula(index: int, frac: int, bits: int):
    x = _FLOATS[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN cast to int: numpy warns in both
        got, want = quantize(x, frac, bits), _plain_quantize(x, frac, bits)
    assert type(got[0]) is type(want[0]) and got[0].dtype == want[0].dtype and got[0].shape == want[0].shape
    assert np.array_equal(got[0], want[0]) and got[1] == want[1]


@pytest.mark.parametrize("v", [
    _RNG.integers(-40000, 40000, 1000), _RNG.integers(-100, 100, (3, 4)), np.zeros(0, np.int64),
    _RNG.integers(-100, 100, 5).astype(np.int32), np.array([1 << 40, -(1 << 40)]),
])
def test_saturate_is_the_plain_formula(v: np.ndarray):
    got, want = saturate(v), _plain_saturate(v)
    assert got[0].dtype == want[0].dtype and np.array_equal(got[0], want[0]) and got[1] == want[1]
    assert got[0] is not v  # a new array, as np.clip gives


@pytest.mark.parametrize("values", [
    _RNG.integers(0, 70_000, 64), _RNG.integers(0, 1 << 31, 4096), np.full(64, 1234, dtype=np.int64),
    np.array([7], dtype=np.int64), _RNG.integers(0, 1 << 20, 63).astype(np.int32),
])
def test_max_mean_is_numpys(values: np.ndarray):
    top, mean = _max_mean(values)
    assert (top, mean) == (int(values.max()), float(values.mean()))
    assert type(top) is int and type(mean) is float
