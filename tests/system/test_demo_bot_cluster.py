"""The demo bot in a cluster: it runs on the first gateway only, trades through the engine
process, every gateway shows its market, and a stopped cluster leaves none of its orders."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exchange.client import Client
from exchange.devtools.cluster import Cluster
from exchange.devtools.redis_server import RedisServer, free_port
from tests.waiting import until

MARKETS = ("SOL_USDC", "BTC_USDC", "ETH_USDC")


async def _alive_on(url: str) -> None:
    """Both sides of every book and a trade on every market, as this gateway serves them."""
    async with Client(url) as public:

        async def alive() -> bool:
            depths = [await public.depth(s) for s in MARKETS]
            trades = [await public.trades(s) for s in MARKETS]
            return all(d["bids"] and d["asks"] for d in depths) and all(trades)

        await until(alive, timeout=15, interval=0.05, message=f"the demo markets never came alive on {url}")


async def _no_resting_levels(url: str) -> None:
    """No book level on any market; the mirror may still be taking the cancels: ask again."""
    async with Client(url) as public:
        levels: list[int] = []

        async def empty() -> bool:
            books = [await public.depth(s) for s in MARKETS]
            levels.append(sum(len(b["bids"]) + len(b["asks"]) for b in books))
            return levels[-1] == 0

        await until(empty, interval=0.05, message=lambda: f"{levels[-1]} levels still rest on {url}")


def test_bot_runs_once_per_cluster_and_leaves_no_order_when_stopped(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    data = tmp_path / "data"
    cluster = Cluster(redis_server.url, data, ports[:2], ports[2], args=("--fsync", "off"))
    cluster.start()
    try:
        asyncio.run(_alive_on(cluster.url(1)))  # gateway B serves the bot that gateway A runs
        logs = [(data / f"gateway-{port}.log").read_text() for port in ports[:2]]
        assert "demo bot: quoting" in logs[0] and "demo bot" not in logs[1]
        cluster.stop_gateway(0)  # its shutdown cancels the bot's orders through the engine process
        assert "canceled the open orders of demo-maker" in (data / f"gateway-{ports[0]}.log").read_text()
        asyncio.run(_no_resting_levels(cluster.url(1)))  # nobody else trades here
    finally:
        cluster.stop()
