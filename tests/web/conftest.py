"""Fixtures of the web tests: the real app from ``create_app`` on a real socket, real HTTP clients.

Each test gets a fresh app (a fresh engine and SQLite under tmp_path); users are created
through the API itself, as a bot would: signup, an API key, an onramp.

Deployments: a module that sets ``DEPLOYMENTS = ("all", "cluster")`` runs its tests twice:
``all`` is one in-process app on the memory bus; ``cluster`` is one engine process and two
gateway processes on a real Redis (``exchange.devtools.cluster``), fresh for each test (the tests
assert the ids of a fresh venue; a cluster starts in ~0.7 s). There ``base_url`` is gateway A
and ``make_user``'s clients trade through gateway B (``trading_url``), so every such test
also crosses gateways: accounts made on B are used on A, orders sent through B show in A's
market data and streams. Tests that build their own app (``server``, ``settings``) stay ``all``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from exchange.app import create_app
from exchange.client import Client
from exchange.clock import now_ms
from exchange.config import Settings
from exchange.devtools.cluster import Cluster
from exchange.devtools.redis_server import free_port
from exchange.limits import Limits, bench_limits
from exchange.web.keys import ACCOUNTS

PASSWORD = "correct horse battery"
MakeUser = Callable[..., Awaitable[Client]]

#: Generous limits so tests that create many users or orders do not trip them by accident: every
#: rate lifted, as ``--bench-limits`` does; the limits themselves are tested with their own settings.
#: The journal writes without fsync here (the durability tests use both policies on purpose).
#: No liquidity bot: tests want the books they make (test_demo_bot.py turns it on).
GENEROUS = Limits(**bench_limits())
TEST_SETTINGS = dict(limits=GENEROUS, fsync="off", bot=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), **TEST_SETTINGS)  # type: ignore[arg-type]


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> TestServer:
    return await aiohttp_server(create_app(settings))  # type: ignore[no-any-return]


async def serve(data_dir: Path | str, **settings: Any) -> tuple[TestServer, str]:
    """A started app on ``data_dir`` with ``TEST_SETTINGS`` (``settings`` override them), for a
    module's one server: the server and its base URL. The caller closes it."""
    server = TestServer(create_app(Settings(data_dir=str(data_dir), **(TEST_SETTINGS | settings))))
    await server.start_server()
    return server, str(server.make_url("")).rstrip("/")


async def make_operator(server: TestServer, base_url: str, name: str = "boss") -> Client:
    """A Client signed with a key of a new operator, made as `python -m exchange operator add` does."""
    accounts = server.app[ACCOUNTS]
    made = await accounts.add_operator(name, PASSWORD, promote=False)
    return Client(base_url, *await accounts.create_api_key(made.id, now_ms()))


#: The same settings as command-line options, for the processes of a cluster.
CLUSTER_ARGS = ("--no-bot", "--fsync", "off", "--bench-limits")
_prefixes = itertools.count(1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "deployment" not in metafunc.fixturenames:
        return
    wanted = getattr(metafunc.module, "DEPLOYMENTS", ("all",))
    if {"server", "settings", "aiohttp_server"} & set(metafunc.fixturenames):
        wanted = ("all",)  # the test builds or inspects an in-process app
    metafunc.parametrize("deployment", wanted)


@pytest.fixture
def deployment() -> str:
    return "all"


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """One engine and two gateways on the module's redis-server, under their own key prefix."""
    redis = request.getfixturevalue("redis_server")
    ports = [free_port() for _ in range(3)]
    made = Cluster(redis.url, tmp_path / "data", ports[:2], ports[2], prefix=f"it{next(_prefixes)}",
                   args=CLUSTER_ARGS)  # fmt: skip
    made.start()
    yield made
    made.stop()


@pytest.fixture
def base_url(deployment: str, request: pytest.FixtureRequest) -> str:
    if deployment == "cluster":
        return request.getfixturevalue("cluster").url(0)  # type: ignore[no-any-return]
    server: TestServer = request.getfixturevalue("server")
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def trading_url(deployment: str, base_url: str, request: pytest.FixtureRequest) -> str:
    """Where ``make_user``'s clients send their requests: gateway B in a cluster."""
    if deployment == "cluster":
        return request.getfixturevalue("cluster").url(1)  # type: ignore[no-any-return]
    return base_url


#: What a test trader is given unless the test says otherwise.
FUND = {"USDC": "100000", "SOL": "1000"}


async def trader(base_url: str, name: str, fund: dict[str, str] = FUND, *, key: bool = True) -> Client:
    """A signed-in Client named ``name`` with an API key (unless ``key`` is False) and ``fund``."""
    client = Client(base_url)
    await client.signup(name, PASSWORD)
    if key:
        created = await client.create_api_key()
        client.use_key(created["apiKey"], created["secret"])
    for asset, amount in fund.items():
        await client.onramp(asset, amount)
    return client


@pytest.fixture
async def make_user(trading_url: str) -> AsyncIterator[MakeUser]:
    """``await make_user()`` -> a signed-in Client with an API key and funds (``trader``)."""
    clients: list[Client] = []
    counter = itertools.count(1)

    async def make(name: str | None = None, *, key: bool = True, fund: dict[str, str] = FUND) -> Client:
        client = await trader(trading_url, name or f"trader{next(counter)}", fund, key=key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def state_of(client: Client, symbol: str = "SOL_USDC") -> tuple[Any, ...]:
    """What a rejected request must leave unchanged, as the user can see it."""
    return (await client.balances(), await client.open_orders(), await client.depth(symbol))
