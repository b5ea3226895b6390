"""Integration fixtures: the real app from ``create_app`` on a real socket, real HTTP clients.

Each test gets a fresh app (a fresh engine and SQLite under tmp_path); users are created
through the API itself, as a bot would: signup, an API key, an onramp.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from exchange.client import Client
from exchange.config import Settings
from exchange.web.app import create_app

PASSWORD = "correct horse battery"
MakeUser = Callable[..., Awaitable[Client]]

#: Generous limits so tests that create many users or orders do not trip them by accident;
#: the limits themselves are tested with their own settings.
#: The journal writes without fsync here (the durability tests use both policies on purpose).
#: No liquidity bot: tests want the books they make (test_demo_bot.py turns it on).
TEST_SETTINGS = dict(
    auth_rate_per_s=1000.0, auth_burst=1000, rate_per_s=10_000.0, rate_burst=10_000, fsync="off", bot=False
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), **TEST_SETTINGS)  # type: ignore[arg-type]


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))  # type: ignore[no-any-return]


@pytest.fixture
def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def make_user(base_url: str) -> AsyncIterator[MakeUser]:
    """``await make_user()`` -> a signed-in Client with an API key and funds."""
    clients: list[Client] = []
    counter = itertools.count(1)

    async def make(
        name: str | None = None, *, key: bool = True, fund: dict[str, str] | None = None
    ) -> Client:
        client = Client(base_url)
        clients.append(client)
        await client.signup(name or f"trader{next(counter)}", PASSWORD)
        if key:
            created = await client.create_api_key()
            client.use_key(created["apiKey"], created["secret"])
        for asset, amount in (fund if fund is not None else {"USDC": "100000", "SOL": "1000"}).items():
            await client.onramp(asset, amount)
        return client

    yield make
    for client in clients:
        await client.close()


async def state_of(client: Client, symbol: str = "SOL_USDC") -> tuple[Any, ...]:
    """What a rejected request must leave unchanged, as the user can see it."""
    return (await client.balances(), await client.open_orders(), await client.depth(symbol))
