"""Mutations of the 16-bit fixed-point datapath (eiesim/network/fixed_point.py; rules in docs/fixed-point.md)."""

_FILE = "tests/test_fixed_point_rules.py::"

MUTATIONS = [
    {
        "id": "relu_saturation_counts_max",
        "file": "eiesim/network/fixed_point.py",
        "old": "sat = int(np.count_nonzero(out > hi))",
        "new": "sat = int(np.count_nonzero(out >= hi))",
        "tests": [_FILE + "test_relu_output_exactly_at_the_16_bit_maximum_is_not_a_saturation"],
        "why": "with ReLU, an output exactly at the largest 16-bit value (32767) fits: it is not a saturation",
    },
    {
        "id": "global_avg_pool_truncates",
        "file": "eiesim/network/fixed_point.py",
        "old": "return ((2 * s + n) // (2 * n)).reshape(c, 1, 1)",
        "new": "return (s // n).reshape(c, 1, 1)",
        "tests": [_FILE + "test_global_average_pool_rounds_half_up"],
        "why": "the integer global average is rounded half up, not floored",
    },
    {
        "id": "avg_pool_clipped_window_by_k2",
        "file": "eiesim/network/fixed_point.py",
        "old": "    return np.minimum(starts + pool.kernel, n) - np.maximum(starts, 0)",
        "new": "    return np.full(out, pool.kernel)",
        "tests": [_FILE + "test_average_pool_window_clipped_by_the_edge_averages_the_values_inside"],
        "why": "a window clipped at the map's edge (ceil mode) averages the values inside it, not k*k",
    },
    {
        "id": "frac_bits_ceil_log2",
        "file": "eiesim/network/fixed_point.py",
        "old": "int_bits = math.floor(math.log2(max_abs)) + 1",
        "new": "int_bits = math.ceil(math.log2(max_abs))",
        "tests": [_FILE + "test_fractional_bits_at_and_between_powers_of_two",
                  _FILE + "test_calibrated_input_whose_maximum_is_a_power_of_two_does_not_saturate"],
        "why": "at an exact power of two, ceil(log2) gives one integer bit too few and the maximum overflows",
    },
    {
        "id": "quantize_counts_only_negatives",
        "file": "eiesim/network/fixed_point.py",
        "old": "    return int(np.count_nonzero(v < lo)) + int(np.count_nonzero(v > hi))",
        "new": "    return int(np.count_nonzero(v < lo))",
        "tests": [_FILE + "test_quantize_counts_positive_and_negative_overflows",
                  _FILE + "test_network_input_saturations_count_positive_overflows"],
        "why": "quantizing (the network input among others) must count positive overflows too",
    },
    {
        "id": "short_path_ignores_positive_overflow",
        "file": "eiesim/network/fixed_point.py",
        "old": "    return bool(v.size) and bool(lo <= v.min()) and bool(v.max() <= hi)",
        "new": "    return bool(v.size) and bool(lo <= v.min())",
        "tests": [_FILE + "test_network_input_saturations_count_positive_overflows",
                  "tests/test_small_array_paths.py::test_quantize_is_the_plain_formula"],
        "why": "the no-saturation short path may be taken only when no value lies above the range either",
    },
]
