"""Shared test set-up: hypothesis profiles (``ci`` under CI=true, ``dev`` otherwise), and a
private redis-server per test module for the tests of the Redis bus."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from exchange.devtools import build
from exchange.devtools.redis_server import RedisServer, available, running

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


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[RedisServer]:
    """``redis-server --save "" --appendonly no`` on a free port, stopped and removed after.
    Never skipped: `make test` and .ci/run install redis-server, and a test must not pass by
    not running."""
    if not available():
        raise RuntimeError(
            "redis-server is missing: `make system-deps` installs it (apt-get install redis-server)"
        )
    with running(directory) as server:
        yield server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server for one test module."""
    with private_redis(Path(tmp_path_factory.mktemp("redis"))) as server:
        yield server
