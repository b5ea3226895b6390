"""The Binance face's limits: what exchangeInfo announces is what is enforced, with its headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt
import pytest

from tests.binance.conftest import Server, binance_settings
from tests.binance.test_binance_ccxt import configure
from tests.binance.test_binance_malformed import ORDER, Api, signed


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = binance_settings(tmp_path_factory.mktemp("limits"), binance_weight_per_min=60,
                                binance_orders_per_10s=3)  # fmt: skip
    server = Server(settings)
    server.start()
    yield server
    server.stop()


def test_announced_limits_are_enforced_with_headers(tight: Server) -> None:
    user = tight.make_user()
    api = Api(tight, user)
    info = api.send("GET", "exchangeInfo")
    assert info.json()["rateLimits"] == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 60},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 3},
    ]
    assert info.headers["X-MBX-USED-WEIGHT-1M"] == "20"
    counts = []
    for price in (1, 2, 3):
        placed = api.send("POST", "order", body=signed(user, ORDER.replace("price=10", f"price={price}")))
        assert placed.status_code == 200, placed.text
        counts.append(placed.headers["X-MBX-ORDER-COUNT-10S"])
    assert counts == ["1", "2", "3"]
    refused = api.send("POST", "order", body=signed(user, ORDER))
    assert (refused.status_code, refused.json()["code"]) == (429, -1015)
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["X-MBX-ORDER-COUNT-10S"] == "3"
    open_orders = api.send("GET", "openOrders", signed(user, "symbol=SOLUSDC")).json()
    assert len(open_orders) == 3  # the refused order was not placed
    used = int(api.send("GET", "ping").headers["X-MBX-USED-WEIGHT-1M"])
    for _ in range(60 - used):
        assert api.send("GET", "ping").status_code == 200
    over = api.send("GET", "ping")
    assert (over.status_code, over.json()["code"]) == (429, -1003)
    assert int(over.headers["Retry-After"]) >= 1 and over.headers["X-MBX-USED-WEIGHT-1M"] == "60"
    ex: Any = configure(ccxt.binance, tight, user)
    with pytest.raises(ccxt.DDoSProtection):  # ccxt's class for 429 (RateLimitExceeded's parent)
        ex.fetch_time()
