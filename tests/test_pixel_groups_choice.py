"""Pixel groups: which G ``auto`` takes, which group is the slowest, and which pixels each group runs
(docs/timing-model.md section 2, "Pixel groups").

The rules live in ``timing.contract.groups``, which both engines share, so the engines agreeing
proves nothing about them. The expected values here come from elsewhere: cycles worked by hand,
a brute-force search over every assignment of G to the layers (bytes per PE counted from the
weights, cycles from runs with that G fixed), and, for the fast engine's share of the pixels,
each group run as the N'-PE chip it is on its own pixels.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import eiesim
from eiesim.config.arch import load_arch
from eiesim.errors import ArchError
from eiesim.timing import fast as fast_engine
from eiesim.timing.contract import ComputeTotals, GroupRun, combine_groups
from eiesim.timing.contract.rounds import PhaseTotals
from eiesim.network.workload import Workload, layer_from_dense


# -- ties ------------------------------------------------------------------------------------------

def _one_weight_two_pixels(groups):
    """A 1x1 conv 1 -> 1 (weight 1) on a 1 x 2 image (3, 2), 4 PEs with 2 registers each."""
    layer = layer_from_dense("c", np.ones((1, 1, 1, 1), np.float32), codebook=np.array([1.0]), relu=False)
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 4, "act_regs_per_pe": 2, "mapping.pixel_groups": groups})
    return arch, Workload("tie", "hand-derived", (1, 1, 2), None, [layer], np.array([[[3.0, 2.0]]], np.float32))


# By hand: every round is one non-zero activation, one entry, and lasts the minimum 9 cycles
# (L + 1 + P + W = 2 + 1 + 4 + 2; docs section 7, rule 4); its load phase is ceil(1 / N') = 1 cycle and
# its store phase ceil(1 row / N') = 1. A group's time is 11 cycles per pixel it runs:
# G = 1: both pixels, 22. G = 2: one pixel each, 11 and 11. G = 4: groups 0 and 1 one pixel, 2 and 3 none.
TIE_GROUP_CYCLES = {1: [22], 2: [11, 11], 4: [11, 11, 0, 0]}


def test_auto_takes_the_smaller_g_on_a_tie():
    """G = 2 and G = 4 both take 11 cycles: ``auto`` takes 2, the fewer replicas (section 2, "auto")."""
    for g, expected in TIE_GROUP_CYCLES.items():
        assert eiesim.simulate(*_one_weight_two_pixels(g)).layers[0].mapping["group_cycles"] == expected
    auto = eiesim.simulate(*_one_weight_two_pixels("auto")).layers[0]
    assert auto.mapping["auto_cycles"] == {"1": 22, "2": 11, "4": 11}
    assert auto.mapping["pixel_groups"] == 2 and auto.cycles == 11 + auto.io_cycles


@pytest.mark.parametrize("groups", [2, 4])
def test_the_slowest_group_is_the_first_of_the_longest(groups):
    stats = eiesim.simulate(*_one_weight_two_pixels(groups)).layers[0]
    assert stats.mapping["slowest_group"] == 0
    assert (stats.load_cycles, stats.compute_cycles, stats.store_cycles) == (1, 9, 1)


def test_on_a_tie_the_layer_reports_the_first_slowest_groups_phases():
    """Two groups of 2 PEs, both 17 cycles: 2 + 13 + 2 and 3 + 11 + 3. The layer's phases are group 0's."""
    first = GroupRun(ComputeTotals(num_pes=2, compute_cycles=13), PhaseTotals(1, 2, 3, 2, 3))
    second = GroupRun(ComputeTotals(num_pes=2, compute_cycles=11), PhaseTotals(1, 3, 3, 3, 3))
    timing = combine_groups([first, second])
    assert timing.slowest == 0 and timing.cycles == 17
    assert (timing.phases.load_cycles, timing.compute.compute_cycles, timing.phases.store_cycles) == (2, 13, 2)
    later = combine_groups([GroupRun(ComputeTotals(num_pes=2, compute_cycles=5), PhaseTotals(1, 1, 1, 1, 1)),
                            second, first])
    assert later.slowest == 1 and later.phases.load_cycles == 3 and later.compute.compute_cycles == 11


# -- auto under SRAM limits: a brute force over every assignment -----------------------------------

def _two_layers():
    """A 1x1 conv 1 -> 4 (3 weights) and a 3x3 conv 4 -> 8 (152 of its 288 weights) on a 4 x 2 image."""
    a = np.array([0, 1, 1, 1], np.float32).reshape(4, 1, 1, 1)
    b = np.where(np.random.default_rng(4).random((8, 4, 3, 3)) < 0.6, 1.0, 0.0).astype(np.float32)
    x = np.array([[[3, 1], [1, 2], [0, 2], [0, 0]]], np.float32)
    layers = [layer_from_dense("a", a, codebook=np.array([1.0])),
              layer_from_dense("b", b, codebook=np.array([1.0]), padding=(1, 1), inputs=("a",))]
    return Workload("two", "test", (1, 4, 2), None, layers, x)


def _arch(regs, groups, spmat_bytes="auto", ptr_bytes="auto"):
    return load_arch(None, {"codebook_bits": 4, "num_pes": 4, "act_regs_per_pe": regs, "spmat_sram.width_bits": 32,
                            "spmat_sram.size_bytes": spmat_bytes, "ptr_sram.size_bytes": ptr_bytes,
                            "mapping.pixel_groups": groups})


def _bytes_on_chip(layer, groups, regs, num_pes=4):
    """(Spmat, pointer) bytes each of the chip's PEs holds of ``layer`` stored once per group, counted from the
    weights (docs/timing-model.md sections 1 and 2): in a group of N' PEs, row i is PE i mod N''s; a PE's
    entries fill 32-bit words of four 8-bit entries (no padding: no PE has 16 local rows); every PE holds
    V + 2 16-bit pointers (V columns, the bias column, the end) per row block of N' x R rows; chip PE p
    holds group PE p mod N''s share."""
    n_group = num_pes // groups
    nonzero = layer.dense_weights().reshape(layer.rows, -1) != 0
    entries = np.array([int(nonzero[p::n_group].sum()) for p in range(n_group)])
    spmat = -(-entries // 4) * 4
    blocks = math.ceil(layer.rows / (n_group * regs))
    ptr = np.full(n_group, blocks * (layer.cols + 2) * 2)
    return np.tile(spmat, groups), np.tile(ptr, groups)


def _brute_force(workload, regs, spmat_cap, ptr_cap):
    """The assignment of G per layer with the fewest cycles among those whose bytes fit both SRAMs of every PE."""
    options = (1, 2, 4)
    cycles = {}  # (layer, G): the layer's time with G fixed (I/O excluded: it does not depend on G)
    for g in options:
        for stats in eiesim.simulate(_arch(regs, g), workload).layers:
            cycles[stats.name, g] = stats.cycles - stats.io_cycles
    names = [layer.name for layer in workload.layers]
    fitting = []
    for choice in itertools.product(options, repeat=len(names)):
        held = [_bytes_on_chip(layer, g, regs) for layer, g in zip(workload.layers, choice, strict=True)]
        spmat, ptr = sum(h[0] for h in held), sum(h[1] for h in held)
        if spmat.max() <= spmat_cap and ptr.max() <= ptr_cap:
            fitting.append((sum(cycles[name, g] for name, g in zip(names, choice, strict=True)), choice))
    fitting.sort()
    assert len(fitting) > 1 and fitting[0][0] < fitting[1][0], "the example must have one best assignment"
    fastest = tuple(min(options, key=lambda g: (cycles[name, g], g)) for name in names)
    assert fitting[0][1] != fastest, "the example must be one where the SRAMs rule out the fastest G"
    return dict(zip(names, fitting[0][1], strict=True))


# On both, the rule of section 2 (fewest extra cycles per byte freed) reaches the best assignment.
# 8 registers (one row block at every G: a needs 4 B of Spmat and 6 B of pointers, b 76 B of pointers; b's
# Spmat bytes are 44, 80, 152 at G = 1, 2, 4): 84 B of Spmat make b give up replicas, and a frees no byte by
# giving up its own (ranking by extra cycles alone would take a's first); 82 B of pointers are just what a and
# b need, and less than their Spmat bytes (testing the pointer SRAM with the Spmat bytes would cost b a replica).
# 2 registers: more groups, more row blocks, more pointers: with 82 B, b keeps one copy (76 B; 152 B at G = 2)
# and a two (6 B; 12 B at G = 4, where its 4 rows make two blocks); 156 B of Spmat would hold anything.
@pytest.mark.parametrize("regs, spmat_cap, ptr_cap, expected", [
    pytest.param(8, 84, 82, {"a": 4, "b": 2}, id="spmat-binds"),
    pytest.param(2, 156, 82, {"a": 2, "b": 1}, id="pointers-bind")])
def test_auto_under_sram_limits_takes_the_best_assignment_a_brute_force_finds(regs, spmat_cap, ptr_cap, expected):
    wl = _two_layers()
    assert _brute_force(wl, regs, spmat_cap, ptr_cap) == expected
    res = eiesim.simulate(_arch(regs, "auto", spmat_cap, ptr_cap), wl)
    assert {s.name: s.mapping["pixel_groups"] for s in res.layers} == expected
    held = [_bytes_on_chip(layer, expected[layer.name], regs) for layer in wl.layers]
    assert res.storage.spmat_bytes_max == max(sum(h[0] for h in held))
    assert res.storage.ptr_bytes_max == max(sum(h[1] for h in held)) and res.storage.resident


def test_the_byte_count_of_the_brute_force_is_what_a_fixed_g_needs():
    """The brute force's bytes agree with what the simulator refuses: at G = 4 with 8 registers b needs 152 B."""
    wl = _two_layers()
    need = [_bytes_on_chip(layer, 4, 8) for layer in wl.layers]
    spmat = int(max(sum(h[0] for h in need)))
    assert spmat == 156
    with pytest.raises(ArchError, match=rf"PE \d needs {spmat} bytes of Spmat SRAM .* has 155"):
        eiesim.simulate(_arch(8, 4, 155, 1024), wl)
    eiesim.simulate(_arch(8, 4, 156, 1024), wl)


