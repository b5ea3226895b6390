"""ccxt.pro's binance class against the real server, only its base URLs changed: the market
watchers, the user data stream and order entry over the WebSocket API.

Configuration, as docs/BINANCE.md gives it: REST at ``<host>/api/v3``, market streams at
``ws://<host>/binance/ws``, the WebSocket API at ``ws://<host>/ws-api/v3``. Every other URL ccxt
knows is pointed at this server too, so nothing can leave 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt.pro
import pytest

from exchange.client import Client, ExchangeError
from tests.binance.binance_ws_server import base_url, trader
from tests.binance.ccxt_setup import OPTIONS
from tests.waiting import until

__all__ = ["base_url"]  # the module's server fixture
SYMBOL = "SOL/USDC"


def configure(base: str, client: Client | None = None) -> Any:
    ws = "ws" + base.removeprefix("http")
    ex = ccxt.pro.binance({
        "apiKey": client.api_key if client else None, "secret": client.secret if client else None,
        "enableRateLimit": False, "options": OPTIONS,
        "urls": {"api": {"public": base + "/api/v3", "private": base + "/api/v3",
                         "ws": {"spot": ws + "/binance/ws", "ws-api": {"spot": ws + "/ws-api/v3"}}}},
    })  # fmt: skip
    _pin_local(ex.urls["api"], base, ws, ("public", "private", "spot"))
    return ex


def _pin_local(urls: dict[str, Any], base: str, ws: str, keep: tuple[str, ...]) -> None:
    """Safety net: every URL ccxt knows besides ours points at this server's nowhere."""
    for key, value in urls.items():
        if isinstance(value, dict):
            _pin_local(value, base, ws, ("spot",) if key in ("ws", "ws-api") else ())
        elif isinstance(value, str) and key not in keep:
            urls[key] = f"{ws if value.startswith('ws') else base}/elsewhere/{key}"


def subscriptions_answered(ex: Any) -> list[object]:
    """The ids of the server's answers to ccxt's SUBSCRIBE requests, as they arrive: ccxt reads
    every frame through ``handle_message``, which a socket it opens later calls."""
    answered: list[object] = []
    handle = ex.handle_message

    def spy(client: Any, message: Any) -> Any:
        if isinstance(message, dict) and message.keys() == {"result", "id"}:
            answered.append(message["id"])
        return handle(client, message)

    ex.handle_message = spy
    return answered


@pytest.fixture
async def ex(base_url: str) -> AsyncIterator[Any]:
    async with await trader(base_url, {"USDC": "1000000", "SOL": "5000", "BTC": "1"}) as client:
        exchange = configure(base_url, client)
        exchange.native = client
        try:
            await exchange.load_markets()
            yield exchange
        finally:
            await exchange.close()


