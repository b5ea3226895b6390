"""Shared test set-up: hypothesis profiles (``ci`` under CI=true, ``dev`` otherwise)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from exchange import build

#: Tests run on whichever engine is built; a stale compiled one is refused (make compile).
ENGINE_BUILD = "compiled" if build.check() else "interpreted"


def pytest_report_header() -> str:
    return f"engine core: {ENGINE_BUILD}"


settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, stateful_step_count=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))
