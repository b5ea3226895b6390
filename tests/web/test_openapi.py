"""The OpenAPI document against the server it describes: the routes, the document's validity,
and real answers of a live server against their Structs and the served schemas.

One app per module: a scene of two traders who trade, then one call of every operation, each
answer kept with its operation id; the tests read those answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from exchange.client import Client
from exchange.web import schemas
from exchange.web.errors import CATALOGUE
from exchange.web.keys import OPERATIONS
from exchange.web.spec.declare import Auth, Operation
from exchange.web.spec.openapi import V1
from exchange.web.spec.operations import OPERATIONS as TABLE
from tests.web.conftest import GENEROUS, PASSWORD, make_operator, serve, trader
from tests.web.test_api_malformed import CASES

SOL = "SOL_USDC"
pytestmark = pytest.mark.asyncio(loop_scope="module")


class Scene(msgspec.Struct):
    server: TestServer
    base_url: str
    #: operation id -> the JSON answers it gave (2xx), in the order made.
    answers: dict[str, list[Any]]
    openapi: dict[str, Any]
    content_types: dict[str, str]


async def _calls(base_url: str, maker: Client, taker: Client, operator: Client, record: Any) -> None:
    """One call (or more) of every operation of the table."""
    await record("serverTime", maker, "GET", "/time")
    await record("markets", maker, "GET", "/markets")
    await record("assets", maker, "GET", "/assets")
    await record("limits", maker, "GET", "/limits")
    ask = {"symbol": SOL, "side": "sell", "type": "limit", "price": "100", "quantity": "5"}
    rest = await record("placeOrder", maker, "POST", "/order", body=ask)
    await record("placeOrder", taker, "POST", "/order", body={"symbol": SOL, "side": "buy", "type": "market",
                 "quoteQuantity": "150"})  # fmt: skip
    await record("placeOrder", taker, "POST", "/order", body={"symbol": SOL, "side": "buy", "type": "limit",
                 "price": "101", "quantity": "1", "timeInForce": "IOC"})  # fmt: skip
    await record("depth", maker, "GET", "/depth", {"symbol": SOL})
    await record("trades", maker, "GET", "/trades", {"symbol": SOL})
    await record("klines", maker, "GET", "/klines", {"symbol": SOL, "interval": "1m"})
    await record("tickers", maker, "GET", "/tickers")
    await record("ticker", maker, "GET", "/ticker", {"symbol": SOL})
    await record("ticker", maker, "GET", "/ticker", {"symbol": "BTC_USDC"})  # no trade: nulls
    await record("getOrder", maker, "GET", "/order", {"symbol": SOL, "orderId": rest["orderId"]})
    await record("openOrders", maker, "GET", "/orders/open", {"symbol": SOL})
    await record("openOrdersSeed", maker, "GET", "/order/open")
    await record("amendOrder", maker, "PATCH", "/order", body={"symbol": SOL, "orderId": rest["orderId"],
                 "quantity": "4"})  # fmt: skip
    await record("cancelOrder", maker, "DELETE", "/order", body={"symbol": SOL, "orderId": rest["orderId"]})
    await maker.place_order(SOL, "buy", price="90", quantity="1")
    await record("cancelAll", maker, "DELETE", "/orders", {"symbol": SOL})
    await record("orderHistory", maker, "GET", "/orders/history")
    await record("fills", taker, "GET", "/fills")
    await record("balances", taker, "GET", "/balances")
    await record("onramp", taker, "POST", "/onramp", body={"asset": "BTC", "amount": "1"})
    withdrawal = {"asset": "USDC", "amount": "12.5", "destination": "0xabc123"}
    first = await record("requestWithdrawal", taker, "POST", "/withdrawals", body=withdrawal)
    second = await record("requestWithdrawal", taker, "POST", "/withdrawals", body=withdrawal)
    await record("withdrawals", taker, "GET", "/withdrawals")
    await record("deposits", taker, "GET", "/deposits")
    await record("me", taker, "GET", "/auth/me")
    await record("listApiKeys", taker, "GET", "/apikeys")
    created = await record("createApiKey", taker, "POST", "/apikeys")
    await record("revokeApiKey", taker, "DELETE", f"/apikeys/{created['apiKey']}")
    async with Client(base_url) as browser:  # the cookie session's side
        carol = {"username": "carol", "password": PASSWORD}
        await record("signup", browser, "POST", "/auth/signup", body=carol, auth=False)
        session = await record("login", browser, "POST", "/auth/login", body=carol, auth=False)
        browser.csrf_token = session["csrfToken"]
        await record("me", browser, "GET", "/auth/me")
        await record("logout", browser, "POST", "/auth/logout")
    await record("adminUser", operator, "GET", "/admin/users/taker")
    await record("adminFees", operator, "GET", "/admin/fees")
    await record("adminOperators", operator, "GET", "/admin/operators")
    deposit = {"username": "taker", "asset": "USDC", "amount": "10", "reference": "scene-1"}
    await record("adminDeposit", operator, "POST", "/admin/deposits", body=deposit)
    await record("adminDeposit", operator, "POST", "/admin/deposits", body=deposit)  # the duplicate
    await record("adminPendingWithdrawals", operator, "GET", "/admin/withdrawals")
    wid, other = first["withdrawalId"], second["withdrawalId"]
    await record("adminCompleteWithdrawal", operator, "POST", f"/admin/withdrawals/{wid}/complete")
    refusal = {"reason": "destination refused"}
    reject = f"/admin/withdrawals/{other}/reject"
    await record("adminRejectWithdrawal", operator, "POST", reject, body=refusal)
    await record("adminAudit", operator, "GET", "/admin/audit")  # after the others: entries to show
    await record("openapi", maker, "GET", "/openapi.json")
    await record("asyncapi", maker, "GET", "/asyncapi.json")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    server, base_url = await serve(tmp_path_factory.mktemp("openapi"))
    maker, taker = await trader(base_url, "maker"), await trader(base_url, "taker")
    operator = await make_operator(server, base_url)
    answers: dict[str, list[Any]] = {}
    content_types: dict[str, str] = {}

    async def record(op_id: str, client: Client, method: str, path: str, params: Any = None, *,
                     body: Any = None, auth: bool = True) -> Any:  # fmt: skip
        answer = await client.request(method, V1 + path, params=params, body=body, auth=auth)
        answers.setdefault(op_id, []).append(answer)
        return answer

    try:
        await _calls(base_url, maker, taker, operator, record)
        async with aiohttp.ClientSession() as http:
            for name in ("openapi", "asyncapi"):
                async with http.get(f"{base_url}{V1}/{name}.json") as resp:
                    content_types[name] = resp.headers["Content-Type"]
        yield Scene(server, base_url, answers, answers["openapi"][0], content_types)
    finally:
        await maker.close()
        await taker.close()
        await operator.close()
        await server.close()


def _native_routes(server: TestServer) -> set[tuple[str, str]]:
    found = set()
    for route in server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith(V1 + "/") and route.method != "HEAD":  # aiohttp adds HEAD to each GET
            found.add((route.method, path))
    return found


async def test_every_native_route_has_its_entry_and_every_entry_its_route(scene: Scene) -> None:
    documented = {(method.upper(), path) for path, item in scene.openapi["paths"].items() for method in item}
    assert _native_routes(scene.server) == documented
    assert scene.server.app[OPERATIONS] is TABLE
    assert len({op.operation_id for op in TABLE}) == len(TABLE)


async def test_both_documents_are_served_as_json_and_the_openapi_one_validates(scene: Scene) -> None:
    assert scene.content_types == {"openapi": "application/json", "asyncapi": "application/json"}
    validate(scene.openapi)  # OpenAPI 3.1, its schemas as JSON Schema 2020-12
    assert scene.openapi["openapi"] == "3.1.0" and scene.openapi["info"]["version"]
    assert scene.answers["asyncapi"][0]["asyncapi"] == "3.0.0"


async def test_every_operation_was_called_and_answered_as_its_struct_says(scene: Scene) -> None:
    assert set(scene.answers) == {op.operation_id for op in TABLE}
    for op in TABLE:
        for answer in scene.answers[op.operation_id]:
            # strict, and every Struct forbids unknown fields: a drift in wire.py fails here
            msgspec.convert(answer, op.response, strict=True)


async def test_real_answers_validate_against_the_served_schemas(scene: Scene) -> None:
    validator = _validator(scene.openapi)
    for op in TABLE:
        pointer = _pointer("paths", V1 + op.path, op.method.lower(), "responses", str(op.status), "content",
                           "application/json", "schema")  # fmt: skip
        for answer in scene.answers[op.operation_id]:
            errors = list(validator(pointer).iter_errors(answer))
            assert not errors, (op.operation_id, answer, errors[0].message)


async def test_the_answers_cover_the_optional_and_the_null_fields(scene: Scene) -> None:
    """The answers above cover the optional ``quoteQuantity`` and the nullable ticker fields."""
    assert "quoteQuantity" in scene.answers["placeOrder"][1]
    assert scene.answers["ticker"][1]["lastPrice"] is None


async def test_examples_are_what_the_handlers_decode_and_answer(scene: Scene) -> None:
    validator = _validator(scene.openapi)
    for op in TABLE:
        for example in op.examples.values():
            assert op.body is not None
            schemas.decode(op.body, msgspec.json.encode(example["value"]))
        if op.response_example is not None:
            msgspec.convert(op.response_example, op.response, strict=True)
            pointer = _pointer("paths", V1 + op.path, op.method.lower(), "responses", str(op.status),
                               "content", "application/json", "schema")  # fmt: skip
            validator(pointer).validate(op.response_example)
    kinds = {e["value"]["type"] for e in _op("placeOrder").examples.values()}
    assert kinds == {"limit", "market"}


async def test_error_answers_list_the_catalogue_codes_with_their_status(scene: Scene) -> None:
    for path, item in scene.openapi["paths"].items():
        for method, entry in item.items():
            for status, answer in entry["responses"].items():
                if int(status) < 400:
                    continue
                codes = answer["x-error-codes"]
                assert codes and all(CATALOGUE[c].status == int(status) for c in codes), (path, method)
                assert answer["content"]["application/json"]["schema"]["allOf"][1] == {
                    "properties": {"code": {"enum": codes}}
                }


async def test_each_refusal_of_the_malformed_suite_is_a_code_its_operation_lists() -> None:
    """tests/web/test_api_malformed.py sends 40+ refused requests; each answer's code must be
    one its operation declares (or the router's own, for a path or method that is not one)."""
    by_route = {(op.method, V1 + op.path): op for op in TABLE}
    checked = 0
    for case in CASES:
        op = by_route.get((case.method, case.path))
        if op is None:
            assert case.code in ("NOT_FOUND", "METHOD_NOT_ALLOWED"), case.id
            continue
        assert case.code in op.codes(), (case.id, op.operation_id, case.code)
        checked += 1
    assert checked >= 40


async def test_place_order_links_its_order_id_to_the_order_routes(scene: Scene) -> None:
    links = scene.openapi["paths"][V1 + "/order"]["post"]["responses"]["200"]["links"]
    assert links["GetOrder"]["parameters"]["orderId"] == "$response.body#/orderId"
    assert links["CancelOrder"]["requestBody"]["orderId"] == "$response.body#/orderId"
    op_ids = {e["operationId"] for item in scene.openapi["paths"].values() for e in item.values()}
    for item in scene.openapi["paths"].values():
        for entry in item.values():
            for status, answer in entry["responses"].items():
                for link in answer.get("links", {}).values():
                    assert link["operationId"] in op_ids, status


def _op(op_id: str) -> Operation:
    return next(op for op in TABLE if op.operation_id == op_id)


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(document: dict[str, Any]) -> Any:
    """A JSON Schema 2020-12 validator of any schema of ``document``, by JSON pointer."""
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, DRAFT202012))

    def at(pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": "urn:doc" + pointer}, registry=registry)

    return at


async def test_info_announces_the_limits_this_server_enforces(scene: Scene) -> None:
    """The document's ``x-limits`` is what ``GET /limits`` answers, from the server's own settings
    (the tests' lifted ones, not the defaults)."""
    (answer,) = scene.answers["limits"]
    assert scene.openapi["info"]["x-limits"] == answer["limits"]
    assert answer["limits"]["rate_per_s"]["value"] == GENEROUS.rate_per_s


async def test_admin_operations_say_operators_only_and_list_403(scene: Scene) -> None:
    """Same security schemes as any private route, plus the role in words and 403 listed."""
    admin = [op for op in TABLE if op.auth is Auth.OPERATOR]
    assert admin == [op for op in TABLE if op.path.startswith("/admin/")] and len(admin) >= 4
    for op in admin:
        entry = scene.openapi["paths"][V1 + op.path][op.method.lower()]
        like = "/balances" if op.method == "GET" else "/order"  # a private read, a private write
        assert entry["security"] == scene.openapi["paths"][V1 + like][op.method.lower()]["security"]
        assert "Operators only" in entry["description"]
        assert "FORBIDDEN" in entry["responses"]["403"]["x-error-codes"]
        assert "UNAUTHORIZED" in entry["responses"]["401"]["x-error-codes"]
