"""The WebSocket feed over real sockets: answers, stream shapes, private streams, exact depth
sync, order entry, slow consumers and origin checks."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import orjson
import pytest
from aiohttp.test_utils import TestServer

from exchange.app import create_app
from exchange.client import Client, ExchangeError
from exchange.config import Settings
from exchange.signing import ws_auth_signature
from exchange.wsclient import WsClient
from tests.waiting import until
from tests.web.conftest import GENEROUS, MakeUser
from tests.web.ws_helpers import StalledReader

SOL = "SOL_USDC"
DEPLOYMENTS = ("all", "cluster")


async def _raw(base_url: str, session: aiohttp.ClientSession, **kw: Any) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(base_url + "/ws", **kw)


async def _ask(ws: aiohttp.ClientWebSocketResponse, message: Any) -> Any:
    await ws.send_str(message if isinstance(message, str) else orjson.dumps(message).decode())
    return orjson.loads(await ws.receive_str(timeout=5))


async def test_subscribe_list_unsubscribe_answer_by_id(base_url: str) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await _raw(base_url, s)
        subscribe = {"method": "SUBSCRIBE", "params": ["trade@SOL_USDC", "ticker@SOL_USDC"], "id": 1}
        assert await _ask(ws, subscribe) == {"id": 1, "result": None}
        listed = await _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": "two"})
        assert listed == {"id": "two", "result": ["trade@SOL_USDC", "ticker@SOL_USDC"]}
        assert (await _ask(ws, {"method": "UNSUBSCRIBE", "params": ["trade@SOL_USDC"], "id": 3}))[
            "result"
        ] is None
        assert (await _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 4}))["result"] == ["ticker@SOL_USDC"]
        await ws.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"method": "SUBSCRIBE", "params": ["depth@NOPE_USDC"], "id": 1}, "INVALID_REQUEST"),
        ({"method": "SUBSCRIBE", "params": ["kline.2m@SOL_USDC"], "id": 1}, "INVALID_REQUEST"),
        ({"method": "SUBSCRIBE", "params": ["depth@SOL_USDC@1s"], "id": 1}, "INVALID_REQUEST"),
        ({"method": "SUBSCRIBE", "params": "trade@SOL_USDC", "id": 1}, "INVALID_REQUEST"),
        ({"method": "SUBSCRIBE", "params": ["orders"], "id": 1}, "UNAUTHORIZED"),
        ({"method": "SUBSCRIBE", "params": ["balances"], "id": 1}, "UNAUTHORIZED"),
        ({"method": "FROBNICATE", "id": 1}, "INVALID_REQUEST"),
        ({"method": "ORDER.PLACE", "params": {}, "id": 1}, "UNAUTHORIZED"),
        ({"method": "AUTH", "params": {"apiKey": "ak_x", "timestamp": 1, "signature": "0"}, "id": 1},
         "UNAUTHORIZED"),
        ({"method": "AUTH", "params": [1, 2], "id": 1}, "INVALID_REQUEST"),
        ("not json at all", "INVALID_REQUEST"),
        ({"params": [], "id": 1}, "INVALID_REQUEST"),
        ('{"method":"AUTH","params":' + "[" * 2000 + "]" * 2000 + "}", "INVALID_REQUEST"),  # too deep
    ],
)  # fmt: skip
async def test_bad_requests_get_error_answers_and_the_connection_stays_open(
    base_url: str, message: Any, code: str
) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await _raw(base_url, s)
        answer = await _ask(ws, message)
        assert answer["error"]["code"] == code and answer["error"]["message"]
        assert (await _ask(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 9}))["id"] == 9  # still open
        await ws.close()


async def test_every_public_stream_has_its_shape(make_user: MakeUser, base_url: str) -> None:
    maker, taker = await make_user(), await make_user()
    streams = ["depth@SOL_USDC", "depth@SOL_USDC@100ms", "trade@SOL_USDC", "ticker@SOL_USDC",
               "bookTicker@SOL_USDC", "kline.1m@SOL_USDC"]  # fmt: skip
    async with WsClient(base_url) as ws:
        await ws.subscribe(*streams)
        assert (await ws.next("depth@SOL_USDC"))["e"] == "depthSnapshot"
        assert (await ws.next("depth@SOL_USDC@100ms"))["e"] == "depthSnapshot"
        first_ticker = await ws.next("bookTicker@SOL_USDC")
        await maker.place_order(SOL, "sell", price="100", quantity="2")
        await taker.place_order(SOL, "buy", price="100", quantity="0.5")
        depth = await ws.next("depth@SOL_USDC")
        assert depth.keys() == {"e", "E", "s", "U", "u", "b", "a"} and depth["a"] == [["100.00", "2.00"]]
        depth2 = await ws.next("depth@SOL_USDC")
        assert depth2["U"] == depth["u"] + 1 and depth2["a"] == [["100.00", "1.50"]]
        merged = await ws.next("depth@SOL_USDC@100ms")
        assert merged["U"] == depth["U"]
        while merged["u"] < depth2["u"]:  # a 100 ms window may close between the two orders
            following = await ws.next("depth@SOL_USDC@100ms")
            assert following["U"] == merged["u"] + 1
            merged = following
        assert (merged["u"], merged["a"]) == (depth2["u"], [["100.00", "1.50"]])
        trade = await ws.next("trade@SOL_USDC")
        expected = {"e": "trade", "E": 0, "s": SOL, "t": 1, "p": "100.00", "q": "0.50", "m": False, "T": 0}
        assert trade | {"E": 0, "T": 0} == expected
        ticker = await ws.next("ticker@SOL_USDC")
        assert (ticker["e"], ticker["lastPrice"], ticker["volume"], ticker["trades"]) == (
            "ticker",
            "100.00",
            "0.50",
            1,
        )
        assert first_ticker["e"] == "bookTicker" and first_ticker["a"] is None
        book_ticker = await ws.next("bookTicker@SOL_USDC")
        assert (book_ticker["a"], book_ticker["A"]) == ("100.00", "2.00")
        kline = (await ws.next("kline.1m@SOL_USDC"))["k"]
        assert kline.keys() >= {"t", "T", "i", "o", "h", "l", "c", "v", "n", "x"}
        assert (kline["i"], kline["o"], kline["c"], kline["v"], kline["n"], kline["x"]) == (
            "1m", "100.00", "100.00", "0.50", 1, False)  # fmt: skip
        assert kline["T"] == kline["t"] + 60_000 - 1


async def test_a_removed_level_is_sent_as_zero(make_user: MakeUser, base_url: str) -> None:
    alice = await make_user()
    async with WsClient(base_url) as ws:
        await ws.subscribe("depth@SOL_USDC", "depth@SOL_USDC@100ms")
        await ws.next("depth@SOL_USDC")  # the snapshots
        await ws.next("depth@SOL_USDC@100ms")
        order = await alice.place_order(SOL, "buy", price="99", quantity="1")
        assert (await ws.next("depth@SOL_USDC"))["b"] == [["99.00", "1.00"]]
        await alice.cancel_order(SOL, order["orderId"])
        assert (await ws.next("depth@SOL_USDC"))["b"] == [["99.00", "0"]]
        merged = await ws.next("depth@SOL_USDC@100ms")
        while merged["b"] != [["99.00", "0"]]:  # a 100 ms window may close between the two orders
            assert merged["b"] == [["99.00", "1.00"]]
            merged = await ws.next("depth@SOL_USDC@100ms")
        assert ws.books["depth@SOL_USDC"].levels() == ([], [])


async def test_private_streams_reach_only_their_owner(make_user: MakeUser, base_url: str) -> None:
    alice, bob = await make_user(), await make_user()
    async with WsClient(base_url) as alice_ws, WsClient(base_url) as bob_ws:
        await alice_ws.auth(alice.api_key or "", alice.secret or "")
        await bob_ws.auth(bob.api_key or "", bob.secret or "")
        await alice_ws.subscribe("orders", "balances")
        await bob_ws.subscribe("orders", "balances")
        await alice.place_order(SOL, "buy", price="99", quantity="1")
        order = await alice_ws.next("orders")
        assert (order["e"], order["orderId"], order["status"], order["price"]) == (
            "order",
            "1",
            "NEW",
            "99.00",
        )
        balance = await alice_ws.next("balances")
        assert balance == {"e": "balance", "E": balance["E"], "asset": "USDC", "available": "99901.000000",
                           "locked": "99.000000", "withdrawing": "0.000000"}  # fmt: skip
        # Bob's own order closes the window: a stray event of alice's would have come before it.
        await bob.place_order(SOL, "buy", price="98", quantity="1")
        order, balance = await bob_ws.next("orders"), await bob_ws.next("balances")
        assert (order["orderId"], order["price"]) == ("2", "98.00")
        assert (balance["available"], balance["locked"]) == ("99902.000000", "98.000000")
        assert bob_ws.drain("orders") == [] and bob_ws.drain("balances") == []


async def test_browser_session_cookie_authenticates_the_socket(make_user: MakeUser, base_url: str) -> None:
    alice = await make_user(key=False)
    session = alice._session  # the cookie jar holds the session cookie from signup
    async with WsClient(base_url, session=session) as ws:
        await ws.subscribe("orders")
        await alice.request(
            "POST",
            "/api/v1/order",
            auth=True,
            body={"symbol": SOL, "side": "buy", "type": "limit", "price": "90", "quantity": "1"},
        )
        assert (await ws.next("orders"))["status"] == "NEW"


async def test_order_entry_on_the_socket_answers_like_rest(make_user: MakeUser, base_url: str) -> None:
    alice = await make_user()
    async with WsClient(base_url) as ws:
        await ws.auth(alice.api_key or "", alice.secret or "")
        placed = await ws.place_order(symbol=SOL, side="sell", type="limit", price="150", quantity="1",
                                      clientOrderId="ws-1")  # fmt: skip
        assert placed["status"] == "NEW" and placed["clientOrderId"] == "ws-1" and placed["fills"] == []
        amended = await ws.amend_order(symbol=SOL, orderId=placed["orderId"], quantity="0.5")
        assert amended["quantity"] == "0.50"
        canceled = await ws.cancel_order(symbol=SOL, clientOrderId="ws-1")
        assert canceled["status"] == "CANCELED"
        await ws.place_order(symbol=SOL, side="sell", type="limit", price="151", quantity="1")
        assert [o["status"] for o in await ws.cancel_all(SOL)] == ["CANCELED"]
        with pytest.raises(ExchangeError) as err:
            await ws.place_order(symbol=SOL, side="sell", type="limit", price="150.001", quantity="1")
        assert err.value.code == "INVALID_PRICE"


async def test_stale_or_forged_auth_is_refused(make_user: MakeUser, base_url: str) -> None:
    alice = await make_user()
    async with WsClient(base_url) as ws:
        stale = int(time.time() * 1000) - 6000
        for params in (
            {
                "apiKey": alice.api_key,
                "timestamp": stale,
                "signature": ws_auth_signature(alice.secret or "", stale),
            },
            {"apiKey": alice.api_key, "timestamp": int(time.time() * 1000), "signature": "0" * 64},
        ):
            with pytest.raises(ExchangeError) as err:
                await ws.request("AUTH", params)
            assert err.value.code == "UNAUTHORIZED"
        with pytest.raises(ExchangeError):
            await ws.subscribe("orders")


async def test_local_book_from_the_feed_equals_rest_depth_after_random_flow(
    make_user: MakeUser, base_url: str
) -> None:
    users = [await make_user() for _ in range(4)]
    rng = random.Random(11)
    async with WsClient(base_url) as live, WsClient(base_url) as merged:
        await live.subscribe("depth@SOL_USDC", "trade@SOL_USDC")
        await merged.subscribe("depth@SOL_USDC@100ms")
        fills: list[dict[str, Any]] = []
        for _ in range(2000):
            await _random_order(rng, users, fills)
        rest = await users[0].depth(SOL, limit=1000)
        takers = sum(f["role"] == "taker" for f in fills)
        await until(  # the last diff, on both streams (one more 100 ms flush), and every trade
            lambda: (
                live.books["depth@SOL_USDC"].last_u == rest["lastUpdateId"]
                and merged.books["depth@SOL_USDC@100ms"].last_u == rest["lastUpdateId"]
                and live.streams["trade@SOL_USDC"].qsize() >= takers
            )
        )
        for client, stream in ((live, "depth@SOL_USDC"), (merged, "depth@SOL_USDC@100ms")):
            book = client.books[stream]
            assert book.levels() == (rest["bids"], rest["asks"])
            assert book.last_u == rest["lastUpdateId"] and client.gaps == 0
        diffs = [d for d in live.drain("depth@SOL_USDC") if d["e"] == "depth"]
        assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(diffs))
        trades = live.drain("trade@SOL_USDC")
        taker_fills = sorted(
            (int(f["tradeId"]), f["price"], f["quantity"]) for f in fills if f["role"] == "taker"
        )
        assert sorted((t["t"], t["p"], t["q"]) for t in trades) == taker_fills


async def _random_order(rng: random.Random, users: list[Client], fills: list[dict[str, Any]]) -> None:
    user = rng.choice(users)
    roll = rng.random()
    try:
        if roll < 0.2:
            open_orders = await user.open_orders(SOL)
            if open_orders:
                await user.cancel_order(SOL, rng.choice(open_orders)["orderId"])
            return
        price, qty = Decimal(rng.randint(9_950, 10_050)) / 100, Decimal(rng.randint(1, 40)) / 10
        order = await user.place_order(
            SOL, rng.choice(["buy", "sell"]), price=str(price), quantity=str(qty),
            time_in_force="IOC" if roll > 0.9 else None, stp="none",
        )  # fmt: skip
        fills.extend(order["fills"])
    except ExchangeError as exc:
        assert exc.code == "INSUFFICIENT_FUNDS", exc


@pytest.fixture
async def tight_server(aiohttp_server: Any, tmp_path: Any) -> TestServer:
    limits = msgspec.structs.replace(GENEROUS, ws_outbox=16)
    settings = Settings(data_dir=str(tmp_path), limits=limits, ws_writer_limit=1024, ws_sndbuf=4096,
                        fsync="off", bot=False)  # fmt: skip
    return await aiohttp_server(create_app(settings))  # type: ignore[no-any-return]


async def test_slow_reader_is_closed_while_a_normal_reader_gets_everything(tight_server: TestServer) -> None:
    base_url = str(tight_server.make_url("")).rstrip("/")
    streams = ["depth@SOL_USDC", "trade@SOL_USDC", "ticker@SOL_USDC", "kline.1m@SOL_USDC"]
    # A blocking socket: its calls run in a thread so the server's loop (this loop) keeps going.
    slow = await asyncio.to_thread(StalledReader, tight_server.host, tight_server.port or 0)
    await asyncio.to_thread(slow.subscribe, *streams)
    async with Client(base_url) as trader, WsClient(base_url) as good:
        await good.subscribe("depth@SOL_USDC", "trade@SOL_USDC")
        await trader.signup("trader", "correct horse battery")
        await trader.onramp("USDC", "100000")
        await trader.onramp("SOL", "1000")
        for i in range(600):
            price = f"{100 + (i % 50) / 100:.2f}"
            await trader.place_order(SOL, "buy" if i % 2 else "sell", price=price, quantity="1", stp="none")
        await until(  # everything reached the good reader (the stalled one reads to the close)
            lambda: (
                good.streams["depth@SOL_USDC"].qsize() >= 601
                and good.streams["trade@SOL_USDC"].qsize() >= 300
            )
        )
        received = await asyncio.to_thread(slow.read_all)
        slow.close()
        assert received.endswith(b"\x88\x0f\x03\xf0slow consumer")  # close frame, code 1008
        depth = good.drain("depth@SOL_USDC")
        assert len(depth) == 601 and len(good.drain("trade@SOL_USDC")) == 300
        assert good.gaps == 0 and good.closed_with is None


async def test_cross_origin_socket_is_refused(base_url: str) -> None:
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await s.ws_connect(base_url + "/ws", headers={"Origin": "https://evil.example"})
        assert err.value.status == 403
        ok = await s.ws_connect(base_url + "/ws", headers={"Origin": base_url})
        await ok.close()


async def test_binary_frames_are_answered_with_an_error(base_url: str) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await _raw(base_url, s)
        await ws.send_bytes(b"\x00\x01")
        answer = orjson.loads(await ws.receive_str(timeout=5))
        assert answer["error"]["code"] == "INVALID_REQUEST"
        await ws.close()


async def test_a_gap_in_the_diffs_makes_the_client_resync_from_a_fresh_snapshot(
    make_user: MakeUser, base_url: str
) -> None:
    alice = await make_user()
    async with WsClient(base_url) as ws:
        await ws.subscribe("depth@SOL_USDC")
        await ws.next("depth@SOL_USDC")  # the snapshot
        book = ws.books["depth@SOL_USDC"]
        assert book.last_u is not None
        book.last_u -= 1  # as if a diff had been lost: the next one no longer follows
        await alice.place_order(SOL, "buy", price="99", quantity="1")
        await alice.place_order(SOL, "buy", price="98", quantity="1")

        async def resynced() -> bool:
            return bool(ws.gaps) and book.last_u == (await alice.depth(SOL))["lastUpdateId"]

        await until(resynced, interval=0.05)
        assert ws.gaps == 1
        assert book.levels() == ([["99.00", "1.00"], ["98.00", "1.00"]], [])