async def _random_orders(client: Client, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        side = rng.choice(("buy", "sell"))
        price, qty = Decimal(rng.randint(9500, 10500)) / 100, Decimal(rng.randint(2, 300)) / 100
        order = await client.place_order("SOL_USDC", side, "limit", price=str(price), quantity=str(qty))
        if rng.random() < 0.2 and order["status"] in ("NEW", "PARTIALLY_FILLED"):
            with contextlib.suppress(ExchangeError):  # the other trader may have filled it since
                await client.cancel_order("SOL_USDC", order_id=order["orderId"])


def _floats(levels: list[list[str]]) -> list[tuple[float, float]]:
    """REST levels as ccxt holds them (floats parsed from the same text)."""
    return [(float(p), float(q)) for p, q in levels]


async def test_watch_order_book_equals_rest_depth_after_thousands_of_orders(ex: Any, base_url: str) -> None:
    book: dict[str, Any] = {}

    async def watch() -> None:
        while True:
            book["last"] = await ex.watch_order_book(SYMBOL)

    watcher = asyncio.create_task(watch())
    a, b = await trader(base_url), await trader(base_url)
    try:
        await asyncio.gather(_random_orders(a, 1100, 11), _random_orders(b, 1100, 12))
        depth = await a.depth("SOL_USDC", 1000)
        await until(lambda: book.get("last") is not None and book["last"]["nonce"] == depth["lastUpdateId"])
        seen = book["last"]
        assert [tuple(x) for x in seen["bids"]] == _floats(depth["bids"])
        assert [tuple(x) for x in seen["asks"]] == _floats(depth["asks"])
        assert seen["bids"] and seen["asks"]
        assert not watcher.done()
    finally:
        watcher.cancel()
        await a.close()
        await b.close()


async def test_watch_trades_ticker_ohlcv(ex: Any, base_url: str) -> None:
    """On ETH/USDC, a book no other test of the module touches."""
    answered = subscriptions_answered(ex)
    trades = asyncio.create_task(ex.watch_trades("ETH/USDC"))
    ticker = asyncio.create_task(ex.watch_ticker("ETH/USDC"))
    ohlcv = asyncio.create_task(ex.watch_ohlcv("ETH/USDC", "1m"))
    await until(lambda: len(answered) == 3)  # a trade before its SUBSCRIBE is answered is not sent
    async with await trader(base_url, {"ETH": "10"}) as maker, await trader(base_url) as taker:
        await maker.place_order("ETH_USDC", "sell", "limit", price="2000.00", quantity="1.5")
        await taker.place_order("ETH_USDC", "buy", "limit", price="2000.00", quantity="1.5")
    async with asyncio.timeout(5):
        got_trades, got_ticker, got_ohlcv = await asyncio.gather(trades, ticker, ohlcv)
    trade = got_trades[-1]
    assert (trade["symbol"], trade["price"], trade["amount"], trade["side"]) == (
        "ETH/USDC",
        2000.0,
        1.5,
        "buy",
    )
    assert got_ticker["symbol"] == "ETH/USDC" and got_ticker["last"] == 2000.0
    assert got_ohlcv[-1][1:] == [2000.0, 2000.0, 2000.0, 2000.0, 1.5]


async def test_private_watchers_see_a_fill_and_orders_go_over_the_ws_api(ex: Any, base_url: str) -> None:
    """On BTC/USDC, a book no other test of the module touches."""
    orders = asyncio.create_task(ex.watch_orders("BTC/USDC"))
    balance = asyncio.create_task(ex.watch_balance())
    my_trades = asyncio.create_task(ex.watch_my_trades("BTC/USDC"))
    placed = await ex.create_order_ws("BTC/USDC", "limit", "sell", 0.002, 50000)
    assert (placed["status"], placed["price"], placed["amount"]) == ("open", 50000.0, 0.002)
    async with await trader(base_url) as taker:
        await taker.place_order("BTC_USDC", "buy", "limit", price="50000.0", quantity="0.0005")
    async with asyncio.timeout(5):
        got_orders, got_balance, got_trades = await asyncio.gather(orders, balance, my_trades)
    assert got_orders[-1]["id"] == placed["id"]
    fill = got_trades[-1]
    assert (fill["order"], fill["price"], fill["amount"], fill["takerOrMaker"]) == (
        placed["id"], 50000.0, 0.0005, "maker")  # fmt: skip
    assert fill["fee"]["currency"] == "USDC"
    assert "BTC" in got_balance
    await until(lambda: ex.orders.hashmap["BTC/USDC"][placed["id"]]["filled"] == 0.0005)
    canceled = await ex.cancel_order_ws(placed["id"], "BTC/USDC")
    assert canceled["status"] == "canceled" and canceled["filled"] == 0.0005
    assert await ex.native.open_orders("BTC_USDC") == []


async def test_watch_tickers_of_every_market_and_bids_asks(ex: Any, base_url: str) -> None:
    """``watch_tickers()`` reads ``!miniTicker@arr``; ``watch_bids_asks`` ``<s>@bookTicker``. On
    ETH/USDC, which only the trades test touches (at 2000.00, all of it traded)."""
    answered = subscriptions_answered(ex)
    await ex.watch_bids_asks(["ETH/USDC"])  # the best bid and ask as of the subscription
    tickers = asyncio.create_task(ex.watch_tickers())
    bids_asks = asyncio.create_task(ex.watch_bids_asks(["ETH/USDC"]))  # the next change
    await until(lambda: len(answered) == 2)  # bookTicker's, then the tickers' SUBSCRIBE
    async with await trader(base_url, {"ETH": "10"}) as maker, await trader(base_url) as taker:
        await maker.place_order("ETH_USDC", "sell", "limit", price="2100.00", quantity="0.5")
        await taker.place_order("ETH_USDC", "buy", "limit", price="2100.00", quantity="0.2")
    async with asyncio.timeout(5):
        got_tickers, best = await asyncio.gather(tickers, bids_asks)
    assert got_tickers["ETH/USDC"]["last"] == 2100.0
    assert (best["ETH/USDC"]["ask"], best["ETH/USDC"]["askVolume"]) == (2100.0, 0.5)  # the maker's ask
