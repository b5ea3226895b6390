"""The Binance WebSocket face on a cluster: one engine and two gateways over Redis. Market
streams and the user data stream read on gateway A show what is traded through gateway B, and
the local-book recipe holds against A's REST depth (a gateway's mirror keeps the update ids)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import orjson
import pytest

from exchange.client import Client
from exchange.devtools.cluster import Cluster
from exchange.devtools.redis_server import RedisServer, free_port
from tests.binance.binance_ws_clients import LocalBook, WsApi
from tests.binance.binance_ws_server import ARGS, trader


@pytest.fixture(scope="module")
def cluster(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    ports = [free_port() for _ in range(3)]
    data = Path(tmp_path_factory.mktemp("cluster"))
    made = Cluster(redis_server.url, data, ports[:2], ports[2], prefix="bnws", args=ARGS)
    made.start()
    yield made
    made.stop()


async def test_streams_and_user_data_on_a_gateway_see_orders_of_the_other(cluster: Cluster) -> None:
    a, b = cluster.url(0), cluster.url(1)
    async with aiohttp.ClientSession() as session, await trader(b) as maker, await trader(b) as taker:
        streams = await session.ws_connect(f"{a}/binance/stream?streams=solusdc@trade/solusdc@depth@100ms")
        api = WsApi(await session.ws_connect(f"{a}/ws-api/v3"), maker)
        sub = await api.call("userDataStream.subscribe.signature", api.signed({}))
        assert sub["status"] == 200
        book = LocalBook()
        async with Client(a) as reader:
            book.load(await reader.depth("SOL_USDC", 1000))
        await maker.place_order("SOL_USDC", "sell", "limit", price="100.00", quantity="2.00")
        await taker.place_order("SOL_USDC", "buy", "limit", price="100.00", quantity="0.50")
        fill = await api.event(lambda m: m.get("event", {}).get("x") == "TRADE")
        assert (fill["event"]["l"], fill["event"]["X"]) == ("0.50", "PARTIALLY_FILLED")
        trade = None
        async with asyncio.timeout(5):
            while trade is None:
                message = orjson.loads(await streams.receive_str())
                if message["stream"] == "solusdc@trade":
                    trade = message["data"]
                else:
                    book.on_event(message["data"])
        assert (trade["p"], trade["q"]) == ("100.00", "0.50")
        async with Client(a) as reader:
            depth = await reader.depth("SOL_USDC", 1000)
        async with asyncio.timeout(5):
            while book.last != depth["lastUpdateId"]:
                book.on_event(orjson.loads(await streams.receive_str())["data"])
        assert (book.bids, book.asks) == ({}, {Decimal("100.00"): Decimal("1.50")})
        await streams.close()
        await api.ws.close()
