"""Binance market streams over real sockets: each stream's frame shape, the raw, combined and
live-subscribe forms, Binance's request errors, and the local-book recipe (REST depth + diffs
equals REST depth after thousands of random orders)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from exchange.client import Client, ExchangeError
from tests.binance.binance_ws_clients import LocalBook
from tests.binance.binance_ws_server import base_url, trader
from tests.waiting import until

WS = "/binance/ws"
__all__ = ["base_url"]  # the module's server fixture


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _ask(ws: aiohttp.ClientWebSocketResponse, message: Any) -> Any:
    await ws.send_str(message if isinstance(message, str) else orjson.dumps(message).decode())
    return await _next(ws, lambda m: isinstance(m, dict) and ("result" in m or "error" in m))


async def _next(ws: aiohttp.ClientWebSocketResponse, match: Any, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            message = orjson.loads(await ws.receive_str())
            if match(message):
                return message


async def _cross(base_url: str, price: str = "100.00", qty: str = "1.00") -> None:
    """A resting ask, then another user's buy that takes it: book changes and one trade."""
    async with await trader(base_url) as maker, await trader(base_url) as taker:
        await maker.place_order("SOL_USDC", "sell", "limit", price=price, quantity=qty)
        await taker.place_order("SOL_USDC", "buy", "limit", price=price, quantity=qty)


EXPECTED_KEYS = {
    "solusdc@trade": {"e", "E", "s", "t", "p", "q", "T", "m", "M"},
    "solusdc@aggTrade": {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"},
    "solusdc@depth": {"e", "E", "s", "U", "u", "b", "a"},
    "solusdc@depth@100ms": {"e", "E", "s", "U", "u", "b", "a"},
    "solusdc@depth5": {"lastUpdateId", "bids", "asks"},
    "solusdc@depth10@100ms": {"lastUpdateId", "bids", "asks"},
    "solusdc@kline_1m": {"e", "E", "s", "k"},
    "solusdc@ticker": {"e", "E", "s", "p", "P", "w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l",
                       "v", "q", "O", "C", "F", "L", "n"},
    "solusdc@miniTicker": {"e", "E", "s", "c", "o", "h", "l", "v", "q"},
    "solusdc@bookTicker": {"u", "s", "b", "B", "a", "A"},
    "!ticker@arr": None,
    "!miniTicker@arr": None,
}  # fmt: skip
EMPTY_BOOK = {"lastUpdateId": 0, "bids": [], "asks": []}  # what a partial stream starts from
EVENT_TYPES = {"solusdc@trade": "trade", "solusdc@aggTrade": "aggTrade", "solusdc@depth": "depthUpdate",
               "solusdc@depth@100ms": "depthUpdate", "solusdc@kline_1m": "kline",
               "solusdc@ticker": "24hrTicker", "solusdc@miniTicker": "24hrMiniTicker"}  # fmt: skip


async def test_every_stream_on_a_combined_socket_has_binance_shape(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    names = list(EXPECTED_KEYS)
    ws = await session.ws_connect(f"{base_url}/binance/stream?streams={'/'.join(names)}")
    await _cross(base_url, "101.00", "2.00")
    seen: dict[str, Any] = {}
    async with asyncio.timeout(5):
        while set(names) - set(seen):
            message = orjson.loads(await ws.receive_str())
            assert set(message) == {"stream", "data"}
            if message["stream"] not in seen and message["data"] != EMPTY_BOOK:
                seen[message["stream"]] = message["data"]
    for name, keys in EXPECTED_KEYS.items():
        data = seen[name]
        if keys is None:  # the all-market arrays
            assert isinstance(data, list) and data[0]["s"] == "SOLUSDC"
            assert data[0]["e"] == ("24hrTicker" if name == "!ticker@arr" else "24hrMiniTicker")
            continue
        assert keys <= set(data), (name, data)
        if name in EVENT_TYPES:
            assert data["e"] == EVENT_TYPES[name] and data["s"] == "SOLUSDC"
    trade = seen["solusdc@trade"]
    assert (trade["p"], trade["q"], trade["m"]) == ("101.00", "2.00", False)
    assert isinstance(trade["t"], int)
    kline = seen["solusdc@kline_1m"]["k"]
    assert kline["i"] == "1m" and kline["o"] == "101.00" and kline["x"] is False
    await ws.close()


async def test_raw_path_stream_comes_unwrapped(base_url: str, session: aiohttp.ClientSession) -> None:
    ws = await session.ws_connect(f"{base_url}{WS}/solusdc@trade")
    await _cross(base_url)
    trade = await _next(ws, lambda m: m.get("e") == "trade")
    assert trade["s"] == "SOLUSDC" and "stream" not in trade
    await ws.close()


async def test_live_subscribe_list_unsubscribe_on_a_path_ccxt_uses(
    base_url: str, session: aiohttp.ClientSession
) -> None:
    ws = await session.ws_connect(f"{base_url}{WS}/0")  # ccxt.pro's path: no stream, ignored
    assert await _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": [], "id": 1}
    answer = await _ask(ws, {"method": "SUBSCRIBE", "params": ["SOLUSDC@trade", "solusdc@depth5"], "id": 2})
    assert answer == {"result": None, "id": 2}
    first = await _next(ws, lambda m: "lastUpdateId" in m)  # a partial book starts at once
    assert set(first) == {"lastUpdateId", "bids", "asks"}
    listed = await _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3})
    assert listed == {"result": ["solusdc@trade", "solusdc@depth5"], "id": 3}
    assert await _ask(ws, {"method": "UNSUBSCRIBE", "params": ["solusdc@depth5"], "id": 4}) == {
        "result": None, "id": 4}  # fmt: skip
    assert await _ask(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 5}) == {
        "result": False, "id": 5}  # fmt: skip
    combined = await _ask(ws, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 6})
    assert combined == {"result": None, "id": 6}
    await _cross(base_url)
    wrapped = await _next(ws, lambda m: m.get("stream") == "solusdc@trade")
    assert wrapped["data"]["e"] == "trade"
    await ws.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"method": "SUBSCRIBE", "params": ["nopeusdc@trade"], "id": 1}, 2),
        ({"method": "SUBSCRIBE", "params": ["solusdc@kline_2m"], "id": 1}, 2),
        ({"method": "SUBSCRIBE", "params": ["solusdc@trade@100ms"], "id": 1}, 2),
        ({"method": "SUBSCRIBE", "params": "solusdc@trade", "id": 1}, 2),
        ({"method": "SUBSCRIBEE", "params": [], "id": 1}, 2),
        ({"method": "SET_PROPERTY", "params": ["colour", True], "id": 1}, 0),
        ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 1}, 1),
        ("{not json", 3),
    ],
)  # fmt: skip
async def test_bad_requests_get_binance_error_codes(
    base_url: str, session: aiohttp.ClientSession, message: Any, code: int
) -> None:
    ws = await session.ws_connect(f"{base_url}{WS}")
    answer = await _ask(ws, message)
    assert answer["error"]["code"] == code and answer["error"]["msg"]
    assert await _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 9}) == {"result": [], "id": 9}
    await ws.close()


