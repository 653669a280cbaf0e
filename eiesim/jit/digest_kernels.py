"""The Numba kernel behind ``eiesim.run.content_cache``'s content digests.

``mix_words`` folds a buffer of 64-bit words into two 64-bit values (eight lanes of a
multiply-xorshift per word and lane, in the spirit of FNV / MurmurHash's finalizer):
about one pass over memory, so that a layer of a million entries is fingerprinted in
about a millisecond where ``hashlib`` needs ten. It is not cryptographic: it names the
contents of eiesim's own arrays for its in-process caches, where an accidental collision
of two 128-bit values is the only risk. Kernels take arrays and plain numbers only and
are compiled with ``cache=True``; call them through ``eiesim.run.content_cache``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _mix(h, w, mul, shift):  # noqa: ANN001, ANN202 - a Numba kernel
    """One step of a lane: fold word ``w`` into ``h`` (xor, multiply, xorshift)."""
    h = (h ^ w) * mul
    return h ^ (h >> shift)


@njit(cache=True, nogil=True)
def mix_words(words, seed_a, seed_b):  # noqa: ANN001, ANN201 - a Numba kernel
    """Two 64-bit values mixed from every word of ``words`` (uint64), started at the two seeds.

    Eight independent lanes take every eighth word (so that the multiplications overlap in
    the CPU instead of waiting on each other: a lane's step is a chain of about five cycles,
    eight lanes keep the multiplier busy), then fold into the two results together with the
    word count.
    """
    mul_a = np.uint64(0x9E3779B97F4A7C15)
    mul_b = np.uint64(0xC2B2AE3D27D4EB4F)
    s29 = np.uint64(29)
    s31 = np.uint64(31)
    h0 = np.uint64(seed_a)
    h1 = np.uint64(seed_b)
    h2 = np.uint64(seed_a) ^ mul_b
    h3 = np.uint64(seed_b) ^ mul_a
    h4 = np.uint64(seed_a) + mul_a
    h5 = np.uint64(seed_b) + mul_b
    h6 = np.uint64(seed_a) ^ s29
    h7 = np.uint64(seed_b) ^ s31
    n = words.shape[0]
    full = n - n % 8
    for i in range(0, full, 8):
        h0 = _mix(h0, words[i], mul_a, s29)
        h1 = _mix(h1, words[i + 1], mul_b, s31)
        h2 = _mix(h2, words[i + 2], mul_a, s31)
        h3 = _mix(h3, words[i + 3], mul_b, s29)
        h4 = _mix(h4, words[i + 4], mul_a, s29)
        h5 = _mix(h5, words[i + 5], mul_b, s31)
        h6 = _mix(h6, words[i + 6], mul_a, s31)
        h7 = _mix(h7, words[i + 7], mul_b, s29)
    for i in range(full, n):
        h0 = _mix(h0, words[i], mul_b, s31)
    count = np.uint64(n)
    h0 = _mix(_mix(h0, h4, mul_a, s31), h6, mul_b, s29)
    h1 = _mix(_mix(h1, h5, mul_b, s29), h7, mul_a, s31)
    h2 = _mix(_mix(h2, h6, mul_b, s31), h4, mul_a, s29)
    h3 = _mix(_mix(h3, h7, mul_a, s29), h5, mul_b, s31)
    a = _mix(_mix(_mix(h0, h2, mul_a, s29), count, mul_b, s31), h3, mul_a, s31)
    b = _mix(_mix(_mix(h1, h3, mul_b, s31), count, mul_a, s29), h2, mul_b, s29)
    return a, b
