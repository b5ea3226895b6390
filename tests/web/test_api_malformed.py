"""Malformed and refused requests: each answers 4xx with the JSON error shape and changes nothing.

Every case is one row (method, path, query, body, headers, status, code) sent signed through raw
aiohttp, the signature computed over the exact bytes on the wire. The scene: a maker with a
resting ask at 100, and a user with 1000 USDC / 10 SOL and one resting buy (2 @ 90, clientOrderId
``resting-1``) already half filled (executedQty 1). Before and after each request the user's and
the maker's visible state (balances, open orders, depth, history, fills) must be equal. One app
serves every case (module scope): each case also checks that it starts from the initial state.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp
import orjson
import pytest
import pytest_asyncio

from exchange import signing
from exchange.client import Client
from tests.web.conftest import serve, state_of, trader

SOL = "SOL_USDC"
V1 = "/api/v1"
OID = "<resting order id>"
MAKER_OID = "<maker order id>"
RAW_JSON = "application/json"
UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*\Z")
DEEP = b"[" * 2000 + b"]" * 2000  # JSON nested deeper than Python's recursion limit


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    query: str = ""
    body: Any = None  # None: no body; bytes: sent as is; anything else: JSON-encoded
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    code: str = "INVALID_REQUEST"


def order(**fields: Any) -> dict[str, Any]:
    """A valid limit buy that would rest (1 @ 50), with ``fields`` changed; None removes a field."""
    base: dict[str, Any] = {"symbol": SOL, "side": "buy", "type": "limit", "price": "50", "quantity": "1"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def market(**fields: Any) -> dict[str, Any]:
    """A market order: no price unless ``fields`` give one."""
    return order(**{"type": "market", "price": None, **fields})


def place(case_id: str, body: Any, status: int = 400, code: str = "INVALID_REQUEST", **kw: Any) -> Case:
    return Case(case_id, "POST", f"{V1}/order", body=body, status=status, code=code, **kw)


def price(case_id: str, value: Any) -> Case:
    return place(case_id, order(price=value), code="INVALID_PRICE")


def qty(case_id: str, value: Any, code: str = "INVALID_QUANTITY") -> Case:
    return place(case_id, order(quantity=value), code=code)


def cancel(case_id: str, body: Any, status: int = 400, code: str = "INVALID_REQUEST") -> Case:
    return Case(case_id, "DELETE", f"{V1}/order", body=body, status=status, code=code)


def amend(case_id: str, body: Any, status: int = 400, code: str = "INVALID_REQUEST") -> Case:
    return Case(case_id, "PATCH", f"{V1}/order", body=body, status=status, code=code)


def onramp(case_id: str, asset: str, amount: Any, status: int = 400, code: str = "INVALID_QUANTITY") -> Case:
    return Case(
        case_id, "POST", f"{V1}/onramp", body={"asset": asset, "amount": amount}, status=status, code=code
    )


def get(case_id: str, path: str, query: str, status: int = 400, code: str = "INVALID_REQUEST") -> Case:
    return Case(case_id, "GET", f"{V1}{path}", query=query, status=status, code=code)


CASES = [
    # -- bodies that are not the right JSON at all
    place("bad-json", b'{"symbol": "SOL_USDC", "side": "buy",'),
    place("json-array", b'[{"symbol": "SOL_USDC"}]'),
    place("json-string", b'"buy 1 SOL"'),
    place("json-null", b"null"),
    place("json-number", b"42"),
    place("empty-body", b""),
    place("invalid-utf8", b'{"symbol": "SOL_\xff\xfe", "side": "buy", "type": "limit"}'),
    place(
        "nan-literal",
        b'{"symbol": "SOL_USDC", "side": "buy", "type": "limit", "price": NaN, "quantity": "1"}',
    ),
    place("trailing-garbage", orjson.dumps(order()) + b"}"),
    # past the recursion limit msgspec raised RecursionError, a 500 (test_request_fuzz_regressions.py)
    place("price-nested-too-deep", orjson.dumps(order(price=None)).replace(b"}", b',"price":%s}' % DEEP)),
    # -- schema: missing, unknown and mistyped fields
    place("missing-side", order(side=None)),
    place("missing-type", order(type=None)),
    place("missing-symbol", order(symbol=None)),
    place("unknown-field-userId", order(userId=1)),
    place("unknown-field-foo", order(foo="bar")),
    place("side-int", order(side=1)),
    place("side-unknown", order(side="short")),
    place("type-unknown", order(type="stop")),
    place("symbol-int", order(symbol=5)),
    place("postOnly-string", order(postOnly="yes")),
    place("quantity-bool", order(quantity=True)),
    place("price-object", order(price={})),
    place("price-list", order(price=["100"])),
    place("clientOrderId-int", order(clientOrderId=7)),
    # -- symbol
    place("unknown-symbol", order(symbol="DOGE_USDC"), 404, "UNKNOWN_SYMBOL"),
    place("lowercase-symbol", order(symbol="sol_usdc"), 404, "UNKNOWN_SYMBOL"),
    place("symbol-market-disagree", order(market="BTC_USDC")),
    # -- price text and grid
    price("price-off-tick", "100.001"),
    price("price-zero", "0"),
    price("price-zero-decimal", "0.00"),
    price("price-negative", "-1"),
    price("price-exponent", "1e2"),
    price("price-nan", "NaN"),
    price("price-infinity", "Infinity"),
    price("price-leading-space", " 100"),
    price("price-trailing-space", "100 "),
    price("price-thousands", "1,000"),
    price("price-leading-dot", ".5"),
    price("price-plus", "+100"),
    price("price-hex", "0x64"),
    price("price-arabic-digits", "\u0661\u0660\u0660"),
    price("price-empty", ""),
    price("price-number-off-grid", 100.001),
    price("price-number-negative", -1),
    place(
        "price-number-exponent",
        b'{"symbol": "SOL_USDC", "side": "buy", "type": "limit", "price": 1e2, "quantity": "1"}',
        code="INVALID_PRICE",
    ),
    place(
        "price-invalid-utf8",
        b'{"symbol": "SOL_USDC", "side": "buy", "type": "limit", "price": "5\xff", "quantity": "1"}',
    ),
    price("price-above-max", "10000000"),
    price("price-too-many-digits", "1." + "0" * 60),
    # -- quantity and notional
    qty("quantity-off-step", "1.001"),
    qty("quantity-zero", "0"),
    qty("quantity-negative", "-1"),
    qty("quantity-above-max", "2000000"),
    place("below-min-notional", order(price="50", quantity="0.01"), code="MIN_NOTIONAL"),
    place("limit-missing-quantity", order(quantity=None), code="INVALID_QUANTITY"),
    place("limit-missing-price", order(price=None), code="INVALID_PRICE"),
    # -- funds and the book
    place("insufficient-quote", order(price="90", quantity="10"), code="INSUFFICIENT_FUNDS"),
    place("insufficient-base", order(side="sell", price="200", quantity="100"), code="INSUFFICIENT_FUNDS"),
    place("post-only-would-take", order(price="100", postOnly=True), code="POST_ONLY_WOULD_TAKE"),
    place("duplicate-client-order-id", order(clientOrderId="resting-1"), 409, "DUPLICATE_CLIENT_ORDER_ID"),
    place("client-order-id-too-long", order(clientOrderId="x" * 37)),
    place("client-order-id-empty", order(clientOrderId="")),
    place("client-order-id-bad-chars", order(clientOrderId="bad id!")),
    place("client-order-id-unicode", order(clientOrderId="ordér")),
    # -- order type rules
    place("market-with-price", market(price="100", quantity="1")),
    place("market-with-time-in-force", market(quantity="1", timeInForce="IOC")),
    place("market-post-only", market(quantity="1", postOnly=True)),
    place("limit-with-quote-quantity", order(quoteQuantity="50")),
    place("market-sell-quote-quantity", market(side="sell", quantity=None, quoteQuantity="50")),
    place("market-both-quantities", market(quantity="1", quoteQuantity="50")),
    place("time-in-force-gtd", order(timeInForce="GTD")),
    place("time-in-force-lowercase", order(timeInForce="gtc")),
    place("bad-self-trade-prevention", order(selfTradePrevention="cancel_oldest")),
    place("post-only-ioc", order(postOnly=True, timeInForce="IOC")),
    # -- content type
    place(
        "content-type-text",
        orjson.dumps(order()),
        headers={"Content-Type": "text/plain"},
        status=415,
        code="UNSUPPORTED_MEDIA_TYPE",
    ),
    place(
        "content-type-form",
        b"symbol=SOL_USDC&side=buy",
        status=415,
        code="UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    place(
        "content-type-octet-stream",
        orjson.dumps(order()),
        status=415,
        code="UNSUPPORTED_MEDIA_TYPE",
        headers={"Content-Type": "application/octet-stream"},
    ),
    # -- cancel one
    cancel("cancel-unknown-order-id", {"symbol": SOL, "orderId": "999999"}, 404, "ORDER_NOT_FOUND"),
    cancel("cancel-order-id-abc", {"symbol": SOL, "orderId": "abc"}, 404, "ORDER_NOT_FOUND"),
    cancel("cancel-order-id-negative", {"symbol": SOL, "orderId": -1}, 404, "ORDER_NOT_FOUND"),
    cancel("cancel-unknown-client-id", {"symbol": SOL, "clientOrderId": "nope"}, 404, "ORDER_NOT_FOUND"),
    cancel("cancel-someone-elses-order", {"symbol": SOL, "orderId": MAKER_OID}, 404, "ORDER_NOT_FOUND"),
    cancel("cancel-wrong-market", {"symbol": "BTC_USDC", "orderId": OID}, 404, "ORDER_NOT_FOUND"),
    cancel("cancel-unknown-symbol", {"symbol": "DOGE_USDC", "orderId": OID}, 404, "UNKNOWN_SYMBOL"),
    cancel("cancel-both-ids", {"symbol": SOL, "orderId": OID, "clientOrderId": "resting-1"}),
    cancel("cancel-neither-id", {"symbol": SOL}),
    cancel("cancel-missing-symbol", {"orderId": OID}),
    cancel("cancel-unknown-field", {"symbol": SOL, "orderId": OID, "force": True}),
    cancel("cancel-order-id-object", {"symbol": SOL, "orderId": {"id": 1}}),
    # -- amend
    amend("amend-nothing-to-change", {"symbol": SOL, "orderId": OID}),
    amend(
        "amend-quantity-equal-executed",
        {"symbol": SOL, "orderId": OID, "quantity": "1"},
        code="INVALID_QUANTITY",
    ),
    amend(
        "amend-quantity-below-executed",
        {"symbol": SOL, "orderId": OID, "quantity": "0.5"},
        code="INVALID_QUANTITY",
    ),
    amend("amend-quantity-zero", {"symbol": SOL, "orderId": OID, "quantity": "0"}, code="INVALID_QUANTITY"),
    amend("amend-price-off-grid", {"symbol": SOL, "orderId": OID, "price": "90.001"}, code="INVALID_PRICE"),
    amend(
        "amend-price-negative",
        {"symbol": SOL, "clientOrderId": "resting-1", "price": "-90"},
        code="INVALID_PRICE",
    ),
    amend(
        "amend-insufficient-funds",
        {"symbol": SOL, "orderId": OID, "quantity": "100"},
        code="INSUFFICIENT_FUNDS",
    ),
    amend(
        "amend-unknown-order", {"symbol": SOL, "orderId": "999999", "quantity": "3"}, 404, "ORDER_NOT_FOUND"
    ),
    amend(
        "amend-someone-elses-order",
        {"symbol": SOL, "orderId": MAKER_OID, "quantity": "2"},
        404,
        "ORDER_NOT_FOUND",
    ),
    amend("amend-unknown-field", {"symbol": SOL, "orderId": OID, "quantity": "3", "side": "sell"}),
    # -- cancel all
    Case(
        "cancel-all-unknown-symbol",
        "DELETE",
        f"{V1}/orders",
        query="symbol=DOGE_USDC",
        status=404,
        code="UNKNOWN_SYMBOL",
    ),
    Case(
        "cancel-all-symbols-disagree",
        "DELETE",
        f"{V1}/orders",
        query=f"symbol={SOL}",
        body={"symbol": "BTC_USDC"},
    ),
    Case("cancel-all-body-array", "DELETE", f"{V1}/orders", body=b"[]"),
    # -- onramp
    onramp("onramp-unknown-asset", "DOGE", "5", 404, "UNKNOWN_ASSET"),
    onramp("onramp-zero", "USDC", "0"),
    onramp("onramp-negative", "USDC", "-5"),
    onramp("onramp-off-decimals", "USDC", "1.0000001"),
    onramp("onramp-exponent", "USDC", "1e3"),
    onramp("onramp-past-limit", "USDC", "999001", code="ONRAMP_LIMIT"),
    onramp("onramp-amount-bool", "USDC", True, code="INVALID_REQUEST"),
    Case("onramp-missing-amount", "POST", f"{V1}/onramp", body={"asset": "USDC"}),
    Case(
        "onramp-text-plain",
        "POST",
        f"{V1}/onramp",
        body=b'{"asset": "USDC", "amount": "5"}',
        headers={"Content-Type": "text/plain"},
        status=415,
        code="UNSUPPORTED_MEDIA_TYPE",
    ),
    # -- reads with bad parameters
    get("depth-limit-zero", "/depth", f"symbol={SOL}&limit=0"),
    get("depth-limit-1001", "/depth", f"symbol={SOL}&limit=1001"),
    get("depth-limit-x", "/depth", f"symbol={SOL}&limit=x"),
    get("depth-limit-negative", "/depth", f"symbol={SOL}&limit=-1"),
    get("depth-no-symbol", "/depth", ""),
    get("depth-symbol-bad-percent", "/depth", "symbol=%FF%FE", 404, "UNKNOWN_SYMBOL"),
    get("depth-limit-fullwidth", "/depth", f"symbol={SOL}&limit=%EF%BC%91"),
    get("depth-unknown-symbol", "/depth", "symbol=DOGE_USDC", 404, "UNKNOWN_SYMBOL"),
    get("trades-limit-zero", "/trades", f"symbol={SOL}&limit=0"),
    get("trades-limit-x", "/trades", f"symbol={SOL}&limit=x"),
    get("trades-start-after-end", "/trades", f"symbol={SOL}&startTime=2000&endTime=1000"),
    get("trades-start-not-integer", "/trades", f"symbol={SOL}&startTime=-1"),
    get("klines-limit-1001", "/klines", f"symbol={SOL}&interval=1m&limit=1001"),
    get("klines-bad-interval", "/klines", f"symbol={SOL}&interval=2m"),
    get("klines-start-after-end", "/klines", f"symbol={SOL}&interval=1m&startTime=2000&endTime=1000"),
    get("klines-start-not-integer", "/klines", f"symbol={SOL}&interval=1m&startTime=abc"),
    get("ticker-unknown-symbol", "/ticker", "symbol=DOGE_USDC", 404, "UNKNOWN_SYMBOL"),
    get("get-order-no-id", "/order", f"symbol={SOL}"),
    get("get-order-both-ids", "/order", f"symbol={SOL}&orderId=1&clientOrderId=resting-1"),
    get("get-order-id-abc", "/order", f"symbol={SOL}&orderId=abc", 404, "ORDER_NOT_FOUND"),
    get("get-order-no-symbol", "/order", "orderId=1"),
    get("history-limit-zero", "/orders/history", "limit=0"),
    get("fills-limit-x", "/fills", "limit=x"),
    get("open-orders-unknown-symbol", "/orders/open", "symbol=DOGE_USDC", 404, "UNKNOWN_SYMBOL"),
    # -- routes
    Case("unknown-route", "GET", f"{V1}/nope", status=404, code="NOT_FOUND"),
    Case("unknown-route-post", "POST", f"{V1}/orders/bulk", body=[order()], status=404, code="NOT_FOUND"),
    Case("wrong-method-markets", "DELETE", f"{V1}/markets", status=405, code="METHOD_NOT_ALLOWED"),
    Case("wrong-method-order", "PUT", f"{V1}/order", body=order(), status=405, code="METHOD_NOT_ALLOWED"),
]


def _params() -> list[Any]:
    return [pytest.param(case, id=case.id) for case in CASES]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    """Replace the id placeholders, anywhere in a body or query."""
    if isinstance(value, str):
        for placeholder, real in ids.items():
            value = value.replace(placeholder, real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def send_signed(
    base_url: str, client: Client, case: Case, ids: dict[str, str]
) -> tuple[int, Any, bytes]:
    """Send ``case`` signed over the exact bytes on the wire: (status, headers, raw body)."""
    path_qs = case.path + (f"?{_fill(case.query, ids)}" if case.query else "")
    if case.body is None:
        data = b""
    elif isinstance(case.body, bytes):
        data = case.body
    else:
        data = orjson.dumps(_fill(case.body, ids))
    assert client.api_key and client.secret
    stamp = str(time.time_ns() // 1_000_000)
    headers = {
        "X-API-KEY": client.api_key,
        "X-TIMESTAMP": stamp,
        "X-SIGNATURE": signing.signature(client.secret, stamp, case.method, path_qs, data),
    }
    if case.body is not None:
        headers["Content-Type"] = RAW_JSON
    headers.update(case.headers)
    url = base_url + path_qs
    body = data if case.body is not None else None
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.request(
            case.method, url, data=body, headers=headers, skip_auto_headers=["Content-Type"]
        ) as resp,
    ):
        return resp.status, resp.headers, await resp.read()


async def full_state(client: Client) -> tuple[Any, ...]:
    return (*await state_of(client), await client.order_history(), await client.fills())


class Scene(NamedTuple):
    base_url: str
    user: Client
    maker: Client
    ids: dict[str, str]
    initial: tuple[Any, ...]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    """One app and one scene for every case (see the module docstring): a case refused as it must
    be changes nothing, so each case starts from the same state, which the test checks first."""
    server, base_url = await serve(tmp_path_factory.mktemp("malformed"))
    maker = await trader(base_url, "maker", {"USDC": "100000", "SOL": "1000"})
    user = await trader(base_url, "user", {"USDC": "1000", "SOL": "10"})
    try:
        resting = await user.place_order(SOL, "buy", price="90", quantity="2", client_order_id="resting-1")
        await maker.place_order(SOL, "sell", price="90", quantity="1")
        ask = await maker.place_order(SOL, "sell", price="100", quantity="1", client_order_id="maker-ask")
        (mine,) = await user.open_orders()
        assert (mine["status"], mine["executedQty"]) == ("PARTIALLY_FILLED", "1.00")
        ids = {OID: resting["orderId"], MAKER_OID: ask["orderId"]}
        initial = (await full_state(user), await full_state(maker))
        yield Scene(base_url, user, maker, ids, initial)
    finally:
        await user.close()
        await maker.close()
        await server.close()


def test_there_are_at_least_forty_distinct_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) >= 40
    assert len({(c.method, c.path, c.query, repr(c.body), repr(c.headers)) for c in CASES}) == len(CASES)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", _params())
async def test_malformed_request_answers_4xx_json_error_and_changes_nothing(scene: Scene, case: Case) -> None:
    user, maker = scene.user, scene.maker
    before = (await full_state(user), await full_state(maker))
    assert before == scene.initial, "an earlier case changed the scene: see the first failure"
    status, headers, raw = await send_signed(scene.base_url, user, case, scene.ids)
    assert headers.get("Content-Type", "").startswith("application/json"), (status, raw)
    error = orjson.loads(raw)
    assert isinstance(error, dict) and set(error) == {"code", "message"}, error
    assert isinstance(error["code"], str) and UPPER_SNAKE.match(error["code"]), error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert (status, error["code"]) == (case.status, case.code), error["message"]
    assert (await full_state(user), await full_state(maker)) == before
