"""Mutations of the pixel-group rules (docs/timing-model.md section 2, "Pixel groups").

The choice of G per layer (``auto``) and the slowest group live in eiesim/timing/contract/groups.py,
shared by both engines, so the engines agreeing cannot catch them; the fast engine's share of the
pixels of each group is in eiesim/timing/fast.py.
"""

_FILE = "tests/test_pixel_groups_choice.py"
_SRAM_LIMITS = f"{_FILE}::test_auto_under_sram_limits_takes_the_best_assignment_a_brute_force_finds"

MUTATIONS = [
    {
        "id": "auto_tie_takes_larger_g",
        "file": "eiesim/timing/contract/groups.py",
        "old": "min(opts, key=lambda g: (cycles[name][g], g))",
        "new": "min(opts, key=lambda g: (cycles[name][g], -g))",
        "tests": [f"{_FILE}::test_auto_takes_the_smaller_g_on_a_tie"],
        "why": "auto: of two G with the fewest cycles the smaller is taken (fewer replicas), not the larger",
    },
    {
        "id": "slowest_group_last_on_tie",
        "file": "eiesim/timing/contract/groups.py",
        "old": "key=lambda g: (runs[g].cycles, -g))",
        "new": "key=lambda g: (runs[g].cycles, g))",
        "tests": [f"{_FILE}::test_the_slowest_group_is_the_first_of_the_longest",
                  f"{_FILE}::test_on_a_tie_the_layer_reports_the_first_slowest_groups_phases"],
        "why": "the layer's load, compute and store cycles are the first slowest group's, not the last's",
    },
    {
        "id": "fast_groups_ignore_chunk_start",
        "file": "eiesim/timing/fast.py",
        "old": "patches[:, (g - first) % groups::groups]",
        "new": "patches[:, g::groups]",
        "tests": [f"{_FILE}::test_each_group_runs_pixels_g_g_plus_g_across_chunks"],
        "why": "pixel q is group q mod G's: in a chunk starting at pixel `first`, group g's first column is "
               "(g - first) mod G (matters when G does not divide the chunk start, e.g. G = 3)",
    },
    {
        "id": "auto_ranks_by_extra_cycles",
        "file": "eiesim/timing/contract/groups.py",
        "old": "cost = (cycles[name][h] - cycles[name][g]) / max(freed, 1)",
        "new": "cost = cycles[name][h] - cycles[name][g]",
        "tests": [f"{_SRAM_LIMITS}[spmat-binds]"],
        "why": "auto: the layer that gives up replicas is the one with the fewest extra cycles per byte freed",
    },
    {
        "id": "auto_fit_ptr_with_spmat_bytes",
        "file": "eiesim/timing/contract/groups.py",
        "old": "return fits(arch, np.sum([p[0] for p in parts], axis=0), np.sum([p[1] for p in parts], axis=0))",
        "new": "return fits(arch, np.sum([p[0] for p in parts], axis=0), np.sum([p[0] for p in parts], axis=0))",
        "tests": [f"{_SRAM_LIMITS}[spmat-binds]", f"{_SRAM_LIMITS}[pointers-bind]"],
        "why": "auto: the pointer SRAM must hold the replicas' pointer bytes, not their Spmat bytes",
    },
]
