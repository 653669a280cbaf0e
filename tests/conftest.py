"""Settings for the whole test session (pytest reads this file before any test file)."""

from hypothesis import HealthCheck, settings

# Hypothesis's time limits (a deadline per example, the "too slow" health check) would make a result depend on
# how busy the machine is. Tests that set their own health checks list too_slow again; each keeps its own
# max_examples.
settings.register_profile("eiesim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("eiesim")


def pytest_sessionstart(session) -> None:
    """Print pytest-randomly's seed also under ``-q`` (the project's default, which hides its header line), so
    that an order-dependent failure can be repeated with ``--randomly-seed=N``. Printed once, by the process that
    reports (not by pytest-xdist's workers, which get the same seed from it)."""
    config = session.config
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: its output is not the terminal's
        return
    seed = getattr(config.option, "randomly_seed", None)  # absent with -p no:randomly
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if isinstance(seed, int) and reporter is not None and config.get_verbosity() < 0:
        reporter.write_line(f"Using --randomly-seed={seed}")
