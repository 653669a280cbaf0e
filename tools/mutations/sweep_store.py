"""Mutations of the sweep store's point verification (eiesim/sweeps/store.py); see tools/mutation_audit.py."""

FILE = "eiesim/sweeps/store.py"
UNIT = "tests/test_sweep_store.py::test_a_hand_written_point_failing_one_check_is_rejected"
SWEEP = "tests/test_sweep_store.py::test_damaged_point_is_recomputed_and_named"

MUTATIONS = [
    {
        "id": "row-point-unchecked",
        "file": FILE,
        "old": 'if row.get("point") != key:',
        "new": 'if False and row.get("point") != key:',
        "tests": [UNIT, f"{SWEEP}[wrong-row-point]"],
        "why": "a point whose row names another point (but is filed and sealed under the right key) is reused",
    },
    {
        "id": "key-unchecked",
        "file": FILE,
        "old": 'if data.get("key") != key:',
        "new": 'if False and data.get("key") != key:',
        "tests": [UNIT, f"{SWEEP}[wrong-key]"],
        "why": "a point record naming another key is reused when its row names the asked-for point",
    },
    {
        "id": "fraction-above-one",
        "file": FILE,
        "old": "0.0 <= v <= 1.0",
        "new": "0.0 <= v",
        "tests": [UNIT],
        "why": "a stored load_balance_efficiency above 1 is accepted",
    },
    {
        "id": "version-unchecked",
        "file": FILE,
        "old": 'if data.get("version") != POINT_VERSION:',
        "new": 'if False and data.get("version") != POINT_VERSION:',
        "tests": [UNIT],
        "why": "a point record of another format version is reused",
    },
]
