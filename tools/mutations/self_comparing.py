"""Mutations that tests comparing the code with itself cannot see (issue 20).

The cycle breakdown's parts (eiesim/timing/contract/groups.py, ``cycle_breakdown``) add up whatever
part a PE cycle is put in, and the run's memory estimate (eiesim/network/memory.py, ``workload_run_bytes``)
matches any formula retyped from it: the tests listed here get their expected values elsewhere (the
hand-derived example of docs/timing-model.md section 4.1; the memory a run really takes).
"""

_JSON = "tests/test_cycle_breakdown_report.py::test_json_breakdown_is_the_hand_derived_one"
_ESTIMATE = "tests/test_memory_bounds.py::test_run_memory_estimate_bounds_what_a_conv_layer_really_allocates"

MUTATIONS = [
    {
        "id": "group_tails_counted_as_drain",
        "file": "eiesim/timing/contract/groups.py",
        "old": '''        "imbalance": stalled - c.idle_stalled + tails,
        "finder": starved + empty - c.idle_starved_empty,
        "drain": drain - c.idle_drain,''',
        "new": '''        "imbalance": stalled - c.idle_stalled,
        "finder": starved + empty - c.idle_starved_empty,
        "drain": drain - c.idle_drain + tails,''',
        "tests": [f"{_JSON}[2]"],
        "why": "a group done before the slowest one waits: imbalance, not drain (the parts still add up)",
    },
    {
        "id": "idle_pes_waiting_counted_as_finder",
        "file": "eiesim/timing/contract/groups.py",
        "old": '''        "idle_pes": c.idle_pe_cycles,
        "imbalance": stalled - c.idle_stalled + tails,
        "finder": starved + empty - c.idle_starved_empty,''',
        "new": '''        "idle_pes": c.idle_stalled + c.idle_drain,
        "imbalance": stalled - c.idle_stalled + tails,
        "finder": starved + empty,''',
        "tests": [f"{_JSON}[1]"],
        "why": "a PE holding no rows of the block is idle, whatever it waits for: not the finder's (the parts still "
               "add up)",
    },
    {
        "id": "pooled_conv_estimate_after_pool",
        "file": "eiesim/network/memory.py",
        "old": 'if layer.kind == "conv" and layer.pool is not None:',
        "new": "if False:",
        "tests": [f"{_ESTIMATE}[pooled-convs]"],
        "why": "a pooled conv's patches and accumulators are those of its pixels before pooling",
    },
    {
        "id": "outputs_kept_once",
        "file": "eiesim/network/memory.py",
        "old": "return 2 * kept + peak",
        "new": "return kept + peak",
        "tests": [f"{_ESTIMATE}[deep-chain]"],
        "why": "a simulation's functional check recomputes every output while the simulated ones are still held",
    },
    {
        "id": "float64_patch_chunk_left_out",
        "file": "eiesim/network/memory.py",
        "old": '8 * min(patches, DENSE_EXACT_CHUNK_VALUES) * (layer.kind == "conv")',
        "new": "0",
        "tests": [f"{_ESTIMATE}[pooled-convs]"],
        "why": "the exact reference product converts a chunk of a conv's patches to float64",
    },
]