# -- which pixels each group runs (fast engine) ----------------------------------------------------

def _row_of_pixels(pixels):
    """A 1x1 conv 3 -> 2 on a 1 x ``pixels`` image of sparse small integers (each pixel a different pattern)."""
    rng = np.random.default_rng(5)
    w = np.where(rng.random((2, 3, 1, 1)) < 0.7, 1.0, 0.0).astype(np.float32)
    x = np.where(rng.random((3, 1, pixels)) < 0.5, rng.integers(1, 4, (3, 1, pixels)), 0).astype(np.float32)
    return layer_from_dense("c", w, codebook=np.array([1.0]), relu=False), x


def test_each_group_runs_pixels_g_g_plus_g_across_chunks(monkeypatch):
    """G = 3 on 3 PEs, 150 pixels, patches cut in chunks of 64 pixels (chunks start at 64 and 128, which 3 does
    not divide). Group g is a 1-PE chip running pixels g, g + 3, ...: its time is that of a 1-PE chip run on
    exactly those pixels."""
    monkeypatch.setattr(fast_engine, "_PATCH_CHUNK_VALUES", 1)  # the smallest chunk: PIXEL_ALIGN = 64 pixels
    layer, x = _row_of_pixels(150)
    arch = load_arch(None, {"codebook_bits": 4, "num_pes": 3, "act_regs_per_pe": 2, "mapping.pixel_groups": 3})
    wl = Workload("row", "test", x.shape, None, [layer], x)
    fast = eiesim.simulate(arch, wl, engine="fast")
    one_pe = load_arch(None, {"codebook_bits": 4, "num_pes": 1, "act_regs_per_pe": 2})
    alone = []
    for g in range(3):
        mine = np.ascontiguousarray(x[:, :, g::3])
        stats = eiesim.simulate(one_pe, Workload("g", "test", mine.shape, None, [layer], mine)).layers[0]
        alone.append(stats.cycles - stats.io_cycles)
    assert len(set(alone)) == 3  # the groups' pixels differ, so a wrong share shows
    assert fast.layers[0].mapping["group_cycles"] == alone
    assert fast.to_dict() == eiesim.simulate(arch, wl, engine="event").to_dict()  # the event engine deals pixels itself
