"""Trading through real HTTP: every order route's success path and the seed's bugs."""

from __future__ import annotations

import pytest

from exchange.client import ExchangeError
from tests.web.conftest import MakeUser

SOL = "SOL_USDC"
DEPLOYMENTS = ("all", "cluster")


async def test_resting_order_answers_new_and_shows_in_depth_and_open_orders(make_user: MakeUser) -> None:
    alice = await make_user()
    order = await alice.place_order(SOL, "buy", price="99.5", quantity="2", client_order_id="bid-1")
    assert order["status"] == "NEW" and order["price"] == "99.50" and order["quantity"] == "2.00"
    assert order["orderId"] == "1" and order["clientOrderId"] == "bid-1" and order["fills"] == []
    assert (await alice.depth(SOL))["bids"] == [["99.50", "2.00"]]
    assert [o["orderId"] for o in await alice.open_orders(SOL)] == ["1"]
    assert [o["orderId"] for o in await alice.request("GET", "/api/v1/order/open", auth=True)] == ["1"]
    balances = await alice.balances()
    assert balances["USDC"] == {
        "available": "99801.000000",
        "locked": "199.000000",
        "withdrawing": "0.000000",
    }


async def test_crossing_order_fills_at_maker_price_with_fees_and_roles(make_user: MakeUser) -> None:
    maker, taker = await make_user(), await make_user()
    await maker.place_order(SOL, "sell", price="100", quantity="1.5")
    order = await taker.place_order(SOL, "buy", price="101", quantity="1")
    assert order["status"] == "FILLED" and order["executedQuoteQty"] == "100.000000"
    (fill,) = order["fills"]
    assert fill | {"timestamp": 0} == {
        "tradeId": "1", "orderId": "2", "symbol": SOL, "side": "buy", "price": "100.00",
        "quantity": "1.00", "quoteQuantity": "100.000000", "fee": "0.002000000", "feeAsset": "SOL",
        "role": "taker", "timestamp": 0,
    }  # fmt: skip
    (maker_fill,) = await maker.fills(SOL)
    assert (maker_fill["role"], maker_fill["fee"], maker_fill["feeAsset"]) == ("maker", "0.100000", "USDC")
    assert (await taker.balances())["USDC"] == {
        "available": "99900.000000",
        "locked": "0.000000",
        "withdrawing": "0.000000",
    }


async def test_cancel_by_id_and_client_id_answer_the_canceled_order(make_user: MakeUser) -> None:
    alice = await make_user()
    first = await alice.place_order(SOL, "sell", price="120", quantity="1")
    await alice.place_order(SOL, "sell", price="121", quantity="1", client_order_id="ask-2")
    canceled = await alice.cancel_order(SOL, order_id=first["orderId"])
    assert canceled["status"] == "CANCELED" and canceled["orderId"] == first["orderId"]
    assert (await alice.cancel_order(SOL, client_order_id="ask-2"))["status"] == "CANCELED"
    assert await alice.open_orders() == []
    assert (await alice.balances())["SOL"] == {
        "available": "1000.000000000",
        "locked": "0.000000000",
        "withdrawing": "0.000000000",
    }
    with pytest.raises(ExchangeError) as err:
        await alice.cancel_order(SOL, order_id=first["orderId"])
    assert (err.value.status, err.value.code) == (404, "ORDER_NOT_FOUND")


