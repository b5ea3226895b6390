"""Faults in a cluster under load: Redis restarts, a gateway dies, the engine dies and restarts.

Each trader places resting buy orders, each with its own quantity, through one gateway until
told to stop; an order answered 200 is acknowledged, one answered 503 or cut off is unsure.
After the fault and recovery, the engine's open orders must hold every acknowledged order,
nothing that was never sent, and no quantity twice (an order applied twice would show twice).
A WebSocket reader on the gateway the fault spares must keep its feed throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exchange.client import Client, ExchangeError
from exchange.devtools.cluster import Cluster, wait_healthy
from exchange.devtools.redis_server import RedisServer, free_port
from exchange.wsclient import WsClient
from tests.conftest import private_redis
from tests.waiting import until
from tests.web.conftest import CLUSTER_ARGS, PASSWORD

SOL = "SOL_USDC"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: one test restarts it."""
    with private_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def cluster(redis: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    ports = [free_port() for _ in range(3)]
    made = Cluster(
        redis.url, tmp_path / "data", ports[:2], ports[2], args=(*CLUSTER_ARGS, "--bus-timeout", "2")
    )
    made.start()
    yield made
    made.stop()


class Trader:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.acked: set[str] = set()
        self.unsure: set[str] = set()
        self.n = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.n += 1
            qty = f"{1 + self.n / 100:.2f}"
            try:
                await self.client.place_order(SOL, "buy", price="1.00", quantity=qty)
                self.acked.add(qty)
            except ExchangeError as exc:
                assert exc.status == 503, exc  # the only refusal a fault may cause
                self.unsure.add(qty)
                await asyncio.sleep(0.02)  # pacing: a refused trader backs off instead of spinning
            except (aiohttp.ClientError, OSError):
                self.unsure.add(qty)  # the gateway went away mid-request
                await asyncio.sleep(0.02)  # pacing, as above

    async def check(self) -> None:
        """Every acknowledged order is open, nothing unsent, nothing twice."""
        quantities = [o["quantity"] for o in await self.client.open_orders(SOL)]
        assert len(quantities) == len(set(quantities)), "an order was applied twice"
        assert self.acked <= set(quantities), f"acknowledged orders lost: {self.acked - set(quantities)}"
        assert set(quantities) <= self.acked | self.unsure, "an order appeared that was never sent"


async def _trader(url: str, name: str) -> Trader:
    client = Client(url)
    await client.signup(name, PASSWORD)
    key = await client.create_api_key()
    client.use_key(key["apiKey"], key["secret"])
    await client.onramp("USDC", "100000")
    return Trader(client)


async def _under_load(
    cluster: Cluster, warm: int
) -> tuple[Trader, Trader, asyncio.Event, asyncio.Future[list[None]]]:
    """alice on gateway A and bob on gateway B placing orders, each with ``warm`` acknowledged."""
    a, b = await _trader(cluster.url(0), "alice"), await _trader(cluster.url(1), "bob")
    stop = asyncio.Event()
    load = asyncio.gather(a.run(stop), b.run(stop))
    await until(lambda: len(a.acked) > warm and len(b.acked) > warm, timeout=20)
    return a, b, stop, load


async def _check_and_close(*traders: Trader) -> None:
    for trader in traders:
        await trader.check()
        await trader.client.close()


async def _acks_go_on(*traders: Trader, more: int = 20) -> None:
    """Each trader gets ``more`` further orders acknowledged: the load goes on after the fault."""
    before = [len(t.acked) + more for t in traders]
    await until(lambda: all(len(t.acked) > n for t, n in zip(traders, before, strict=True)), timeout=20)


async def test_redis_restart_mid_load_keeps_every_acknowledged_order(
    cluster: Cluster, redis: RedisServer
) -> None:
    a, b, stop, load = await _under_load(cluster, 20)
    await asyncio.to_thread(redis.restart, 0.3)
    await _acks_go_on(a, b)
    stop.set()
    await load
    await _check_and_close(a, b)


@contextlib.asynccontextmanager
async def _watched_load(
    cluster: Cluster, warm: int
) -> AsyncIterator[tuple[WsClient, Trader, Trader, asyncio.Event, asyncio.Future[list[None]]]]:
    """Gateway A's depth feed, open while two traders load the cluster (see ``_under_load``)."""
    async with WsClient(cluster.url(0)) as feed:
        await feed.subscribe(f"depth@{SOL}")
        yield (feed, *await _under_load(cluster, warm))


async def test_gateway_killed_mid_load_loses_only_its_own_connections(cluster: Cluster) -> None:
    async with _watched_load(cluster, 20) as (feed, a, b, stop, load):
        cluster.stop_gateway(1, signal.SIGKILL)
        feed.drain(f"depth@{SOL}")
        await _acks_go_on(a)
        assert feed.closed_with is None and feed.drain(f"depth@{SOL}"), "gateway A's feed stalled"
        await asyncio.to_thread(cluster.start_gateway, 1)
        await _acks_go_on(b)  # B's clients reconnect and trade again
        stop.set()
        await load
    await _check_and_close(a, b)


async def test_engine_killed_mid_load_and_restarted_loses_nothing_acknowledged(cluster: Cluster) -> None:
    async with _watched_load(cluster, 30) as (feed, a, b, stop, load):
        cluster.stop_engine(signal.SIGKILL)
        # A time, not a condition: how long the engine stays dead under load is the fault itself.
        await asyncio.sleep(0.5)
        await asyncio.to_thread(cluster.start_engine)
        feed.drain(f"depth@{SOL}")
        await _acks_go_on(a, b)
        assert feed.closed_with is None and feed.drain(f"depth@{SOL}"), "the feed did not come back"
        stop.set()
        await load
        book = feed.books[f"depth@{SOL}"]
        depth: dict[str, Any] = {}

        async def caught_up() -> bool:  # the last diffs reached the socket
            depth.update(await a.client.depth(SOL))
            return book.last_u == depth["lastUpdateId"]

        await until(caught_up, interval=0.05)
        bids, _ = book.levels()
        assert bids == depth["bids"], "the live book drifted from gateway A's depth"
    await _check_and_close(a, b)


async def test_gateway_without_an_engine_answers_503_with_clear_codes_then_recovers(
    redis: RedisServer, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(2)]
    args = (*CLUSTER_ARGS, "--bus-timeout", "1")
    lonely = Cluster(redis.url, tmp_path / "data", ports[:1], ports[1], args=args)
    try:
        await asyncio.to_thread(lonely.start_gateway, 0, wait=False)
        async with Client(lonely.url(0)) as client:
            await until(lambda: _answers(lonely.url(0)), timeout=20, interval=0.05)
            health = await _status(client, "/healthz")
            assert health[0] == 503 and health[1]["engine"] is False
            assert (await _status(client, f"/api/v1/depth?symbol={SOL}"))[1]["code"] == "UNAVAILABLE"
            await client.signup("alice", PASSWORD)  # accounts need no engine
            with pytest.raises(ExchangeError) as refused:
                await client.onramp("USDC", "100")
            assert (refused.value.status, refused.value.code) == (503, "ENGINE_TIMEOUT")
            await asyncio.to_thread(lonely.start_engine)
            await asyncio.to_thread(wait_healthy, lonely.url(0), 20)
            assert (await client.onramp("USDC", "100"))["USDC"]["available"] == "100.000000"
            assert (await client.depth(SOL))["lastUpdateId"] == 0
    finally:
        lonely.stop()


def _answers(url: str) -> bool:
    """Any HTTP answer at all (a 503 included): the process is up."""
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


async def _status(client: Client, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(client.base_url + path) as resp:
        return resp.status, await resp.json()
