"""ccxt's binance class, sync and async, against the Binance face of a real server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as accxt
import pytest

from tests.binance.ccxt_setup import binance
from tests.binance.conftest import Server, User


def configure(kind: Any, server: Server, user: User | None) -> Any:
    return binance(kind, server.url, user.api_key if user else None, user.secret if user else None)


@pytest.fixture(scope="module")
def alice(bn_server: Server) -> User:
    return bn_server.make_user()


@pytest.fixture(scope="module")
def ex(bn_server: Server, alice: User) -> Any:
    client = configure(ccxt.binance, bn_server, alice)
    client.load_markets()
    return client


def test_load_markets_reads_the_venue(ex: Any) -> None:
    sol = ex.market("SOL/USDC")
    assert (sol["id"], sol["base"], sol["quote"], sol["spot"]) == ("SOLUSDC", "SOL", "USDC", True)
    assert sol["active"] is True
    assert Decimal(str(sol["precision"]["price"])) == Decimal("0.01")
    assert Decimal(str(sol["limits"]["cost"]["min"])) == Decimal("1")
    assert set(ex.markets) == {"SOL/USDC", "BTC/USDC", "ETH/USDC"}


def test_limit_order_round_trip(ex: Any) -> None:
    placed = ex.create_order("SOL/USDC", "limit", "buy", 1.5, 10.25)
    assert placed["status"] == "open" and Decimal(str(placed["price"])) == Decimal("10.25")
    assert placed["id"] in [o["id"] for o in ex.fetch_open_orders("SOL/USDC")]
    assert ex.fetch_order(placed["id"], "SOL/USDC")["status"] == "open"
    assert ex.cancel_order(placed["id"], "SOL/USDC")["status"] == "canceled"


def _native(server: Server, user: User, fn: Any) -> Any:
    return server.call(user, fn)


def test_market_data(ex: Any, bn_server: Server, alice: User) -> None:
    bob = bn_server.make_user()
    seller = configure(ccxt.binance, bn_server, bob)
    seller.load_markets()
    seller.create_order("SOL/USDC", "limit", "sell", 2, 120.5)
    ex.create_order("SOL/USDC", "limit", "buy", 0.5, 120.5)  # trades 0.5 against bob
    book = ex.fetch_order_book("SOL/USDC")
    assert [Decimal(str(x)) for x in book["asks"][0]] == [Decimal("120.5"), Decimal("1.5")]
    trades = ex.fetch_trades("SOL/USDC")
    assert Decimal(str(trades[-1]["price"])) == Decimal("120.5") and trades[-1]["side"] == "buy"
    ticker = ex.fetch_ticker("SOL/USDC")
    assert Decimal(str(ticker["last"])) == Decimal(str(ticker["ask"])) == Decimal("120.5")
    assert "BTC/USDC" in ex.fetch_tickers()
    candle = ex.fetch_ohlcv("SOL/USDC", "1m")[-1]
    assert [Decimal(str(v)) for v in candle[1:6]] == [Decimal("120.5")] * 4 + [Decimal("0.5")]
    assert abs(ex.fetch_time() - ex.milliseconds()) < 5000
    since = ex.milliseconds() - 60_000
    assert trades[-1]["id"] in [t["id"] for t in ex.fetch_trades("SOL/USDC", since)]
    assert ex.fetch_ohlcv("SOL/USDC", "1m", since)[-1] == candle
    assert [t["price"] for t in ex.fetch_my_trades("SOL/USDC", since)][-1] == trades[-1]["price"]
    assert Decimal(str(ex.fetch_bids_asks(["SOL/USDC"])["SOL/USDC"]["ask"])) == Decimal("120.5")
    seller.cancel_all_orders("SOL/USDC")


def test_balance_and_orders_are_exact_against_the_native_api(ex: Any, bn_server: Server, alice: User) -> None:
    balance = ex.fetch_balance()
    native = _native(bn_server, alice, lambda c: c.balances())
    for asset in ("USDC", "SOL", "BTC"):
        assert Decimal(str(balance[asset]["free"])) == Decimal(native[asset]["available"])
        assert Decimal(str(balance[asset]["used"])) == Decimal(native[asset]["locked"])
    placed = ex.create_order("SOL/USDC", "limit", "buy", 0.07, 33.33, {"clientOrderId": "mine-1"})
    assert placed["clientOrderId"] == "mine-1"
    theirs = _native(bn_server, alice, lambda c: c.get_order("SOL_USDC", order_id=placed["id"]))
    assert (Decimal(theirs["price"]), Decimal(theirs["quantity"])) == (Decimal("33.33"), Decimal("0.07"))
    assert Decimal(str(ex.fetch_order(placed["id"], "SOL/USDC")["amount"])) == Decimal("0.07")
    assert placed["id"] in [
        o["orderId"] for o in _native(bn_server, alice, lambda c: c.open_orders("SOL_USDC"))
    ]
    ex.cancel_order(placed["id"], "SOL/USDC")
    theirs = _native(
        bn_server, alice, lambda c: c.place_order("SOL_USDC", "sell", price="777.77", quantity="0.03")
    )
    (seen,) = [o for o in ex.fetch_open_orders("SOL/USDC") if o["id"] == theirs["orderId"]]
    assert (Decimal(str(seen["price"])), Decimal(str(seen["amount"])), seen["side"]) == (
        Decimal("777.77"),
        Decimal("0.03"),
        "sell",
    )
    ex.cancel_order(seen["id"], "SOL/USDC")
    assert _native(bn_server, alice, lambda c: c.open_orders("SOL_USDC")) == []


def test_every_order_kind(ex: Any, bn_server: Server, alice: User) -> None:
    maker = configure(ccxt.binance, bn_server, bn_server.make_user())
    maker.load_markets()
    maker.create_order("SOL/USDC", "limit", "sell", 10, 50)
    by_amount = ex.create_order("SOL/USDC", "market", "buy", 1)
    assert by_amount["status"] == "closed" and Decimal(str(by_amount["filled"])) == Decimal("1")
    fee = by_amount["fee"]
    assert (Decimal(str(fee["cost"])), fee["currency"]) == (Decimal("0.002"), "SOL")
    by_cost = ex.create_order("SOL/USDC", "market", "buy", None, None, {"cost": 100})
    assert Decimal(str(by_cost["filled"])) == Decimal("2") and Decimal(str(by_cost["cost"])) == Decimal("100")
    native = _native(bn_server, alice, lambda c: c.get_order("SOL_USDC", order_id=by_cost["id"]))
    assert (Decimal(native["executedQty"]), Decimal(native["executedQuoteQty"])) == (
        Decimal(str(by_cost["filled"])),
        Decimal(str(by_cost["cost"])),
    )
    ioc = ex.create_order("SOL/USDC", "limit", "buy", 20, 50, {"timeInForce": "IOC"})
    assert (ioc["status"], Decimal(str(ioc["filled"]))) == ("expired", Decimal("7"))
    fok = ex.create_order("SOL/USDC", "limit", "buy", 1, 50, {"timeInForce": "FOK"})
    assert (fok["status"], Decimal(str(fok["filled"]))) == ("expired", Decimal("0"))
    post = ex.create_order("SOL/USDC", "limit", "buy", 1, 40, {"postOnly": True})
    assert post["postOnly"] is True and post["status"] == "open"
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        maker.create_order("SOL/USDC", "limit", "sell", 1, 40, {"postOnly": True})
    ex.cancel_order(post["id"], "SOL/USDC")
    closed = ex.fetch_closed_orders("SOL/USDC")  # ccxt's "closed" is filled; canceled and expired differ
    assert {by_amount["id"], by_cost["id"]} <= {o["id"] for o in closed}
    every = {o["id"]: o["status"] for o in ex.fetch_orders("SOL/USDC")}
    assert (every[ioc["id"]], every[post["id"]], every[fok["id"]]) == ("expired", "canceled", "expired")
    mine = ex.fetch_my_trades("SOL/USDC")
    assert {by_amount["id"], by_cost["id"], ioc["id"]} <= {t["order"] for t in mine}


def test_cancel_all_orders(ex: Any) -> None:
    for price in (11, 12):
        ex.create_order("SOL/USDC", "limit", "buy", 1, price)
    canceled = ex.cancel_all_orders("SOL/USDC")
    assert len(canceled) == 2 and ex.fetch_open_orders("SOL/USDC") == []


def test_errors_become_ccxt_exception_classes(ex: Any, bn_server: Server) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("SOL/USDC", "limit", "buy", 100_000, 100)
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("999999", "SOL/USDC")
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("999999", "SOL/USDC")
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order("SOL/USDC", "limit", "buy", 0.001, 100)  # off the 0.01 step: LOT_SIZE
    with pytest.raises(ccxt.BadSymbol):
        ex.public_get_depth({"symbol": "DOGEUSDC"})
    bad_secret = configure(ccxt.binance, bn_server, User("x", ex.apiKey, "wrong"))
    bad_secret.markets, bad_secret.markets_by_id = ex.markets, ex.markets_by_id
    with pytest.raises(ccxt.AuthenticationError):
        bad_secret.fetch_balance()
    bad_key = configure(ccxt.binance, bn_server, User("x", "ak_" + "0" * 32, "s"))
    with pytest.raises(ccxt.AuthenticationError):
        bad_key.fetch_balance()
    late = configure(ccxt.binance, bn_server, User("x", ex.apiKey, ex.secret))
    late.options["timeDifference"] = 120_000  # its clock 2 minutes behind
    with pytest.raises(ccxt.InvalidNonce):
        late.fetch_balance()


async def test_async_ccxt_trades_the_same_account(bn_server: Server, alice: User) -> None:
    ex = configure(accxt.binance, bn_server, alice)
    try:
        await ex.load_markets()
        placed = await ex.create_order("BTC/USDC", "limit", "buy", 0.01, 1000.5)
        assert Decimal(str(placed["price"])) == Decimal("1000.5")
        assert [o["id"] for o in await ex.fetch_open_orders("BTC/USDC")] == [placed["id"]]
        assert (await ex.cancel_order(placed["id"], "BTC/USDC"))["status"] == "canceled"
        assert Decimal(str((await ex.fetch_balance())["BTC"]["total"])) == Decimal("0")
    finally:
        await ex.close()
