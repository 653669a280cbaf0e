"""The storage resolution kept by content (``STORAGE``, ``Network.storage``): a hit is the plain
``resolve_storage`` of the same inputs, with the same effect on the layouts it is given, and a
changed layer entry or architecture value misses.

The expectations come from ``resolve_storage`` called on layouts made afresh (``layout_layer``, no
cache) and, for streaming, from the SRAM bytes counted here from the layout's pointers by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eiesim.config.arch import load_arch
from eiesim.encoding import layout_layer
from eiesim.network.workload import Workload
from eiesim.run.content_cache import STORAGE, checked_layer_digests, clear_caches
from eiesim.run.simulate import Network, simulate
from eiesim.timing.contract import resolve_storage

from _support import random_fc_workload

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "arch_configs" / "tiny-4pe.yaml"


def _fc_workload(seed: int = 7) -> Workload:
    return random_fc_workload(64, 48, seed)


def _fresh(arch, wl: Workload):  # noqa: ANN001, ANN202
    """``resolve_storage`` on layouts made afresh: (resolved arch, summary, streamed bytes, layouts after)."""
    layouts = {layer.name: layout_layer(layer, arch) for layer in wl.layers}
    return (*resolve_storage(arch, wl, layouts, {layer.name: 1 for layer in wl.layers}), layouts)


def _network_storage(arch, wl: Workload):  # noqa: ANN001, ANN202
    """``Network.storage`` as ``simulate`` calls it: (resolved arch, summary, streamed bytes, layouts after)."""
    network = Network(wl, checked_layer_digests(wl))
    layouts = {layer.name: network.encoding(layout_layer, layer, arch) for layer in wl.layers}
    keys = {layer.name: network.encoding_key(layout_layer, layer, arch) for layer in wl.layers}
    return (*network.storage(arch, layouts, {layer.name: 1 for layer in wl.layers}, keys), layouts)


def _assert_same(got, want) -> None:  # noqa: ANN001
    arch, summary, stream, layouts = got
    arch_w, summary_w, stream_w, layouts_w = want
    assert arch == arch_w and summary == summary_w and stream == stream_w
    assert layouts.keys() == layouts_w.keys()
    for name, layout in layouts.items():
        other = layouts_w[name]
        assert layout.pointer_bits == other.pointer_bits == arch.ptr_sram.pointer_bits
        assert np.array_equal(layout.pe_ptr, other.pe_ptr)
        assert np.array_equal(layout.ptr_bytes_per_pe, other.ptr_bytes_per_pe)


def test_a_hit_is_the_plain_resolution_and_re_points_the_layouts():
    clear_caches()
    arch = load_arch(TINY, {"ptr_sram.pointer_bits": "auto", "spmat_sram.size_bytes": "auto"})
    wl = _fc_workload()
    first = _network_storage(arch, wl)
    assert (STORAGE.hits, STORAGE.misses) == (0, 1)
    second = _network_storage(arch, wl)
    assert (STORAGE.hits, STORAGE.misses) == (1, 1)
    want = _fresh(arch, wl)
    made = layout_layer(wl.layers[0], arch)
    bits = max(8, int(made.pe_ptr[:, -1].max()).bit_length())  # 'auto': the narrowest width >= 8 addressing all
    assert want[0].ptr_sram.pointer_bits == bits != made.pointer_bits  # so the layouts were re-pointed
    _assert_same(first, want)
    _assert_same(second, want)
    # simulate on warm caches reports what a cold run reports
    warm = simulate(arch, wl)
    clear_caches()
    cold = simulate(arch, wl)
    assert warm.storage == cold.storage and warm.arch == cold.arch
    assert [s.storage for s in warm.layers] == [s.storage for s in cold.layers]


def test_a_changed_layer_entry_misses():
    clear_caches()
    arch = load_arch(TINY)
    wl = _fc_workload()
    _network_storage(arch, wl)
    layer = wl.layers[0]
    layer.codes[0] = (layer.codes[0] + 1) % 4  # one entry's weight, edited in place
    got = _network_storage(arch, wl)
    assert (STORAGE.hits, STORAGE.misses) == (0, 2)
    _assert_same(got, _fresh(arch, wl))


def test_a_changed_architecture_value_misses():
    """Only the SRAM size changes (the layouts are the same): the resolution is made afresh, and the
    weights no longer fit, so the layer streams every byte its PEs hold."""
    clear_caches()
    arch = load_arch(TINY)
    wl = _fc_workload()
    resident = _network_storage(arch, wl)
    assert resident[1].resident and resident[2] == {"fc": 0}
    small = arch.derive({"spmat_sram.size_bytes": 64})
    got = _network_storage(small, wl)
    assert (STORAGE.hits, STORAGE.misses) == (0, 2)
    _assert_same(got, _fresh(small, wl))
    layout = got[3]["fc"]
    entries = layout.pe_ptr[:, -1].astype(np.int64)
    words = [-(-int(e) // arch.entries_per_word) for e in entries]
    spmat_bytes = sum(w * arch.spmat_sram.width_bits // 8 for w in words)
    ptr_bytes = arch.num_pes * -(-(layout.num_blocks * (layout.stored_cols + 1) * 16) // 8)
    assert not got[1].resident and got[2] == {"fc": spmat_bytes + ptr_bytes}
