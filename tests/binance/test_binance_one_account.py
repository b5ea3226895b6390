"""One account on both faces: what ccxt does through /api/v3 streams on the native private
WebSocket, and what the native API does shows in ccxt."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt

from exchange.wsclient import WsClient
from tests.binance.conftest import Server
from tests.binance.test_binance_ccxt import configure


def test_ccxt_order_streams_natively_and_a_native_order_shows_in_ccxt(bn_server: Server) -> None:
    user = bn_server.make_user()
    ex = configure(ccxt.binance, bn_server, user)
    ex.load_markets()
    subscribed = asyncio.Event()

    async def native_stream() -> dict[str, Any]:
        async with WsClient(bn_server.url) as ws:
            await ws.auth(user.api_key, user.secret)
            await ws.subscribe("orders")
            subscribed.set()
            while True:
                event = await ws.next("orders", timeout=10)
                if event["clientOrderId"] == "viaCcxt1":
                    return event

    streaming = asyncio.run_coroutine_threadsafe(native_stream(), bn_server.loop)
    bn_server.run(subscribed.wait())
    placed = ex.create_order("SOL/USDC", "limit", "buy", 1.5, 100.25, {"newClientOrderId": "viaCcxt1"})
    event = streaming.result(15)
    assert event["orderId"] == placed["id"] and event["status"] == "NEW"
    assert (event["symbol"], event["side"], Decimal(event["price"]), Decimal(event["quantity"])) == (
        "SOL_USDC", "buy", Decimal("100.25"), Decimal("1.5"),
    )  # fmt: skip

    native = bn_server.call(user, lambda c: c.place_order("SOL_USDC", "sell", price="150", quantity="2"))
    seen = {o["id"]: o for o in ex.fetch_open_orders("SOL/USDC")}
    assert set(seen) == {placed["id"], native["orderId"]}
    mine = seen[native["orderId"]]
    assert (mine["side"], Decimal(str(mine["price"])), Decimal(str(mine["amount"]))) == (
        "sell", Decimal("150"), Decimal("2"),
    )  # fmt: skip
