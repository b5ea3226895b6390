"""Fixtures shared by every test directory: a private redis-server per test module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.redis_server import RedisServer, available


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """``redis-server --save "" --appendonly no`` on a free port, for one test module.

    Skipped only outside CI when redis-server is not installed; under ``CI=true`` a missing
    server fails the tests instead (they must never pass by not running)."""
    if not available() and os.environ.get("CI") != "true":
        pytest.skip("redis-server is not installed")
    server = RedisServer(directory=Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)
