"""Hypothesis settings for the property tests: bounded, never timed, and in CI the same examples every run.

A property test must not fail because the machine is slow (no deadline, no too-slow health check), and CI must
not fail on one run and pass on the next: there the examples are derived from each test's name instead of drawn
at random, and no database of earlier failures is read.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("local", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True, database=None
)
settings.load_profile("ci" if os.environ.get("CI") else "local")
