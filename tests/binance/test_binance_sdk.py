"""Binance's own Python SDK (binance-sdk-spot) pointed at the server: place, query, cancel,
account, depth; and one account on both faces (native orders seen here and the reverse)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance_common.configuration import ConfigurationRestAPI
from binance_common.errors import BadRequestError, ClientError
from binance_sdk_spot.spot import Spot

from tests.binance.conftest import Server, User


@pytest.fixture(scope="module")
def carol(bn_server: Server) -> User:
    return bn_server.make_user({"USDC": "100000", "ETH": "1"})


@pytest.fixture(scope="module")
def sdk(bn_server: Server, carol: User) -> Any:
    config = ConfigurationRestAPI(api_key=carol.api_key, api_secret=carol.secret, base_path=bn_server.url,
                                  timeout=5000, retries=0)  # fmt: skip
    return Spot(config_rest_api=config).rest_api


def test_sdk_places_queries_and_cancels(sdk: Any, bn_server: Server, carol: User) -> None:
    placed = sdk.new_order(symbol="SOLUSDC", side="BUY", type="LIMIT", time_in_force="GTC", quantity=2.5,
                           price=20.1, new_client_order_id="sdk-1").data()  # fmt: skip
    assert (placed.status, Decimal(placed.price), Decimal(placed.orig_qty)) == (
        "NEW",
        Decimal("20.1"),
        Decimal("2.5"),
    )
    book = sdk.depth(symbol="SOLUSDC").data()
    assert [Decimal(x) for x in book.bids[0]] == [Decimal("20.1"), Decimal("2.5")]
    found = sdk.get_order(symbol="SOLUSDC", orig_client_order_id="sdk-1").data()
    assert found.order_id == placed.order_id and found.is_working
    balances = {b.asset: b for b in sdk.get_account().data().balances}
    assert Decimal(balances["USDC"].locked) == Decimal("50.25")
    native = bn_server.call(carol, lambda c: c.open_orders("SOL_USDC"))
    assert [o["orderId"] for o in native] == [str(placed.order_id)]
    canceled = sdk.delete_order(symbol="SOLUSDC", order_id=placed.order_id).data()
    assert canceled.status == "CANCELED" and canceled.orig_client_order_id == "sdk-1"
    with pytest.raises((BadRequestError, ClientError)) as refused:
        sdk.get_order(symbol="SOLUSDC", order_id=placed.order_id + 1000)
    assert "-2013" in str(refused.value)


def test_native_orders_show_on_the_binance_face(sdk: Any, bn_server: Server, carol: User) -> None:
    async def place(c: Any) -> Any:
        return await c.place_order(
            "ETH_USDC", "sell", price="3000.25", quantity="0.0123", client_order_id="nat-1"
        )

    native = bn_server.call(carol, place)
    seen = sdk.get_open_orders(symbol="ETHUSDC").data()
    assert [(o.order_id, o.client_order_id, Decimal(o.orig_qty)) for o in seen] == [
        (int(native["orderId"]), "nat-1", Decimal("0.0123"))
    ]
    sdk.delete_open_orders(symbol="ETHUSDC")
    assert bn_server.call(carol, lambda c: c.open_orders("ETH_USDC")) == []
