"""Mutations of issue 27's exact shortcuts: work skipped or shared must leave every result unchanged.

The PEs without entries in a row block share one state in the rounds kernel
(eiesim/timing/kernels.py); a sweep worker keeps accumulators from their first computation
(eiesim/run/content_cache.py); sweep points are ordered by an estimate of their work
(eiesim/sweeps/points.py); a priced chip's reference power and areas are kept with it
(eiesim/costs/pricing.py); a layer loaded from a file keeps its content digest while its
read-only arrays are untouched (eiesim/network/sealed.py). The tests compare the fast engine with the SimPy engine, the
outputs with the plain fixed-point reference, and the estimate with a count made by hand, and a kept digest with the one computed from the bytes.
"""

_EDGES = "tests/test_engine_equivalence.py::test_edge_cases_are_identical"
_SEALED = "tests/test_sealed_layers.py::test_the_digest_follows_every_change_a_user_can_make"

MUTATIONS = [
    {
        "id": "idle_pes_skip_their_empty_column_cost",
        "file": "eiesim/timing/kernels.py",
        "old": "                        idle_fin = lane_t(max_lane + empty_lane)",
        "new": "                        idle_fin = lane_t(max_lane)",
        "tests": [_EDGES],
        "why": "a PE without entries still spends Z cycles on every broadcast column",
    },
    {
        "id": "idle_pes_missing_from_the_tail_snapshot",
        "file": "eiesim/timing/kernels.py",
        "old": "                        snap_fin[n_act:] = idle_fin",
        "new": "                        snap_fin[n_act:] = 0",
        "tests": [_EDGES],
        "why": "the replay of a round's tail starts the PEs without entries from their state at the snapshot",
    },
    {
        "id": "last_pe_with_entries_counted_idle",
        "file": "eiesim/timing/kernels.py",
        "old": "                    n_act = p + 1\n",
        "new": "                    n_act = p\n",
        "tests": [_EDGES],
        "why": "the last PE holding entries of a block must run its own state",
    },
    {
        "id": "sweep_worker_keeps_accumulators_only_the_second_time",
        "file": "eiesim/run/content_cache.py",
        "old": "    if _KEEP_FIRST_ACCUMULATORS[0] or key in ACCUMULATORS_SEEN:",
        "new": "    if key in ACCUMULATORS_SEEN:",
        "tests": ["tests/test_content_cache.py::test_a_sweep_worker_keeps_accumulators_from_their_first_computation"],
        "why": "a sweep worker's second point must find the accumulators its first computed",
    },
    {
        "id": "work_estimate_counts_every_pe_active",
        "file": "eiesim/sweeps/points.py",
        "old": "            active = min(n, rows - first_row)",
        "new": "            active = n",
        "tests": ["tests/test_per_call_reuse.py::test_estimated_point_work_counts_activations_and_active_pes_by_hand"],
        "why": "a row block of fewer rows than PEs keeps only that many PEs busy",
    },
    {
        "id": "chip_figures_ignore_the_clock",
        "file": "eiesim/costs/pricing.py",
        "old": "    chip = (arch.clock_mhz, arch.num_pes)",
        "new": "    chip = (arch.num_pes, arch.num_pes)",
        "tests": ["tests/test_per_call_reuse.py::test_another_clock_on_the_same_priced_chip_gets_its_own_reference_power"],
        "why": "the reference power of one priced chip depends on its clock",
    },
    {
        "id": "sealed_digest_ignores_an_unlocked_base",
        "file": "eiesim/network/sealed.py",
        "old": "        if not isinstance(base, np.ndarray) or base.flags.writeable or base.base is not None:",
        "new": "        if not isinstance(base, np.ndarray) or base.base is not None:",
        "tests": [_SEALED],
        "why": "memory made writeable again through the view's base may have been written",
    },
    {
        "id": "sealed_digest_ignores_a_replaced_array",
        "file": "eiesim/network/sealed.py",
        "old": "        if values.get(name) is not arr or arr.flags.writeable or _geometry(arr) != geo:",
        "new": "        if arr.flags.writeable or _geometry(arr) != geo:",
        "tests": [_SEALED],
        "why": "an array put in place of a sealed one has its own content",
    },
    {
        "id": "sealed_digest_ignores_the_attributes",
        "file": "eiesim/network/sealed.py",
        "old": "    if seal is None or seal[1] is None or seal[1][0] != meta_text:",
        "new": "    if seal is None or seal[1] is None:",
        "tests": [_SEALED],
        "why": "the digest covers the layer's name, shapes and flags, which stay assignable",
    },
    {
        "id": "sealed_digest_ignores_a_reshaped_array",
        "file": "eiesim/network/sealed.py",
        "old": "        if values.get(name) is not arr or arr.flags.writeable or _geometry(arr) != geo:",
        "new": "        if values.get(name) is not arr or arr.flags.writeable:",
        "tests": [_SEALED],
        "why": "numpy lets code give the same array object another shape or dtype, which the digest covers",
    },
    {
        "id": "broken_seal_kept",
        "file": "eiesim/network/sealed.py",
        "old": "    values.pop(_SEAL_ATTR, None)\n",
        "new": "",
        "tests": ["tests/test_sealed_layers.py::test_a_replaced_array_is_not_kept_alive_by_the_seal"],
        "why": "a broken seal would keep the arrays a user replaced alive for the layer's lifetime",
    },
]
