"""The real server process for the Binance WebSocket tests, started once per module that
imports ``base_url`` (``python -m exchange serve`` on a free port, no bot, generous rate
limits, no fsync), and users made through the native API."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.client import Client
from exchange.devtools.cluster import serve_command, wait_healthy
from exchange.devtools.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
ARGS = ("--no-bot", "--fsync", "off", "--bench-limits")
_names = itertools.count(1)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, data = free_port(), tmp_path_factory.mktemp("data")
    log = data / "server.log"
    with log.open("wb") as out:
        cmd = serve_command(port, data, *ARGS)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 20, proc)
    except RuntimeError as exc:
        proc.kill()
        raise AssertionError(f"{exc}:\n{log.read_text()}") from None
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def trader(base_url: str, fund: dict[str, str] | None = None) -> Client:
    """A signed-up user with an API key and funds (the caller closes it)."""
    client = Client(base_url)
    await client.signup(f"bn{next(_names)}", PASSWORD)
    created = await client.create_api_key()
    client.use_key(created["apiKey"], created["secret"])
    for asset, amount in (fund or {"USDC": "1000000", "SOL": "5000"}).items():
        await client.onramp(asset, amount)
    return client
