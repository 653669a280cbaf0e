"""Mutations of the memory budget (eiesim/inputs/memory.py); see tools/mutation_audit.py."""

FILE = "eiesim/inputs/memory.py"
TESTS = "tests/test_memory_bounds.py"

MUTATIONS = [
    {
        "id": "limit-inclusive",
        "file": FILE,
        "old": "if nbytes > limit:",
        "new": "if nbytes >= limit:",
        "tests": [f"{TESTS}::test_an_estimate_exactly_at_the_limit_is_allowed"],
        "why": "an input needing exactly the budget is refused",
    },
    {
        "id": "kilo-decimal",
        "file": FILE,
        "old": '"k": 1024,',
        "new": '"k": 1000,',
        "tests": [f"{TESTS}::test_size_suffixes_are_binary"],
        "why": "EIESIM_MEMORY_LIMIT=4k means 4000 bytes instead of 4096 (the other suffixes are binary)",
    },
]
