"""outputs: files that are complete or absent (preflight checks, locked temporaries, commits of one file or a set)."""
