"""Every /api/v3 route answers Binance's shape with this venue's exact numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.binance.conftest import Server, User
from tests.binance.test_binance_malformed import Api, signed

FULL_KEYS = {
    "symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty", "executedQty",
    "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "workingTime",
    "selfTradePreventionMode", "fills",
}  # fmt: skip


@pytest.fixture(scope="module")
def traded(bn_server: Server) -> tuple[Api, Api, User, dict[str, Any]]:
    """A maker's ask at 25.5 and a taker's FULL market buy of 1 SOL against it."""
    maker_user, taker_user = bn_server.make_user(), bn_server.make_user()
    maker, taker = Api(bn_server, maker_user), Api(bn_server, taker_user)
    ask = "symbol=SOLUSDC&side=SELL&type=LIMIT&timeInForce=GTC&quantity=3&price=25.5&newClientOrderId=ask-1"
    assert maker.send("POST", "order", body=signed(maker_user, ask)).status_code == 200
    buy = "symbol=SOLUSDC&side=BUY&type=MARKET&quantity=1&newOrderRespType=FULL"
    answer = taker.send("POST", "order", body=signed(taker_user, buy))
    assert answer.status_code == 200, answer.text
    return maker, taker, taker_user, answer.json()


def test_full_answer_has_fills_and_commissions(traded: Any) -> None:
    *_, full = traded
    assert set(full) == FULL_KEYS
    assert (full["status"], full["type"], full["side"], full["orderListId"]) == (
        "FILLED",
        "MARKET",
        "BUY",
        -1,
    )
    assert Decimal(full["executedQty"]) == 1 and Decimal(full["cummulativeQuoteQty"]) == Decimal("25.5")
    (fill,) = full["fills"]
    assert {k: Decimal(fill[k]) for k in ("price", "qty", "commission")} == {
        "price": Decimal("25.5"),
        "qty": Decimal(1),
        "commission": Decimal("0.002"),
    }
    assert fill["commissionAsset"] == "SOL" and isinstance(fill["tradeId"], int)


@pytest.mark.parametrize(("resp", "keys"), [("ACK", 5), ("RESULT", 16)])
def test_ack_and_result_answers(bn_server: Server, resp: str, keys: int) -> None:
    user = bn_server.make_user()
    body = f"symbol=SOLUSDC&side=BUY&type=LIMIT_MAKER&quantity=1&price=2&newOrderRespType={resp}"
    answer = Api(bn_server, user).send("POST", "order", body=signed(user, body)).json()
    assert len(answer) == keys and answer["symbol"] == "SOLUSDC"
    if resp == "RESULT":
        assert answer["type"] == "LIMIT_MAKER" and answer["timeInForce"] == "GTC"


def test_public_market_data_routes(traded: Any) -> None:
    _, api, *_ = traded
    get = lambda path, query="": api.send("GET", path, query).json()  # noqa: E731
    assert get("ping") == {} and isinstance(get("time")["serverTime"], int)
    info = get("exchangeInfo", "symbol=SOLUSDC")["symbols"]
    assert [s["symbol"] for s in info] == ["SOLUSDC"] and info[0]["orderTypes"] == [
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
    ]
    filters = {f["filterType"]: f for f in info[0]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01" and Decimal(filters["NOTIONAL"]["minNotional"]) == 1
    assert len(get("exchangeInfo", 'symbols=["SOLUSDC","BTCUSDC"]')["symbols"]) == 2
    depth = get("depth", "symbol=SOLUSDC&limit=5")
    assert [Decimal(x) for x in depth["asks"][0]] == [Decimal("25.5"), Decimal(2)] and depth[
        "lastUpdateId"
    ] > 0
    (trade,) = get("trades", "symbol=SOLUSDC")[-1:]
    assert Decimal(trade["price"]) == Decimal("25.5") and trade["isBuyerMaker"] is False
    assert get("historicalTrades", f"symbol=SOLUSDC&fromId={trade['id']}")[0]["id"] == trade["id"]
    assert get("aggTrades", "symbol=SOLUSDC")[-1]["a"] == trade["id"]
    kline = get("klines", "symbol=SOLUSDC&interval=1m")[-1]
    assert kline == get("uiKlines", "symbol=SOLUSDC&interval=1m")[-1] and Decimal(kline[4]) == Decimal("25.5")
    assert Decimal(get("avgPrice", "symbol=SOLUSDC")["price"]) == Decimal("25.5")
    ticker = get("ticker/24hr", "symbol=SOLUSDC")
    assert Decimal(ticker["lastPrice"]) == Decimal("25.5") and Decimal(ticker["askQty"]) == 2
    assert get("ticker/24hr", "type=MINI")[0]["symbol"] in {"SOLUSDC", "BTCUSDC", "ETHUSDC"}
    assert Decimal(get("ticker/price", "symbol=SOLUSDC")["price"]) == Decimal("25.5")
    assert Decimal(get("ticker/bookTicker", "symbol=SOLUSDC")["askPrice"]) == Decimal("25.5")
    assert get("ticker", "symbol=SOLUSDC&windowSize=1d")["count"] >= 1


def test_signed_account_routes(traded: Any) -> None:
    _, taker, user, full = traded
    get = lambda path, query="": taker.send("GET", path, signed(user, query)).json()  # noqa: E731
    balances = {b["asset"]: b for b in get("account")["balances"]}
    assert Decimal(balances["SOL"]["free"]) == Decimal("1000.998")
    assert [b["asset"] for b in get("account", "omitZeroBalances=true")["balances"]] == ["USDC", "SOL"]
    (mine,) = get("myTrades", "symbol=SOLUSDC")
    assert (mine["orderId"], mine["isBuyer"], mine["isMaker"]) == (full["orderId"], True, False)
    assert get("allOrders", "symbol=SOLUSDC")[-1]["orderId"] == full["orderId"]
    assert get("account/commission", "symbol=SOLUSDC")["standardCommission"]["taker"] == "0.002"
    body = "symbol=SOLUSDC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=3"
    for _ in range(2):  # an order, then the count: a 10 s window may end between the two, not twice
        taker.send("POST", "order", body=signed(user, body))
        counted = get("rateLimit/order")[0]["count"]
        if counted >= 1:
            break
    assert counted >= 1
    taker.send("DELETE", "openOrders", signed(user, "symbol=SOLUSDC"))
    assert taker.send("POST", "order/test", body=signed(user, body)).json() == {}
    with_rates = taker.send(
        "POST", "order/test", body=signed(user, body + "&computeCommissionRates=true")
    ).json()
    assert with_rates["standardCommissionForOrder"] == {"maker": "0.001", "taker": "0.002"}
    assert get("openOrders", "symbol=SOLUSDC") == []


def test_cancel_replace(bn_server: Server) -> None:
    user = bn_server.make_user()
    api = Api(bn_server, user)
    limit = "symbol=SOLUSDC&side=BUY&type=LIMIT&timeInForce=GTC"
    first = api.send("POST", "order", body=signed(user, f"{limit}&quantity=1&price=4")).json()
    body = f"{limit}&quantity=2&price=5&cancelReplaceMode=STOP_ON_FAILURE&cancelOrderId={first['orderId']}"
    answer = api.send("POST", "order/cancelReplace", body=signed(user, body)).json()
    assert (answer["cancelResult"], answer["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert answer["cancelResponse"]["status"] == "CANCELED"
    (left,) = api.send("GET", "openOrders", signed(user, "symbol=SOLUSDC")).json()
    assert left["orderId"] == answer["newOrderResponse"]["orderId"] and Decimal(left["origQty"]) == 2