def _as_book(depth: Any) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    def side(levels: list[list[str]]) -> dict[Decimal, Decimal]:
        return {Decimal(p): Decimal(q) for p, q in levels}

    return side(depth["bids"]), side(depth["asks"])


async def _random_orders(client: Client, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        side = rng.choice(("buy", "sell"))
        price = Decimal(rng.randint(9500, 10500)) / 100
        qty = Decimal(rng.randint(2, 300)) / 100
        order = await client.place_order("SOL_USDC", side, "limit", price=str(price), quantity=str(qty))
        if rng.random() < 0.2 and order["status"] in ("NEW", "PARTIALLY_FILLED"):
            with contextlib.suppress(ExchangeError):  # the other trader may have filled it since
                await client.cancel_order("SOL_USDC", order_id=order["orderId"])


@pytest.mark.parametrize("stream", ["solusdc@depth@100ms", "solusdc@depth"])
async def test_local_book_from_rest_depth_and_diffs_equals_rest_depth(
    base_url: str, session: aiohttp.ClientSession, stream: str
) -> None:
    ws = await session.ws_connect(f"{base_url}{WS}/{stream}")
    book = LocalBook()

    async def read() -> None:
        async for message in ws:
            book.on_event(orjson.loads(message.data))

    reader = asyncio.create_task(read())
    a, b = await trader(base_url), await trader(base_url)
    try:
        half = asyncio.gather(_random_orders(a, 600, 1), _random_orders(b, 600, 2))
        await asyncio.sleep(0.05)  # the snapshot is taken while orders flow, as in life
        book.load(await a.depth("SOL_USDC", 1000))
        await half
        await asyncio.gather(_random_orders(a, 600, 3), _random_orders(b, 600, 4))
        final = await a.depth("SOL_USDC", 1000)
        await until(lambda: book.last == final["lastUpdateId"], timeout=5)
        assert (book.bids, book.asks) == _as_book(final)
        assert book.bids and book.asks
    finally:
        reader.cancel()
        await a.close()
        await b.close()
        await ws.close()
