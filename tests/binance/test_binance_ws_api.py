"""Binance's WebSocket API at /ws-api/v3 over a raw socket: each method, the user data stream
and its events, and Binance's error codes (bad signature, stale timestamp, unknown symbol, ...)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.binance.binance_ws_clients import WsApi
from tests.binance.binance_ws_server import base_url, trader

__all__ = ["base_url"]  # the module's server fixture


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[WsApi]:
    async with aiohttp.ClientSession() as session, await trader(base_url) as client:
        ws = await session.ws_connect(base_url + "/ws-api/v3")
        yield WsApi(ws, client)
        await ws.close()


def _ok(answer: Any) -> Any:
    assert answer["status"] == 200, answer
    return answer["result"]


LIMIT = {"symbol": "SOLUSDC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "90.00",
         "quantity": "2.00"}  # fmt: skip


async def test_ping_and_time(api: WsApi) -> None:
    assert _ok(await api.call("ping")) == {}
    server_time = _ok(await api.call("time"))["serverTime"]
    assert abs(server_time - time.time() * 1000) < 5000


async def test_place_status_open_cancel_and_cancel_all(api: WsApi) -> None:
    placed = _ok(await api.call("order.place", api.signed({**LIMIT, "newClientOrderId": "ws-1"})))
    assert (placed["symbol"], placed["status"], placed["clientOrderId"]) == ("SOLUSDC", "NEW", "ws-1")
    oid = placed["orderId"]
    status = _ok(await api.call("order.status", api.signed({"symbol": "SOLUSDC", "orderId": oid})))
    assert status["orderId"] == oid and status["isWorking"] is True
    opened = _ok(await api.call("openOrders.status", api.signed({"symbol": "SOLUSDC"})))
    assert [o["orderId"] for o in opened] == [oid]
    canceled = _ok(await api.call("order.cancel", api.signed({"symbol": "SOLUSDC", "orderId": oid})))
    assert canceled["status"] == "CANCELED"
    for price in ("80.00", "81.00"):
        _ok(await api.call("order.place", api.signed({**LIMIT, "price": price})))
    all_canceled = _ok(await api.call("openOrders.cancelAll", api.signed({"symbol": "SOLUSDC"})))
    assert sorted(o["price"] for o in all_canceled) == ["80.00", "81.00"]
    assert _ok(await api.call("openOrders.status", api.signed({"symbol": "SOLUSDC"}))) == []


async def test_account_status(api: WsApi) -> None:
    account = _ok(await api.call("account.status", api.signed({})))
    balances = {b["asset"]: b for b in account["balances"]}
    assert balances["USDC"]["free"] == "1000000.000000" and account["accountType"] == "SPOT"


async def test_user_data_stream_sees_a_fill(api: WsApi, base_url: str) -> None:
    sub = _ok(await api.call("userDataStream.subscribe.signature", api.signed({})))
    sid = sub["subscriptionId"]
    assert _ok(await api.call("session.subscriptions")) == [{"subscriptionId": sid}]
    placed = _ok(await api.call("order.place", api.signed({**LIMIT, "side": "SELL", "price": "120.00"})))
    async with await trader(base_url) as taker:
        await taker.place_order("SOL_USDC", "buy", "limit", price="120.00", quantity="0.50")

    def report(x: str) -> Any:
        return lambda m: m.get("event", {}).get("e") == "executionReport" and m["event"]["x"] == x

    new = await api.event(report("NEW"))
    assert new["subscriptionId"] == sid and new["event"]["i"] == placed["orderId"]
    fill = (await api.event(report("TRADE")))["event"]
    assert (fill["X"], fill["l"], fill["L"], fill["z"], fill["m"], fill["N"]) == (
        "PARTIALLY_FILLED", "0.50", "120.00", "0.50", True, "USDC")  # fmt: skip
    assert fill["n"] == "0.060000" and fill["t"] > 0 and fill["Y"] == "60.000000"
    position = (await api.event(lambda m: m.get("event", {}).get("e") == "outboundAccountPosition"))["event"]
    assert {b["a"] for b in position["B"]} >= {"SOL"}
    assert _ok(await api.call("userDataStream.unsubscribe", {"subscriptionId": sid})) == {}
    assert _ok(await api.call("session.subscriptions")) == []


async def test_an_onramp_is_a_balance_update(api: WsApi) -> None:
    _ok(await api.call("userDataStream.subscribe.signature", api.signed({})))
    assert api.client is not None
    await api.client.onramp("SOL", "1.5")
    update = await api.event(lambda m: m.get("event", {}).get("e") == "balanceUpdate")
    assert (update["event"]["a"], update["event"]["d"]) == ("SOL", "1.500000000")
    position = await api.event(lambda m: m.get("event", {}).get("e") == "outboundAccountPosition")
    assert position["event"]["B"] == [{"a": "SOL", "f": "5001.500000000", "l": "0.000000000"}]


async def test_a_withdrawal_request_is_a_negative_balance_update_and_shows_as_locked(api: WsApi) -> None:
    _ok(await api.call("userDataStream.subscribe.signature", api.signed({})))
    assert api.client is not None
    await api.client.request_withdrawal("SOL", "0.5", "sol-address")
    update = await api.event(lambda m: m.get("event", {}).get("e") == "balanceUpdate")
    assert (update["event"]["a"], update["event"]["d"]) == ("SOL", "-0.500000000")
    position = await api.event(lambda m: m.get("event", {}).get("e") == "outboundAccountPosition")
    assert position["event"]["B"] == [{"a": "SOL", "f": "4999.500000000", "l": "0.500000000"}]


CANCEL_UNKNOWN = {"symbol": "SOLUSDC", "orderId": 999_999}
#: case -> (Binance's code, the method, what its params become from the signed LIMIT params).
ERRORS: dict[str, tuple[int, str, Any]] = {
    "bad signature": (-1022, "order.place", lambda api, p: api.signed(LIMIT, secret="not-the-secret")),
    "stale timestamp": (-1021, "order.place", lambda api, p: api.signed(LIMIT, skew_ms=-60_000)),
    "ahead timestamp": (-1021, "order.place", lambda api, p: api.signed(LIMIT, skew_ms=5_000)),
    "unknown symbol": (-1121, "order.place", lambda api, p: api.signed({**LIMIT, "symbol": "NOPEUSDC"})),
    "unknown key": (-2015, "order.place", lambda api, p: {**p, "apiKey": "ak_" + "0" * 32}),
    "malformed key": (-2014, "order.place", lambda api, p: {**p, "apiKey": "nope"}),
    "no signature": (-1102, "order.place", lambda api, p: {k: v for k, v in p.items() if k != "signature"}),
    "recvWindow too large": (
        -1131,
        "order.place",
        lambda api, p: api.signed({**LIMIT, "recvWindow": 70_000}),
    ),
    "off the tick grid": (-1013, "order.place", lambda api, p: api.signed({**LIMIT, "price": "90.005"})),
    "unknown order": (-2011, "order.cancel", lambda api, p: api.signed(CANCEL_UNKNOWN)),
    "unknown parameter": (-1104, "order.place", lambda api, p: api.signed({**LIMIT, "colour": "red"})),
    "unknown method": (-1102, "order.frobnicate", lambda api, p: p),
}


@pytest.mark.parametrize("case", list(ERRORS))
async def test_errors_have_binance_codes(api: WsApi, case: str) -> None:
    code, method, make = ERRORS[case]
    answer = await api.call(method, make(api, api.signed(LIMIT)))
    assert answer["status"] >= 400 and answer["error"]["code"] == code, answer
    assert answer["error"]["msg"]
    assert _ok(await api.call("ping")) == {}  # the session stays open


@pytest.mark.parametrize(
    "frame", ["{not json", '{"method":"ping","params":' + "[" * 2000 + "]" * 2000 + "}"], ids=["text", "deep"]
)
async def test_malformed_frames_get_error_answers(api: WsApi, frame: str) -> None:
    """Deep nesting raised RecursionError out of the socket's loop: the connection dropped."""
    await api.ws.send_str(frame)
    answer = orjson.loads(await api.ws.receive_str(timeout=5))
    assert answer["id"] is None and answer["status"] == 400 and answer["error"]["code"] < 0
    assert _ok(await api.call("ping")) == {}  # the session stays open


async def test_market_data_methods_answer_as_rest(api: WsApi, base_url: str) -> None:
    depth = _ok(await api.call("depth", {"symbol": "SOLUSDC", "limit": 5}))
    assert set(depth) >= {"lastUpdateId", "bids", "asks"}
    tickers = _ok(await api.call("ticker.price", {"symbols": ["SOLUSDC", "ETHUSDC"]}))
    assert [t["symbol"] for t in tickers] == ["SOLUSDC", "ETHUSDC"]
    assert isinstance(_ok(await api.call("klines", {"symbol": "SOLUSDC", "interval": "1m"})), list)
    info = _ok(await api.call("exchangeInfo", {"symbol": "SOLUSDC"}))
    assert [s["symbol"] for s in info["symbols"]] == ["SOLUSDC"]
