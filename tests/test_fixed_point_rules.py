"""The rules of docs/fixed-point.md on tiny arrays, with every expected integer worked out by hand.

Each test pins one rule at its edge: a value exactly at the largest 16-bit integer, an average
that ends in exactly .5, a pool window clipped by the map's edge, a maximum that is an exact
power of two, a positive overflow when quantizing. The expected values are literals (the
arithmetic is written beside them) or come from a brute-force search written in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from eiesim.network.fixed_point import LayerFormat, finish_layer, frac_bits_for, pool_fixed, quantize
from eiesim.network.functional import FixedPointPlan, forward, plan_fixed_point
from eiesim.network.workload import Pool, Workload, layer_from_dense


def _identity_fc(relu: bool):
    """A 1 x 1 fc layer with weight 1.0 and no bias: its output is its accumulator."""
    return layer_from_dense("fc", np.array([[1.0]], np.float32), codebook=np.array([1.0], np.float32),
                            kind="fc", relu=relu)


# -- saturation ---------------------------------------------------------------------------------

def test_relu_output_exactly_at_the_16_bit_maximum_is_not_a_saturation():
    # acc_frac 2, out_frac 0: the output is acc / 4 rounded half up, then ReLU clips to [0, 32767].
    fmt = LayerFormat(weight_frac=1, in_frac=1, out_frac=0)
    acc = np.array([131066, 131069, 131070, 400000, -400000, 6])
    # 131066 / 4 = 32766.5 -> 32767 (fits); 131069 / 4 = 32767.25 -> 32767 (fits);
    # 131070 / 4 = 32767.5 -> 32768 (saturates); 400000 / 4 = 100000 (saturates);
    # -400000 / 4 -> 0 by ReLU (a negative overflow is not counted); 6 / 4 = 1.5 -> 2.
    out, saturations = finish_layer(acc, _identity_fc(relu=True), fmt)
    assert out.tolist() == [32767, 32767, 32767, 32767, 0, 2]
    assert saturations == 2


def test_without_relu_both_ends_saturate_and_the_extremes_fit():
    fmt = LayerFormat(weight_frac=0, in_frac=0, out_frac=0)
    acc = np.array([32767, 32768, -32768, -32769, 5])
    out, saturations = finish_layer(acc, _identity_fc(relu=False), fmt)
    assert out.tolist() == [32767, 32767, -32768, -32768, 5]
    assert saturations == 2  # 32768 and -32769


def test_quantize_counts_positive_and_negative_overflows():
    # frac 15: 1.0 -> 32768 (over), -1.0 -> -32768 (fits), 0.5 -> 16384, 3.0 -> 98304 (over),
    # -3.0 -> -98304 (under), -1.5 -> -49152 (under).
    q, saturations = quantize(np.array([1.0, -1.0, 0.5, 3.0, -3.0, -1.5]), 15)
    assert q.tolist() == [32767, -32768, 16384, 32767, -32768, -32768]
    assert saturations == 4


def test_network_input_saturations_count_positive_overflows():
    """docs/fixed-point.md's worked example with the input format pinned one bit too fine (frac 14)."""
    layer = layer_from_dense("fc", np.array([[0.75, -0.3]], np.float32), codebook=np.array([-0.3, 0.75], np.float32),
                             bias=np.array([0.1], np.float32), kind="fc", relu=False)
    wl = Workload("ex", "t", (2,), None, [layer])
    plan = FixedPointPlan(16, 14, {"fc": LayerFormat(weight_frac=15, in_frac=14, out_frac=14)})
    # 2.5 * 2**14 = 40960 > 32767 (saturates); 1.2 * 2**14 = 19660.8 -> 19661 (fits).
    assert forward(wl, np.array([2.5, 1.2], np.float32), "fixed16", plan=plan).input_saturations == 1
    assert forward(wl, np.array([-2.5, 1.2], np.float32), "fixed16", plan=plan).input_saturations == 1


# -- pooling on integers --------------------------------------------------------------------------

def test_global_average_pool_rounds_half_up():
    x = np.array([[1, 0, 0, 0],    # 1 / 4 = 0.25  -> 0
                  [1, 1, 0, 0],    # 2 / 4 = 0.5   -> 1 (half up)
                  [3, 0, 0, 0],    # 3 / 4 = 0.75  -> 1
                  [5, 5, 5, 6],    # 21 / 4 = 5.25 -> 5
                  [-1, -1, 0, 0],  # -2 / 4 = -0.5 -> 0 (half up)
                  [-3, 0, 0, 0],   # -3 / 4 = -0.75 -> -1
                  [7, 7, 7, 7]],   # 7
                 dtype=np.int64).reshape(7, 2, 2)
    out = pool_fixed(x, Pool("global_avg"))
    assert out.shape == (7, 1, 1)
    assert out.reshape(-1).tolist() == [0, 1, 1, 5, 0, -1, 7]


def test_average_pool_window_clipped_by_the_edge_averages_the_values_inside():
    # A 2x2 / stride 2 pool on a 3x3 map in ceil mode: windows start at 0 and 2, the second one clipped.
    x = np.arange(1, 10, dtype=np.int64).reshape(1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    out = pool_fixed(x, Pool("avg", 2, 2, True))
    # (1+2+4+5)/4 = 3; (3+6)/2 = 4.5 -> 5; (7+8)/2 = 7.5 -> 8; 9/1 = 9.
    assert out.tolist() == [[[3, 5], [8, 9]]]
    assert pool_fixed(x, Pool("avg", 2, 2, False)).tolist() == [[[3]]]  # floor mode: only the full window


# -- choosing fractional bits -----------------------------------------------------------------------

def _most_frac_bits_by_search(max_abs: float) -> int:
    """The largest frac in [-16, 30] with max_abs * 2**frac <= 32767, by trying every one."""
    return max(f for f in range(-16, 31) if max_abs * 2.0 ** f <= 32767)


@pytest.mark.parametrize("max_abs, frac", [
    (1.0, 14),      # 2**14 = 16384 fits; 2**15 = 32768 does not
    (2.0, 13),
    (0.5, 15),
    (0.25, 16),
    (32768.0, -1),  # 16384 at frac -1
    (0.75, 15),     # not powers of two: 24576 at frac 15
    (3.0, 13),      # 24576 at frac 13
    (1.5, 14),
])
def test_fractional_bits_at_and_between_powers_of_two(max_abs, frac):
    assert frac_bits_for(max_abs) == frac == _most_frac_bits_by_search(max_abs)
    q, saturations = quantize(np.array([max_abs, -max_abs]), frac)
    assert saturations == 0 and q[0] <= 32767


def test_calibrated_input_whose_maximum_is_a_power_of_two_does_not_saturate():
    layer = layer_from_dense("fc", np.array([[0.5, 0.25]], np.float32), codebook=np.array([0.25, 0.5], np.float32),
                             kind="fc", relu=False)
    wl = Workload("p2", "t", (2,), None, [layer])
    x = np.array([2.0, -1.0], np.float32)
    plan = plan_fixed_point(wl, x)
    assert plan.input_frac == 13  # max |x| = 2.0 -> 16384 at frac 13
    assert plan.format("fc").weight_frac == 15  # max |w| = 0.5 -> 16384 at frac 15
    res = forward(wl, x, "fixed16")
    assert res.input_saturations == 0 and res.total_saturations == 0
    assert res.dequantized("fc")[0] == 0.75  # 0.5 * 2 - 0.25 * 1, exact in fixed point