async def test_amend_down_keeps_place_and_amend_price_requeues_and_trades(make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    order = await alice.place_order(SOL, "buy", price="99", quantity="3")
    smaller = await alice.amend_order(SOL, order["orderId"], quantity="2")
    assert (smaller["quantity"], smaller["status"]) == ("2.00", "NEW")
    await bob.place_order(SOL, "sell", price="100", quantity="5")
    crossed = await alice.amend_order(SOL, order["orderId"], price="100")
    assert crossed["status"] == "FILLED" and len(crossed["fills"]) == 1
    assert (await alice.depth(SOL))["asks"] == [["100.00", "3.00"]]


async def test_cancel_all_in_one_market_or_everywhere(make_user: MakeUser) -> None:
    alice = await make_user(fund={"USDC": "100000", "SOL": "100", "BTC": "1"})
    await alice.place_order(SOL, "buy", price="90", quantity="1")
    await alice.place_order(SOL, "buy", price="91", quantity="1")
    await alice.place_order("BTC_USDC", "buy", price="50000", quantity="0.001")
    canceled = await alice.cancel_all(SOL)
    assert sorted(o["orderId"] for o in canceled) == ["1", "2"]
    assert [o["symbol"] for o in await alice.open_orders()] == ["BTC_USDC"]
    assert [o["status"] for o in await alice.cancel_all()] == ["CANCELED"]
    assert await alice.cancel_all() == []


async def test_get_order_open_then_closed_with_its_fills(make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    order = await alice.place_order(SOL, "sell", price="100", quantity="2")
    assert (await alice.get_order(SOL, order["orderId"]))["status"] == "NEW"
    await bob.place_order(SOL, "buy", price="100", quantity="2")
    closed = await alice.get_order(SOL, order["orderId"])
    assert closed["status"] == "FILLED" and [f["role"] for f in closed["fills"]] == ["maker"]
    history = await alice.order_history(SOL)
    assert [o["orderId"] for o in history] == [order["orderId"]]


async def test_ioc_fok_market_and_quote_quantity_orders(make_user: MakeUser) -> None:
    maker, taker = await make_user(), await make_user()
    await maker.place_order(SOL, "sell", price="100", quantity="1")
    await maker.place_order(SOL, "sell", price="102", quantity="1")
    fok = await taker.place_order(SOL, "buy", price="101", quantity="2", time_in_force="FOK")
    assert fok["status"] == "EXPIRED" and fok["fills"] == []
    ioc = await taker.place_order(SOL, "buy", price="101", quantity="2", time_in_force="IOC")
    assert ioc["status"] == "EXPIRED" and ioc["executedQty"] == "1.00"
    by_quote = await taker.place_order(SOL, "buy", "market", quote_quantity="51")
    assert by_quote["status"] == "FILLED" and by_quote["executedQty"] == "0.50"
    assert by_quote["timeInForce"] == "IOC" and by_quote["price"] is None
    sell = await maker.place_order(SOL, "sell", "market", quantity="1")
    assert sell["status"] == "EXPIRED" and sell["executedQty"] == "0.00"  # no bids: nothing to take


async def test_json_numbers_are_read_exactly_and_market_alias_works(make_user: MakeUser) -> None:
    alice = await make_user()
    body = {"market": SOL, "side": "buy", "type": "limit", "price": 99.99, "quantity": 0.1}
    order = await alice.request("POST", "/api/v1/order", body=body, auth=True)
    assert (order["symbol"], order["price"], order["quantity"]) == (SOL, "99.99", "0.10")


async def test_post_only_and_self_trade_prevention_over_http(make_user: MakeUser) -> None:
    alice = await make_user()
    await alice.place_order(SOL, "sell", price="100", quantity="1")
    with pytest.raises(ExchangeError) as err:
        await alice.place_order(SOL, "buy", price="100", quantity="1", post_only=True)
    assert err.value.code == "POST_ONLY_WOULD_TAKE"
    expired = await alice.place_order(SOL, "buy", price="100", quantity="1")
    assert expired["status"] == "EXPIRED" and expired["fills"] == []  # expire_taker by default
    maker_gone = await alice.place_order(SOL, "buy", price="100", quantity="1", stp="expire_maker")
    assert maker_gone["status"] == "NEW" and (await alice.depth(SOL))["asks"] == []


# -- the seed's bugs, at the HTTP level ------------------------------------------------------------
async def test_seed_best_price_first_not_arrival_order(make_user: MakeUser) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    await a.place_order(SOL, "sell", price="105", quantity="1")
    await b.place_order(SOL, "sell", price="101", quantity="1")
    order = await c.place_order(SOL, "buy", price="105", quantity="1")
    assert [f["price"] for f in order["fills"]] == ["101.00"]


async def test_seed_partially_filled_maker_not_over_filled(make_user: MakeUser) -> None:
    a, b, c = await make_user(), await make_user(), await make_user()
    await a.place_order(SOL, "sell", price="100", quantity="5")
    await b.place_order(SOL, "buy", price="100", quantity="3")
    second = await c.place_order(SOL, "buy", price="100", quantity="3")
    assert second["executedQty"] == "2.00" and second["status"] == "PARTIALLY_FILLED"
    assert (await a.balances())["SOL"] == {
        "available": "995.000000000",
        "locked": "0.000000000",
        "withdrawing": "0.000000000",
    }


async def test_seed_price_improvement_released_and_sell_cancel_refunds_base(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await a.place_order(SOL, "sell", price="90", quantity="1")
    await b.place_order(SOL, "buy", price="100", quantity="1")
    assert (await b.balances())["USDC"] == {
        "available": "99910.000000",
        "locked": "0.000000",
        "withdrawing": "0.000000",
    }
    sell = await a.place_order(SOL, "sell", price="110", quantity="2")
    await a.cancel_order(SOL, sell["orderId"])
    balances = await a.balances()
    assert balances["SOL"] == {
        "available": "999.000000000",
        "locked": "0.000000000",
        "withdrawing": "0.000000000",
    }
    assert balances["USDC"]["locked"] == "0.000000"


async def test_seed_depth_shows_remaining_quantity(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await a.place_order(SOL, "sell", price="100", quantity="5")
    await b.place_order(SOL, "buy", price="100", quantity="2")
    assert (await a.depth(SOL))["asks"] == [["100.00", "3.00"]]


async def test_seed_user_id_in_body_is_refused(make_user: MakeUser) -> None:
    a = await make_user()
    body = {"symbol": SOL, "side": "buy", "type": "limit", "price": "99", "quantity": "1", "userId": 1}
    with pytest.raises(ExchangeError) as err:
        await a.request("POST", "/api/v1/order", body=body, auth=True)
    assert (err.value.status, err.value.code) == (400, "INVALID_REQUEST")
