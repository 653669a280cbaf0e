"""Settings for the whole test session (pytest reads this file before any test file)."""

from hypothesis import HealthCheck, settings

# Hypothesis's time limits (a deadline per example, the "too slow" health check) would make a result depend on
# how busy the machine is. Tests that set their own health checks list too_slow again; each keeps its own
# max_examples.
settings.register_profile("eiesim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("eiesim")
