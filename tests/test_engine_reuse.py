"""What the fast engine and ``simulate`` keep between calls: the engine's pointer tables of a
read-only layout, the network input made from a bundled photo, and which workloads passed the
workload rules.

Expectations come from elsewhere: the pointer tables from numpy's own transpose and integer
division, a kept input from ``prepare_input`` called directly, results from a run with every
cache emptied first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from eiesim.config.arch import load_arch
from eiesim.encoding import layout_layer
from eiesim.network.network_input import prepare_input
from eiesim.network.workload import Workload, layer_from_dense
from eiesim.errors import WorkloadError
from eiesim.run.content_cache import INPUTS, checked_layer_digests, clear_caches, layer_digest
from eiesim.run.simulate import simulate
from eiesim.timing import fast

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _conv(in_channels: int):
    rng = np.random.default_rng(3)
    cb = np.array([-1.0, 0.5, 1.0], np.float32)
    codes = rng.integers(0, 3, size=(9, in_channels, 3, 3))
    w = np.where(rng.random(codes.shape) < 0.4, cb[codes], 0).astype(np.float32)
    return layer_from_dense("c", w, codes_dense=codes, codebook=cb, padding=(1, 1))


def _layout():
    return layout_layer(_conv(5), load_arch(TINY))


def test_pointer_tables_match_numpy_and_are_kept_only_for_read_only_layouts():
    lay = _layout()
    mul, shift = fast.word_divider(lay.entries_per_word)
    pos = lay.pe_ptr.T.astype(np.int64)
    expect_first = pos[:-1] // lay.entries_per_word
    expect_last = np.maximum(pos[1:] - 1, 0) // lay.entries_per_word

    writeable = fast._pointer_tables(lay, mul, shift, with_words=True)
    assert lay.pe_ptr.flags.writeable
    np.testing.assert_array_equal(writeable[0], lay.pe_ptr.T)
    np.testing.assert_array_equal(writeable[1], expect_first)
    np.testing.assert_array_equal(writeable[2], expect_last)
    again = fast._pointer_tables(lay, mul, shift, with_words=True)
    assert again[0] is not writeable[0]  # a layout that may change in place is never kept

    frozen = dataclasses.replace(lay, pe_ptr=lay.pe_ptr.copy())
    frozen.pe_ptr.flags.writeable = False
    first = fast._pointer_tables(frozen, mul, shift, with_words=True)
    second = fast._pointer_tables(frozen, mul, shift, with_words=True)
    assert all(a is b for a, b in zip(first, second, strict=True))  # kept with the layout
    np.testing.assert_array_equal(first[0], lay.pe_ptr.T)
    np.testing.assert_array_equal(first[1], expect_first)
    fc = fast._pointer_tables(frozen, mul, shift, with_words=False)
    assert fc[0] is first[0] and fc[1].shape == (0, lay.num_pes)


def test_a_bundled_photo_input_is_kept_and_gives_the_uncached_result():
    wl = Workload("rgb", "test", (3, 8, 8), None, [_conv(3)], None)
    arch = load_arch(TINY)
    clear_caches()
    cold = simulate(arch, wl, input="chelsea")
    assert len(INPUTS) == 1
    kept = next(iter(INPUTS._values.values()))[0]
    np.testing.assert_array_equal(kept, prepare_input(wl, "chelsea"))
    warm = simulate(arch, wl, input="chelsea")
    assert warm.to_dict() == cold.to_dict()
    clear_caches()


def test_a_checked_workload_skips_the_rules_until_its_content_changes():
    clear_caches()
    wl = Workload("rgb", "test", (3, 8, 8), None, [_conv(3)], None)
    first = checked_layer_digests(wl)
    assert first == [layer_digest(wl.layers[0])]
    with mock.patch("eiesim.network.checks.infer_shapes", side_effect=AssertionError("the rules ran")):
        assert checked_layer_digests(wl) == first  # same content: known to pass
    wl.layers[0].inputs = ("nowhere",)  # changed in place: another digest, so the full rules again
    with pytest.raises(WorkloadError, match="nowhere"):
        checked_layer_digests(wl)
    wl.layers[0].inputs = ("input",)
    wl.input_shape = (3, 0, 8)  # not a layer attribute: the workload's own digest sees it too
    with pytest.raises(WorkloadError, match="input_shape"):
        checked_layer_digests(wl)
    clear_caches()


def test_given_accumulators_skip_only_the_arithmetic():
    """Accumulators handed in come back as they are, with the same round statistics as a full run;
    accumulators of the wrong shape are refused."""
    from eiesim.timing.contract import TimingParams, layer_geometry

    arch = load_arch(TINY)
    layer = _conv(5)
    layout = layout_layer(layer, arch)
    params = TimingParams.from_arch(arch)
    x = np.random.default_rng(4).integers(-3, 4, size=(5, 6, 6)).astype(np.int64)
    geom = layer_geometry(layer, x.shape, params)
    cb = np.array([-2, 1, 2], np.int64)
    full, totals = fast.run_layer_fast_groups(layout, layer, geom, x, cb, params, 1)
    given = np.arange(full.size, dtype=np.int64).reshape(full.shape)  # anything: the rounds never read it
    out, totals_given = fast.run_layer_fast_groups(layout, layer, geom, x, cb, params, 1, given)
    assert out is given and len(totals_given) == len(totals) == 1
    for name in (f.name for f in dataclasses.fields(totals[0])):
        assert np.array_equal(getattr(totals_given[0], name), getattr(totals[0], name)), name
    with pytest.raises(ValueError, match="accumulators must be int64"):
        fast.run_layer_fast_groups(layout, layer, geom, x, cb, params, 1, given.reshape(-1))
