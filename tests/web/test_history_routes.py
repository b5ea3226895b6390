"""History beyond memory: the newest rows come from memory, older ones and pages from SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from exchange.app import create_app
from exchange.client import Client
from exchange.config import Settings
from tests.waiting import until
from tests.web.conftest import PASSWORD, TEST_SETTINGS

SOL = "SOL_USDC"


@pytest.fixture
async def small_memory(aiohttp_server: Any, tmp_path: Path) -> TestServer:
    settings = Settings(data_dir=str(tmp_path), recent_history=3, **TEST_SETTINGS)  # type: ignore[arg-type]
    return await aiohttp_server(create_app(settings))  # type: ignore[no-any-return]


async def _newest_in_history(client: Client) -> bool:
    """The SQLite history, which alone answers an ``endTime`` page, holds the last trade (5):
    the history commits in event order, so the orders and fills before it are there too."""
    tape = await client.request("GET", "/api/v1/trades", params={"symbol": SOL, "endTime": 2**52})
    return [t["id"] for t in tape][:1] == ["5"]


async def test_order_history_and_fills_reach_past_the_memory_into_sqlite(small_memory: TestServer) -> None:
    url = str(small_memory.make_url("")).rstrip("/")
    async with Client(url) as alice, Client(url) as bob:
        for client, name in ((alice, "alice"), (bob, "bob")):
            await client.signup(name, PASSWORD)
            key = await client.create_api_key()
            client.use_key(key["apiKey"], key["secret"])
        await alice.onramp("USDC", "100000")
        await bob.onramp("SOL", "100")
        canceled = [await alice.place_order(SOL, "buy", price=f"{90 + i}", quantity="1") for i in range(6)]
        for order in canceled:
            await alice.cancel_order(SOL, order["orderId"])
        for _ in range(5):
            await bob.place_order(SOL, "sell", price="100", quantity="1")
            await alice.place_order(SOL, "buy", price="100", quantity="1")
        await until(lambda: _newest_in_history(alice), interval=0.02)  # written every 100 ms

        history = await alice.order_history(SOL, limit=20)
        assert len(history) == 11  # 6 canceled + 5 filled: only 3 fit in memory
        ids = [int(o["orderId"]) for o in history]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 11
        assert {o["status"] for o in history} == {"CANCELED", "FILLED"}

        fills = await alice.fills(SOL, limit=20)
        assert [f["tradeId"] for f in fills] == ["5", "4", "3", "2", "1"]

        oldest_fill_time = fills[-1]["timestamp"]
        page = await alice.request("GET", "/api/v1/fills", params={"endTime": oldest_fill_time}, auth=True)
        assert page and all(f["timestamp"] <= oldest_fill_time for f in page)
        assert page[-1]["tradeId"] == "1" and {f["tradeId"] for f in page} <= {"1", "2", "3", "4", "5"}
        before_any = await alice.request(
            "GET", "/api/v1/fills", params={"endTime": oldest_fill_time - 1}, auth=True
        )
        assert before_any == []

        tape = await alice.request("GET", "/api/v1/trades", params={"symbol": SOL, "endTime": 2**52})
        assert [t["id"] for t in tape] == ["5", "4", "3", "2", "1"]
