"""Public market data through real HTTP, checked against the trades that made it."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import pytest

from exchange.client import Client, ExchangeError
from tests.waiting import until
from tests.web.conftest import MakeUser

SOL = "SOL_USDC"
DEPLOYMENTS = ("all", "cluster")


async def test_markets_and_assets_describe_the_demo_venue(base_url: str) -> None:
    async with Client(base_url) as anon:
        markets = {m["symbol"]: m for m in await anon.markets()}
        assets = {a["asset"]: a["decimals"] for a in await anon.assets()}
        server_time = (await anon.server_time())["serverTime"]
    assert {"SOL_USDC", "BTC_USDC", "ETH_USDC"} <= markets.keys()
    sol = markets[SOL]
    assert (sol["tickSize"], sol["stepSize"], sol["makerFee"], sol["takerFee"]) == (
        "0.01",
        "0.01",
        "0.001",
        "0.002",
    )
    assert (sol["baseAsset"], sol["quoteAsset"], sol["status"]) == ("SOL", "USDC", "TRADING")
    assert assets["USDC"] == 6 and sol["quoteDecimals"] == 6
    assert isinstance(server_time, int) and server_time > 1_600_000_000_000


async def _random_trading(make_user: MakeUser, orders: int = 120) -> list[Client]:
    users = [await make_user() for _ in range(3)]
    rng = random.Random(5)
    for _ in range(orders):
        side = rng.choice(["buy", "sell"])
        price = f"{rng.randint(9_990, 10_010) / 100:.2f}"
        await rng.choice(users).place_order(SOL, side, price=price, quantity=f"{rng.randint(1, 30) / 10:.1f}")
    return users


async def test_klines_and_tickers_agree_with_the_trade_tape(make_user: MakeUser) -> None:
    users = await _random_trading(make_user)
    client = users[0]
    tape = await client.trades(SOL, limit=1000)
    assert tape, "the random flow should trade"
    assert [int(t["id"]) for t in tape] == sorted((int(t["id"]) for t in tape), reverse=True)
    volume = sum(Decimal(t["quantity"]) for t in tape)
    quote = sum(Decimal(t["quoteQuantity"]) for t in tape)
    for t in tape:
        assert Decimal(t["price"]) * Decimal(t["quantity"]) == Decimal(t["quoteQuantity"])
    candles = await client.klines(SOL, "1d")
    assert sum(Decimal(k["volume"]) for k in candles) == volume
    assert sum(k["trades"] for k in candles) == len(tape)
    assert candles[-1]["close"] == tape[0]["price"]
    ticker = await client.ticker(SOL)
    assert (Decimal(ticker["volume"]), Decimal(ticker["quoteVolume"]), ticker["trades"]) == (
        volume,
        quote,
        len(tape),
    )
    prices = [Decimal(t["price"]) for t in tape]
    assert (Decimal(ticker["high"]), Decimal(ticker["low"])) == (max(prices), min(prices))
    assert ticker["lastPrice"] == tape[0]["price"] and ticker["open"] == tape[-1]["price"]
    depth = await client.depth(SOL, limit=1)
    assert ticker["bestBid"] == (depth["bids"][0][0] if depth["bids"] else None)
    assert ticker["bestAsk"] == (depth["asks"][0][0] if depth["asks"] else None)
    assert {t["symbol"] for t in await client.tickers()} >= {SOL, "BTC_USDC"}


async def test_depth_aggregates_levels_and_its_update_id_moves_with_the_book(make_user: MakeUser) -> None:
    alice = await make_user()
    empty = await alice.depth(SOL)
    await alice.place_order(SOL, "buy", price="99", quantity="1")
    await alice.place_order(SOL, "buy", price="99", quantity="2")
    await alice.place_order(SOL, "buy", price="98", quantity="1")
    await alice.place_order(SOL, "sell", price="101", quantity="1")
    depth = await alice.depth(SOL, limit=5)
    assert depth["bids"] == [["99.00", "3.00"], ["98.00", "1.00"]] and depth["asks"] == [["101.00", "1.00"]]
    assert depth["lastUpdateId"] == empty["lastUpdateId"] + 4
    assert (await alice.depth(SOL, limit=1))["bids"] == [["99.00", "3.00"]]


async def test_klines_accept_the_seed_market_alias_and_time_window(make_user: MakeUser) -> None:
    users = await _random_trading(make_user, orders=40)
    anon = users[0]
    by_alias = await anon.request("GET", "/api/v1/klines", params={"market": SOL, "interval": "1m"})
    assert by_alias == await anon.klines(SOL, "1m")
    start = by_alias[0]["start"]
    assert by_alias[0]["end"] == start + 60_000 - 1
    assert await anon.klines(SOL, "1m", start=start + 1) == [k for k in by_alias if k["start"] >= start + 1]


async def test_trades_take_a_time_window_newest_first_within_the_limit(make_user: MakeUser) -> None:
    maker, taker = await make_user(), await make_user()
    await maker.place_order(SOL, "sell", price="100", quantity="4")
    for _ in range(4):
        await taker.place_order(SOL, "buy", price="100", quantity="1")
        # A time, not a condition: trades are stamped with the clock's millisecond, and what
        # the test needs is that clock moving on between two trades.
        await asyncio.sleep(0.005)
    # The SQLite history (endTime pages) is written every 100 ms: wait until it holds the last trade.
    await until(lambda: _newest_in_history(taker), interval=0.02)
    tape = await taker.trades(SOL)
    ts = [t["timestamp"] for t in tape]
    assert [t["id"] for t in tape] == ["4", "3", "2", "1"] and ts == sorted(set(ts), reverse=True)
    assert await taker.trades(SOL, start=ts[2]) == tape[:3]  # from memory
    assert await taker.trades(SOL, start=ts[2], limit=2) == tape[:2]  # the newest, as without startTime
    assert await taker.trades(SOL, start=ts[2], end=ts[1]) == tape[1:3]  # from the history
    assert await taker.trades(SOL, start=ts[0] + 1) == []
    with pytest.raises(ExchangeError) as err:
        await taker.trades(SOL, start=ts[0], end=ts[3])
    assert (err.value.status, err.value.code) == (400, "INVALID_REQUEST")


async def _newest_in_history(client: Client) -> bool:
    """The SQLite history, which alone answers an ``endTime`` page, holds trade 4."""
    return [t["id"] for t in await client.trades(SOL, end=2**52)][:1] == ["4"]


async def test_healthz_and_metrics_report_the_engine(make_user: MakeUser, base_url: str) -> None:
    alice = await make_user()
    await alice.place_order(SOL, "buy", price="99", quantity="1")
    health = await alice.health()
    assert health["status"] == "ok" and health["engine"] is True and health["lastSeq"] >= 2
    async with Client(base_url) as anon:
        session = anon._session
        async with session.get(f"{base_url}/metrics") as resp:
            text = await resp.text()
    assert resp.status == 200
    assert "exchange_commands_total" in text and "exchange_engine_step_seconds_bucket" in text
    assert "exchange_queue_depth" in text and "exchange_ws_connections" in text
    assert "exchange_ws_frames_total" in text and "exchange_ws_evicted_total" in text
