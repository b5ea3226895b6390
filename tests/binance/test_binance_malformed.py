"""Hostile and malformed requests to the Binance face: each gets Binance's code, nothing changes.

Requests are built by hand (raw query strings and form bodies, signed as Binance's clients
sign), so every byte is under the test's control. After all of them the user's balances and
open orders are what they were.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from exchange.signing import binance_signature
from tests.binance.conftest import Server, User

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ORDER = "symbol=SOLUSDC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=10"


def now() -> int:
    return time.time_ns() // 1_000_000


def signed(user: User, params: str, *, ts: int | None = None, secret: str | None = None) -> str:
    text = f"{params}&timestamp={ts if ts is not None else now()}" if params else f"timestamp={now()}"
    return f"{text}&signature={binance_signature(secret or user.secret, text)}"


class Api:
    def __init__(self, server: Server, user: User) -> None:
        self.base, self.user = server.url + "/api/v3", user
        self.session = requests.Session()

    def send(self, method: str, path: str, query: str = "", body: str | bytes | None = None,
             key: str | None = None, headers: dict[str, str] | None = None) -> requests.Response:  # fmt: skip
        url = f"{self.base}/{path}" + (f"?{query}" if query else "")
        sent = {"X-MBX-APIKEY": key if key is not None else self.user.api_key} | (headers or {})
        if body is not None:
            sent |= FORM
        return self.session.request(method, url, data=body, headers=sent, timeout=10)


@pytest.fixture(scope="module")
def trader(bn_server: Server) -> User:
    return bn_server.make_user()


@pytest.fixture(scope="module")
def api(bn_server: Server, trader: User) -> Api:
    return Api(bn_server, trader)


def _state(server: Server, user: User) -> Any:
    async def read(client: Any) -> Any:
        return await client.balances(), await client.open_orders()

    return server.call(user, read)


def _cases(user: User) -> list[tuple[str, str, str, str | bytes | None, dict[str, Any], int, int]]:
    """(label, method, query, body, send options, HTTP status, Binance code)."""
    s = lambda params, **kw: signed(user, params, **kw)  # noqa: E731
    o = lambda old, new: signed(user, ORDER.replace(old, new))  # noqa: E731  the order with one change
    market = "symbol=SOLUSDC&side=BUY&type=MARKET"
    return [
        ("no key", "POST", "", s(ORDER), {"key": ""}, 401, -2014),
        ("key of another format", "POST", "", s(ORDER), {"key": "not-a-key"}, 401, -2014),
        ("unknown key", "POST", "", s(ORDER), {"key": "ak_" + "f" * 32}, 401, -2015),
        ("no signature", "POST", "", f"{ORDER}&timestamp={now()}", {}, 400, -1102),
        ("two signatures", "POST", "signature=" + "0" * 64, s(ORDER), {}, 400, -1101),
        ("wrong secret", "POST", "", s(ORDER, secret="nope"), {}, 400, -1022),
        (
            "signature over a different body",
            "POST",
            "",
            s(ORDER).replace("quantity=1", "quantity=2"),
            {},
            400,
            -1022,
        ),
        (
            "signature in upper case over a tampered query",
            "GET",
            s("symbol=SOLUSDC").replace("SOL", "BTC"),
            None,
            {},
            400,
            -1022,
        ),
        ("no timestamp", "POST", "", f"{ORDER}&signature=" + "0" * 64, {}, 400, -1102),
        ("replayed outside the window", "POST", "", s(ORDER, ts=now() - 6000), {}, 400, -1021),
        ("timestamp from the future", "POST", "", s(ORDER, ts=now() + 5000), {}, 400, -1021),
        ("timestamp with a sign", "POST", "", s(ORDER, ts=-5), {}, 400, -1100),
        ("huge recvWindow", "POST", "", s(ORDER + "&recvWindow=60001"), {}, 400, -1131),
        ("recvWindow not a number", "POST", "", s(ORDER + "&recvWindow=1e4"), {}, 400, -1100),
        ("duplicate parameter", "POST", "", s(ORDER + "&quantity=2"), {}, 400, -1101),
        ("duplicate across query and body", "POST", "symbol=SOLUSDC", s(ORDER), {}, 400, -1101),
        ("unknown parameter", "POST", "", s(ORDER + "&userId=7"), {}, 400, -1104),
        ("unknown symbol", "POST", "", o("SOLUSDC", "DOGEUSDC"), {}, 400, -1121),
        ("native symbol name", "POST", "", o("SOLUSDC", "SOL_USDC"), {}, 400, -1121),
        ("missing side", "POST", "", o("side=BUY&", ""), {}, 400, -1102),
        ("bad side", "POST", "", o("BUY", "HOLD"), {}, 400, -1117),
        ("lower-case type", "POST", "", o("LIMIT", "limit"), {}, 400, -1116),
        ("bad timeInForce", "POST", "", o("GTC", "GTX"), {}, 400, -1115),
        ("limit without timeInForce", "POST", "", o("timeInForce=GTC&", ""), {}, 400, -1102),
        ("limit without price", "POST", "", o("&price=10", ""), {}, 400, -1102),
        ("exponent in a quantity", "POST", "", o("quantity=1", "quantity=1e2"), {}, 400, -1100),
        ("negative price", "POST", "", o("price=10", "price=-10"), {}, 400, -1100),
        ("leading dot", "POST", "", o("price=10", "price=.5"), {}, 400, -1100),
        ("thousands separator", "POST", "", o("price=10", "price=1%2C000"), {}, 400, -1100),
        ("space in a number", "POST", "", o("price=10", "price=10%20"), {}, 400, -1100),
        ("empty quantity", "POST", "", o("quantity=1", "quantity="), {}, 400, -1102),
        ("precision over the asset's", "POST", "", o("price=10", "price=10.0000001"), {}, 400, -1111),
        ("price off the tick", "POST", "", o("price=10", "price=10.001"), {}, 400, -1013),
        ("quantity off the step", "POST", "", o("quantity=1", "quantity=1.001"), {}, 400, -1013),
        ("zero quantity", "POST", "", o("quantity=1", "quantity=0"), {}, 400, -1013),
        ("price above maxPrice", "POST", "", o("price=10", "price=99999999999"), {}, 400, -1013),
        ("below min notional", "POST", "", o("quantity=1", "quantity=0.01"), {}, 400, -1013),
        ("market with a price", "POST", "", s(f"{market}&quantity=1&price=10"), {}, 400, -1106),
        ("market with both amounts", "POST", "", s(f"{market}&quantity=1&quoteOrderQty=5"), {}, 400, -1106),
        ("market with neither amount", "POST", "", s(market), {}, 400, -1102),
        ("limit maker with timeInForce", "POST", "", o("type=LIMIT", "type=LIMIT_MAKER"), {}, 400, -1106),
        ("client id too long", "POST", "", s(ORDER + "&newClientOrderId=" + "a" * 37), {}, 400, -1100),
        ("client id with a dot", "POST", "", s(ORDER + "&newClientOrderId=a.b"), {}, 400, -1100),
        ("bad newOrderRespType", "POST", "", s(ORDER + "&newOrderRespType=ALL"), {}, 400, -1136),
        ("bad STP mode", "POST", "", s(ORDER + "&selfTradePreventionMode=DECREMENT"), {}, 400, -1130),
        ("not enough funds", "POST", "", o("quantity=1", "quantity=100000"), {}, 400, -2010),
        ("not UTF-8", "POST", "", s(ORDER).encode() + b"&x=%ff", {}, 400, -1100),
        ("cancel an unknown order", "DELETE", s("symbol=SOLUSDC&orderId=987654"), None, {}, 400, -2011),
        ("cancel with a non-numeric id", "DELETE", s("symbol=SOLUSDC&orderId=abc"), None, {}, 400, -1100),
        ("cancel without an id", "DELETE", s("symbol=SOLUSDC"), None, {}, 400, -1102),
        ("query an unknown order", "GET", s("symbol=SOLUSDC&orderId=987654"), None, {}, 400, -2013),
        (
            "cancel all with none open",
            "DELETE",
            s("symbol=SOLUSDC"),
            None,
            {"path": "openOrders"},
            400,
            -2011,
        ),
        (
            "limit out of range",
            "GET",
            s("symbol=SOLUSDC&limit=5000"),
            None,
            {"path": "allOrders"},
            400,
            -1130,
        ),
        ("JSON body instead of a form", "POST", "", '{"symbol":"SOLUSDC"}', {}, 400, -1102),
    ]


def test_every_bad_request_gets_binance_code_and_changes_nothing(
    bn_server: Server, api: Api, trader: User
) -> None:
    resting = api.send("POST", "order", body=signed(trader, ORDER.replace("price=10", "price=9")))
    assert resting.status_code == 200, resting.text
    before = _state(bn_server, trader)
    cases = [c for c in _cases(trader) if c[0] != "cancel all with none open"]
    assert len(cases) >= 30
    for label, method, query, body, opts, status, code in cases:
        answer = api.send(method, opts.get("path", "order"), query, body, key=opts.get("key"))
        assert (answer.status_code, answer.json().get("code")) == (status, code), (label, answer.text)
        assert isinstance(answer.json()["msg"], str) and answer.json()["msg"], label
        assert "X-MBX-USED-WEIGHT-1M" in answer.headers, label
    assert _state(bn_server, trader) == before
    api.send("DELETE", "openOrders", signed(trader, "symbol=SOLUSDC"))


def test_cancel_all_with_nothing_open_is_unknown_order(bn_server: Server) -> None:
    idle = bn_server.make_user()
    _, method, query, body, opts, status, code = next(
        c for c in _cases(idle) if c[0].startswith("cancel all")
    )
    answer = Api(bn_server, idle).send(method, opts["path"], query, body)
    assert (answer.status_code, answer.json()) == (status, {"code": code, "msg": "Unknown order sent."})


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        ("depth", "", -1102), ("depth", "symbol=SOLUSDC&limit=0", -1130), ("depth", "symbol=solusdc", -1121),
        ("klines", "symbol=SOLUSDC&interval=3m", -1120), ("klines", "symbol=SOLUSDC", -1102),
        ("trades", "symbol=SOLUSDC&limit=abc", -1100), ("ticker/24hr", "symbols=SOLUSDC", -1130),
        ("exchangeInfo", "symbol=SOLUSDC&symbol=BTCUSDC", -1101), ("ping", "x=1", -1104),
    ],
)  # fmt: skip
def test_bad_public_requests(api: Api, path: str, query: str, code: int) -> None:
    answer = api.send("GET", path, query)
    assert (answer.status_code, answer.json()["code"]) == (400, code), answer.text


def test_unknown_route_and_method_answer_binance_shape(api: Api) -> None:
    assert api.send("GET", "nowhere").json()["code"] == -1000
    assert api.send("PUT", "order").status_code == 405
    answer = api.send("POST", "order", body="x" * 70_000)
    assert (answer.status_code, answer.json()["code"]) == (413, -1000)
