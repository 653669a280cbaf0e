"""Mutations of the output transactions (eiesim/outputs/commit.py); see tools/mutation_audit.py."""

FILE = "eiesim/outputs/commit.py"
TESTS = "tests/test_atomic_commit.py"

MUTATIONS = [
    {
        "id": "single-file-copied",
        "file": FILE,
        "old": "with _signals_deferred():\n                os.replace(tmp, target)",
        "new": "with _signals_deferred():\n                shutil.copyfile(tmp, target)",
        "tests": [f"{TESTS}::test_a_single_file_is_renamed_into_place_not_copied"],
        "why": "write_text/atomic_path copy the temporary over the target: a reader sees it rewritten in place",
    },
    {
        "id": "set-file-copied",
        "file": FILE,
        "old": "    else:\n        os.replace(tmp, target)",
        "new": "    else:\n        shutil.copyfile(tmp, target)",
        "tests": [f"{TESTS}::test_each_file_of_a_set_is_renamed_into_place_not_copied"],
        "why": "OutputSet.commit copies each temporary over its target instead of renaming it",
    },
    {
        "id": "dir-exchange-unused",
        "file": FILE,
        "old": "if _rename_exchange(tmp, target):",
        "new": "if False:",
        "tests": [f"{TESTS}::test_an_output_directory_is_replaced_in_one_exchange"],
        "why": "a replaced output directory is renamed away and back (absent for a moment) where it could be exchanged",
    },
    {
        "id": "failed-commit-silent",
        "file": FILE,
        "old": "kept = f\"; already written: {', '.join(map(str, done))}\" if done else \"\"",
        "new": "kept = \"\"",
        "tests": [f"{TESTS}::test_a_failed_commit_names_the_outputs_already_written"],
        "why": "a commit failing half-way no longer says which outputs it already replaced",
    },
    {
        "id": "set-lock-skipped",
        "file": FILE,
        "old": "locks.enter_context(_directory_locked(Path(parent)))",
        "new": "pass",
        "tests": [f"{TESTS}::test_two_sets_committed_at_once_do_not_mix"],
        "why": "OutputSet.commit takes no lock on its directory: two writers' renames interleave",
    },
    {
        "id": "directory-lock-not-taken",
        "file": FILE,
        "old": "        lock_file(fd)\n        yield",
        "new": "        yield",
        "tests": [f"{TESTS}::test_two_sets_committed_at_once_do_not_mix"],
        "why": "_directory_locked opens the directory but never locks it",
    },
]
